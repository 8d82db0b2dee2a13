/*
 * A channel's transcoder runs on disk: the rule the reaper writes and every
 * server (streamreg-server, the nginx module) reads.  docs/server.md
 * ("Restarts") explains why; this is the one place the format is written.
 *
 *   DIR/<uuid>/current                      the run players are served
 *   DIR/<uuid>/<run>/master.m3u8
 *   DIR/<uuid>/<run>/<level>/index.m3u8
 *   DIR/<uuid>/<run>/<level>/<run>-<seq>.ts
 *
 * <run> is the run id in decimal: the wall-clock millisecond at which the
 * reaper created it, made strictly greater than every earlier run of the
 * channel.  A segment name starts with its run id, so it is never reused by
 * another run and a server finds its directory from the name alone.
 *
 * "current" is a small text file, replaced atomically (written aside, then
 * renamed) once a new run has a first segment in every variant:
 *
 *   run 1764133666123         the run served
 *   start 42                  media sequence number of its first segment
 *   discontinuity 3           discontinuity sequence number of its segments
 *   previous 1764133660000    the run it continues (0: it starts a chain)
 *   previous-start 30         that run's start
 *   target 2                  target duration of the channel, seconds
 *   window 6                  segments per playlist
 *
 * Readers ignore keys they do not know.
 */
#ifndef ST_RUN_H
#define ST_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Name of the pointer file in a channel directory. */
#define ST_RUN_POINTER "current"
/** Longest run directory name (a uint64_t in decimal). */
#define ST_RUN_NAME_MAX 20
/** Largest "current" file a reader accepts. */
#define ST_RUN_POINTER_MAX 1024

struct st_run {
	uint64_t id;         /* run id, also its directory name */
	uint64_t start;      /* media sequence number of its first segment */
	uint64_t disc;       /* discontinuity sequence number of its segments */
	uint64_t prev;       /* run it continues, 0 if it starts a chain */
	uint64_t prev_start; /* media sequence number of prev's first segment */
	unsigned target;     /* target duration, seconds */
	unsigned window;     /* segments per playlist */
};

/**
 * Parse the text of a "current" file.  0, or -EINVAL when "run" is missing
 * or zero, a known key has a malformed value, or a line is not "key value".
 */
int st_run_parse(const char *text, size_t len, struct st_run *out);

/** Write r as a "current" file into buf; its length, or -ENOSPC. */
int st_run_format(const struct st_run *r, char *buf, size_t len);

/** A run directory name: 1 to 20 decimal digits, no leading zero, not 0. */
bool st_run_name_parse(const char *name, size_t len, uint64_t *id);

/** The directory name of run id (out holds ST_RUN_NAME_MAX + 1 bytes). */
void st_run_name(uint64_t id, char *out);

/**
 * The run of a segment file named "<run>-<digits>.<ext>"; 0 when the name
 * does not have that form.
 */
uint64_t st_run_of_segment(const char *file);

#endif
