/*
 * Judging slow operations.  An operation over the 100 ms bound is a wedge
 * unless its time is explained by what the machine did to it: time in the
 * run queue (its own schedstat), time the hypervisor stole from the vCPUs
 * (sampled here from /proc/stat), or, for a lock-taking call, time a live
 * lock holder spent preempted while it slept behind it.  A dead holder
 * publishes nothing, so waiting on one is never excused.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chaos_run.h"

static struct chaos_steal_sample *samples;
static unsigned n_samples, next_sample;
static uint64_t last_sample_ns;

static uint64_t reaper_wait(pid_t pid)
{
	char path[64], buf[128];
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	unsigned long long run = 0, wait = 0;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%llu %llu", &run, &wait) != 2)
		wait = 0;
	fclose(f);
	return wait;
}

void chaos_steal_sample(struct chaos_run *run)
{
	uint64_t now = chaos_now_ns();
	if (now - last_sample_ns < 10000000ull)
		return;
	last_sample_ns = now;
	if (!samples && !(samples = calloc(CHAOS_STEAL_SAMPLES, sizeof(*samples))))
		return;
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return;
	struct chaos_steal_sample *s = &samples[next_sample];
	memset(s, 0, sizeof(*s));
	s->t = now;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		unsigned cpu;
		unsigned long long v[8];
		if (sscanf(line, "cpu%u %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0],
		           &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 9 &&
		    cpu < CHAOS_STEAL_CPUS)
			s->ticks[cpu] = v[7];
	}
	fclose(f);
	if (run->reaper > 0) {
		s->reaper_pid = run->reaper;
		s->reaper_wait_ns = reaper_wait(run->reaper);
	}
	next_sample = (next_sample + 1) % CHAOS_STEAL_SAMPLES;
	if (n_samples < CHAOS_STEAL_SAMPLES)
		n_samples++;
}

static void bracket(uint64_t a, uint64_t b, const struct chaos_steal_sample **before,
                    const struct chaos_steal_sample **after)
{
	*before = *after = NULL;
	for (unsigned k = 0; k < n_samples; k++) {
		const struct chaos_steal_sample *s = &samples[k];
		if (s->t <= a && (!*before || s->t > (*before)->t))
			*before = s;
		if (s->t >= b && (!*after || s->t < (*after)->t))
			*after = s;
	}
}

/* The reaper's run-queue wait over [a, b], if one reaper lived throughout. */
static uint64_t reaper_preempted(uint64_t a, uint64_t b)
{
	const struct chaos_steal_sample *before, *after;
	bracket(a, b, &before, &after);
	if (!before || !after || !before->reaper_pid || before->reaper_pid != after->reaper_pid ||
	    after->reaper_wait_ns < before->reaper_wait_ns)
		return 0;
	uint64_t w = after->reaper_wait_ns - before->reaper_wait_ns;
	return w < b - a ? w : b - a;
}

/* Most steal any one vCPU suffered over [a, b], widened to whole samples. */
static uint64_t steal_during(uint64_t a, uint64_t b)
{
	const struct chaos_steal_sample *before, *after;
	bracket(a, b, &before, &after);
	if (!before || !after)
		return 0;
	uint64_t most = 0;
	for (unsigned c = 0; c < CHAOS_STEAL_CPUS; c++)
		if (after->ticks[c] >= before->ticks[c] &&
		    after->ticks[c] - before->ticks[c] > most)
			most = after->ticks[c] - before->ticks[c];
	long hz = sysconf(_SC_CLK_TCK);
	return most * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
}

static bool takes_lock(uint32_t op)
{
	return op == OP_ERROR || op == OP_INSERT || op == OP_DELETE || op == OP_QUALITY ||
	       op == OP_RECOVER || op == OP_SNAPSHOT || op == OP_FOREACH;
}

static uint64_t overlap(const struct chaos_event *a, const struct chaos_event *b)
{
	uint64_t lo = a->t0 > b->t0 ? a->t0 : b->t0, hi = a->t1 < b->t1 ? a->t1 : b->t1;
	return hi > lo ? hi - lo : 0;
}

/* Time some other live lock-taker spent preempted while e ran. */
static uint64_t convoy(const struct chaos_shared *sh, unsigned n, const struct chaos_event *e)
{
	uint64_t most = 0;
	for (unsigned k = 0; k < n; k++) {
		const struct chaos_event *o = &sh->ev[k];
		if (!atomic_load(&o->ready) || o->pid == e->pid || !takes_lock(o->op))
			continue;
		uint64_t ov = overlap(e, o), w = o->wait < ov ? o->wait : ov;
		if (w > most)
			most = w;
	}
	return most;
}

static uint64_t read_wait_self(int fd)
{
	char buf[128];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	unsigned long long run = 0, wait = 0;
	if (sscanf(buf, "%llu %llu", &run, &wait) != 2)
		return 0;
	return wait;
}

void chaos_witness_main(struct chaos_shared *sh)
{
	int fd = open("/proc/self/schedstat", O_RDONLY | O_CLOEXEC);
	uint64_t prev = chaos_now_ns(), prev_wait = fd >= 0 ? read_wait_self(fd) : 0;
	for (;;) {
		chaos_sleep_ns(1000000);
		uint64_t now = chaos_now_ns(), wait = fd >= 0 ? read_wait_self(fd) : 0;
		uint64_t gap = now - prev, own = wait >= prev_wait ? wait - prev_wait : 0;
		/* A 1 ms sleep that took over 6 ms beyond its own queueing. */
		if (gap > own + 6000000ull) {
			uint32_t i = atomic_fetch_add(&sh->stall_next, 1) % CHAOS_STALLS;
			sh->stall[i].t0 = prev;
			sh->stall[i].t1 = now;
		}
		prev = now;
		prev_wait = wait;
	}
}

/* Time of [a, b] the witness saw the machine stalled. */
static uint64_t stalled(const struct chaos_shared *sh, uint64_t a, uint64_t b)
{
	uint32_t n = atomic_load(&sh->stall_next);
	if (n > CHAOS_STALLS)
		n = CHAOS_STALLS;
	uint64_t sum = 0;
	for (uint32_t k = 0; k < n; k++) {
		uint64_t lo = sh->stall[k].t0 > a ? sh->stall[k].t0 : a;
		uint64_t hi = sh->stall[k].t1 < b ? sh->stall[k].t1 : b;
		if (hi > lo)
			sum += hi - lo;
	}
	return sum;
}

void chaos_judge(struct chaos_run *run)
{
	struct chaos_shared *sh = run->sh;
	uint32_t total = atomic_load_explicit(&sh->ev_next, memory_order_acquire);
	unsigned n = total;
	if (n > CHAOS_EVENTS) {
		chaos_violation(run, "%u events overflowed the ring; slow operations went unjudged",
		                n - CHAOS_EVENTS);
		n = CHAOS_EVENTS;
	}
	for (unsigned k = 0; k < n; k++) {
		struct chaos_event *e = &sh->ev[k];
		if (!atomic_load(&e->ready))
			continue;
		uint64_t wall = e->t1 - e->t0;
		if (wall - (e->wait < wall ? e->wait : wall) <= CHAOS_WEDGE_NS)
			continue;
		uint64_t steal = steal_during(e->t0, e->t1);
		uint64_t cv = 0;
		if (takes_lock(e->op)) {
			cv = convoy(sh, n, e);
			uint64_t rp = reaper_preempted(e->t0, e->t1);
			if (rp > cv)
				cv = rp;
		}
		uint64_t stall = stalled(sh, e->t0, e->t1);
		if (stall > steal)
			steal = stall;
		uint64_t explained = e->wait + steal + cv;
		uint64_t left = wall > explained ? wall - explained : 0;
		char what[200];
		snprintf(
		    what, sizeof(what),
		    "%s in pid %d took %.1f ms: on a CPU %.1f, run queue %.1f, machine stalled "
		    "(steal or witness) %.1f, behind a preempted lock holder %.1f, unexplained "
		    "%.1f",
		    chaos_op_name((enum chaos_op)e->op), (int)e->pid, (double)wall / 1e6,
		    (double)e->cpu / 1e6, (double)e->wait / 1e6, (double)steal / 1e6,
		    (double)cv / 1e6, (double)(left > e->cpu ? left - e->cpu : 0) / 1e6);
		if (left > CHAOS_WEDGE_NS) {
			chaos_violation(run, "wedge: %s", what);
		} else {
			run->excused++;
			if (run->cfg->verbose)
				printf("excused: %s\n", what);
		}
	}
	for (unsigned k = 0; k < CHAOS_EVENTS; k++)
		atomic_store(&sh->ev[k].ready, 0);
	atomic_store(&sh->ev_next, 0);
}
