/*
 * Cold records behind a seqlock (Boehm 2012): readers copy with relaxed
 * atomic loads and retry if the sequence was odd or moved; the one writer
 * (holding the writer lock) saves an undo copy first, so a writer killed
 * mid-update is rolled back by the next locker instead of leaving a torn
 * record that readers would trust.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "sr_internal.h"

#define SR_READ_WAIT_NS (20 * 1000000ull)

_Thread_local uint64_t sr__odd_reads;

static void copy_out(uint64_t *dst, _Atomic uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = atomic_load_explicit(&src[i], memory_order_relaxed);
}

static void copy_in(_Atomic uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		atomic_store_explicit(&dst[i], src[i], memory_order_relaxed);
}

/* Whatever bytes a hostile or torn segment holds, what we hand out is
 * terminated and in range. */
static void sanitize(struct sr_cold_data *d)
{
	d->output_dir[SR_PATH_MAX] = '\0';
	d->segment_path[SR_PATH_MAX] = '\0';
	d->last_error[SR_ERROR_MAX] = '\0';
	if (d->n_qualities > SR_MAX_QUALITIES)
		d->n_qualities = SR_MAX_QUALITIES;
	for (unsigned i = 0; i < SR_MAX_QUALITIES; i++) {
		struct sr_quality_data *q = &d->q[i];
		q->level[SR_LEVEL_MAX] = '\0';
		q->codec[SR_CODEC_MAX] = '\0';
		q->segment_path[SR_VARIANT_PATH_MAX] = '\0';
		q->playlist_path[SR_VARIANT_PATH_MAX] = '\0';
	}
}

static int cold_read(struct sr_registry *r, uint32_t slot, uint32_t gen, struct sr_cold_data *d,
                     unsigned tries)
{
	struct sr_cold *c = &r->cold[slot];
	struct sr_hot *h = &r->hot[slot];
	/* Zeroed only so static analysis can follow the copy loop. */
	uint64_t words[SR_COLD_WORDS] = {0};
	uint64_t deadline = 0;
	for (unsigned i = 0; i < tries; i++) {
		uint64_t sw = sr__ld(&h->state);
		if (sr_sw_code(sw) == SR_SW_FREE || sr_sw_gen(sw) != gen)
			return -ENOENT;
		uint64_t s1 = sr__ld(&c->seq);
		if (s1 & 1) {
			sr__odd_reads++;
			/* Spin briefly, then yield; past SR_READ_WAIT_NS of a record
			 * held odd (a preempted or dead writer), give up: on a
			 * loaded machine yields alone could take seconds. */
			if (i > 16) {
				uint64_t now = sr_now_mono_ns();
				if (!deadline)
					deadline = now + SR_READ_WAIT_NS;
				else if (now > deadline)
					break;
				sched_yield();
			}
			continue;
		}
		copy_out(words, c->w, SR_COLD_WORDS);
		atomic_thread_fence(memory_order_acquire);
		uint64_t s2 = atomic_load_explicit(&c->seq, memory_order_relaxed);
		uint64_t sw2 = atomic_load_explicit(&h->state, memory_order_relaxed);
		if (s1 == s2 && sr_sw_gen(sw2) == gen && sr_sw_code(sw2) != SR_SW_FREE) {
			memcpy(d, words, sizeof(*d));
			return 0;
		}
	}
	return sr__fail(-SR_EBUSY, "slot %u kept changing or stayed mid-update", slot);
}

/* Under the writer lock, inside a wip record naming this slot. */
void sr__cold_write(struct sr_registry *r, uint32_t slot, const struct sr_cold_data *d)
{
	struct sr_cold *c = &r->cold[slot];
	struct sr_cold *undo = &r->hdr->undo;
	uint64_t words[SR_COLD_WORDS];
	uint64_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
	copy_out(words, c->w, SR_COLD_WORDS);
	copy_in(undo->w, words, SR_COLD_WORDS);
	atomic_store_explicit(&undo->seq, seq, memory_order_relaxed);
	/* The undo copy must be complete before the record is marked dirty. */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&c->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(words, d, sizeof(*d));
	copy_in(c->w, words, SR_COLD_WORDS);
	atomic_store_explicit(&c->seq, seq + 2, memory_order_release);
}

/* Under the writer lock, after its owner died: roll a dirty record back. */
void sr__cold_repair(struct sr_registry *r, uint32_t slot)
{
	struct sr_cold *c = &r->cold[slot];
	uint64_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
	if (!(seq & 1))
		return;
	uint64_t words[SR_COLD_WORDS];
	copy_out(words, r->hdr->undo.w, SR_COLD_WORDS);
	copy_in(c->w, words, SR_COLD_WORDS);
	atomic_store_explicit(&c->seq, seq + 1, memory_order_release);
}

int sr__cold_read(struct sr_registry *r, uint32_t slot, uint32_t gen, struct sr_cold_data *d,
                  unsigned tries)
{
	int rc = cold_read(r, slot, gen, d, tries);
	if (rc == 0)
		sanitize(d);
	return rc;
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* 1 if the record breaks an invariant the writers keep, 0 if sound. */
int sr__cold_check(struct sr_registry *r, uint32_t slot, uint32_t gen, unsigned tries)
{
	struct sr_cold_data d;
	int rc = cold_read(r, slot, gen, &d, tries);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return 1;
	if (d.n_qualities > SR_MAX_QUALITIES || !terminated(d.output_dir, sizeof(d.output_dir)) ||
	    !terminated(d.segment_path, sizeof(d.segment_path)) ||
	    !terminated(d.last_error, sizeof(d.last_error)))
		return 1;
	for (uint32_t i = 0; i < d.n_qualities; i++) {
		const struct sr_quality_data *q = &d.q[i];
		if (!q->level[0] || !terminated(q->level, sizeof(q->level)) ||
		    !terminated(q->codec, sizeof(q->codec)) ||
		    !terminated(q->segment_path, sizeof(q->segment_path)) ||
		    !terminated(q->playlist_path, sizeof(q->playlist_path)))
			return 1;
	}
	return 0;
}
