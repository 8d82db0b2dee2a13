/*
 * The channel's files on disk: opening them confined to the channel's
 * directory, and the per-viewer master playlist.
 */
#ifndef SRV_HLS_FILES_H
#define SRV_HLS_FILES_H

#include <stddef.h>
#include <sys/types.h>
#include <uuid/uuid.h>

#include "st_run.h"

/* Largest playlist the server reads into memory to rewrite. */
#define HLS_PLAYLIST_MAX ((size_t)256 * 1024)

/*
 * Open output_dir/<uuid>/<rel> read-only, where rel is "master.m3u8" or
 * "<variant>/<file>" made of names checked by route_parse().  Resolution
 * stays beneath the channel directory and follows no symlink (openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), and only regular files are
 * returned.  Returns an fd and its size in *size, or a negative errno
 * (-ENOENT when it is not there).
 */
int hls_open(const char *output_dir, const uuid_t channel, const char *rel, off_t *size);
/* The same beneath any directory (the player page's files). */
int hls_open_beneath(const char *dir, const char *rel, off_t *size);

/*
 * The same confinement relative to an already open output directory
 * (O_PATH is enough): opens <uuid>/<rel> beneath base_fd in one call, the
 * channel directory included in the no-symlink rule.  For callers that keep
 * the directory open (the nginx module).  Returns an fd and fills *st, or a
 * negative errno (-ENOENT when it is not there or not a regular file).
 */
struct stat;
int hls_open_in(int base_fd, const uuid_t channel, const char *rel, struct stat *st);

/*
 * Where the channels' files are: the output directory by path (the
 * server), or already open (fd >= 0, the nginx module).
 */
struct hls_root {
	const char *dir;
	int fd;
};

/* hls_open() or hls_open_in(), whichever root names. */
int hls_open_root(const struct hls_root *root, const uuid_t channel, const char *rel, off_t *size);

/*
 * Read the channel's "current" file (tools/common/st_run.h): the run
 * players are served.  0, -ENOENT when there is none (the channel has not
 * had a first segment since it was started), or a negative errno.
 */
int hls_current(const struct hls_root *root, const uuid_t channel, struct st_run *run);

/* Read <uuid>/<rel> whole (confined): malloc'd, NUL-terminated, or NULL
 * with errno. */
char *hls_read_file(const struct hls_root *root, const uuid_t channel, const char *rel,
                    size_t *len);

/*
 * The path, relative to the channel directory, of the current run's
 * master playlist ("<run>/master.m3u8"); 0, or -ENOENT without a run.
 */
int hls_master_rel(const struct hls_root *root, const uuid_t channel, char *rel, size_t len);

/*
 * Where a segment of a request lies: "<run>/<variant>/<file>", the run
 * taken from the segment's name; 0, or -ENOENT when the name carries none.
 */
int hls_segment_rel(const char *variant, const char *file, char *rel, size_t len);

/*
 * The variant playlist to serve for <variant>/<file>: the current run's,
 * joined to the previous run's (st_hls_join(), docs/server.md "Restarts").
 * Malloc'd text and its length, or NULL with errno: EAGAIN when the channel
 * has no current run (answer 503 + Retry-After), ENOENT when the playlist
 * does not exist (404), another value otherwise (500).  With raw_first_run
 * the first run of a chain is not joined: *fd_out gets its open file
 * instead (and *len its size) for a zero-copy send.
 */
char *hls_media_playlist(const struct hls_root *root, const uuid_t channel, const char *variant,
                         const char *file, size_t *len, int *fd_out);

/*
 * Rewrite a master playlist for one viewer: every relative URI (the URI
 * lines and URI="..." attributes) gets prefix in front of it, e.g.
 * "v/<token>/", so every later request of the player carries the token.
 * Returns a malloc'd NUL-terminated copy and its length, or NULL.
 */
char *hls_rewrite_master(const char *text, size_t len, const char *prefix, size_t *out_len);

/* Read an fd from hls_open() completely (at most HLS_PLAYLIST_MAX bytes);
 * malloc'd and NUL-terminated, or NULL with errno. Closes fd. */
char *hls_read_all(int fd, size_t *len);

#endif
