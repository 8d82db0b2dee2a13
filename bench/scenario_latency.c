/*
 * Latency of find + touch, one op at a time, while another process churns:
 * inserts and deletes sessions, moves states around the cycle and adds and
 * removes viewers, as fast as it can.  The reader times every op with two
 * CLOCK_MONOTONIC reads (vDSO, no syscall), so each sample includes one
 * clock read; the report states that cost.  With two cores the reader and
 * the churner each get one (pinned when asked).
 */
#include "bench_interrupt.h"
#include "scenarios.h"

#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct lat_ctl {
	atomic_int churn_ready;
	atomic_int stop;
	atomic_int reader_err;
	atomic_int churn_err;
	uint64_t churn_ops;
};

static int open_worker(const struct backend *b, void *shared, struct worker_ctx *wc,
                       const struct bench_keys *keys, int id, void **local)
{
	char err[200];
	memset(wc, 0, sizeof *wc);
	wc->id = id;
	wc->nworkers = 2;
	wc->keys = keys;
	wc->cas_state = calloc(keys->n_live, 1);
	if (!wc->cas_state)
		return -1;
	if (b->open(shared, wc, local, err, sizeof err) < 0) {
		fprintf(stderr, "streamreg-bench: %s: %s\n", b->name, err);
		return -1;
	}
	return 0;
}

static void churner(const struct backend *b, void *shared, const struct bench_keys *keys,
                    struct lat_ctl *ctl, bool pin, uint64_t seed)
{
	struct worker_ctx wc;
	void *local;
	uint32_t *seq = malloc(BENCH_SEQ_LEN * sizeof *seq);
	if (!seq || (pin && bench_pin(1) < 0) || open_worker(b, shared, &wc, keys, 1, &local) < 0) {
		atomic_store(&ctl->churn_err, 1);
		atomic_store(&ctl->churn_ready, 1);
		return;
	}
	bench_make_seq(seq, DIST_UNIFORM, keys->n_live, 1, 2, seed);
	atomic_store(&ctl->churn_ready, 1);
	uint64_t ops = 0;
	for (uint32_t i = 0; !atomic_load_explicit(&ctl->stop, memory_order_relaxed); i++) {
		const uint32_t *at = &seq[i & (BENCH_SEQ_LEN - 1)];
		if (b->run(local, &wc, OP_INSERT_DELETE, at, 1) < 0 ||
		    b->run(local, &wc, OP_STATE_CAS, at, 1) < 0 ||
		    b->run(local, &wc, OP_ADD_REMOVE, at, 1) < 0) {
			atomic_store(&ctl->churn_err, 1);
			break;
		}
		ops += 3;
	}
	ctl->churn_ops = ops;
	b->close(local);
	free(wc.cas_state);
	free(seq);
}

static void reader(const struct backend *b, void *shared, const struct bench_keys *keys,
                   struct lat_ctl *ctl, uint32_t *lat, size_t samples, bool pin, bool churn,
                   uint64_t seed)
{
	struct worker_ctx wc;
	void *local;
	uint32_t *seq = malloc(BENCH_SEQ_LEN * sizeof *seq);
	if (!seq || (pin && bench_pin(0) < 0) || open_worker(b, shared, &wc, keys, 0, &local) < 0) {
		atomic_store(&ctl->reader_err, 1);
		return;
	}
	bench_make_seq(seq, DIST_UNIFORM, keys->n_live, 0, 2, seed);
	while (churn && !atomic_load(&ctl->churn_ready))
		sched_yield();
	/* Warm-up pass so first-touch page faults are not counted as latency. */
	if (b->run(local, &wc, OP_FIND_TOUCH, seq, 4096) < 0)
		atomic_store(&ctl->reader_err, 1);
	for (size_t i = 0; i < samples && !atomic_load(&ctl->reader_err); i++) {
		uint64_t t0 = bench_now_ns();
		long r = b->run(local, &wc, OP_FIND_TOUCH, &seq[i & (BENCH_SEQ_LEN - 1)], 1);
		uint64_t t1 = bench_now_ns();
		if (r < 0)
			atomic_store(&ctl->reader_err, 1);
		lat[i] = t1 - t0 > UINT32_MAX ? UINT32_MAX : (uint32_t)(t1 - t0);
	}
	atomic_store(&ctl->stop, 1);
	b->close(local);
	free(wc.cas_state);
	free(seq);
}

static int wait_child(pid_t pid, uint64_t deadline)
{
	int status;
	while (waitpid(pid, &status, WNOHANG) != pid) {
		bench_interrupt_point();
		if (bench_now_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			bench_reaped(pid);
			return -1;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	bench_reaped(pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* One run: samples latencies into lat (shared).  0 or -1. */
static int latency_once(const struct backend *b, void *shared, const struct bench_keys *keys,
                        uint32_t *lat, size_t samples, bool churn, bool pin, uint64_t seed,
                        uint64_t *churn_ops)
{
	struct lat_ctl *ctl =
	    mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		return -1;
	memset(ctl, 0, sizeof *ctl);
	pid_t cp = -1;
	if (churn && (cp = bench_fork()) == 0) {
		churner(b, shared, keys, ctl, pin, seed);
		_exit(atomic_load(&ctl->churn_err) ? 1 : 0);
	}
	pid_t rp = bench_fork();
	if (rp == 0) {
		reader(b, shared, keys, ctl, lat, samples, pin, churn, seed);
		_exit(atomic_load(&ctl->reader_err) ? 1 : 0);
	}
	uint64_t deadline = bench_now_ns() + 120ull * 1000000000u;
	int rc = rp < 0 ? -1 : wait_child(rp, deadline);
	atomic_store(&ctl->stop, 1);
	if (cp > 0 && wait_child(cp, deadline + 10ull * 1000000000u) < 0)
		rc = -1;
	if (churn && cp < 0)
		rc = -1;
	*churn_ops = ctl->churn_ops;
	munmap(ctl, sizeof *ctl);
	return rc;
}

static double quantile(const uint32_t *sorted, size_t n, double q)
{
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return sorted[i < n ? i : n - 1];
}

int scenario_latency(const struct backend *b, const struct bench_keys *keys,
                     const struct scenario_opts *o)
{
	static const bool churn_modes[2] = {false, true};
	char err[256];
	void *shared;
	if (b->setup(&shared, keys, err, sizeof err) < 0) {
		struct result *r = report_add();
		r->kind = RK_SKIPPED;
		snprintf(r->scenario, sizeof r->scenario, "latency");
		snprintf(r->backend, sizeof r->backend, "%s", b->name);
		snprintf(r->note, sizeof r->note, "setup failed: %s", err);
		return -1;
	}
	size_t n = o->latency_samples;
	size_t bytes = n * sizeof(uint32_t);
	uint32_t *lat =
	    mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint32_t *pool = malloc(bytes * (size_t)o->reps);
	if (lat == MAP_FAILED || !pool) {
		if (lat != MAP_FAILED)
			munmap(lat, bytes);
		free(pool);
		b->teardown(shared);
		return -1;
	}
	for (int c = 0; c < 2; c++) {
		double p50[64], p90[64], p99[64], p999[64], mx[64];
		int reps = o->reps > 64 ? 64 : o->reps, ok = 1;
		uint64_t churn_ops = 0, total_churn = 0;
		for (int rep = 0; rep < reps && ok; rep++) {
			memset(lat, 0, bytes);
			if (latency_once(b, shared, keys, lat, n, churn_modes[c], o->pin,
			                 o->seed + (uint64_t)rep, &churn_ops) < 0) {
				ok = 0;
				break;
			}
			total_churn += churn_ops;
			memcpy(pool + (size_t)rep * n, lat, bytes);
			qsort(lat, n, sizeof *lat, bench_cmp_u32);
			p50[rep] = quantile(lat, n, 0.5);
			p90[rep] = quantile(lat, n, 0.9);
			p99[rep] = quantile(lat, n, 0.99);
			p999[rep] = quantile(lat, n, 0.999);
			mx[rep] = lat[n - 1];
		}
		struct result *r = report_add();
		snprintf(r->scenario, sizeof r->scenario, "latency");
		snprintf(r->backend, sizeof r->backend, "%s", b->name);
		snprintf(r->op, sizeof r->op, "find_touch");
		snprintf(r->churn, sizeof r->churn, "%s", churn_modes[c] ? "churn" : "none");
		r->capacity = keys->capacity;
		r->sessions = keys->n_live;
		r->procs = 1;
		if (!ok) {
			r->kind = RK_SKIPPED;
			snprintf(r->note, sizeof r->note,
			         "latency run failed (see messages above)");
			continue;
		}
		r->kind = RK_LATENCY;
		r->reps = reps;
		r->samples = n * (size_t)reps;
		r->p50 = bench_median(p50, (size_t)reps);
		r->p90 = bench_median(p90, (size_t)reps);
		r->p99 = bench_median(p99, (size_t)reps);
		r->p999 = bench_median(p999, (size_t)reps);
		r->max = bench_median(mx, (size_t)reps);
		/* The distribution plot uses every sample of every repetition. */
		size_t all = n * (size_t)reps;
		qsort(pool, all, sizeof *pool, bench_cmp_u32);
		for (int q = 0; q < LAT_QUANTILES; q++)
			r->q[q] = quantile(pool, all, lat_quantile_levels[q]);
		if (churn_modes[c])
			snprintf(
			    r->note, sizeof r->note,
			    "percentiles are medians over %d runs; max is the median of the runs' "
			    "maxima (highest seen %u ns); meanwhile the churner did %.0f "
			    "inserts+deletes, state changes and client joins+leaves per run",
			    reps, pool[all - 1], (double)total_churn / reps);
		else
			snprintf(r->note, sizeof r->note,
			         "no writer; medians over %d runs; highest seen %u ns", reps,
			         pool[all - 1]);
		fprintf(stderr, "  latency %-14s %-5s p50 %.0f p99 %.0f p99.9 %.0f max %.0f ns\n",
		        b->name, r->churn, r->p50, r->p99, r->p999, r->max);
	}
	munmap(lat, bytes);
	free(pool);
	b->teardown(shared);
	return 0;
}
