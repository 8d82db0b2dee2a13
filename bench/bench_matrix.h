/* The throughput matrix of the operation and scaling scenarios, repetitions interleaved. */
#ifndef SR_BENCH_MATRIX_H
#define SR_BENCH_MATRIX_H

#include "bench.h"
#include "bench_report.h"
#include "bench_run.h"

struct matrix_opts {
	bool ops;     /* one scenario per operation */
	bool scaling; /* find + touch over 1..procs_max processes */
	bool quick;   /* operation scenarios with 1 process only */
	bool pin;
	int reps;
	int procs_max;
	int ncpus;
	uint64_t duration_ns;
	uint64_t seed;
	unsigned op_mask;   /* OP_BIT set of the operation scenarios to run; 0 = all */
	const char *suffix; /* appended to the operation scenarios' names, or NULL */
};

void bench_matrix_run(const struct backend *const *backends, size_t n_backends,
                      const struct bench_keys *k, const struct matrix_opts *o);

#endif
