/* Collected results, ratios to streamreg, targets, table and JSON output. */
#ifndef SR_BENCH_REPORT_H
#define SR_BENCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum result_kind { RK_THROUGHPUT, RK_LATENCY, RK_REAPER, RK_MEMORY, RK_SKIPPED };

#define LAT_QUANTILES 24

struct result {
	enum result_kind kind;
	char scenario[32]; /* find_touch, ..., scaling, capacity, latency, reaper_scan, memory */
	char backend[24];
	char op[24];
	char dist[12];
	int procs;
	uint32_t capacity;
	uint32_t sessions;
	/* throughput */
	double ns_per_op, ops_per_sec, ops_min, ops_max;
	double cpu_ns_per_op; /* median CPU time per op (client side only for Redis) */
	int reps;
	uint64_t failed;
	/* streamreg's advantage: other's cost / streamreg's cost on the same work (1 on its own
	 * rows) */
	double ratio;
	bool has_ratio;
	/* streamreg rows of the scaling scenario: throughput / one process, same distribution */
	double scale;
	double cpu_scale; /* the same estimated from CPU time per op (P <= cores), 0 if not */
	/* latency (ns) */
	char churn[12];
	double p50, p90, p99, p999, max;
	uint64_t samples;
	double q[LAT_QUANTILES]; /* at lat_quantile_levels */
	/* reaper (ms) */
	double scan_ms, foreach_ms;
	double scan_cpu_ms;     /* CPU time of recover + scan */
	double list_cleanup_ms; /* recover + sr_session_list + should_cleanup per id */
	uint32_t cleanup_candidates;
	/* memory */
	uint64_t slot_bytes, segment_bytes;
	uint64_t resident_bytes; /* tmpfs pages allocated, table half full */
	/* capacity, reaper and memory rows: the registry's directory kind ("4k" for
	 * /dev/shm, "huge" for the bench's huge=within_size tmpfs) and the page
	 * size sr_registry_page_size() saw */
	char pages[8];
	uint64_t page_bytes;
	double floor_ms; /* reaper: sequential read of as many bytes as the hot records */
	double foreach_cpu_ms, floor_cpu_ms; /* their CPU times */
	char note[512];
};

extern const double lat_quantile_levels[LAT_QUANTILES];

struct run_info {
	const char *mode;
	int reps;
	double duration_ms;
	uint32_t capacity, sessions;
	bool pin;
	uint64_t timer_overhead_ns;
	int ncpus;
	char load_start[64]; /* /proc/loadavg when the run began: the machine is shared */
};

/* First three fields of /proc/loadavg, or "unknown". */
void report_loadavg(char *buf, size_t len);

/** One target of issue 5 and how this run did against it. */
struct target {
	const char *id;
	const char *text;
	int met; /* 1 met, 0 missed, -1 not measured in this run */
	char measured[160];
	/* The same judged on CPU time per op, which background load does not
	 * inflate (-1: not applicable). */
	int met_cpu;
};

struct result *report_add(void);
size_t report_count(void);
struct result *report_get(size_t i);
/* Fill ratio/scale fields once every measurement is in. */
void report_finish(void);
/* First row matching; NULL or 0 arguments match anything. */
const struct result *report_find(enum result_kind k, const char *scenario, const char *backend,
                                 const char *op, const char *dist, int procs, uint32_t capacity,
                                 const char *churn);
/* Evaluate the targets into t[0..16); returns how many. */
size_t report_targets(struct target *t, const struct run_info *ri);
const char *report_tri(int v);
void report_table(FILE *f, const struct run_info *ri);
void report_json(FILE *f, const struct run_info *ri);

#endif
