/*
 * Every file the reaper touches lies in DIR/<channel-uuid>/, reached through
 * descriptors opened with O_NOFOLLOW from the output directory's descriptor:
 * no path from outside is ever concatenated, and no symlink is followed.
 */
#ifndef RP_PATHS_H
#define RP_PATHS_H

#include <stdbool.h>
#include <stddef.h>

#include "ladder.h"

/**
 * Open (and with create, make with mode 0755) the output directory; the
 * result is an O_DIRECTORY descriptor.  Its own path may be a symlink set
 * up by the administrator; nothing below it may.  Negative errno on error.
 */
int rp_outdir_open(const char *path, bool create, char *err, size_t errlen);

/**
 * Remove DIR/<name> and everything below it without following any symlink
 * (a symlink is removed, never its target).  0 if it was removed or absent,
 * negative errno on error (-EINVAL for a bad name).
 */
int rp_chan_dir_remove(int outfd, const char *name);

/**
 * Remove the entry name of the directory parentfd (a run directory inside
 * a channel directory) and everything below it, following no symlink.
 * 0 if it was removed or absent, negative errno on error.
 */
int rp_tree_remove(int parentfd, const char *name);

/**
 * Create a fresh DIR/<name> (removing a leftover first) with one
 * subdirectory per ladder level, and return an O_DIRECTORY descriptor on it.
 */
int rp_chan_dir_create(int outfd, const char *name, const struct rp_ladder *lad);

/** Open DIR/<name> without following a symlink; negative errno on error. */
int rp_chan_dir_open(int outfd, const char *name);

/**
 * Whether the channel is ready to serve: the master playlist exists and each
 * variant playlist lists a first segment.  1, 0, or negative errno.
 */
int rp_chan_ready(int chfd, const struct rp_ladder *lad);

/**
 * Age in ms of the stalest variant playlist of a running channel (ffmpeg
 * rewrites each one per segment), or a negative errno if one is missing.
 */
int rp_chan_output_age(int chfd, const struct rp_ladder *lad, uint64_t *age_ms);

/**
 * Remove every channel-named directory in the output directory for which
 * keep(name, ctx) is false (keep may be NULL: remove all); entries whose
 * names are not UUIDs are left alone.  Returns the number removed, or a
 * negative errno; on_removed (may be NULL) is told each name, and whether
 * it was a symlink (removed itself, never its target) rather than a
 * directory.
 */
int rp_outdir_sweep(int outfd, bool (*keep)(const char *name, void *ctx),
                    void (*on_removed)(const char *name, bool symlink, int rc, void *ctx),
                    void *ctx);

#endif
