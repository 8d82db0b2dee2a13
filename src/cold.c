/*
 * Cold records behind a seqlock (Boehm 2012): readers copy with relaxed
 * atomic loads and retry if the sequence was odd or moved; the one writer
 * (holding the writer lock) saves an undo copy first, so a writer killed
 * mid-update is rolled back by the next locker instead of leaving a torn
 * record that readers would trust.
 *
 * A record is 3.2 KiB but mostly empty strings and unused variants, so every
 * copy (read, undo, write) moves only the words that hold data: the fixed
 * fields, each string up to the word holding its NUL, the variants in use.
 * Bytes past a string's NUL in the segment mean nothing; a reader's copy is
 * zero there, so what it hands out is the same as a whole-record copy.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "sr_internal.h"

#define SR_READ_WAIT_NS (20 * 1000000ull)

_Thread_local uint64_t sr__odd_reads;

#define W(field)  (offsetof(struct sr_cold_data, field) / 8)
#define WQ(field) (offsetof(struct sr_quality_data, field) / 8)
#define W_FIXED   W(output_dir)
#define W_QUALITY (sizeof(struct sr_quality_data) / 8)
#define W_QFIXED  WQ(segment_path)
#define W_PATH    ((SR_PATH_MAX + 1) / 8)
#define W_ERROR   ((SR_ERROR_MAX + 1) / 8)
#define W_VPATH   ((SR_VARIANT_PATH_MAX + 1) / 8)

_Static_assert(offsetof(struct sr_cold_data, output_dir) % 8 == 0 &&
                   offsetof(struct sr_cold_data, segment_path) % 8 == 0 &&
                   offsetof(struct sr_cold_data, last_error) % 8 == 0 &&
                   offsetof(struct sr_cold_data, q) % 8 == 0 &&
                   sizeof(struct sr_quality_data) % 8 == 0 &&
                   offsetof(struct sr_quality_data, segment_path) % 8 == 0 &&
                   offsetof(struct sr_quality_data, playlist_path) % 8 == 0 &&
                   (SR_PATH_MAX + 1) % 8 == 0 && (SR_ERROR_MAX + 1) % 8 == 0 &&
                   (SR_VARIANT_PATH_MAX + 1) % 8 == 0,
               "cold strings must be whole, aligned words");
_Static_assert(offsetof(struct sr_cold_data, n_qualities) < W_FIXED * 8,
               "the variant count must be among the fixed words");

/* The string spans, in the order of sr_cold_marks.str: three per record,
 * then two per variant. */
static const struct {
	uint16_t off, len;
} top_spans[3] = {{W(output_dir), W_PATH}, {W(segment_path), W_PATH}, {W(last_error), W_ERROR}};

static inline size_t q_span_off(unsigned q, unsigned k)
{
	return W(q) + (size_t)q * W_QUALITY + (k ? WQ(playlist_path) : WQ(segment_path));
}

static inline bool has_nul(uint64_t v)
{
	return ((v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull) != 0;
}

/* ---- Copies out of the segment (records or the undo area) --------------- */

/* Words [off, off + len) up to the one holding a NUL; the part of the
 * private copy written last time past that is zeroed again. */
static void get_span(struct sr_cold_copy *c, const _Atomic uint64_t *src, size_t off, size_t len,
                     uint16_t *mark)
{
	size_t n = 0;
	while (n < len) {
		uint64_t v = atomic_load_explicit(&src[off + n], memory_order_relaxed);
		c->u.w[off + n++] = v;
		if (has_nul(v))
			break;
	}
	for (size_t i = n; i < *mark; i++)
		c->u.w[off + i] = 0;
	*mark = (uint16_t)n;
}

static void get_used(struct sr_cold_copy *c, const _Atomic uint64_t *src)
{
	for (size_t i = 0; i < W_FIXED; i++)
		c->u.w[i] = atomic_load_explicit(&src[i], memory_order_relaxed);
	for (unsigned s = 0; s < 3; s++)
		get_span(c, src, top_spans[s].off, top_spans[s].len, &c->mark.str[s]);
	uint32_t nq = c->u.d.n_qualities;
	if (nq > SR_MAX_QUALITIES)
		nq = SR_MAX_QUALITIES;
	for (unsigned q = 0; q < SR_MAX_QUALITIES; q++) {
		if (q >= nq && q >= c->mark.nq)
			break;
		size_t base = W(q) + (size_t)q * W_QUALITY;
		for (size_t i = 0; i < W_QFIXED; i++)
			c->u.w[base + i] =
			    q < nq ? atomic_load_explicit(&src[base + i], memory_order_relaxed) : 0;
		for (unsigned k = 0; k < 2; k++) {
			uint16_t *m = &c->mark.str[3 + 2 * q + k];
			if (q < nq)
				get_span(c, src, q_span_off(q, k), W_VPATH, m);
			else {
				memset(&c->u.w[q_span_off(q, k)], 0, (size_t)*m * 8);
				*m = 0;
			}
		}
	}
	c->mark.nq = (uint8_t)nq;
}

/* ---- Copies into the segment ---------------------------------------------- */

static void put_span(_Atomic uint64_t *dst, const uint64_t *src, size_t off, size_t len)
{
	for (size_t n = 0; n < len; n++) {
		atomic_store_explicit(&dst[off + n], src[off + n], memory_order_relaxed);
		if (has_nul(src[off + n]))
			break;
	}
}

/* src is a private, sanitised copy: strings end in NUL, the count is in range. */
static void put_used(_Atomic uint64_t *dst, const struct sr_cold_copy *src)
{
	const uint64_t *w = src->u.w;
	for (size_t i = 0; i < W_FIXED; i++)
		atomic_store_explicit(&dst[i], w[i], memory_order_relaxed);
	for (unsigned s = 0; s < 3; s++)
		put_span(dst, w, top_spans[s].off, top_spans[s].len);
	uint32_t nq = src->u.d.n_qualities;
	for (unsigned q = 0; q < nq && q < SR_MAX_QUALITIES; q++) {
		size_t base = W(q) + (size_t)q * W_QUALITY;
		for (size_t i = 0; i < W_QFIXED; i++)
			atomic_store_explicit(&dst[base + i], w[base + i], memory_order_relaxed);
		put_span(dst, w, q_span_off(q, 0), W_VPATH);
		put_span(dst, w, q_span_off(q, 1), W_VPATH);
	}
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
	for (unsigned i = 0; i < d->n_qualities; i++) {
		struct sr_quality_data *q = &d->q[i];
		q->level[SR_LEVEL_MAX] = '\0';
		q->codec[SR_CODEC_MAX] = '\0';
		q->segment_path[SR_VARIANT_PATH_MAX] = '\0';
		q->playlist_path[SR_VARIANT_PATH_MAX] = '\0';
	}
}

void sr__cold_copy_init(struct sr_cold_copy *c)
{
	memset(c, 0, sizeof(*c));
}

static int cold_read(struct sr_registry *r, uint32_t slot, uint32_t gen, struct sr_cold_copy *c,
                     unsigned tries)
{
	struct sr_cold *rec = &r->cold[slot];
	struct sr_hot *h = &r->hot[slot];
	uint64_t deadline = 0;
	for (unsigned i = 0; i < tries; i++) {
		uint64_t sw = sr__ld(&h->state);
		if (sr_sw_code(sw) == SR_SW_FREE || sr_sw_gen(sw) != gen)
			return -ENOENT;
		uint64_t s1 = sr__ld(&rec->seq);
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
		get_used(c, rec->w);
		c->uuid[0] = atomic_load_explicit(&h->uuid[0], memory_order_relaxed);
		c->uuid[1] = atomic_load_explicit(&h->uuid[1], memory_order_relaxed);
		c->last_access = atomic_load_explicit(&h->last_access, memory_order_relaxed);
		c->started_mono = atomic_load_explicit(&h->started_mono, memory_order_relaxed);
		c->started_wall = atomic_load_explicit(&h->started_wall, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		uint64_t s2 = atomic_load_explicit(&rec->seq, memory_order_relaxed);
		uint64_t sw2 = atomic_load_explicit(&h->state, memory_order_relaxed);
		if (s1 == s2 && sr_sw_gen(sw2) == gen && sr_sw_code(sw2) != SR_SW_FREE &&
		    sr_sw_code(sw2) <= SR_STATE_COUNT) {
			c->sw = sw2;
			return 0;
		}
	}
	return sr__fail(-SR_EBUSY, "slot %u kept changing or stayed mid-update", slot);
}

int sr__cold_read(struct sr_registry *r, uint32_t slot, uint32_t gen, struct sr_cold_copy *c,
                  unsigned tries)
{
	int rc = cold_read(r, slot, gen, c, tries);
	if (rc == 0)
		sanitize(&c->u.d);
	return rc;
}

/* Under the writer lock, inside a wip record naming this slot. */
void sr__cold_write(struct sr_registry *r, uint32_t slot, const struct sr_cold_data *d)
{
	struct sr_cold *rec = &r->cold[slot];
	struct sr_cold *undo = &r->hdr->undo;
	struct sr_cold_copy old, next;
	sr__cold_copy_init(&old);
	uint64_t seq = atomic_load_explicit(&rec->seq, memory_order_relaxed);
	get_used(&old, rec->w);
	sanitize(&old.u.d);
	put_used(undo->w, &old);
	atomic_store_explicit(&undo->seq, seq, memory_order_relaxed);
	/* The undo copy must be complete before the record is marked dirty. */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&rec->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(&next.u.d, d, sizeof(*d));
	sanitize(&next.u.d);
	put_used(rec->w, &next);
	atomic_store_explicit(&rec->seq, seq + 2, memory_order_release);
}

/* Under the writer lock, inside an insert's wip record: the slot is free, so
 * no reader trusts its old contents and there is nothing to undo; a writer
 * killed here leaves the slot free and its record is rewritten next time. */
void sr__cold_init(struct sr_registry *r, uint32_t slot, uint64_t created_mono,
                   int64_t created_wall, const char *output_dir)
{
	struct sr_cold *rec = &r->cold[slot];
	struct sr_cold_copy c;
	memset(&c.u.d, 0, offsetof(struct sr_cold_data, segment_path));
	memset(&c.u.d.segment_path, 0, 8);
	memset(&c.u.d.last_error, 0, 8);
	c.u.d.created_mono_ns = created_mono;
	c.u.d.created_wall_ns = created_wall;
	if (output_dir)
		memcpy(c.u.d.output_dir, output_dir, strnlen(output_dir, SR_PATH_MAX) + 1);
	uint64_t seq = atomic_load_explicit(&rec->seq, memory_order_relaxed) | 1u;
	atomic_store_explicit(&rec->seq, seq, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	put_used(rec->w, &c);
	atomic_store_explicit(&rec->seq, seq + 1, memory_order_release);
}

/* Under the writer lock, after its owner died: roll a dirty record back, or
 * for an insert (nothing saved, the slot is not published) just close it. */
void sr__cold_repair(struct sr_registry *r, uint32_t slot, bool restore)
{
	struct sr_cold *rec = &r->cold[slot];
	uint64_t seq = atomic_load_explicit(&rec->seq, memory_order_relaxed);
	if (!(seq & 1))
		return;
	if (restore) {
		struct sr_cold_copy c;
		sr__cold_copy_init(&c);
		get_used(&c, r->hdr->undo.w);
		sanitize(&c.u.d);
		put_used(rec->w, &c);
	}
	atomic_store_explicit(&rec->seq, seq + 1, memory_order_release);
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* 1 if the record breaks an invariant the writers keep, 0 if sound. */
int sr__cold_check(struct sr_registry *r, uint32_t slot, uint32_t gen, unsigned tries)
{
	struct sr_cold_copy c;
	sr__cold_copy_init(&c);
	int rc = cold_read(r, slot, gen, &c, tries);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return 1;
	const struct sr_cold_data *d = &c.u.d;
	if (d->n_qualities > SR_MAX_QUALITIES ||
	    !terminated(d->output_dir, sizeof(d->output_dir)) ||
	    !terminated(d->segment_path, sizeof(d->segment_path)) ||
	    !terminated(d->last_error, sizeof(d->last_error)))
		return 1;
	for (uint32_t i = 0; i < d->n_qualities; i++) {
		const struct sr_quality_data *q = &d->q[i];
		if (!q->level[0] || !terminated(q->level, sizeof(q->level)) ||
		    !terminated(q->codec, sizeof(q->codec)) ||
		    !terminated(q->segment_path, sizeof(q->segment_path)) ||
		    !terminated(q->playlist_path, sizeof(q->playlist_path)))
			return 1;
	}
	return 0;
}
