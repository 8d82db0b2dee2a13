/* Session lifecycle and the lock-free hot paths: find, touch, state, clients. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sr_internal.h"

#define SR_CHECK_ID(id)                                                                            \
	do {                                                                                       \
		if (!(id))                                                                         \
			return sr__fail(-EINVAL, "channel id is NULL");                            \
	} while (0)

int sr__resolve(struct sr_registry *r, const uuid_t id, uint32_t *slot, uint32_t *gen)
{
	uint64_t u[2], sw = 0;
	sr__uuid_words(id, u);
	if (sr__lookup(r, u, slot, &sw) != 0) {
		char text[SR_UUID_STR_LEN + 1];
		sr_uuid_format(id, text);
		return sr__fail(-ENOENT, "no session for channel %s", text);
	}
	*gen = sr_sw_gen(sw);
	return 0;
}

void sr__ring(struct sr_registry *r)
{
	atomic_fetch_add(&r->hdr->doorbell, 1);
	if (atomic_load(&r->hdr->doorbell_waiters) > 0)
		syscall(SYS_futex, &r->hdr->doorbell, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int sr_session_insert(sr_registry *reg, const uuid_t id, const char *output_dir)
{
	SR_CHECK_RW(reg);
	SR_CHECK_ID(id);
	int rc;
	if (output_dir && strnlen(output_dir, SR_PATH_MAX + 1) > SR_PATH_MAX)
		return sr__fail(-ENAMETOOLONG, "output_dir longer than %d characters", SR_PATH_MAX);
	uint64_t u[2], sw = 0;
	uint32_t slot = 0;
	sr__uuid_words(id, u);
	uint64_t hash = sr__hash(reg, u);
	if ((rc = sr__lock(reg)))
		return rc;
	struct sr_header *h = reg->hdr;
	if (sr__lookup_hashed(reg, u, hash, &slot, &sw) == 0) {
		sr__unlock(reg);
		char text[SR_UUID_STR_LEN + 1];
		sr_uuid_format(id, text);
		return sr__fail(-EEXIST, "channel %s is already registered", text);
	}
	if (h->free_top == 0 || h->free_top > reg->capacity) {
		/* A sane stack says full; an insane one gets rebuilt before deciding. */
		if (h->free_top > reg->capacity)
			sr__free_rebuild(reg);
		if (h->free_top == 0) {
			sr__unlock(reg);
			return sr__fail(-SR_EFULL,
			                "session table full: all %u slots in use; create the "
			                "registry with a larger capacity",
			                reg->capacity);
		}
	}
	slot = reg->free_stack[h->free_top - 1];
	if (slot >= reg->capacity || sr_sw_code(sr__ld(&reg->hot[slot].state)) != SR_SW_FREE) {
		sr__free_rebuild(reg);
		slot = h->free_top ? reg->free_stack[h->free_top - 1] : UINT32_MAX;
		if (slot == UINT32_MAX) {
			sr__unlock(reg);
			return sr__fail(-SR_EFULL, "session table full: all %u slots in use",
			                reg->capacity);
		}
	}
	sr__wip_begin(reg, SR_WIP_INSERT, slot, u);
	h->free_top--;
	struct sr_hot *hot = &reg->hot[slot];
	uint64_t now = sr_now_mono_ns();
	sr__cold_init(reg, slot, now, sr__now_wall_coarse_ns(), output_dir);
	sr__stats_reset(reg, slot);
	uint32_t gen = sr_sw_gen(sr__ld(&hot->state)) + 1;
	/* The slot is free, but a slow reader may still hold it: the fence
	 * orders "free" before the new key, and the new state word publishes it. */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&hot->uuid[0], u[0], memory_order_relaxed);
	atomic_store_explicit(&hot->uuid[1], u[1], memory_order_relaxed);
	atomic_store_explicit(&hot->last_access, now, memory_order_relaxed);
	atomic_store_explicit(&hot->started_mono, 0, memory_order_relaxed);
	atomic_store_explicit(&hot->started_wall, 0, memory_order_relaxed);
	atomic_store_explicit(&hot->state, sr_sw_make(gen, SR_STATE_IDLE), memory_order_release);
	rc = sr__index_insert(reg, hash, slot);
	/* Only lock holders write it: no read-modify-write needed. */
	atomic_store_explicit(&h->sessions, atomic_load_explicit(&h->sessions, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	sr__wip_end(reg);
	if (rc) {
		sr__index_rebuild(reg);
		rc = 0;
	}
	sr__unlock(reg);
	return rc;
}

int sr_session_delete(sr_registry *reg, const uuid_t id)
{
	SR_CHECK_RW(reg);
	SR_CHECK_ID(id);
	uint64_t u[2], sw = 0;
	uint32_t slot = 0;
	sr__uuid_words(id, u);
	uint64_t hash = sr__hash(reg, u);
	int rc = sr__lock(reg);
	if (rc)
		return rc;
	if (sr__lookup_hashed(reg, u, hash, &slot, &sw) != 0) {
		sr__unlock(reg);
		char text[SR_UUID_STR_LEN + 1];
		sr_uuid_format(id, text);
		return sr__fail(-ENOENT, "no session for channel %s", text);
	}
	struct sr_header *h = reg->hdr;
	sr__wip_begin(reg, SR_WIP_DELETE, slot, u);
	/* Keep the generation: the next insert bumps it, which is what makes
	 * stale leases and stale lookups on this slot detectable. */
	uint64_t cur = sr__ld(&reg->hot[slot].state);
	while (!atomic_compare_exchange_weak(&reg->hot[slot].state, &cur,
	                                     (uint64_t)sr_sw_gen(cur) << 32))
		;
	sr__index_remove(reg, hash, slot);
	if (h->free_top < reg->capacity)
		reg->free_stack[h->free_top++] = slot;
	atomic_store_explicit(&h->sessions, atomic_load_explicit(&h->sessions, memory_order_relaxed) - 1,
	                      memory_order_relaxed);
	sr__wip_end(reg);
	sr__unlock(reg);
	return 0;
}

int sr_session_find(sr_registry *reg, const uuid_t id, uint32_t *generation)
{
	SR_CHECK_REG(reg);
	SR_CHECK_ID(id);
	uint32_t slot = 0, gen = 0;
	int rc = sr__resolve(reg, id, &slot, &gen);
	if (rc == 0 && generation)
		*generation = gen;
	return rc;
}

/* Most touches land in the same coarse tick: skip the store, and the cache
 * line stays shared between the processes that read it. */
static inline void touch_slot(struct sr_registry *r, uint32_t slot)
{
	uint64_t now = sr_now_mono_ns();
	_Atomic uint64_t *la = &r->hot[slot].last_access;
	uint64_t old = atomic_load_explicit(la, memory_order_relaxed);
	if (now > old)
		atomic_compare_exchange_strong_explicit(la, &old, now, memory_order_relaxed,
		                                        memory_order_relaxed);
}

int sr_session_touch(sr_registry *reg, const uuid_t id)
{
	SR_CHECK_RW(reg);
	SR_CHECK_ID(id);
	uint32_t slot = 0, gen = 0;
	int rc = sr__resolve(reg, id, &slot, &gen);
	if (rc)
		return rc;
	touch_slot(reg, slot);
	return 0;
}

int sr_session_get_state(sr_registry *reg, const uuid_t id, sr_state *out)
{
	SR_CHECK_REG(reg);
	SR_CHECK_ID(id);
	if (!out)
		return sr__fail(-EINVAL, "output is NULL");
	uint64_t u[2], sw = 0;
	uint32_t slot = 0;
	sr__uuid_words(id, u);
	if (sr__lookup(reg, u, &slot, &sw) != 0)
		return sr__resolve(reg, id, &slot, &slot);
	*out = (sr_state)(sr_sw_code(sw) - 1);
	return 0;
}

static int check_states(sr_state from, sr_state to)
{
	if ((unsigned)from >= SR_STATE_COUNT || (unsigned)to >= SR_STATE_COUNT)
		return sr__fail(-EINVAL, "state out of range");
	if (!sr_can_transition(from, to))
		return sr__fail(-SR_EBADTRANS, "transition %s -> %s is not allowed",
		                sr_state_name(from), sr_state_name(to));
	return 0;
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

static void after_transition(struct sr_registry *r, uint32_t slot, uint32_t gen, sr_state to);

/* Whether the state word cur allows a move into active; *now gets its state.
 * from_any: set_state's semantics (from whatever state allows it). */
static int active_allowed(uint64_t cur, uint32_t gen, sr_state from, bool from_any, sr_state *now)
{
	if (sr_sw_gen(cur) != gen || sr_sw_code(cur) == SR_SW_FREE ||
	    sr_sw_code(cur) > SR_STATE_COUNT)
		return sr__fail(-ENOENT, "session was deleted meanwhile");
	*now = (sr_state)(sr_sw_code(cur) - 1);
	if (!from_any && *now != from)
		return sr__fail(-SR_ESTATE, "session is %s, not %s", sr_state_name(*now),
		                sr_state_name(from));
	return check_states(*now, SR_STATE_ACTIVE);
}

static int move_to_active(struct sr_registry *r, uint32_t slot, uint32_t gen, sr_state from,
                          bool from_any, sr_state *prev)
{
	_Atomic uint64_t *state = &r->hot[slot].state;
	sr_state now;
	/* Refused without the lock when the state already says so. */
	int rc = active_allowed(sr__ld(state), gen, from, from_any, &now);
	if (rc)
		return rc;
	if ((rc = sr__lock(r)))
		return rc;
	uint64_t cur = sr__ld(state), old[2];
	bool wrote = false;
	while ((rc = active_allowed(cur, gen, from, from_any, &now)) == 0) {
		if (!wrote) {
			start_times_write(r, slot, old);
			wrote = true;
		}
		if (atomic_compare_exchange_strong(state, &cur, sr_sw_make(gen, SR_STATE_ACTIVE))) {
			if (prev)
				*prev = now;
			break;
		}
	}
	if (rc && wrote)
		start_times_undo(r, slot, old);
	if (wrote)
		sr__wip_end(r);
	sr__unlock(r);
	if (rc == 0)
		after_transition(r, slot, gen, SR_STATE_ACTIVE);
	return rc;
}

static void after_transition(struct sr_registry *r, uint32_t slot, uint32_t gen, sr_state to)
{
	sr__stats_transition(r, slot, gen, to);
	/* A start request is an access: the idle grace runs from it. */
	if (to == SR_STATE_STARTING) {
		touch_slot(r, slot);
		sr__ring(r);
	}
}


int sr_session_transition(sr_registry *reg, const uuid_t id, sr_state from, sr_state to)
{
	SR_CHECK_RW(reg);
	SR_CHECK_ID(id);
	int rc = check_states(from, to);
	if (rc)
		return rc;
	uint32_t slot = 0, gen = 0;
	if ((rc = sr__resolve(reg, id, &slot, &gen)))
		return rc;
	if (to == SR_STATE_ACTIVE)
		return move_to_active(reg, slot, gen, from, false, NULL);
	uint64_t expect = sr_sw_make(gen, from);
	if (!atomic_compare_exchange_strong(&reg->hot[slot].state, &expect, sr_sw_make(gen, to))) {
		if (sr_sw_gen(expect) != gen || sr_sw_code(expect) == SR_SW_FREE)
			return sr__fail(-ENOENT, "session was deleted meanwhile");
		return sr__fail(-SR_ESTATE, "session is %s, not %s",
		                sr_state_name((sr_state)(sr_sw_code(expect) - 1)),
		                sr_state_name(from));
	}
	after_transition(reg, slot, gen, to);
	return 0;
}

int sr_session_set_state(sr_registry *reg, const uuid_t id, sr_state to, sr_state *prev)
{
	SR_CHECK_RW(reg);
	SR_CHECK_ID(id);
	if ((unsigned)to >= SR_STATE_COUNT)
		return sr__fail(-EINVAL, "state out of range");
	uint32_t slot = 0, gen = 0;
	int rc = sr__resolve(reg, id, &slot, &gen);
	if (rc)
		return rc;
	if (to == SR_STATE_ACTIVE)
		return move_to_active(reg, slot, gen, SR_STATE_IDLE, true, prev);
	uint64_t cur = sr__ld(&reg->hot[slot].state);
	for (;;) {
		if (sr_sw_gen(cur) != gen || sr_sw_code(cur) == SR_SW_FREE ||
		    sr_sw_code(cur) > SR_STATE_COUNT)
			return sr__fail(-ENOENT, "session was deleted meanwhile");
		sr_state from = (sr_state)(sr_sw_code(cur) - 1);
		if ((rc = check_states(from, to)))
			return rc;
		if (atomic_compare_exchange_weak(&reg->hot[slot].state, &cur,
		                                 sr_sw_make(gen, to))) {
			if (prev)
				*prev = from;
			after_transition(reg, slot, gen, to);
			return 0;
		}
	}
}

static int client_change(sr_registry *reg, const uuid_t id, int delta)
{
	SR_CHECK_RW(reg);
	SR_CHECK_ID(id);
	uint32_t slot = 0, gen = 0;
	int rc = sr__resolve(reg, id, &slot, &gen);
	if (rc)
		return rc;
	if ((rc = sr__lease_add(reg, slot, gen, delta)))
		return rc;
	touch_slot(reg, slot);
	return 0;
}

int sr_session_add_client(sr_registry *reg, const uuid_t id)
{
	return client_change(reg, id, 1);
}

int sr_session_remove_client(sr_registry *reg, const uuid_t id)
{
	return client_change(reg, id, -1);
}

int sr_session_get_clients(sr_registry *reg, const uuid_t id, uint32_t *out)
{
	SR_CHECK_REG(reg);
	SR_CHECK_ID(id);
	if (!out)
		return sr__fail(-EINVAL, "output is NULL");
	uint32_t slot = 0, gen = 0;
	int rc = sr__resolve(reg, id, &slot, &gen);
	if (rc)
		return rc;
	*out = sr__clients_of(reg, slot, gen);
	return 0;
}

static uint64_t idle_of(struct sr_registry *r, uint32_t slot)
{
	uint64_t now = sr_now_mono_ns();
	uint64_t la = atomic_load_explicit(&r->hot[slot].last_access, memory_order_relaxed);
	return now > la ? (now - la) / 1000000u : 0;
}

int sr_session_idle_ms(sr_registry *reg, const uuid_t id, uint64_t *out)
{
	SR_CHECK_REG(reg);
	SR_CHECK_ID(id);
	if (!out)
		return sr__fail(-EINVAL, "output is NULL");
	uint32_t slot = 0, gen = 0;
	int rc = sr__resolve(reg, id, &slot, &gen);
	if (rc)
		return rc;
	*out = idle_of(reg, slot);
	return 0;
}

int sr_session_should_cleanup(sr_registry *reg, const uuid_t id, uint64_t grace_ms)
{
	SR_CHECK_REG(reg);
	SR_CHECK_ID(id);
	uint64_t u[2], sw = 0;
	uint32_t slot = 0;
	sr__uuid_words(id, u);
	if (sr__lookup(reg, u, &slot, &sw) != 0)
		return sr__resolve(reg, id, &slot, &slot);
	sr_state st = (sr_state)(sr_sw_code(sw) - 1);
	if (st != SR_STATE_STARTING && st != SR_STATE_ACTIVE && st != SR_STATE_FAILED)
		return 0;
	if (idle_of(reg, slot) <= grace_ms)
		return 0;
	return sr__clients_of(reg, slot, sr_sw_gen(sw)) == 0;
}
