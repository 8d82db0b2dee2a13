/* Running one measurement: forked (or threaded) workers, barrier, timed batches. */
#ifndef SR_BENCH_RUN_H
#define SR_BENCH_RUN_H

#include "bench.h"

struct run_params {
	const struct backend *b;
	void *shared; /* from b->setup() */
	const struct bench_keys *keys;
	enum op_kind op;
	enum dist_kind dist;
	int nworkers;
	bool pin;             /* sched_setaffinity worker w to cpu w */
	uint64_t duration_ns; /* timed part of one repetition, per worker */
	uint64_t seed;
};

struct run_result {
	double ops_per_sec;   /* aggregate over workers */
	double ns_per_op;     /* time one worker spends per op */
	double cpu_ns_per_op; /* CPU time per op: what it costs when nobody else runs */
	uint64_t ops;
	uint64_t failed; /* ops the store refused (e.g. lost CAS races) */
	int err;         /* non-zero: the run is void, msg says why */
	char msg[256];
};

/** Median of reps repetitions. */
struct run_summary {
	double ops_per_sec;      /* median */
	double ns_per_op;        /* from the median throughput */
	double cpu_ns_per_op;    /* median */
	double ops_min, ops_max; /* spread over repetitions */
	int reps;
	uint64_t failed;
	int err;
	char msg[256];
};

int bench_run_once(const struct run_params *p, struct run_result *r);
int bench_run_reps(const struct run_params *p, int reps, struct run_summary *s);

#endif
