/*
 * The hash index from channel UUID to slot.  Lookups are lock-free and
 * verify every candidate against the slot's own UUID and generation, so a
 * stale or garbage entry costs a retry, never a wrong answer.  Changes
 * happen under the writer lock.
 */
#include <errno.h>
#include <string.h>

#include "sr_internal.h"

#define SR_LOOKUP_RETRIES 64

static inline uint32_t ix_tag(uint64_t hash)
{
	return (uint32_t)(hash >> 57) << SR_IX_SLOT_BITS;
}

static inline uint32_t ix_entry(uint64_t hash, uint32_t slot)
{
	return ix_tag(hash) | (slot + 2);
}

static inline _Atomic uint32_t *active_index(struct sr_registry *r)
{
	return r->index[atomic_load_explicit(&r->hdr->index_active, memory_order_acquire) & 1u];
}

/* Seqlock-style read of a slot's key: the state word before and after. */
static bool slot_holds(struct sr_registry *r, uint32_t slot, const uint64_t u[2], uint64_t *sw)
{
	struct sr_hot *h = &r->hot[slot];
	uint64_t s1 = sr__ld(&h->state);
	if (sr_sw_code(s1) == SR_SW_FREE || sr_sw_code(s1) > SR_STATE_COUNT)
		return false;
	uint64_t a = atomic_load_explicit(&h->uuid[0], memory_order_relaxed);
	uint64_t b = atomic_load_explicit(&h->uuid[1], memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	uint64_t s2 = atomic_load_explicit(&h->state, memory_order_relaxed);
	if (sr_sw_gen(s1) != sr_sw_gen(s2) || sr_sw_code(s2) == SR_SW_FREE)
		return false;
	if (a != u[0] || b != u[1])
		return false;
	*sw = s2;
	return true;
}

int sr__lookup(struct sr_registry *r, const uint64_t u[2], uint32_t *slot, uint64_t *sw)
{
	return sr__lookup_hashed(r, u, sr__hash(r, u), slot, sw);
}

int sr__lookup_hashed(struct sr_registry *r, const uint64_t u[2], uint64_t hash, uint32_t *slot,
                      uint64_t *sw)
{
	uint32_t mask = r->index_size - 1;
	for (int attempt = 0; attempt < SR_LOOKUP_RETRIES; attempt++) {
		uint32_t seq = atomic_load_explicit(&r->hdr->index_seq, memory_order_acquire);
		_Atomic uint32_t *ix = active_index(r);
		uint32_t pos = (uint32_t)hash & mask;
		uint32_t tag = ix_tag(hash);
		for (uint32_t i = 0; i < r->index_size; i++, pos = (pos + 1) & mask) {
			uint32_t e = atomic_load_explicit(&ix[pos], memory_order_acquire);
			if (e == SR_IX_EMPTY)
				break;
			if (e == SR_IX_TOMB || (e & ~SR_IX_SLOT_MASK) != tag)
				continue;
			uint32_t s = (e & SR_IX_SLOT_MASK) - 2;
			if (s < r->capacity && slot_holds(r, s, u, sw)) {
				*slot = s;
				return 0;
			}
		}
		/* A miss is only trusted if no rebuild moved entries meanwhile. */
		if (atomic_load_explicit(&r->hdr->index_seq, memory_order_acquire) == seq)
			return -ENOENT;
	}
	return -ENOENT;
}

/* Under the writer lock: the key (whose sr__hash is given) is known to be absent. */
int sr__index_insert(struct sr_registry *r, uint64_t hash, uint32_t slot)
{
	uint32_t mask = r->index_size - 1;
	_Atomic uint32_t *ix = active_index(r);
	uint32_t pos = (uint32_t)hash & mask;
	for (uint32_t i = 0; i < r->index_size; i++, pos = (pos + 1) & mask) {
		uint32_t e = atomic_load_explicit(&ix[pos], memory_order_relaxed);
		if (e == SR_IX_EMPTY || e == SR_IX_TOMB) {
			if (e == SR_IX_TOMB && r->hdr->tombstones > 0)
				r->hdr->tombstones--;
			atomic_store_explicit(&ix[pos], ix_entry(hash, slot), memory_order_release);
			return 0;
		}
	}
	return -SR_ECORRUPT;
}

/* Under the writer lock.  A tombstone followed by an empty cell ends no live
 * probe chain, so it (and tombstones before it) can become empty again:
 * readers mid-probe cannot be looking for anything beyond it. */
void sr__index_remove(struct sr_registry *r, uint64_t hash, uint32_t slot)
{
	uint32_t mask = r->index_size - 1;
	_Atomic uint32_t *ix = active_index(r);
	uint32_t pos = (uint32_t)hash & mask;
	uint32_t want = ix_entry(hash, slot);
	for (uint32_t i = 0; i < r->index_size; i++, pos = (pos + 1) & mask) {
		uint32_t e = atomic_load_explicit(&ix[pos], memory_order_relaxed);
		if (e == SR_IX_EMPTY)
			return;
		if (e != want)
			continue;
		if (atomic_load_explicit(&ix[(pos + 1) & mask], memory_order_relaxed) !=
		    SR_IX_EMPTY) {
			atomic_store_explicit(&ix[pos], SR_IX_TOMB, memory_order_release);
			r->hdr->tombstones++;
			break;
		}
		atomic_store_explicit(&ix[pos], SR_IX_EMPTY, memory_order_release);
		for (uint32_t p = (pos - 1) & mask;
		     atomic_load_explicit(&ix[p], memory_order_relaxed) == SR_IX_TOMB;
		     p = (p - 1) & mask) {
			atomic_store_explicit(&ix[p], SR_IX_EMPTY, memory_order_release);
			if (r->hdr->tombstones > 0)
				r->hdr->tombstones--;
		}
		break;
	}
	if (r->hdr->tombstones > r->index_size / 4)
		sr__index_rebuild(r);
}

/* Under the writer lock: fill the inactive array from the hot records, then
 * flip.  Readers on the old array that miss see index_seq move and retry. */
void sr__index_rebuild(struct sr_registry *r)
{
	struct sr_header *h = r->hdr;
	uint32_t cur = atomic_load_explicit(&h->index_active, memory_order_relaxed) & 1u;
	_Atomic uint32_t *ix = r->index[cur ^ 1u];
	uint32_t mask = r->index_size - 1;
	for (uint32_t i = 0; i < r->index_size; i++)
		atomic_store_explicit(&ix[i], SR_IX_EMPTY, memory_order_relaxed);
	for (uint32_t s = 0; s < r->capacity; s++) {
		uint64_t sw = sr__ld(&r->hot[s].state);
		if (sr_sw_code(sw) == SR_SW_FREE)
			continue;
		uint64_t u[2] = {atomic_load_explicit(&r->hot[s].uuid[0], memory_order_relaxed),
		                 atomic_load_explicit(&r->hot[s].uuid[1], memory_order_relaxed)};
		uint64_t hash = sr__hash(r, u);
		uint32_t pos = (uint32_t)hash & mask;
		while (atomic_load_explicit(&ix[pos], memory_order_relaxed) != SR_IX_EMPTY)
			pos = (pos + 1) & mask;
		atomic_store_explicit(&ix[pos], ix_entry(hash, s), memory_order_relaxed);
	}
	h->tombstones = 0;
	atomic_fetch_add_explicit(&h->index_seq, 1, memory_order_acq_rel);
	atomic_store_explicit(&h->index_active, cur ^ 1u, memory_order_release);
	atomic_fetch_add_explicit(&h->index_seq, 1, memory_order_acq_rel);
}

/* Under the writer lock: the free stack and session count from the hot records. */
void sr__free_rebuild(struct sr_registry *r)
{
	uint32_t top = 0, used = 0;
	for (uint32_t s = r->capacity; s-- > 0;) {
		if (sr_sw_code(sr__ld(&r->hot[s].state)) == SR_SW_FREE)
			r->free_stack[top++] = s;
		else
			used++;
	}
	r->hdr->free_top = top;
	atomic_store(&r->hdr->sessions, used);
}
