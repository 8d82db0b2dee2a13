/* Registry-wide operations: recovery, statistics, the doorbell, walks. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sr_internal.h"

int sr_registry_recover(sr_registry *reg, sr_recovery_report *rep)
{
	SR_CHECK_RW(reg);
	sr_recovery_report local;
	memset(&local, 0, sizeof(local));
	int rc = sr__lock_probe(reg);
	if (rc < 0)
		return rc;
	local.lock_repaired = (uint32_t)rc;
	local.records_repaired = (uint32_t)rc;
	sr__recover_procs(reg, &local);
	if (rep)
		*rep = local;
	return 0;
}

int sr_registry_stats_get(sr_registry *reg, sr_registry_stats *st)
{
	SR_CHECK_REG(reg);
	if (!st)
		return sr__fail(-EINVAL, "output is NULL");
	memset(st, 0, sizeof(*st));
	struct sr_header *h = reg->hdr;
	st->capacity = reg->capacity;
	st->max_procs = reg->max_procs;
	st->leases_per_proc = reg->leases_per_proc;
	uint64_t *per = sr__walk_buf_get(reg);
	if (!per)
		return sr__fail(-ENOMEM, "out of memory");
	sr__clients_all(reg, per);
	for (uint32_t s = 0; s < reg->capacity; s++) {
		uint64_t sw = sr__ld(&reg->hot[s].state);
		uint32_t code = sr_sw_code(sw);
		if (code == SR_SW_FREE || code > SR_STATE_COUNT)
			continue;
		st->sessions++;
		st->by_state[code - 1]++;
		st->clients += sr__clients_pick(reg, per, s, sr_sw_gen(sw));
	}
	sr__walk_buf_put(reg, per);
	for (uint32_t i = 0; i < reg->max_procs; i++) {
		uint64_t o = atomic_load(&sr__proc(reg, i)->owner);
		if (sr_owner_state(o) == SR_PROC_LIVE)
			st->procs_attached++;
	}
	st->procs_reclaimed = atomic_load(&h->procs_reclaimed);
	st->leases_reclaimed = atomic_load(&h->leases_reclaimed);
	st->locks_repaired = atomic_load(&h->locks_repaired);
	st->segment_size = reg->size;
	st->slot_bytes =
	    sizeof(struct sr_hot) + sizeof(struct sr_cold) + sizeof(struct sr_cold_tail) +
	    sizeof(struct sr_stats) + sizeof(uint32_t) +
	    (uint64_t)2 * sizeof(uint32_t) * reg->index_size / (reg->capacity ? reg->capacity : 1);
	/* The header is validated at attach but a writer may scribble on it
	 * later; these are display values only. */
	st->created_wall_ns = h->created_wall_ns;
	uint64_t now = sr_now_mono_ns();
	st->age_ms = now > h->created_mono_ns ? (now - h->created_mono_ns) / 1000000u : 0;
	st->creator_pid = h->creator_pid;
	st->birth_id = reg->birth_id;
	return 0;
}

uint32_t sr_registry_doorbell(sr_registry *reg)
{
	return reg ? atomic_load(&reg->hdr->doorbell) : 0;
}

int sr_registry_wait(sr_registry *reg, uint32_t *seen, int timeout_ms)
{
	SR_CHECK_RW(reg);
	if (!seen)
		return sr__fail(-EINVAL, "seen is NULL");
	struct sr_header *h = reg->hdr;
	uint32_t now = atomic_load(&h->doorbell);
	if (now != *seen) {
		*seen = now;
		return 1;
	}
	/* An absolute deadline: a handled signal interrupts the futex wait, and
	 * the loop resumes it for the time that is left, not a fresh timeout. */
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	atomic_fetch_add(&h->doorbell_waiters, 1);
	for (;;) {
		/* The kernel compares the word with *seen atomically: a ring between
		 * our load and the wait makes the wait return at once. */
		if (atomic_load(&h->doorbell) != *seen)
			break;
		long rc = syscall(SYS_futex, &h->doorbell, FUTEX_WAIT_BITSET, *seen,
		                  timeout_ms < 0 ? NULL : &deadline, NULL, FUTEX_BITSET_MATCH_ANY);
		/* EINTR: a handler ran; EAGAIN: rung before we slept.  Anything
		 * else (the deadline passed) ends the wait. */
		if (rc != 0 && errno != EINTR && errno != EAGAIN)
			break;
	}
	atomic_fetch_sub(&h->doorbell_waiters, 1);
	now = atomic_load(&h->doorbell);
	if (now != *seen) {
		*seen = now;
		return 1;
	}
	return 0;
}

int sr_session_list(sr_registry *reg, uuid_t *ids, size_t cap, size_t *n)
{
	SR_CHECK_REG(reg);
	if (!n || (cap && !ids))
		return sr__fail(-EINVAL, "output is NULL");
	size_t count = 0;
	for (uint32_t s = 0; s < reg->capacity; s++) {
		struct sr_hot *h = &reg->hot[s];
		uint64_t sw = sr__ld(&h->state);
		if (sr_sw_code(sw) == SR_SW_FREE || sr_sw_code(sw) > SR_STATE_COUNT)
			continue;
		uint64_t u[2] = {atomic_load_explicit(&h->uuid[0], memory_order_relaxed),
		                 atomic_load_explicit(&h->uuid[1], memory_order_relaxed)};
		atomic_thread_fence(memory_order_acquire);
		if (sr_sw_gen(atomic_load_explicit(&h->state, memory_order_relaxed)) !=
		    sr_sw_gen(sw))
			continue;
		if (count < cap)
			sr__words_uuid(u, ids[count]);
		count++;
	}
	*n = count;
	return 0;
}

int sr_session_foreach(sr_registry *reg, sr_session_cb cb, void *ctx)
{
	SR_CHECK_REG(reg);
	if (!cb)
		return sr__fail(-EINVAL, "callback is NULL");
	uint32_t busy = 0;
	int rc = sr__walk(reg, cb, ctx, &busy);
	if (rc == 0 && busy)
		rc = sr__fail(-SR_EBUSY,
		              "%u records were stuck mid-update and left out (a writer died "
		              "inside a call? a read-write attach or recovery repairs them)",
		              busy);
	return rc;
}

int sr_session_scan(sr_registry *reg, sr_brief_cb cb, void *ctx)
{
	SR_CHECK_REG(reg);
	if (!cb)
		return sr__fail(-EINVAL, "callback is NULL");
	uint64_t *per = sr__walk_buf_get(reg);
	if (!per)
		return sr__fail(-ENOMEM, "out of memory");
	sr__clients_all(reg, per);
	uint64_t now = sr_now_mono_ns();
	int rc = 0;
	sr_session_brief b;
	memset(&b, 0, sizeof(b));
	/* Local copies: the callback may do anything, so the compiler would
	 * otherwise reload them from the handle for every session. */
	const uint32_t cap = reg->capacity;
	struct sr_hot *hot = reg->hot;
	for (uint32_t s = 0; s < cap; s++) {
		struct sr_hot *h = &hot[s];
		uint64_t sw = sr__ld(&h->state);
		if (sr_sw_code(sw) - 1u >= SR_STATE_COUNT) /* free (0) or garbage */
			continue;
		uint64_t u[2] = {atomic_load_explicit(&h->uuid[0], memory_order_relaxed),
		                 atomic_load_explicit(&h->uuid[1], memory_order_relaxed)};
		uint64_t la = atomic_load_explicit(&h->last_access, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (sr_sw_gen(atomic_load_explicit(&h->state, memory_order_relaxed)) !=
		    sr_sw_gen(sw))
			continue;
		sr__words_uuid(u, b.channel_id);
		b.state = (sr_state)(sr_sw_code(sw) - 1);
		b.slot = s;
		b.generation = sr_sw_gen(sw);
		b.clients = sr__clients_pick(reg, per, s, b.generation);
		b.idle_ms = now > la ? (now - la) / 1000000u : 0;
		if ((rc = cb(&b, ctx)) != 0)
			break;
	}
	sr__walk_buf_put(reg, per);
	return rc;
}

/* A record that fails these checks was written by something that does not
 * follow the protocol (or is half-written by a dead writer not yet repaired). */
int sr_registry_verify(sr_registry *reg)
{
	SR_CHECK_REG(reg);
	int bad = 0;
	uint32_t live = 0;
	unsigned tries = SR_TRIES_FULL;
	for (uint32_t s = 0; s < reg->capacity; s++) {
		uint64_t sw = sr__ld(&reg->hot[s].state);
		uint32_t code = sr_sw_code(sw);
		if (code == SR_SW_FREE)
			continue;
		if (code > SR_STATE_COUNT || (sw & 0xffffff00u) != 0) {
			bad++;
			continue;
		}
		live++;
		uint64_t u[2] = {atomic_load(&reg->hot[s].uuid[0]),
		                 atomic_load(&reg->hot[s].uuid[1])};
		uint32_t found;
		uint64_t fsw;
		if (sr__lookup(reg, u, &found, &fsw) != 0 || found != s) {
			/* Deleted between the two reads is fine; still there is not. */
			if (sr_sw_gen(sr__ld(&reg->hot[s].state)) == sr_sw_gen(sw))
				bad++;
			continue;
		}
		int chk = sr__cold_check(reg, s, sr_sw_gen(sw), tries);
		if (chk > 0 && sr__walk_busy(reg, &tries))
			chk = sr__cold_check(reg, s, sr_sw_gen(sw), tries);
		if (chk > 0)
			bad++;
	}
	(void)live;
	return bad;
}
