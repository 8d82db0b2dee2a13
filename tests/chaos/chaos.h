/*
 * streamreg-chaos: worker processes hammer one registry with the real
 * operation mix while a killer SIGKILLs them at random instants; at the end
 * the invariants of docs/design.md are checked against what the survivors
 * say they hold.  Everything the processes tell each other goes through one
 * anonymous shared mapping created before the first fork, so a killed
 * process's figures survive it.
 */
#ifndef CHAOS_H
#define CHAOS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <streamreg.h>

#define CHAOS_MAX_WORKERS  32
#define CHAOS_MAX_CHANNELS 64
/* Extra channels churned by insert/delete; more than the spare capacity, so
 * a full table is part of the mix. */
#define CHAOS_EXTRA       12
#define CHAOS_SPARE_SLOTS 8
/* The bound of the "no wedge" invariant. */
/* The bound of the "no wedge" invariant, on an operation's duration minus
 * the time it sat preempted in the run queue (see chaos_util.c). */
#define CHAOS_WEDGE_NS (100ull * 1000 * 1000)
/* An operation the parent sees still running this long (wall clock, so
 * preemption included) never ended: a wedge, whatever the load. */
#define CHAOS_INFLIGHT_NS (1000ull * 1000 * 1000)

/* Every operation a worker or the keeper performs and times. */
enum chaos_op {
	OP_NONE = 0,
	OP_TOUCH,
	OP_FIND,
	OP_ADD_CLIENT,
	OP_REMOVE_CLIENT,
	OP_GET_CLIENTS,
	OP_START, /* idle->starting or failed->starting */
	OP_ERROR, /* sr_session_record_error: a cold update under the lock */
	OP_SNAPSHOT,
	OP_SCAN,
	OP_FOREACH,
	OP_LIST,
	OP_INSERT,
	OP_DELETE,
	OP_RECOVER,
	OP_DRIVE,   /* keeper: starting->active->stopping->idle and failures */
	OP_QUALITY, /* keeper: set qualities, paths, pid (cold updates) */
	OP_COUNT
};

const char *chaos_op_name(enum chaos_op op);

/* What one process slot (a worker, or the keeper) publishes. */
struct chaos_slot {
	_Atomic pid_t pid;            /* current incarnation, 0 when none */
	_Atomic uint32_t cur_op;      /* operation in progress (enum chaos_op) */
	_Atomic uint64_t op_start_ns; /* its start, 0 between operations */
	_Atomic uint64_t ops;         /* cumulative over incarnations */
	_Atomic uint64_t max_ns;      /* longest completed operation, unpreempted */
	_Atomic uint32_t max_op;
	/* Of that operation: wall clock, time on a CPU and time in the run
	 * queue since the reading before it (0 when not read: under 5 ms). */
	_Atomic uint64_t max_wall_ns, max_cpu_ns, max_wait_ns, max_t0_ns;
	_Atomic uint64_t slow;       /* operations over CHAOS_WEDGE_NS, before excuses */
	_Atomic uint64_t unexpected; /* return codes outside the op's contract */
	_Atomic uint64_t torn;       /* snapshots failing the record invariant */
	_Atomic uint64_t busy;       /* SR_EBUSY from snapshots (allowed, counted) */
	_Atomic uint64_t full;       /* SR_EFULL from inserts (allowed, counted) */
	_Atomic uint32_t incarnations;
	/* End of run: the survivor's exact leases. */
	_Atomic int reported; /* the round it reported for */
	_Atomic int claimed;  /* it holds a process slot (did a successful add) */
	uint32_t leases[CHAOS_MAX_CHANNELS];
	char first_unexpected[160];
	_Atomic int first_unexpected_set;
};

enum chaos_phase { PH_RUN = 0, PH_REPORT, PH_EXIT };

/* An operation worth judging later: one over the wedge bound, or a
 * lock-taking one that sat preempted (it may have held the lock meanwhile,
 * and its waiters slept behind it).  Published at the operation's end. */
struct chaos_event {
	uint64_t t0, t1;    /* CLOCK_MONOTONIC ns */
	uint64_t cpu, wait; /* on a CPU, in the run queue (ns) */
	uint32_t op;
	int32_t pid;
	_Atomic uint32_t ready;
};
#define CHAOS_EVENTS 16384

/* A witness process sleeps 1 ms at a time and records every wake-up that
 * came late for no reason of its own (not run-queue wait): the machine
 * stalled everyone then (a VM pause, a host hiccup), and an operation
 * caught in such a stall is not wedged by the library. */
#define CHAOS_STALLS 4096
struct chaos_stall {
	uint64_t t0, t1;
};

/* The host's steal time, sampled by the parent every 10 ms: a VM whose
 * vCPUs are paused by the hypervisor stalls every process at once, which is
 * neither run-queue wait nor a wedge. */
#define CHAOS_STEAL_SAMPLES 16384
#define CHAOS_STEAL_CPUS    16
struct chaos_steal_sample {
	uint64_t t;
	uint64_t ticks[CHAOS_STEAL_CPUS];
	/* The real reaper takes the writer lock too but publishes nothing:
	 * its run-queue wait (schedstat), so waiters behind it are judged
	 * fairly.  pid 0 when no reaper runs. */
	int32_t reaper_pid;
	uint64_t reaper_wait_ns;
};

struct chaos_shared {
	_Atomic int phase;
	_Atomic int round;   /* checkpoint number; a worker reports with it */
	bool strict_records; /* only the keeper writes cold fields: check tags */
	int inject;          /* 0, 1 = lease, 2 = slow (see chaos_config) */
	bool tight;          /* workers never pause between operations */
	bool storm;          /* every worker loops on lock-taking operations */
	uint32_t n_channels;
	uuid_t channels[CHAOS_MAX_CHANNELS];
	uuid_t extra[CHAOS_EXTRA];
	_Atomic int quiet[CHAOS_MAX_CHANNELS]; /* no viewer activity for now */
	struct chaos_slot worker[CHAOS_MAX_WORKERS];
	struct chaos_slot keeper;
	/* Recoveries seen by whoever called sr_registry_recover(). */
	_Atomic uint64_t rec_calls;
	_Atomic uint64_t rec_procs;
	_Atomic uint64_t rec_leases;
	_Atomic uint64_t rec_locks;
	/* Kills delivered, by the operation the victim announced. */
	_Atomic uint64_t kills_by_op[OP_COUNT];
	_Atomic uint64_t keeper_kills;
	/* Quality sets written by the keeper carry this tag in every field, so
	 * a snapshot that mixes two writes is caught. */
	_Atomic uint32_t quality_tag;
	_Atomic uint32_t stall_next;
	struct chaos_stall stall[CHAOS_STALLS];
	_Atomic uint32_t ev_next;
	struct chaos_event ev[CHAOS_EVENTS];
	/* Longest duration per operation (minus run-queue wait, and wall
	 * clock), and how many took over 10 ms. */
	_Atomic uint64_t op_max_ns[OP_COUNT];
	_Atomic uint64_t op_max_wall_ns[OP_COUNT];
	_Atomic uint64_t op_over_10ms[OP_COUNT];
};

struct chaos_config {
	double seconds;
	unsigned workers;
	unsigned channels;
	uint64_t seed;
	bool soak;
	bool verbose;
	bool tight;
	bool storm;
	const char *reaper_path;
	const char *lineup;
	const char *output_dir;
	const char *ffmpeg_log;
	unsigned kill_mean_ms;
	unsigned reaper_kill_s;
	/* Self-test of the judge: "lease" makes worker 0 report one viewer too
	 * many, "slow" makes it take 150 ms inside one operation. */
	const char *inject;
	char name[SR_NAME_MAX + 1];
};

/* chaos_util.c */
uint64_t chaos_now_ns(void);
uint64_t chaos_rand(uint64_t *s);
void chaos_sleep_ns(uint64_t ns);
void chaos_op_begin(struct chaos_slot *s, enum chaos_op op, uint64_t *t0);
void chaos_op_end(struct chaos_slot *s, enum chaos_op op, uint64_t t0);
/* Where chaos_op_end() accumulates the per-operation figures. */
void chaos_op_stats_bind(struct chaos_shared *sh);
void chaos_unexpected(struct chaos_slot *s, enum chaos_op op, int rc);
/* Per-record invariant of a snapshot; strict: also the keeper's tags. */
bool chaos_record_check(const sr_session_info *in, bool strict);
void chaos_quality_make(sr_quality *q, size_t n, uint32_t tag);

/* chaos_worker.c: never returns. */
void chaos_worker_main(struct chaos_shared *sh, sr_registry *reg, unsigned idx, uint64_t seed)
    __attribute__((noreturn));

/* chaos_keeper.c: the library-level reaper role; never returns. */
void chaos_keeper_main(struct chaos_shared *sh, sr_registry *reg, uint64_t seed)
    __attribute__((noreturn));

#endif
