/* Segment geometry, layout fingerprint and header checksum. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "sr_internal.h"

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static uint32_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;
	while (p < v)
		p <<= 1;
	return (uint32_t)p;
}

int sr__geometry(uint32_t capacity, uint32_t max_procs, uint32_t leases, struct sr_geometry *g)
{
	if (capacity == 0 || capacity > SR_CAPACITY_MAX)
		return sr__fail(-EINVAL, "capacity %u out of range 1..%u", capacity,
		                SR_CAPACITY_MAX);
	if (max_procs == 0 || max_procs > SR_PROCS_MAX)
		return sr__fail(-EINVAL, "max_procs %u out of range 1..%u", max_procs,
		                SR_PROCS_MAX);
	if (leases == 0 || leases > SR_LEASES_MAX)
		return sr__fail(-EINVAL, "leases_per_proc %u out of range 1..%u", leases,
		                SR_LEASES_MAX);
	memset(g, 0, sizeof(*g));
	g->capacity = capacity;
	g->max_procs = max_procs;
	g->leases_per_proc = leases;
	/* Load factor at most 1/2 in the per-process lease table too. */
	g->lease_cells = pow2_at_least((uint64_t)leases * 2 < 8 ? 8 : (uint64_t)leases * 2);
	/* Load factor <= 1/2 keeps linear probing short even with tombstones. */
	g->index_size = pow2_at_least((uint64_t)capacity * 2);
	uint64_t off = align_up(sizeof(struct sr_header), 4096);
	g->off_hot = off;
	off = align_up(off + (uint64_t)capacity * sizeof(struct sr_hot), SR_CACHELINE);
	g->off_index0 = off;
	off = align_up(off + (uint64_t)g->index_size * 4, SR_CACHELINE);
	g->off_index1 = off;
	off = align_up(off + (uint64_t)g->index_size * 4, SR_CACHELINE);
	g->off_free = off;
	off = align_up(off + (uint64_t)capacity * 4, SR_CACHELINE);
	g->proc_stride =
	    align_up(sizeof(struct sr_proc) + (uint64_t)g->lease_cells * sizeof(struct sr_lease),
	             SR_CACHELINE);
	g->off_procs = off;
	off = align_up(off + (uint64_t)max_procs * g->proc_stride, SR_CACHELINE);
	/* Counters apart from the hot lines: written on state changes only. */
	g->off_stats = off;
	off = align_up(off + (uint64_t)capacity * sizeof(struct sr_stats), 4096);
	/* Cold records last: their heads, which a walk streams through, then
	 * their tails, the bulk, untouched unless a record is long. */
	g->off_cold = off;
	off = align_up(off + (uint64_t)capacity * sizeof(struct sr_cold), 4096);
	g->off_cold_tail = off;
	off = align_up(off + (uint64_t)capacity * sizeof(struct sr_cold_tail), 4096);
	g->segment_size = off;
	return 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t sr__fingerprint(void)
{
	/* Everything two builds must agree on to share a segment. */
	const uint64_t facts[] = {
	    sizeof(struct sr_header),
	    offsetof(struct sr_header, checksum),
	    offsetof(struct sr_header, doorbell),
	    offsetof(struct sr_header, lock),
	    offsetof(struct sr_header, wip),
	    offsetof(struct sr_header, undo),
	    offsetof(struct sr_header, transitions),
	    offsetof(struct sr_header, owner),
	    sizeof(struct sr_owner_rec),
	    sizeof(struct sr_stats),
	    SR_LATENCY_BUCKETS,
	    SR_OWNER_INFO_MAX,
	    sizeof(pthread_mutex_t),
	    alignof(pthread_mutex_t),
	    sizeof(struct sr_hot),
	    sizeof(struct sr_cold),
	    sizeof(struct sr_cold_tail),
	    sizeof(struct sr_cold_undo),
	    SR_COLD_FIXED,
	    SR_COLD_QPART,
	    sizeof(struct sr_proc),
	    sizeof(struct sr_lease),
	    SR_MAX_QUALITIES,
	    SR_PATH_MAX,
	    SR_ERROR_MAX,
	    SR_LEVEL_MAX,
	    SR_CODEC_MAX,
	    SR_VARIANT_PATH_MAX,
	    sizeof(void *),
	};
	return fnv(0xcbf29ce484222325ull, facts, sizeof(facts));
}

uint64_t sr__header_checksum(const struct sr_header *h)
{
	/* The magic is written last at creation, so it stays outside the sum. */
	const unsigned char *p = (const unsigned char *)h + sizeof(h->magic);
	return fnv(0xcbf29ce484222325ull, p,
	           offsetof(struct sr_header, checksum) - sizeof(h->magic));
}

void sr__bind_geometry(struct sr_registry *r, const struct sr_geometry *g)
{
	r->capacity = g->capacity;
	r->max_procs = g->max_procs;
	r->leases_per_proc = g->leases_per_proc;
	r->lease_cells = g->lease_cells;
	r->index_size = g->index_size;
	r->hdr = (struct sr_header *)(void *)r->base;
	r->hot = (struct sr_hot *)(void *)(r->base + g->off_hot);
	r->cold = (struct sr_cold *)(void *)(r->base + g->off_cold);
	r->cold_tail = (struct sr_cold_tail *)(void *)(r->base + g->off_cold_tail);
	r->stats = (struct sr_stats *)(void *)(r->base + g->off_stats);
	r->index[0] = (_Atomic uint32_t *)(void *)(r->base + g->off_index0);
	r->index[1] = (_Atomic uint32_t *)(void *)(r->base + g->off_index1);
	r->free_stack = (uint32_t *)(void *)(r->base + g->off_free);
	r->procs = r->base + g->off_procs;
	r->proc_stride = g->proc_stride;
}
