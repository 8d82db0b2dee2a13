/* Clock, statistics, deterministic keys and key sequences, CPU pinning. */
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Per-op latencies include one clock read; report what that read costs. */
uint64_t bench_timer_overhead_ns(void)
{
	enum { N = 20001 };
	static uint32_t d[N];
	for (int i = 0; i < N; i++) {
		uint64_t a = bench_now_ns();
		uint64_t b = bench_now_ns();
		d[i] = (uint32_t)(b - a);
	}
	qsort(d, N, sizeof d[0], bench_cmp_u32);
	return d[N / 2];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int bench_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof v[0], cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Same seed, same ids: every backend and every run sees identical keys. */
void bench_make_keys(struct bench_keys *k, uint32_t n_live, uint32_t capacity, uint64_t seed)
{
	size_t n = (size_t)n_live + (size_t)BENCH_MAX_WORKERS * BENCH_SPARE_PER_WORKER;
	k->ids = calloc(n, sizeof(uuid_t));
	if (!k->ids)
		abort();
	k->n_live = n_live;
	k->capacity = capacity;
	for (size_t i = 0; i < n; i++) {
		uint64_t a = splitmix64(&seed), b = splitmix64(&seed);
		memcpy(k->ids[i], &a, 8);
		memcpy(k->ids[i] + 8, &b, 8);
		k->ids[i][6] = (uint8_t)((k->ids[i][6] & 0x0f) | 0x40); /* RFC 4122 v4 */
		k->ids[i][8] = (uint8_t)((k->ids[i][8] & 0x3f) | 0x80);
	}
}

void bench_free_keys(struct bench_keys *k)
{
	free(k->ids);
	k->ids = NULL;
}

static uint32_t zipf_pick(const double *cdf, uint32_t n, double u)
{
	uint32_t lo = 0, hi = n - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Precomputed so the timed loop spends nothing on random numbers.  Zipf has
 * exponent 1 (a few channels draw most viewers); distinct gives each worker
 * its own slice of the channels, so workers never share a session.
 */
void bench_make_seq(uint32_t *seq, enum dist_kind d, uint32_t n_live, int w, int nworkers,
                    uint64_t seed)
{
	uint64_t s = seed ^ ((uint64_t)(w + 1) * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)d << 56);
	double *cdf = NULL;
	if (d == DIST_ZIPF) {
		cdf = malloc(n_live * sizeof *cdf);
		if (!cdf)
			abort();
		double sum = 0;
		for (uint32_t i = 0; i < n_live; i++)
			cdf[i] = (sum += 1.0 / (i + 1));
		for (uint32_t i = 0; i < n_live; i++)
			cdf[i] /= sum;
	}
	uint32_t lo = 0, span = n_live;
	if (d == DIST_DISTINCT && nworkers > 1) {
		span = n_live / (uint32_t)nworkers;
		lo = span * (uint32_t)w;
		if (span == 0)
			span = 1, lo = 0;
	}
	for (uint32_t i = 0; i < BENCH_SEQ_LEN; i++) {
		uint64_t r = splitmix64(&s);
		switch (d) {
		case DIST_HOT:
			seq[i] = 0;
			break;
		case DIST_ZIPF:
			seq[i] = zipf_pick(cdf, n_live, (double)(r >> 11) * 0x1.0p-53);
			break;
		default:
			seq[i] = lo + (uint32_t)(r % span);
		}
	}
	free(cdf);
}

int bench_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

int bench_pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu % bench_ncpus(), &set);
	return sched_setaffinity(0, sizeof set, &set) ? -errno : 0;
}

const char *op_name(enum op_kind k)
{
	static const char *const n[OP_COUNT] = {"find_touch", "find",         "add_remove_client",
	                                        "state_cas",  "snapshot",     "insert_delete",
	                                        "mixed",      "request_uuid", "request_ref"};
	return k < OP_COUNT ? n[k] : "?";
}

const char *dist_name(enum dist_kind d)
{
	static const char *const n[DIST_COUNT] = {"uniform", "hot", "zipf", "distinct"};
	return d < DIST_COUNT ? n[d] : "?";
}
