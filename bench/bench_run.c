/*
 * One measurement: start nworkers (processes, or threads for in-process
 * stores), let each open its own handle and warm up, release them together,
 * and have each run timed batches for the same duration.  The clock is read
 * once per batch, so its cost is spread over the batch.
 */
#include "bench_run.h"
#include "bench_interrupt.h"

#include <errno.h>
#include <pthread.h>
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

struct worker_out {
	uint64_t ops;
	uint64_t ns;
	uint64_t cpu_ns; /* this worker's CPU time over the timed part */
	uint64_t failed;
	int err;
	char msg[200];
};

struct ctl {
	atomic_int ready;
	atomic_int go;
	struct worker_out w[BENCH_MAX_WORKERS];
};

struct thread_arg {
	const struct run_params *p;
	struct ctl *ctl;
	int w;
};

/* Slack after the sequence so a batch starting near its end reads on. */
#define SEQ_SLACK 1024u
/* The mixed profile works in chunks of this many events. */
#define MIX_CHUNK 20u

static void nap_us(long us)
{
	struct timespec ts = {0, us * 1000};
	nanosleep(&ts, NULL);
}

/*
 * Per 20 events: 18 requests (find + touch) and one viewer joining then
 * leaving (2 events); every 50th chunk one request is a state change
 * instead, so about one event in a thousand changes a state.
 */
static long run_mixed(const struct run_params *p, void *local, struct worker_ctx *wc,
                      const uint32_t *idx, size_t n, uint64_t *chunk_no)
{
	long failed = 0;
	for (size_t i = 0; i + MIX_CHUNK <= n; i += MIX_CHUNK) {
		long r;
		bool cas = (++*chunk_no % 50) == 0;
		size_t touches = MIX_CHUNK - 2 - (cas ? 1 : 0);
		if ((r = p->b->run(local, wc, OP_FIND_TOUCH, idx + i, touches)) < 0)
			return -1;
		failed += r;
		if ((r = p->b->run(local, wc, OP_ADD_REMOVE, idx + i + touches, 1)) < 0)
			return -1;
		failed += r;
		if (cas) {
			if ((r = p->b->run(local, wc, OP_STATE_CAS, idx + i + touches + 1, 1)) < 0)
				return -1;
			failed += r;
		}
	}
	return failed;
}

static void worker_body(const struct run_params *p, struct ctl *ctl, int w)
{
	struct worker_out *out = &ctl->w[w];
	struct worker_ctx wc = {.id = w, .nworkers = p->nworkers, .keys = p->keys};
	uint32_t *seq = malloc((BENCH_SEQ_LEN + SEQ_SLACK) * sizeof *seq);
	wc.cas_state = calloc(p->keys->n_live ? p->keys->n_live : 1, 1);
	void *local = NULL;
	bool opened = false;
	unsigned batch = p->b->batch ? p->b->batch : 256;
	if (p->op == OP_MIXED)
		batch = (batch / MIX_CHUNK + 1) * MIX_CHUNK;
	if (batch > SEQ_SLACK)
		batch = SEQ_SLACK;
	uint64_t chunk_no = 0;
	long r;
	if (!seq || !wc.cas_state) {
		out->err = ENOMEM;
		snprintf(out->msg, sizeof out->msg, "worker %d: out of memory", w);
		goto ready;
	}
	bench_make_seq(seq, p->dist, p->keys->n_live, w, p->nworkers, p->seed);
	memcpy(seq + BENCH_SEQ_LEN, seq, SEQ_SLACK * sizeof *seq);
	if (p->pin && bench_pin(w) < 0) {
		out->err = errno;
		snprintf(out->msg, sizeof out->msg, "worker %d: sched_setaffinity: %s", w,
		         strerror(errno));
		goto ready;
	}
	if (p->b->open(p->shared, &wc, &local, out->msg, sizeof out->msg) < 0) {
		out->err = EIO;
		goto ready;
	}
	opened = true;
	/* Warm-up: fault in the pages and caches this worker will touch. */
	r = p->op == OP_MIXED ? run_mixed(p, local, &wc, seq, batch, &chunk_no)
	                      : p->b->run(local, &wc, p->op, seq, batch);
	if (r < 0) {
		out->err = EIO;
		snprintf(out->msg, sizeof out->msg, "%s: %s failed in warm-up", p->b->name,
		         op_name(p->op));
		goto ready;
	}
ready:
	atomic_fetch_add(&ctl->ready, 1);
	if (out->err)
		goto done;
	while (!atomic_load_explicit(&ctl->go, memory_order_acquire))
		sched_yield();
	uint64_t c0 = bench_cpu_now_ns(), t0 = bench_now_ns(), t = t0, ops = 0, failed = 0;
	uint32_t pos = 0;
	do {
		r = p->op == OP_MIXED ? run_mixed(p, local, &wc, seq + pos, batch, &chunk_no)
		                      : p->b->run(local, &wc, p->op, seq + pos, batch);
		if (r < 0) {
			out->err = EIO;
			snprintf(out->msg, sizeof out->msg, "%s: %s failed", p->b->name,
			         op_name(p->op));
			break;
		}
		failed += (uint64_t)r;
		ops += batch;
		pos = (pos + batch) & (BENCH_SEQ_LEN - 1);
		t = bench_now_ns();
	} while (t - t0 < p->duration_ns && !bench_interrupted());
	out->cpu_ns = bench_cpu_now_ns() - c0;
	out->ops = ops;
	out->ns = t - t0;
	out->failed = failed;
done:
	if (opened)
		p->b->close(local);
	free(seq);
	free(wc.cas_state);
}

static void *thread_main(void *arg)
{
	struct thread_arg *a = arg;
	worker_body(a->p, a->ctl, a->w);
	return NULL;
}

static void wait_ready(struct ctl *ctl, int n)
{
	while (atomic_load(&ctl->ready) < n) {
		bench_interrupt_point();
		nap_us(100);
	}
	atomic_store_explicit(&ctl->go, 1, memory_order_release);
}

static int run_threads(const struct run_params *p, struct ctl *ctl, char *msg, size_t len)
{
	pthread_t t[BENCH_MAX_WORKERS];
	struct thread_arg a[BENCH_MAX_WORKERS];
	int started = 0, rc = 0;
	for (int w = 0; w < p->nworkers; w++) {
		a[w] = (struct thread_arg){p, ctl, w};
		if ((rc = pthread_create(&t[w], NULL, thread_main, &a[w])) != 0) {
			snprintf(msg, len, "pthread_create: %s", strerror(rc));
			/* Let the started ones run so they can be joined. */
			atomic_fetch_add(&ctl->ready, p->nworkers - w);
			break;
		}
		started++;
	}
	wait_ready(ctl, p->nworkers);
	for (int w = 0; w < started; w++)
		pthread_join(t[w], NULL);
	return rc ? -1 : 0;
}

/* A worker stuck in a store must not hang the harness: kill it after a deadline. */
static int run_processes(const struct run_params *p, struct ctl *ctl, char *msg, size_t len)
{
	pid_t pid[BENCH_MAX_WORKERS];
	int started = 0, bad = 0;
	for (int w = 0; w < p->nworkers; w++) {
		pid[w] = bench_fork();
		if (pid[w] < 0) {
			snprintf(msg, len, "fork: %s", strerror(errno));
			atomic_fetch_add(&ctl->ready, p->nworkers - w);
			bad = 1;
			break;
		}
		if (pid[w] == 0) {
			worker_body(p, ctl, w);
			_exit(ctl->w[w].err ? 1 : 0);
		}
		started++;
	}
	wait_ready(ctl, p->nworkers);
	uint64_t deadline = bench_now_ns() + p->duration_ns + 30ull * 1000000000u;
	bool reaped[BENCH_MAX_WORKERS] = {false};
	int left = started;
	/* Wait for our workers only: the harness has other children (redis-server). */
	while (left > 0) {
		bench_interrupt_point();
		for (int w = 0; w < started; w++) {
			int status;
			if (reaped[w] || waitpid(pid[w], &status, WNOHANG) != pid[w])
				continue;
			bench_reaped(pid[w]);
			reaped[w] = true;
			left--;
			if (!WIFEXITED(status) && !bad) {
				snprintf(msg, len, "a worker died of signal %d", WTERMSIG(status));
				bad = 1;
			}
		}
		if (left > 0 && bench_now_ns() > deadline) {
			for (int w = 0; w < started; w++)
				if (!reaped[w]) {
					kill(pid[w], SIGKILL);
					waitpid(pid[w], NULL, 0);
					bench_reaped(pid[w]);
				}
			if (!bad)
				snprintf(msg, len, "workers still running 30 s after the deadline");
			bad = 1;
			break;
		}
		if (left > 0)
			nap_us(1000);
	}
	return bad ? -1 : 0;
}

int bench_run_once(const struct run_params *p, struct run_result *r)
{
	memset(r, 0, sizeof *r);
	if (p->nworkers < 1 || p->nworkers > BENCH_MAX_WORKERS) {
		r->err = EINVAL;
		snprintf(r->msg, sizeof r->msg, "workers must be 1..%d", BENCH_MAX_WORKERS);
		return -1;
	}
	/* Threads share the parent's memory; processes need a shared mapping. */
	struct ctl *ctl;
	if (p->b->threads) {
		ctl = calloc(1, sizeof *ctl);
	} else {
		ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		           -1, 0);
		if (ctl == MAP_FAILED)
			ctl = NULL;
	}
	if (!ctl) {
		r->err = ENOMEM;
		snprintf(r->msg, sizeof r->msg, "cannot allocate the control block");
		return -1;
	}
	int rc = p->b->threads ? run_threads(p, ctl, r->msg, sizeof r->msg)
	                       : run_processes(p, ctl, r->msg, sizeof r->msg);
	if (rc < 0)
		r->err = EIO;
	uint64_t cpu = 0;
	for (int w = 0; w < p->nworkers && !r->err; w++) {
		const struct worker_out *o = &ctl->w[w];
		if (o->err || o->ns == 0) {
			r->err = o->err ? o->err : EIO;
			snprintf(r->msg, sizeof r->msg, "%s",
			         o->msg[0] ? o->msg : "worker did not run");
			break;
		}
		r->ops += o->ops;
		cpu += o->cpu_ns;
		r->failed += o->failed;
		r->ops_per_sec += (double)o->ops * 1e9 / (double)o->ns;
	}
	if (!r->err) {
		r->ns_per_op = p->nworkers * 1e9 / r->ops_per_sec;
		r->cpu_ns_per_op = r->ops ? (double)cpu / (double)r->ops : 0;
	}
	if (p->b->threads)
		free(ctl);
	else
		munmap(ctl, sizeof *ctl);
	/* Threads that saw the signal cut their run short: it is no measurement. */
	bench_interrupt_point();
	return r->err ? -1 : 0;
}

int bench_run_reps(const struct run_params *p, int reps, struct run_summary *s)
{
	double v[64], cpu[64];
	memset(s, 0, sizeof *s);
	if (reps < 1)
		reps = 1;
	if (reps > 64)
		reps = 64;
	for (int i = 0; i < reps; i++) {
		struct run_result r;
		if (bench_run_once(p, &r) < 0) {
			s->err = r.err;
			snprintf(s->msg, sizeof s->msg, "%s", r.msg);
			return -1;
		}
		v[i] = r.ops_per_sec;
		cpu[i] = r.cpu_ns_per_op;
		s->failed += r.failed;
		if (i == 0 || r.ops_per_sec < s->ops_min)
			s->ops_min = r.ops_per_sec;
		if (i == 0 || r.ops_per_sec > s->ops_max)
			s->ops_max = r.ops_per_sec;
	}
	s->reps = reps;
	s->ops_per_sec = bench_median(v, (size_t)reps);
	s->ns_per_op = p->nworkers * 1e9 / s->ops_per_sec;
	s->cpu_ns_per_op = bench_median(cpu, (size_t)reps);
	return 0;
}
