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

/* or_find: an existing session is returned (1) instead of refused with
 * -EEXIST.  0 when inserted; *slot_out and *gen_out name the session. */
int sr__insert(struct sr_registry *reg, const uuid_t id, const char *output_dir, bool or_find,
               uint32_t *slot_out, uint32_t *gen_out)
{
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
		if (or_find) {
			*slot_out = slot;
			*gen_out = sr_sw_gen(sw);
			return 1;
		}
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
	/* Wall clock first: the last access (this mono tick) then never
	 * converts to a wall time before the creation time. */
	int64_t wall = sr__now_wall_coarse_ns();
	uint64_t now = sr_now_mono_ns();
	sr__cold_init(reg, slot, now, wall, output_dir);
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
	atomic_store_explicit(&h->sessions,
	                      atomic_load_explicit(&h->sessions, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	sr__wip_end(reg);
	if (rc)
		sr__index_rebuild(reg);
	sr__unlock(reg);
	*slot_out = slot;
	*gen_out = gen;
	return 0;
}

int sr_session_insert(sr_registry *reg, const uuid_t id, const char *output_dir)
{
	SR_CHECK_RW(reg);
	SR_CHECK_ID(id);
	uint32_t slot = 0, gen = 0;
	int rc = sr__insert(reg, id, output_dir, false, &slot, &gen);
	return rc < 0 ? rc : 0;
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
	sr__wake_state(reg, slot);
	sr__index_remove(reg, hash, slot);
	if (h->free_top < reg->capacity)
		reg->free_stack[h->free_top++] = slot;
	atomic_store_explicit(&h->sessions,
	                      atomic_load_explicit(&h->sessions, memory_order_relaxed) - 1,
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

/* The UUID functions below are one lookup plus the reference path; a
 * session deleted between the two reads as absent, as it always did. */
static int enoent_if_stale(int rc)
{
	return rc == -SR_ESTALE ? sr__fail(-ENOENT, "session was deleted meanwhile") : rc;
}

int sr_session_touch(sr_registry *reg, const uuid_t id)
{
	SR_CHECK_RW(reg);
	SR_CHECK_ID(id);
	sr_session_ref ref;
	int rc = sr__resolve(reg, id, &ref.slot, &ref.generation);
	if (rc)
		return rc;
	sr__touch_slot(reg, ref.slot);
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

int sr_session_transition(sr_registry *reg, const uuid_t id, sr_state from, sr_state to)
{
	SR_CHECK_RW(reg);
	SR_CHECK_ID(id);
	sr_session_ref ref;
	int rc = sr__check_states(from, to);
	if (rc == 0)
		rc = sr__resolve(reg, id, &ref.slot, &ref.generation);
	if (rc == 0)
		rc = sr__ref_transition(reg, ref, from, to, NULL);
	return enoent_if_stale(rc);
}

int sr_session_set_state(sr_registry *reg, const uuid_t id, sr_state to, sr_state *prev)
{
	SR_CHECK_RW(reg);
	SR_CHECK_ID(id);
	if ((unsigned)to >= SR_STATE_COUNT)
		return sr__fail(-EINVAL, "state out of range");
	sr_session_ref ref;
	int rc = sr__resolve(reg, id, &ref.slot, &ref.generation);
	if (rc == 0)
		rc = sr__ref_set_state(reg, ref, to, prev);
	return enoent_if_stale(rc);
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
	sr__touch_slot(reg, slot);
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
	*out = sr__idle_of(reg, slot);
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
	if (sr__idle_of(reg, slot) <= grace_ms)
		return 0;
	return sr__clients_of(reg, slot, sr_sw_gen(sw)) == 0;
}
