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
 * Read the channel's "current" file (tools/common/st_run.h): the run
 * players are served.  0, -ENOENT when there is none (the channel has not
 * had a first segment since it was started), or a negative errno.
 */
int hls_current(const char *output_dir, const uuid_t channel, struct st_run *run);

/*
 * Read output_dir/<uuid>/<rel> whole, with hls_open()'s confinement: a
 * malloc'd NUL-terminated copy and its length, or NULL with errno.
 */
char *hls_read_file(const char *output_dir, const uuid_t channel, const char *rel, size_t *len);

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
