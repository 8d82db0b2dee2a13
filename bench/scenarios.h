/* Scenarios beyond plain throughput: latency under churn, capacity, reaper, memory. */
#ifndef SR_BENCH_SCENARIOS_H
#define SR_BENCH_SCENARIOS_H

#include "bench.h"
#include "bench_report.h"
#include "bench_run.h"

#include "streamreg.h"

struct scenario_opts {
	int reps;
	uint64_t duration_ns;
	bool pin;
	uint64_t seed;
	size_t latency_samples;
};

/* Percentiles of find + touch with and without a churning writer; adds two rows. */
int scenario_latency(const struct backend *b, const struct bench_keys *keys,
                     const struct scenario_opts *o);

/* find + touch throughput, reaper scan time and memory at one capacity, in
 * the registry directory the environment names; pages labels the rows
 * ("4k" for /dev/shm, "huge" for a huge=within_size tmpfs). */
int scenario_capacity(uint32_t capacity, const struct scenario_opts *o, const char *pages);

/* The parent's registry handle inside backend_streamreg's shared state. */
sr_registry *bench_sr_handle(void *shared);
/* Its registry name (its file: sr_registry_path()). */
const char *bench_sr_name(void *shared);

#endif
