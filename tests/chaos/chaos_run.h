/* The parent's side of a chaos run: the processes it owns and its tallies. */
#ifndef CHAOS_RUN_H
#define CHAOS_RUN_H

#include <stdio.h>

#include "chaos.h"

struct chaos_run {
	struct chaos_config *cfg;
	struct chaos_shared *sh;
	sr_registry *reg;
	uint64_t rng;
	pid_t keeper; /* 0 in reaper mode: the real reaper plays its role */
	pid_t reaper;
	pid_t witness;
	unsigned round;
	uint64_t kills;
	uint64_t reaper_kills;
	uint64_t burst_kills; /* workers killed together with others */
	uint64_t excused;     /* slow operations explained by the machine */
	uint64_t violations;
	uint64_t inflight_max_ns; /* longest operation seen still running */
	uint32_t inflight_op;
	uint64_t orphans_reaped; /* children reparented to us and reaped */
	uint64_t transcoder_checks;
	uint64_t max_transcoders_seen;
};

/* Report one broken invariant (printed at once, counted). */
void chaos_violation(struct chaos_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* chaos_procs.c */
void chaos_spawn_worker(struct chaos_run *run, unsigned idx);
void chaos_spawn_keeper(struct chaos_run *run);
/* Reap what exited; a worker or keeper dying on its own is a violation. */
void chaos_reap(struct chaos_run *run);
/* One kill of a random victim. */
void chaos_kill_one(struct chaos_run *run);
/* Note operations running longer than the wedge bound. */
void chaos_watch_inflight(struct chaos_run *run);
/* Wait for pid (our child) to exit, at most timeout_ms; then SIGKILL it. */
int chaos_wait_child(struct chaos_run *run, pid_t pid, unsigned timeout_ms, int *status);

/* chaos_judge.c: steal sampling, and the verdict on slow operations. */
void chaos_steal_sample(struct chaos_run *run);
void chaos_judge(struct chaos_run *run);
void chaos_witness_main(struct chaos_shared *sh) __attribute__((noreturn));

/* chaos_check.c: stop the killing, gather the survivors' tallies, check. */
void chaos_checkpoint(struct chaos_run *run);
void chaos_final(struct chaos_run *run);
void chaos_print_figures(struct chaos_run *run, FILE *out);

/* chaos_reaper.c: the real reaper, its ffmpeg children and their files. */
int chaos_reaper_start(struct chaos_run *run);
void chaos_reaper_kill_restart(struct chaos_run *run);
void chaos_reaper_watch(struct chaos_run *run);
void chaos_reaper_final(struct chaos_run *run);
int chaos_reaper_channels(struct chaos_run *run);

#endif
