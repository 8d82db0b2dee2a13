/*
 * A worker of the pre-fork server, as the registry sees it: a touch per
 * request, viewers joining and leaving, start requests, error records,
 * snapshots, and now and then a channel inserted or deleted.  It keeps its
 * own tally of the viewers it counted, which is the truth the parent checks
 * the registry against once the killing stops.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chaos.h"

struct worker {
	struct chaos_shared *sh;
	struct chaos_slot *me;
	sr_registry *reg;
	uint64_t rng;
	uint32_t held[CHAOS_MAX_CHANNELS]; /* viewers this process counted */
	bool claimed;
	int focus; /* the mix position this incarnation favours, or -1 */
};

static const unsigned char *pick_channel(struct worker *w, unsigned *ci)
{
	*ci = (unsigned)(chaos_rand(&w->rng) % w->sh->n_channels);
	return &w->sh->channels[*ci][0];
}

/* Base channels are never deleted; extra ones come and go, so ENOENT is
 * part of their contract. */
static const unsigned char *pick_any_ci(struct worker *w, bool *extra, unsigned *ci)
{
	unsigned r = (unsigned)(chaos_rand(&w->rng) % 8);
	*extra = r == 0;
	*ci = CHAOS_MAX_CHANNELS;
	if (*extra)
		return &w->sh->extra[chaos_rand(&w->rng) % CHAOS_EXTRA][0];
	return pick_channel(w, ci);
}

static const unsigned char *pick_any(struct worker *w, bool *extra)
{
	unsigned ci;
	return pick_any_ci(w, extra, &ci);
}

/* A quiet channel has no viewers for a while (the parent decides when), so
 * the reaper or keeper stops it and a later request starts it again: every
 * viewer activity on it turns into leaving. */
static bool quiet(struct worker *w, unsigned ci)
{
	return ci < CHAOS_MAX_CHANNELS &&
	       atomic_load_explicit(&w->sh->quiet[ci], memory_order_relaxed);
}

static void remove_on(struct worker *w, unsigned ci);

static void expect(struct worker *w, enum chaos_op op, int rc, bool ok)
{
	if (!ok)
		chaos_unexpected(w->me, op, rc);
}

static void do_touch(struct worker *w)
{
	bool extra;
	unsigned ci;
	const unsigned char *id = pick_any_ci(w, &extra, &ci);
	if (quiet(w, ci)) {
		remove_on(w, ci);
		return;
	}
	uint64_t t0;
	chaos_op_begin(w->me, OP_TOUCH, &t0);
	int rc = sr_session_touch(w->reg, id);
	chaos_op_end(w->me, OP_TOUCH, t0);
	expect(w, OP_TOUCH, rc, rc == 0 || (extra && rc == -ENOENT));
}

static void do_find(struct worker *w)
{
	if (w->sh->inject == 2 && w->me == &w->sh->worker[0]) {
		uint64_t t0;
		chaos_op_begin(w->me, OP_FIND, &t0);
		/* 150 ms on the CPU, however loaded the machine: a spinning
		 * wedge is what must be caught, preemption or not. */
		struct timespec c0, c1;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
		do
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
		while ((c1.tv_sec - c0.tv_sec) * 1000000000ll + (c1.tv_nsec - c0.tv_nsec) <
		       150000000ll);
		chaos_op_end(w->me, OP_FIND, t0);
		w->sh->inject = 0;
		return;
	}
	bool extra;
	const unsigned char *id = pick_any(w, &extra);
	uint64_t t0;
	uint32_t gen;
	chaos_op_begin(w->me, OP_FIND, &t0);
	int rc = sr_session_find(w->reg, id, &gen);
	chaos_op_end(w->me, OP_FIND, t0);
	expect(w, OP_FIND, rc, rc == 0 || (extra && rc == -ENOENT));
}

static void do_add(struct worker *w)
{
	unsigned ci;
	const unsigned char *id = pick_channel(w, &ci);
	if (quiet(w, ci)) {
		remove_on(w, ci);
		return;
	}
	uint64_t t0;
	chaos_op_begin(w->me, OP_ADD_CLIENT, &t0);
	int rc = sr_session_add_client(w->reg, id);
	chaos_op_end(w->me, OP_ADD_CLIENT, t0);
	expect(w, OP_ADD_CLIENT, rc, rc == 0);
	if (rc == 0) {
		w->held[ci]++;
		if (!w->claimed) {
			w->claimed = true;
			atomic_store(&w->me->claimed, 1);
		}
	}
}

static void do_remove(struct worker *w)
{
	unsigned ci;
	pick_channel(w, &ci);
	remove_on(w, ci);
}

static void remove_on(struct worker *w, unsigned ci)
{
	const unsigned char *id = &w->sh->channels[ci][0];
	if (w->held[ci] == 0)
		return;
	uint64_t t0;
	chaos_op_begin(w->me, OP_REMOVE_CLIENT, &t0);
	int rc = sr_session_remove_client(w->reg, id);
	chaos_op_end(w->me, OP_REMOVE_CLIENT, t0);
	expect(w, OP_REMOVE_CLIENT, rc, rc == 0);
	if (rc == 0)
		w->held[ci]--;
}

static void do_get_clients(struct worker *w)
{
	unsigned ci;
	const unsigned char *id = pick_channel(w, &ci);
	uint64_t t0;
	uint32_t n = 0;
	chaos_op_begin(w->me, OP_GET_CLIENTS, &t0);
	int rc = sr_session_get_clients(w->reg, id, &n);
	chaos_op_end(w->me, OP_GET_CLIENTS, t0);
	/* Whatever the others do, this process's own viewers are in the sum. */
	expect(w, OP_GET_CLIENTS, rc, rc == 0 && n >= w->held[ci]);
}

/* A viewer asking for a channel that is not running: what the server does. */
static void do_start(struct worker *w)
{
	bool extra;
	unsigned ci;
	const unsigned char *id = pick_any_ci(w, &extra, &ci);
	if (quiet(w, ci)) {
		remove_on(w, ci);
		return;
	}
	/* A real reaper logs every refused start; keep its log readable. */
	if (extra && !w->sh->strict_records && (chaos_rand(&w->rng) % 64) != 0)
		return;
	uint64_t t0;
	chaos_op_begin(w->me, OP_START, &t0);
	sr_state st;
	int rc = sr_session_get_state(w->reg, id, &st);
	if (rc == 0 && (st == SR_STATE_IDLE || st == SR_STATE_FAILED))
		rc = sr_session_transition(w->reg, id, st, SR_STATE_STARTING);
	chaos_op_end(w->me, OP_START, t0);
	expect(w, OP_START, rc, rc == 0 || rc == -SR_ESTATE || (extra && rc == -ENOENT));
}

static void do_error(struct worker *w)
{
	bool extra;
	const unsigned char *id = pick_any(w, &extra);
	char msg[96];
	snprintf(msg, sizeof(msg), "chaos: worker %d says segment %llu failed", (int)getpid(),
	         (unsigned long long)(chaos_rand(&w->rng) % 100000));
	uint64_t t0;
	chaos_op_begin(w->me, OP_ERROR, &t0);
	int rc = sr_session_record_error(w->reg, id, msg);
	chaos_op_end(w->me, OP_ERROR, t0);
	expect(w, OP_ERROR, rc, rc == 0 || (extra && rc == -ENOENT));
}

static void do_snapshot(struct worker *w)
{
	bool extra;
	const unsigned char *id = pick_any(w, &extra);
	sr_session_info in;
	uint64_t t0;
	chaos_op_begin(w->me, OP_SNAPSHOT, &t0);
	int rc = sr_session_snapshot(w->reg, id, &in);
	chaos_op_end(w->me, OP_SNAPSHOT, t0);
	if (rc == -SR_EBUSY) {
		atomic_fetch_add(&w->me->busy, 1);
		return;
	}
	expect(w, OP_SNAPSHOT, rc, rc == 0 || (extra && rc == -ENOENT));
	if (rc == 0 &&
	    (!chaos_record_check(&in, w->sh->strict_records) || memcmp(in.channel_id, id, 16) != 0))
		atomic_fetch_add(&w->me->torn, 1);
}

struct scan_ctx {
	struct worker *w;
	unsigned n;
	bool bad;
};

static int scan_cb(const sr_session_brief *b, void *ctx)
{
	struct scan_ctx *c = ctx;
	c->n++;
	if ((unsigned)b->state >= SR_STATE_COUNT)
		c->bad = true;
	return 0;
}

static int foreach_cb(const sr_session_info *in, void *ctx)
{
	struct scan_ctx *c = ctx;
	c->n++;
	if (!chaos_record_check(in, c->w->sh->strict_records))
		c->bad = true;
	return 0;
}

static void do_walk(struct worker *w)
{
	struct scan_ctx c = {.w = w};
	uint64_t t0;
	unsigned kind = (unsigned)(chaos_rand(&w->rng) % 3);
	int rc;
	if (kind == 0) {
		chaos_op_begin(w->me, OP_SCAN, &t0);
		rc = sr_session_scan(w->reg, scan_cb, &c);
		chaos_op_end(w->me, OP_SCAN, t0);
		expect(w, OP_SCAN, rc, rc == 0 && !c.bad && c.n >= w->sh->n_channels);
	} else if (kind == 1) {
		chaos_op_begin(w->me, OP_FOREACH, &t0);
		rc = sr_session_foreach(w->reg, foreach_cb, &c);
		chaos_op_end(w->me, OP_FOREACH, t0);
		if (rc == -SR_EBUSY) {
			atomic_fetch_add(&w->me->busy, 1);
			return;
		}
		if (c.bad)
			atomic_fetch_add(&w->me->torn, 1);
		expect(w, OP_FOREACH, rc, rc == 0);
	} else {
		uuid_t ids[CHAOS_MAX_CHANNELS + CHAOS_EXTRA];
		size_t n = 0;
		chaos_op_begin(w->me, OP_LIST, &t0);
		rc = sr_session_list(w->reg, ids, CHAOS_MAX_CHANNELS + CHAOS_EXTRA, &n);
		chaos_op_end(w->me, OP_LIST, t0);
		expect(w, OP_LIST, rc, rc == 0 && n >= w->sh->n_channels);
	}
}

static void do_churn(struct worker *w)
{
	const unsigned char *id = w->sh->extra[chaos_rand(&w->rng) % CHAOS_EXTRA];
	uint64_t t0;
	int rc;
	if (chaos_rand(&w->rng) & 1) {
		chaos_op_begin(w->me, OP_INSERT, &t0);
		rc = sr_session_insert(w->reg, id, NULL);
		chaos_op_end(w->me, OP_INSERT, t0);
		if (rc == -SR_EFULL)
			atomic_fetch_add(&w->me->full, 1);
		expect(w, OP_INSERT, rc, rc == 0 || rc == -EEXIST || rc == -SR_EFULL);
	} else {
		chaos_op_begin(w->me, OP_DELETE, &t0);
		rc = sr_session_delete(w->reg, id);
		chaos_op_end(w->me, OP_DELETE, t0);
		expect(w, OP_DELETE, rc, rc == 0 || rc == -ENOENT);
	}
}

/* Once the killing stops: publish the exact tally, then hold the process
 * slot (and so the leases) alive until the parent has checked them. */
static void report_and_wait(struct worker *w)
{
	int round = atomic_load(&w->sh->round);
	memcpy(w->me->leases, w->held, sizeof(w->held));
	if (w->sh->inject == 1 && w->me == &w->sh->worker[0])
		w->me->leases[0]++;
	atomic_store(&w->me->reported, round);
	while (atomic_load(&w->sh->phase) == PH_REPORT)
		chaos_sleep_ns(1000000);
	if (atomic_load(&w->sh->phase) == PH_EXIT) {
		sr_registry_close(w->reg);
		_exit(0);
	}
}

static void one_op(struct worker *w)
{
	unsigned r = (unsigned)(chaos_rand(&w->rng) % 1000);
	/* Half the incarnations mostly repeat one operation, as a tight loop of
	 * it: that piles waiters on the writer lock for the lock-taking ones. */
	if (w->focus >= 0 && (r & 3) != 0)
		r = (unsigned)w->focus;
	if (r < 450)
		do_touch(w);
	else if (r < 520)
		do_find(w);
	else if (r < 640)
		do_add(w);
	else if (r < 760)
		do_remove(w);
	else if (r < 800)
		do_get_clients(w);
	else if (r < 860)
		do_start(w);
	else if (r < 910)
		do_error(w);
	else if (r < 965)
		do_snapshot(w);
	else if (r < 980)
		do_walk(w);
	else
		do_churn(w);
}

void chaos_worker_main(struct chaos_shared *sh, sr_registry *reg, unsigned idx, uint64_t seed)
{
	struct worker w = {.sh = sh, .me = &sh->worker[idx], .reg = reg, .rng = seed};
	/* Positions in the mix of one_op(): touch, add, remove, start, error,
	 * snapshot, insert/delete. */
	static const int focus[] = {0, 600, 700, 830, 880, 940, 990};
	w.focus = chaos_rand(&w.rng) & 1
	              ? focus[chaos_rand(&w.rng) % (sizeof(focus) / sizeof(focus[0]))]
	              : -1;
	/* A lock storm: every worker on the writer lock at once. */
	if (sh->storm)
		w.focus = chaos_rand(&w.rng) % 4 ? 880 : 990;
	for (;;) {
		while (atomic_load_explicit(&sh->phase, memory_order_relaxed) == PH_RUN) {
			/* A server worker does other things between registry calls;
			 * pausing now and then also keeps the run queue short, so a
			 * lock holder is rarely preempted by its own waiters. */
			for (int i = 0; i < 256; i++)
				one_op(&w);
			if (!sh->tight)
				chaos_sleep_ns(100000 + chaos_rand(&w.rng) % 400000);
		}
		report_and_wait(&w);
	}
}
