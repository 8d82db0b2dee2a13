/*
 * Transcoder runs of a channel (tools/common/st_run.h has the layout): each
 * ffmpeg writes into a fresh run directory, and the channel's "current"
 * file moves to it only once it has a first segment in every variant, so
 * players keep the previous run's playlist until then.  The previous runs
 * stay on disk for a retention time after the switch.
 */
#ifndef RP_RUNS_H
#define RP_RUNS_H

#include <stdint.h>

#include "ladder.h"
#include "st_run.h"

/**
 * Read DIR/<chan>/current into *run.  0, -ENOENT when there is none, or
 * another negative errno (a malformed file is -EINVAL).
 */
int rp_run_current(int outfd, const char *chan, struct st_run *run);

/**
 * Create the next run of channel chan: the channel directory if missing,
 * then a run directory with one subdirectory per ladder level.  The run
 * continues the chain of the current run when that one's playlists can be
 * read (start after its last segment, discontinuity number + 1); else it
 * starts a chain at 0.  Fills *run (target and window as given) and
 * returns an O_DIRECTORY descriptor on the run directory, or a negative
 * errno.
 */
int rp_run_create(int outfd, const char *chan, const struct rp_ladder *lad, unsigned target,
                  unsigned window, struct st_run *run);

/** Make run the channel's current run (written aside, then renamed). */
int rp_run_publish(int outfd, const char *chan, const struct st_run *run);

/** Remove one run directory of the channel; 0 if removed or absent. */
int rp_run_remove(int outfd, const char *chan, uint64_t id);

/**
 * Remove every run directory of the channel except keep_a and keep_b (0:
 * none), and leftovers of an interrupted publish.  The number removed, or
 * a negative errno.
 */
int rp_runs_sweep(int outfd, const char *chan, uint64_t keep_a, uint64_t keep_b);

#endif
