/*
 * The keeper: the reaper's role played on the library level when no real
 * reaper runs.  It recovers what killed workers left behind, answers start
 * requests (starting -> active, with qualities, paths and a pid written as
 * cold updates), fails a channel now and then as a crashing transcoder
 * would, and stops channels nobody watches.  The killer kills it too, so a
 * recoverer dying mid-recovery is part of the run.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chaos.h"

struct keeper {
	struct chaos_shared *sh;
	struct chaos_slot *me;
	sr_registry *reg;
	uint64_t rng;
};

static void recover(struct keeper *k)
{
	sr_recovery_report rep;
	uint64_t t0;
	chaos_op_begin(k->me, OP_RECOVER, &t0);
	int rc = sr_registry_recover(k->reg, &rep);
	chaos_op_end(k->me, OP_RECOVER, t0);
	if (rc != 0) {
		chaos_unexpected(k->me, OP_RECOVER, rc);
		return;
	}
	atomic_fetch_add(&k->sh->rec_calls, 1);
	atomic_fetch_add(&k->sh->rec_procs, rep.procs_reclaimed);
	atomic_fetch_add(&k->sh->rec_leases, rep.leases_released);
	atomic_fetch_add(&k->sh->rec_locks, rep.lock_repaired);
}

static bool transition_ok(int rc, bool extra)
{
	/* A worker may have moved it meanwhile, or deleted an extra channel. */
	return rc == 0 || rc == -SR_ESTATE || (extra && rc == -ENOENT);
}

static void publish_run(struct keeper *k, const unsigned char *id, bool extra)
{
	uint32_t tag = atomic_fetch_add(&k->sh->quality_tag, 1) + 1;
	sr_quality q[SR_MAX_QUALITIES];
	size_t n = 1 + (size_t)(chaos_rand(&k->rng) % SR_MAX_QUALITIES);
	chaos_quality_make(q, n, tag);
	char dir[64], seg[80];
	snprintf(dir, sizeof(dir), "/chaos/%u", tag);
	snprintf(seg, sizeof(seg), "%s/seg", dir);
	uint64_t t0;
	chaos_op_begin(k->me, OP_QUALITY, &t0);
	int rc = sr_session_set_qualities(k->reg, id, q, n);
	if (rc == 0)
		rc = sr_session_set_paths(k->reg, id, dir, seg);
	if (rc == 0)
		rc = sr_session_set_pid(k->reg, id, (pid_t)(100000 + tag % 100000), tag);
	chaos_op_end(k->me, OP_QUALITY, t0);
	if (rc != 0 && !(extra && rc == -ENOENT))
		chaos_unexpected(k->me, OP_QUALITY, rc);
}

static void drive(struct keeper *k, const unsigned char *id, sr_state from, sr_state to, bool extra)
{
	uint64_t t0;
	chaos_op_begin(k->me, OP_DRIVE, &t0);
	int rc = sr_session_transition(k->reg, id, from, to);
	chaos_op_end(k->me, OP_DRIVE, t0);
	if (!transition_ok(rc, extra))
		chaos_unexpected(k->me, OP_DRIVE, rc);
	if (rc == 0 && to == SR_STATE_ACTIVE)
		publish_run(k, id, extra);
	if (rc == 0 && to == SR_STATE_FAILED) {
		chaos_op_begin(k->me, OP_ERROR, &t0);
		rc = sr_session_record_error(k->reg, id, "chaos: transcoder exited with status 1");
		chaos_op_end(k->me, OP_ERROR, t0);
		if (rc != 0 && !(extra && rc == -ENOENT))
			chaos_unexpected(k->me, OP_ERROR, rc);
	}
}

/* One session's next step, decided the way the reaper decides it. */
static void step(struct keeper *k, const sr_session_brief *b, bool extra)
{
	unsigned r = (unsigned)(chaos_rand(&k->rng) % 100);
	switch (b->state) {
	case SR_STATE_STARTING:
		drive(k, b->channel_id, SR_STATE_STARTING,
		      r < 90 ? SR_STATE_ACTIVE : SR_STATE_FAILED, extra);
		break;
	case SR_STATE_ACTIVE:
		if (r < 3)
			drive(k, b->channel_id, SR_STATE_ACTIVE, SR_STATE_FAILED, extra);
		else if (b->clients == 0 && b->idle_ms > 20)
			drive(k, b->channel_id, SR_STATE_ACTIVE, SR_STATE_STOPPING, extra);
		break;
	case SR_STATE_STOPPING:
		drive(k, b->channel_id, SR_STATE_STOPPING, SR_STATE_IDLE, extra);
		break;
	case SR_STATE_FAILED:
		if (b->clients == 0 && r < 30)
			drive(k, b->channel_id, SR_STATE_FAILED, SR_STATE_IDLE, extra);
		break;
	default:
		break;
	}
}

struct scan {
	sr_session_brief b[CHAOS_MAX_CHANNELS + CHAOS_SPARE_SLOTS];
	unsigned n;
};

static int collect(const sr_session_brief *b, void *ctx)
{
	struct scan *s = ctx;
	if (s->n < sizeof(s->b) / sizeof(s->b[0]))
		s->b[s->n++] = *b;
	return 0;
}

static bool is_extra(struct keeper *k, const unsigned char *id)
{
	for (unsigned i = 0; i < CHAOS_EXTRA; i++)
		if (memcmp(k->sh->extra[i], id, sizeof(uuid_t)) == 0)
			return true;
	return false;
}

void chaos_keeper_main(struct chaos_shared *sh, sr_registry *reg, uint64_t seed)
{
	struct keeper k = {.sh = sh, .me = &sh->keeper, .reg = reg, .rng = seed};
	uint32_t seen = sr_registry_doorbell(reg);
	while (atomic_load(&sh->phase) == PH_RUN) {
		recover(&k);
		/* Decisions are made on a scan taken outside any callback, as the
		 * reaper does: the walk itself must never write. */
		struct scan s = {.n = 0};
		uint64_t t0;
		chaos_op_begin(k.me, OP_SCAN, &t0);
		int rc = sr_session_scan(reg, collect, &s);
		chaos_op_end(k.me, OP_SCAN, t0);
		if (rc != 0)
			chaos_unexpected(k.me, OP_SCAN, rc);
		for (unsigned i = 0; i < s.n; i++)
			step(&k, &s.b[i], is_extra(&k, s.b[i].channel_id));
		/* Sleep on the doorbell like the reaper: a start request wakes it. */
		rc = sr_registry_wait(reg, &seen, 5);
		if (rc < 0)
			chaos_unexpected(k.me, OP_SCAN, rc);
	}
	_exit(0);
}
