/*
 * Joining two transcoder runs into the media playlist a player is served
 * (RFC 8216 §6.2.2, §4.3.2.3, §4.3.3.3).  Pure functions on playlist text,
 * shared by streamreg-server and the nginx module; the rules are written
 * out in docs/server.md ("Restarts").
 */
#ifndef ST_HLSJOIN_H
#define ST_HLSJOIN_H

#include <stddef.h>
#include <stdint.h>

#include "st_run.h"

/**
 * The media playlist to serve for one variant of run (the "current" file):
 * cur is that run's playlist as ffmpeg wrote it, prev the final playlist of
 * run->prev for the same variant (NULL when there is none).
 *
 * - While cur lists fewer than run->window segments and starts at
 *   run->start, the last segments of prev fill the window, provided prev
 *   ends right before run->start (media sequence numbers stay consecutive).
 * - #EXT-X-DISCONTINUITY precedes the first segment of a run that continues
 *   another (its start with a discontinuity number above 0), and
 *   #EXT-X-DISCONTINUITY-SEQUENCE is the number of the first segment listed
 *   minus one if a tag precedes it.
 * - #EXT-X-TARGETDURATION is at least run->target (ffmpeg writes a smaller
 *   one while only a short first segment is listed), #EXT-X-ENDLIST is
 *   dropped (a live channel does not end when one transcoder does).
 *
 * Returns a malloc'd NUL-terminated playlist and its length in *out_len, or
 * NULL with errno (EINVAL: cur is not a media playlist; ENOMEM).
 */
char *st_hls_join(const struct st_run *run, const char *cur, size_t cur_len, const char *prev,
                  size_t prev_len, size_t *out_len);

/**
 * Media sequence number of the first segment of a media playlist and the
 * number of segments listed.  0, or -EINVAL when text is not a playlist.
 */
int st_hls_media_info(const char *text, size_t len, uint64_t *first, size_t *count);

#endif
