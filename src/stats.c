/*
 * Counters that only rise: per session (reset at insert, so they rise for
 * the session's whole life) and registry-wide, plus the start-latency
 * histogram.  All are plain atomic adds made on state changes, never on the
 * find/touch path, which keeps its single cache line.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "sr_internal.h"

static const uint64_t bounds_ms[SR_LATENCY_BUCKETS] = SR_LATENCY_BOUNDS_MS;

/* Latency needs better than the coarse clock's 4 ms tick. */
static uint64_t now_mono_precise(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Under the writer lock, before the insert publishes the state word. */
void sr__stats_reset(struct sr_registry *r, uint32_t slot)
{
	struct sr_stats *s = &r->stats[slot];
	for (int i = 0; i < SR_STATE_COUNT; i++)
		atomic_store_explicit(&s->into[i], 0, memory_order_relaxed);
	atomic_store_explicit(&s->restarts, 0, memory_order_relaxed);
	atomic_store_explicit(&s->start_timeouts, 0, memory_order_relaxed);
	/* Display only, and on every insert: the coarse clock is a quarter the cost. */
	atomic_store_explicit(&s->last_change_wall, sr__now_wall_coarse_ns(), memory_order_relaxed);
	atomic_store_explicit(&s->last_failure_wall, 0, memory_order_relaxed);
	atomic_store_explicit(&s->start_req_mono, 0, memory_order_relaxed);
	atomic_store_explicit(&s->start_latency, 0, memory_order_relaxed);
}

/* Counters of a slot that was reused meanwhile must not get our update: the
 * generation is checked first (a reuse in the few instructions after that
 * check can still add one, which a rising counter tolerates). */
static bool same_session(struct sr_registry *r, uint32_t slot, uint32_t gen)
{
	uint64_t sw = sr__ld(&r->hot[slot].state);
	return sr_sw_code(sw) != SR_SW_FREE && sr_sw_gen(sw) == gen;
}

static void observe_latency(struct sr_registry *r, uint64_t ns)
{
	struct sr_header *h = r->hdr;
	unsigned b = 0;
	while (b < SR_LATENCY_BUCKETS - 1 && ns > bounds_ms[b] * 1000000u)
		b++;
	atomic_fetch_add_explicit(&h->latency_bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->latency_sum_ns, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->latency_count, 1, memory_order_relaxed);
}

void sr__stats_transition(struct sr_registry *r, uint32_t slot, uint32_t gen, sr_state to)
{
	atomic_fetch_add_explicit(&r->hdr->transitions[to], 1, memory_order_relaxed);
	if (!same_session(r, slot, gen))
		return;
	struct sr_stats *s = &r->stats[slot];
	atomic_fetch_add_explicit(&s->into[to], 1, memory_order_relaxed);
	atomic_store_explicit(&s->last_change_wall, sr__now_wall_ns(), memory_order_relaxed);
	if (to == SR_STATE_FAILED)
		atomic_store_explicit(&s->last_failure_wall, sr__now_wall_ns(),
		                      memory_order_relaxed);
	if (to == SR_STATE_STARTING)
		atomic_store_explicit(&s->start_req_mono, now_mono_precise(), memory_order_relaxed);
	if (to == SR_STATE_ACTIVE) {
		/* Only one mover wins starting -> active, so the request is taken once. */
		uint64_t req =
		    atomic_exchange_explicit(&s->start_req_mono, 0, memory_order_relaxed);
		uint64_t now = now_mono_precise();
		if (req != 0 && now >= req) {
			atomic_store_explicit(&s->start_latency, now - req, memory_order_relaxed);
			observe_latency(r, now - req);
		}
	}
}

void sr__stats_add_restarts(struct sr_registry *r, uint32_t slot, uint32_t gen, uint32_t n)
{
	atomic_fetch_add_explicit(&r->hdr->restarts, n, memory_order_relaxed);
	if (same_session(r, slot, gen))
		atomic_fetch_add_explicit(&r->stats[slot].restarts, n, memory_order_relaxed);
}

/* The caller validates the slot's generation around this read. */
int sr_session_count_start_timeout(sr_registry *reg, const uuid_t id)
{
	SR_CHECK_RW(reg);
	if (!id)
		return sr__fail(-EINVAL, "channel id is NULL");
	uint32_t slot = 0, gen = 0;
	int rc = sr__resolve(reg, id, &slot, &gen);
	if (rc)
		return rc;
	atomic_fetch_add_explicit(&reg->hdr->start_timeouts, 1, memory_order_relaxed);
	if (same_session(reg, slot, gen))
		atomic_fetch_add_explicit(&reg->stats[slot].start_timeouts, 1,
		                          memory_order_relaxed);
	return 0;
}

int sr_registry_counters_get(sr_registry *reg, sr_registry_counters *out)
{
	SR_CHECK_REG(reg);
	if (!out)
		return sr__fail(-EINVAL, "output is NULL");
	memset(out, 0, sizeof(*out));
	struct sr_header *h = reg->hdr;
	for (int i = 0; i < SR_STATE_COUNT; i++)
		out->transitions[i] =
		    atomic_load_explicit(&h->transitions[i], memory_order_relaxed);
	out->restarts = atomic_load_explicit(&h->restarts, memory_order_relaxed);
	out->start_timeouts = atomic_load_explicit(&h->start_timeouts, memory_order_relaxed);
	out->owner_takeovers = atomic_load_explicit(&h->owner_takeovers, memory_order_relaxed);
	/* Cumulative from the bucket counts, so the buckets never disagree with
	 * each other even while starts are being observed. */
	uint64_t cum = 0;
	for (int b = 0; b < SR_LATENCY_BUCKETS; b++) {
		cum += atomic_load_explicit(&h->latency_bucket[b], memory_order_relaxed);
		out->start_latency_bound_ms[b] = bounds_ms[b];
		out->start_latency_le[b] = cum;
	}
	out->start_latency_count = cum;
	out->start_latency_sum_ns = atomic_load_explicit(&h->latency_sum_ns, memory_order_relaxed);
	return 0;
}
