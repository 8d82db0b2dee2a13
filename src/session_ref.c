/*
 * Session references: the slot and generation a lookup found, checked on
 * every use against the slot's state word (the same cache line the call
 * reads or writes anyway), so a request pays for one lookup and a deleted
 * session can never be mistaken for the channel that reused its slot.  The
 * UUID functions end here too, after their lookup.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sr_internal.h"

int sr__ref_check(struct sr_registry *r, sr_session_ref ref, uint64_t *sw_out)
{
	if (ref.slot >= r->capacity)
		return sr__fail(-EINVAL,
		                "session reference slot %u is outside the table (%u slots)",
		                ref.slot, r->capacity);
	uint64_t sw = sr__ld(&r->hot[ref.slot].state);
	if (sr_sw_code(sw) == SR_SW_FREE || sr_sw_code(sw) > SR_STATE_COUNT ||
	    sr_sw_gen(sw) != ref.generation)
		return sr__fail(-SR_ESTALE,
		                "session of slot %u generation %u was deleted; resolve it again",
		                ref.slot, ref.generation);
	if (sw_out)
		*sw_out = sw;
	return 0;
}

/* Most touches land in the same coarse tick: skip the store, and the cache
 * line stays shared between the processes that read it.  When it must
 * store, a compare-and-swap against the value it read, not a plain store: a
 * toucher stalled between its read and its store (preempted, stopped,
 * frozen) would otherwise write its older time over a newer one, and the
 * session would look idle for as long as the stall.  A plain store was
 * measured faster at a million sessions touched at random (docs/design.md);
 * exactness wins. */
void sr__touch_slot(struct sr_registry *r, uint32_t slot)
{
	_Atomic uint64_t *la = &r->hot[slot].last_access;
	uint64_t old = atomic_load_explicit(la, memory_order_relaxed);
	uint64_t now = sr_now_mono_ns();
	if (now > old)
		atomic_compare_exchange_strong_explicit(la, &old, now, memory_order_relaxed,
		                                        memory_order_relaxed);
}

uint64_t sr__idle_of(struct sr_registry *r, uint32_t slot)
{
	uint64_t now = sr_now_mono_ns();
	uint64_t la = atomic_load_explicit(&r->hot[slot].last_access, memory_order_relaxed);
	return now > la ? (now - la) / 1000000u : 0;
}

int sr__check_states(sr_state from, sr_state to)
{
	if ((unsigned)from >= SR_STATE_COUNT || (unsigned)to >= SR_STATE_COUNT)
		return sr__fail(-EINVAL, "state out of range");
	if (!sr_can_transition(from, to))
		return sr__fail(-SR_EBADTRANS, "transition %s -> %s is not allowed",
		                sr_state_name(from), sr_state_name(to));
	return 0;
}

/* Waiters sleep on change_seq, not on the state word: a change and a change
 * back between their check and their sleep still moved the sequence, so no
 * wake-up is lost (the kernel compares the word atomically). */
void sr__wake_state(struct sr_registry *r, uint32_t slot)
{
	struct sr_stats *s = &r->stats[slot];
	atomic_fetch_add(&s->change_seq, 1);
	if (atomic_load(&s->waiters) > 0)
		syscall(SYS_futex, &s->change_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static int stale(sr_session_ref ref)
{
	return sr__fail(-SR_ESTALE, "session of slot %u generation %u was deleted meanwhile",
	                ref.slot, ref.generation);
}

static void after_transition(struct sr_registry *r, uint32_t slot, uint32_t gen, sr_state to)
{
	sr__stats_transition(r, slot, gen, to);
	sr__wake_state(r, slot);
	/* A start request is an access: the idle grace runs from it. */
	if (to == SR_STATE_STARTING) {
		sr__touch_slot(r, slot);
		sr__ring(r);
	}
}

/*
 * Moves into active are the only writers of the start times, and they take
 * the writer lock, so one runs at a time: under it the move checks the
 * state first (a refused move writes nothing), writes the times, then lets
 * the state word's compare-and-swap publish `active`, so whoever sees active
 * sees when it started.  If a lock-free move (starting -> failed, a delete)
 * wins meanwhile, the old times go back; no other start time can have been
 * written in between.  The old times are kept in the wip record, so a mover
 * killed halfway is undone by the next locker (lock.c).
 */
static void start_times_write(struct sr_registry *r, uint32_t slot, uint64_t old[2])
{
	struct sr_hot *h = &r->hot[slot];
	old[0] = atomic_load_explicit(&h->started_mono, memory_order_relaxed);
	old[1] = atomic_load_explicit(&h->started_wall, memory_order_relaxed);
	sr__wip_begin(r, SR_WIP_START, slot, old);
	atomic_store_explicit(&h->started_mono, sr_now_mono_ns(), memory_order_relaxed);
	atomic_store_explicit(&h->started_wall, (uint64_t)sr__now_wall_ns(), memory_order_relaxed);
}

static void start_times_undo(struct sr_registry *r, uint32_t slot, const uint64_t old[2])
{
	atomic_store_explicit(&r->hot[slot].started_mono, old[0], memory_order_relaxed);
	atomic_store_explicit(&r->hot[slot].started_wall, old[1], memory_order_relaxed);
}

/* Whether the state word cur allows a move into active; *now gets its state.
 * from_any: set_state's semantics (from whatever state allows it). */
static int active_allowed(uint64_t cur, sr_session_ref ref, sr_state from, bool from_any,
                          sr_state *now)
{
	if (sr_sw_gen(cur) != ref.generation || sr_sw_code(cur) == SR_SW_FREE ||
	    sr_sw_code(cur) > SR_STATE_COUNT)
		return stale(ref);
	*now = (sr_state)(sr_sw_code(cur) - 1);
	if (!from_any && *now != from)
		return sr__fail(-SR_ESTATE, "session is %s, not %s", sr_state_name(*now),
		                sr_state_name(from));
	return sr__check_states(*now, SR_STATE_ACTIVE);
}

/* *found gets the state met (on success: the state moved from). */
static int move_to_active(struct sr_registry *r, sr_session_ref ref, sr_state from, bool from_any,
                          sr_state *found)
{
	uint32_t slot = ref.slot, gen = ref.generation;
	_Atomic uint64_t *state = &r->hot[slot].state;
	sr_state now = SR_STATE_COUNT;
	/* Refused without the lock when the state already says so. */
	int rc = active_allowed(sr__ld(state), ref, from, from_any, &now);
	if (rc == 0 && (rc = sr__lock(r)) == 0) {
		uint64_t cur = sr__ld(state), old[2];
		bool wrote = false;
		while ((rc = active_allowed(cur, ref, from, from_any, &now)) == 0) {
			if (!wrote) {
				start_times_write(r, slot, old);
				wrote = true;
			}
			if (atomic_compare_exchange_strong(state, &cur,
			                                   sr_sw_make(gen, SR_STATE_ACTIVE)))
				break;
		}
		if (rc && wrote)
			start_times_undo(r, slot, old);
		if (wrote)
			sr__wip_end(r);
		sr__unlock(r);
	}
	if (found && now != SR_STATE_COUNT)
		*found = now;
	if (rc == 0)
		after_transition(r, slot, gen, SR_STATE_ACTIVE);
	return rc;
}

int sr__ref_transition(struct sr_registry *r, sr_session_ref ref, sr_state from, sr_state to,
                       sr_state *found)
{
	if (to == SR_STATE_ACTIVE) {
		sr_state met = SR_STATE_COUNT;
		int rc = move_to_active(r, ref, from, false, &met);
		if (rc == -SR_ESTATE && found)
			*found = met;
		return rc;
	}
	uint32_t slot = ref.slot, gen = ref.generation;
	uint64_t expect = sr_sw_make(gen, from);
	if (!atomic_compare_exchange_strong(&r->hot[slot].state, &expect, sr_sw_make(gen, to))) {
		if (sr_sw_gen(expect) != gen || sr_sw_code(expect) == SR_SW_FREE ||
		    sr_sw_code(expect) > SR_STATE_COUNT)
			return stale(ref);
		/* What the compare-and-swap saw: no second, racy read needed. */
		sr_state now = (sr_state)(sr_sw_code(expect) - 1);
		if (found)
			*found = now;
		return sr__fail(-SR_ESTATE, "session is %s, not %s", sr_state_name(now),
		                sr_state_name(from));
	}
	after_transition(r, slot, gen, to);
	return 0;
}

int sr__ref_set_state(struct sr_registry *r, sr_session_ref ref, sr_state to, sr_state *prev)
{
	if (to == SR_STATE_ACTIVE)
		return move_to_active(r, ref, SR_STATE_IDLE, true, prev);
	uint32_t slot = ref.slot, gen = ref.generation;
	uint64_t cur = sr__ld(&r->hot[slot].state);
	for (;;) {
		if (sr_sw_gen(cur) != gen || sr_sw_code(cur) == SR_SW_FREE ||
		    sr_sw_code(cur) > SR_STATE_COUNT)
			return stale(ref);
		sr_state from = (sr_state)(sr_sw_code(cur) - 1);
		int rc = sr__check_states(from, to);
		if (rc) {
			if (prev)
				*prev = from;
			return rc;
		}
		if (atomic_compare_exchange_weak(&r->hot[slot].state, &cur, sr_sw_make(gen, to))) {
			if (prev)
				*prev = from;
			after_transition(r, slot, gen, to);
			return 0;
		}
	}
}

/* ---- Public reference API ---------------------------------------------- */

int sr_session_resolve(sr_registry *reg, const uuid_t id, sr_session_ref *ref)
{
	SR_CHECK_REG(reg);
	if (!id || !ref)
		return sr__fail(-EINVAL, "channel id or reference is NULL");
	sr_session_ref r = {0, 0};
	int rc = sr__resolve(reg, id, &r.slot, &r.generation);
	if (rc == 0)
		*ref = r;
	return rc;
}

int sr_session_find_or_insert(sr_registry *reg, const uuid_t id, const char *output_dir,
                              sr_session_ref *ref)
{
	SR_CHECK_RW(reg);
	if (!id || !ref)
		return sr__fail(-EINVAL, "channel id or reference is NULL");
	uint64_t u[2], sw = 0;
	uint32_t slot = 0;
	sr__uuid_words(id, u);
	/* Present almost always: one lock-free lookup, no lock. */
	if (sr__lookup(reg, u, &slot, &sw) == 0) {
		ref->slot = slot;
		ref->generation = sr_sw_gen(sw);
		return 0;
	}
	uint32_t gen = 0;
	int rc = sr__insert(reg, id, output_dir, true, &slot, &gen);
	if (rc < 0)
		return rc;
	ref->slot = slot;
	ref->generation = gen;
	return rc == 0 ? 1 : 0;
}

int sr_ref_touch(sr_registry *reg, sr_session_ref ref)
{
	SR_CHECK_RW(reg);
	int rc = sr__ref_check(reg, ref, NULL);
	if (rc == 0)
		sr__touch_slot(reg, ref.slot);
	return rc;
}

int sr_ref_get_state(sr_registry *reg, sr_session_ref ref, sr_state *out)
{
	SR_CHECK_REG(reg);
	if (!out)
		return sr__fail(-EINVAL, "output is NULL");
	uint64_t sw = 0;
	int rc = sr__ref_check(reg, ref, &sw);
	if (rc == 0)
		*out = (sr_state)(sr_sw_code(sw) - 1);
	return rc;
}

int sr_ref_transition(sr_registry *reg, sr_session_ref ref, sr_state from, sr_state to,
                      sr_state *found)
{
	SR_CHECK_RW(reg);
	int rc = sr__check_states(from, to);
	if (rc == 0)
		rc = sr__ref_check(reg, ref, NULL);
	if (rc == 0)
		rc = sr__ref_transition(reg, ref, from, to, found);
	return rc;
}

int sr_ref_set_state(sr_registry *reg, sr_session_ref ref, sr_state to, sr_state *prev)
{
	SR_CHECK_RW(reg);
	if ((unsigned)to >= SR_STATE_COUNT)
		return sr__fail(-EINVAL, "state out of range");
	int rc = sr__ref_check(reg, ref, NULL);
	return rc ? rc : sr__ref_set_state(reg, ref, to, prev);
}

static int clamp_count(uint32_t n)
{
	return n > INT_MAX ? INT_MAX : (int)n;
}

static int ref_client_change(sr_registry *reg, sr_session_ref ref, int delta)
{
	SR_CHECK_RW(reg);
	int rc = sr__ref_check(reg, ref, NULL);
	if (rc == 0)
		rc = sr__lease_add(reg, ref.slot, ref.generation, delta);
	if (rc)
		return rc;
	sr__touch_slot(reg, ref.slot);
	return clamp_count(sr__clients_of(reg, ref.slot, ref.generation));
}

int sr_ref_add_client(sr_registry *reg, sr_session_ref ref)
{
	return ref_client_change(reg, ref, 1);
}

int sr_ref_remove_client(sr_registry *reg, sr_session_ref ref)
{
	return ref_client_change(reg, ref, -1);
}

int sr_ref_get_clients(sr_registry *reg, sr_session_ref ref, uint32_t *out)
{
	SR_CHECK_REG(reg);
	if (!out)
		return sr__fail(-EINVAL, "output is NULL");
	int rc = sr__ref_check(reg, ref, NULL);
	if (rc == 0)
		*out = sr__clients_of(reg, ref.slot, ref.generation);
	return rc;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int sr_ref_wait_state(sr_registry *reg, sr_session_ref ref, sr_state seen, int timeout_ms,
                      sr_state *now)
{
	SR_CHECK_RW(reg);
	if ((unsigned)seen >= SR_STATE_COUNT)
		return sr__fail(-EINVAL, "state out of range");
	int rc = sr__ref_check(reg, ref, NULL);
	if (rc)
		return rc;
	struct sr_stats *s = &reg->stats[ref.slot];
	uint64_t deadline = timeout_ms < 0 ? 0 : mono_ns() + (uint64_t)timeout_ms * 1000000u;
	atomic_fetch_add(&s->waiters, 1);
	for (;;) {
		/* The sequence first: a change after this read moves it, and the
		 * kernel then refuses to sleep. */
		uint32_t seq = atomic_load(&s->change_seq);
		uint64_t sw = 0;
		if ((rc = sr__ref_check(reg, ref, &sw)))
			break;
		sr_state cur = (sr_state)(sr_sw_code(sw) - 1);
		if (cur != seen) {
			if (now)
				*now = cur;
			rc = 1;
			break;
		}
		struct timespec ts, *tsp = NULL;
		if (timeout_ms >= 0) {
			uint64_t t = mono_ns();
			if (t >= deadline) {
				if (now)
					*now = cur;
				rc = 0;
				break;
			}
			uint64_t left = deadline - t;
			ts.tv_sec = (time_t)(left / 1000000000u);
			ts.tv_nsec = (long)(left % 1000000000u);
			tsp = &ts;
		}
		/* EINTR and spurious wake-ups loop: the remaining time is
		 * recomputed from the deadline, so a signal never cuts the wait. */
		if (syscall(SYS_futex, &s->change_seq, FUTEX_WAIT, seq, tsp, NULL, 0) != 0 &&
		    errno != EINTR && errno != EAGAIN && errno != ETIMEDOUT) {
			int e = errno;
			rc = sr__fail(-e, "futex wait failed: %s", strerror(e));
			break;
		}
	}
	atomic_fetch_sub(&s->waiters, 1);
	return rc;
}
