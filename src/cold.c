/*
 * Cold records behind a seqlock (Boehm 2012): readers copy with relaxed
 * atomic loads and retry if the sequence was odd or moved; the one writer
 * (holding the writer lock) saves an undo copy first, so a writer killed
 * mid-update is rolled back by the next locker instead of leaving a torn
 * record that readers would trust.
 *
 * The shared form is packed (sr_internal.h): the strings sit back to back
 * after the fixed words, so a typical record is one or two cache lines of
 * its slot's head and every copy (read, undo, write, repair) moves only the
 * words its lengths say are in use.  Those lengths come from shared memory:
 * each is checked against its field's maximum before it moves an offset, so
 * garbled bytes cost a torn read or -SR_ECORRUPT, never a read outside the
 * slot, and every string handed out is terminated by the unpacking.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sr_internal.h"

#define SR_READ_WAIT_NS (20 * 1000000ull)

_Thread_local uint64_t sr__odd_reads;

/* Fixed word 4: pid, error count.  Word 5: restart count, then bytes for the
 * variant count and the lengths of output_dir, segment_path, last_error. */
#define F_NQ(f)     ((unsigned)((f) >> 32) & 0xffu)
#define F_LEN(f, k) ((unsigned)((f) >> (40 + 8 * (k))) & 0xffu)

/* A variant's fixed part in the stream; len[] in the order its strings follow. */
struct qpart {
	uint32_t bitrate_kbps, width, height;
	uint8_t len[4]; /* level, codec, segment_path, playlist_path */
};
_Static_assert(sizeof(struct qpart) == SR_COLD_QPART, "variant part size");
_Static_assert(SR_COLD_WORDS * 8 >= SR_COLD_FIXED * 8 + SR_COLD_STREAM_MAX,
               "a slot holds every string at its maximum");

static const unsigned top_max[3] = {SR_PATH_MAX, SR_PATH_MAX, SR_ERROR_MAX};
static const unsigned q_max[4] = {SR_LEVEL_MAX, SR_CODEC_MAX, SR_VARIANT_PATH_MAX,
                                  SR_VARIANT_PATH_MAX};

/* A record's words: a slot's head then its tail, or the undo copy's run. */
struct cold_loc {
	_Atomic uint64_t *seq, *head, *tail;
};

static struct cold_loc slot_loc(struct sr_registry *r, uint32_t slot)
{
	return (struct cold_loc){&r->cold[slot].seq, r->cold[slot].w, r->cold_tail[slot].w};
}

static struct cold_loc undo_loc(struct sr_registry *r)
{
	struct sr_cold_undo *u = &r->hdr->undo;
	return (struct cold_loc){&u->seq, u->w, u->w + SR_COLD_HEAD_WORDS};
}

static inline void load_words(uint64_t *dst, const struct cold_loc *src, size_t from, size_t to)
{
	size_t mid = to < SR_COLD_HEAD_WORDS ? to : SR_COLD_HEAD_WORDS;
#pragma GCC unroll 16
	for (size_t i = from; i < mid; i++)
		dst[i] = atomic_load_explicit(&src->head[i], memory_order_relaxed);
	for (size_t i = from > mid ? from : mid; i < to; i++)
		dst[i] =
		    atomic_load_explicit(&src->tail[i - SR_COLD_HEAD_WORDS], memory_order_relaxed);
}

static void store_words(const struct cold_loc *dst, const uint64_t *src, size_t n)
{
	size_t i = 0;
	for (; i < n && i < SR_COLD_HEAD_WORDS; i++)
		atomic_store_explicit(&dst->head[i], src[i], memory_order_relaxed);
	for (; i < n; i++)
		atomic_store_explicit(&dst->tail[i - SR_COLD_HEAD_WORDS], src[i],
		                      memory_order_relaxed);
}

static unsigned char *stream_of(uint64_t *p)
{
	return (unsigned char *)(p + SR_COLD_FIXED);
}

/* The words holding the fixed part and the stream's first `bytes` bytes. */
static size_t words_for(size_t bytes)
{
	return SR_COLD_FIXED + (bytes + 7) / 8;
}

/* Copies the words of src's record in use into p, reading the lengths from
 * the private copy as it grows (never twice from shared memory); returns
 * how many.  A length or count past its maximum (a torn or hostile record)
 * sets *bad and copies every word, which also keeps an undo copy exact. */
static inline __attribute__((always_inline)) size_t
get_packed(uint64_t *p, const struct cold_loc *src, bool *bad)
{
	/* The whole head, a constant count the compiler unrolls: cheaper than
	 * a loop bounded by the lengths, and its two lines are fetched as a
	 * pair anyway. */
	load_words(p, src, 0, SR_COLD_HEAD_WORDS);
	uint64_t f = p[5];
	unsigned nq = F_NQ(f);
	bool b = nq > SR_MAX_QUALITIES;
	size_t pos = 0, have = SR_COLD_HEAD_WORDS;
	for (unsigned k = 0; k < 3; k++) {
		b |= F_LEN(f, k) > top_max[k];
		pos += F_LEN(f, k);
	}
	for (unsigned q = 0; q < nq && !b; q++) {
		size_t need = words_for(pos + SR_COLD_QPART);
		load_words(p, src, have, need);
		have = need;
		struct qpart qp;
		memcpy(&qp, stream_of(p) + pos, sizeof(qp));
		pos += SR_COLD_QPART;
		for (unsigned k = 0; k < 4; k++) {
			b |= qp.len[k] > q_max[k];
			pos += qp.len[k];
		}
	}
	size_t n = b ? SR_COLD_WORDS : words_for(pos);
	load_words(p, src, have, n);
	if (n < have)
		n = have;
	*bad = b;
	return n;
}

/* A string of the unpacked form: its bytes, then zeros up to the furthest
 * word the previous record in this copy wrote (mark, in words). */
static void put_str(char *dst, const unsigned char *src, size_t len, uint16_t *mark)
{
	size_t words = len / 8 + 1, clear = (words > *mark ? words : *mark) * 8;
	memcpy(dst, src, len);
	memset(dst + len, 0, clear - len);
	*mark = (uint16_t)words;
}

static size_t clamp(size_t v, size_t max)
{
	return v < max ? v : max;
}

/* The packed words of c (as get_packed copied them) into c->d.  The
 * lengths were checked there; clamped again so that this alone keeps every
 * offset inside the copy. */
static void unpack(struct sr_cold_copy *c)
{
	struct sr_cold_data *d = &c->d;
	const unsigned char *s = stream_of(c->p);
	uint64_t f = c->p[5];
	d->created_mono_ns = c->p[0];
	d->created_wall_ns = (int64_t)c->p[1];
	d->last_error_wall_ns = (int64_t)c->p[2];
	d->pid_start = c->p[3];
	d->pid = (int32_t)(uint32_t)c->p[4];
	d->error_count = (uint32_t)(c->p[4] >> 32);
	d->restart_count = (uint32_t)f;
	unsigned nq = (unsigned)clamp(F_NQ(f), SR_MAX_QUALITIES);
	d->n_qualities = nq;
	char *top[3] = {d->output_dir, d->segment_path, d->last_error};
	for (unsigned k = 0; k < 3; k++) {
		size_t len = clamp(F_LEN(f, k), top_max[k]);
		put_str(top[k], s, len, &c->mark.str[k]);
		s += len;
	}
	for (unsigned q = 0; q < nq; q++) {
		struct sr_quality_data *o = &d->q[q];
		struct qpart qp;
		size_t len[4];
		memcpy(&qp, s, sizeof(qp));
		s += sizeof(qp);
		for (unsigned k = 0; k < 4; k++)
			len[k] = clamp(qp.len[k], q_max[k]);
		o->bitrate_kbps = qp.bitrate_kbps;
		o->width = qp.width;
		o->height = qp.height;
		o->pad = 0;
		memset(o->level, 0, sizeof(o->level));
		memcpy(o->level, s, len[0]);
		s += len[0];
		memset(o->codec, 0, sizeof(o->codec));
		memcpy(o->codec, s, len[1]);
		s += len[1];
		put_str(o->segment_path, s, len[2], &c->mark.str[3 + 2 * q]);
		s += len[2];
		put_str(o->playlist_path, s, len[3], &c->mark.str[4 + 2 * q]);
		s += len[3];
	}
	for (unsigned q = nq; q < c->mark.nq; q++) {
		memset(&d->q[q], 0, sizeof(d->q[q]));
		c->mark.str[3 + 2 * q] = c->mark.str[4 + 2 * q] = 0;
	}
	c->mark.nq = (uint8_t)nq;
}

static size_t put_bytes(unsigned char *s, size_t pos, const char *src, size_t len)
{
	memcpy(s + pos, src, len);
	return pos + len;
}

/* d into packed words; returns how many.  d is private, but its strings
 * are measured with strnlen, so an unterminated one is cut at its maximum. */
static size_t pack(const struct sr_cold_data *d, uint64_t *p)
{
	unsigned nq = (unsigned)clamp(d->n_qualities, SR_MAX_QUALITIES);
	const char *top[3] = {d->output_dir, d->segment_path, d->last_error};
	uint64_t lens = 0;
	unsigned char *s = stream_of(p);
	size_t pos = 0;
	for (unsigned k = 0; k < 3; k++) {
		size_t len = strnlen(top[k], top_max[k]);
		lens |= (uint64_t)len << (40 + 8 * k);
		pos = put_bytes(s, pos, top[k], len);
	}
	p[0] = d->created_mono_ns;
	p[1] = (uint64_t)d->created_wall_ns;
	p[2] = (uint64_t)d->last_error_wall_ns;
	p[3] = d->pid_start;
	p[4] = (uint64_t)(uint32_t)d->pid | (uint64_t)d->error_count << 32;
	p[5] = (uint64_t)d->restart_count | (uint64_t)nq << 32 | lens;
	for (unsigned q = 0; q < nq; q++) {
		const struct sr_quality_data *in = &d->q[q];
		const char *str[4] = {in->level, in->codec, in->segment_path, in->playlist_path};
		struct qpart qp = {in->bitrate_kbps, in->width, in->height, {0, 0, 0, 0}};
		for (unsigned k = 0; k < 4; k++)
			qp.len[k] = (uint8_t)strnlen(str[k], q_max[k]);
		memcpy(s + pos, &qp, sizeof(qp));
		pos += sizeof(qp);
		for (unsigned k = 0; k < 4; k++)
			pos = put_bytes(s, pos, str[k], qp.len[k]);
	}
	/* The rest of the last word is zero, so equal records are equal words. */
	memset(s + pos, 0, (8 - pos % 8) % 8);
	return words_for(pos);
}

void sr__cold_copy_init(struct sr_cold_copy *c)
{
	/* The packed words need no clearing: a read defines what it uses. */
	memset(&c->d, 0, sizeof(c->d));
	memset(&c->mark, 0, sizeof(c->mark));
}

/* ---- Snapshots: the packed words straight into an sr_session_info --------
 * Inside the seqlock bracket, with no private copy in between: a walk's cost
 * per session is its instructions, and the copy doubled the moves.  A torn
 * read may write nonsense into the info; the retry overwrites it, and the
 * marks always describe what was written, so the next clear is right. */

/* Word i of a record; 0 past its end, which only the whole-word read of a
 * string ending in the record's last bytes reaches. */
static inline uint64_t rec_word(const struct cold_loc *l, size_t i)
{
	if (i < SR_COLD_HEAD_WORDS)
		return atomic_load_explicit(&l->head[i], memory_order_relaxed);
	if (i < SR_COLD_WORDS)
		return atomic_load_explicit(&l->tail[i - SR_COLD_HEAD_WORDS], memory_order_relaxed);
	return 0;
}

/* The 8 stream bytes from stream byte `at` on, from two aligned words. */
static inline uint64_t rec_stream(const struct cold_loc *l, size_t at)
{
	size_t k = SR_COLD_FIXED + at / 8;
	uint64_t lo = rec_word(l, k);
	if (at % 8 == 0)
		return lo;
	uint64_t hi = rec_word(l, k + 1);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	size_t sh = (at % 8) * 8;
	return lo >> sh | hi << (64 - sh);
#else
	unsigned char b[16];
	uint64_t v;
	memcpy(b, &lo, 8);
	memcpy(b + 8, &hi, 8);
	memcpy(&v, b + at % 8, 8);
	return v;
#endif
}

/* A packed string (len bytes at stream byte `at`) into a reused output: its
 * bytes, then zeros as far as the longer of it and what the previous record
 * put there (*shown: the words that may be non-zero, 0 when the field is all
 * zero).  Word moves: most strings are a word or two, where memcpy's
 * variable-length setup costs more than the copy. */
static inline __attribute__((always_inline)) void show_str(char *dst, const struct cold_loc *l,
                                                           size_t at, size_t len, uint16_t *shown)
{
	size_t old = *shown;
	uint64_t v = 0;
	if (len == 0) {
		/* An unset string where the last one was unset too, the common
		 * case, writes nothing. */
		if (old) {
			for (size_t i = 0; i < old; i++)
				memcpy(dst + 8 * i, &v, 8);
			*shown = 0;
		}
		return;
	}
	size_t full = len / 8, rest = len % 8, words = full + 1;
	for (size_t i = 0; i < full; i++) {
		v = rec_stream(l, at + 8 * i);
		memcpy(dst + 8 * i, &v, 8);
	}
	v = 0;
	if (rest) {
		v = rec_stream(l, at + 8 * full);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		v &= ~0ull >> (64 - 8 * rest);
#else
		memset((unsigned char *)&v + rest, 0, 8 - rest);
#endif
	}
	memcpy(dst + 8 * full, &v, 8);
	v = 0;
	for (size_t i = words; i < old; i++)
		memcpy(dst + 8 * i, &v, 8);
	*shown = (uint16_t)words;
}

/* The cold fields of out from the record at l; false if a length or the
 * variant count is past its maximum (the offsets never are: they only ever
 * sum lengths that passed). */
static inline __attribute__((always_inline)) bool
show_record(const struct cold_loc *l, sr_session_info *out, struct sr_cold_marks *shown)
{
	/* Spelled out: gcc does not unroll a loop of atomic loads. */
	_Static_assert(SR_COLD_FIXED == 6, "six fixed words");
	const uint64_t w[SR_COLD_FIXED] = {atomic_load_explicit(&l->head[0], memory_order_relaxed),
	                                   atomic_load_explicit(&l->head[1], memory_order_relaxed),
	                                   atomic_load_explicit(&l->head[2], memory_order_relaxed),
	                                   atomic_load_explicit(&l->head[3], memory_order_relaxed),
	                                   atomic_load_explicit(&l->head[4], memory_order_relaxed),
	                                   atomic_load_explicit(&l->head[5], memory_order_relaxed)};
	uint64_t f = w[5];
	out->created_mono_ns = w[0];
	out->created_wall_ns = (int64_t)w[1];
	out->last_error_wall_ns = (int64_t)w[2];
	out->pid_start = w[3];
	out->pid = (pid_t)(int32_t)(uint32_t)w[4];
	out->error_count = (uint32_t)(w[4] >> 32);
	out->restart_count = (uint32_t)f;
	unsigned nq = F_NQ(f);
	/* Spelled out, so the maxima are constants the byte-wide lengths
	 * cannot exceed and the checks fold away. */
	size_t l0 = F_LEN(f, 0), l1 = F_LEN(f, 1), l2 = F_LEN(f, 2);
	bool ok =
	    nq <= SR_MAX_QUALITIES && l0 <= SR_PATH_MAX && l1 <= SR_PATH_MAX && l2 <= SR_ERROR_MAX;
	if (!ok)
		l0 = l1 = l2 = nq = 0;
	show_str(out->output_dir, l, 0, l0, &shown->str[0]);
	show_str(out->segment_path, l, l0, l1, &shown->str[1]);
	show_str(out->last_error, l, l0 + l1, l2, &shown->str[2]);
	size_t at = l0 + l1 + l2;
	unsigned q = 0;
	for (; q < nq; q++) {
		sr_quality *o = &out->qualities[q];
		uint64_t w0 = rec_stream(l, at), w1 = rec_stream(l, at + 8);
		struct qpart qp;
		memcpy(&qp, &w0, 8);
		memcpy((unsigned char *)&qp + 8, &w1, 8);
		if (qp.len[0] > SR_LEVEL_MAX || qp.len[1] > SR_CODEC_MAX ||
		    qp.len[2] > SR_VARIANT_PATH_MAX || qp.len[3] > SR_VARIANT_PATH_MAX) {
			ok = false;
			break;
		}
		at += sizeof(qp);
		o->bitrate_kbps = qp.bitrate_kbps;
		o->width = qp.width;
		o->height = qp.height;
		uint16_t whole = (SR_LEVEL_MAX + 1) / 8;
		show_str(o->level, l, at, qp.len[0], &whole);
		at += qp.len[0];
		whole = (SR_CODEC_MAX + 1) / 8;
		show_str(o->codec, l, at, qp.len[1], &whole);
		at += qp.len[1];
		show_str(o->segment_path, l, at, qp.len[2], &shown->str[3 + 2 * q]);
		at += qp.len[2];
		show_str(o->playlist_path, l, at, qp.len[3], &shown->str[4 + 2 * q]);
		at += qp.len[3];
	}
	/* q variants were written; the rest the previous record showed go. */
	out->n_qualities = q;
	for (unsigned i = q; i < shown->nq; i++) {
		memset(&out->qualities[i], 0, sizeof(out->qualities[i]));
		shown->str[3 + 2 * i] = shown->str[4 + 2 * i] = 0;
	}
	shown->nq = (uint8_t)q;
	return ok;
}

/* One attempt at a seqlock-bracketed read of slot's record: into c->p
 * (packed, for unpack and checks) or, given o, into o->info with the hot
 * fields and counters.  0 when read, 1 to try again (odd or moved), else
 * an error. */
static inline __attribute__((always_inline)) int read_once(struct sr_registry *r, uint32_t slot,
                                                           uint32_t gen, struct sr_cold_copy *c,
                                                           struct sr_info_out *o, uint64_t s1)
{
	struct cold_loc rec = slot_loc(r, slot);
	struct sr_hot *h = &r->hot[slot];
	bool bad;
	if (o) {
		sr_session_info *out = o->info;
		bad = !show_record(&rec, out, &o->shown);
		uint64_t u[2] = {atomic_load_explicit(&h->uuid[0], memory_order_relaxed),
		                 atomic_load_explicit(&h->uuid[1], memory_order_relaxed)};
		uint64_t la = atomic_load_explicit(&h->last_access, memory_order_relaxed);
		sr__words_uuid(u, out->channel_id);
		out->started_mono_ns = atomic_load_explicit(&h->started_mono, memory_order_relaxed);
		out->started_wall_ns =
		    (int64_t)atomic_load_explicit(&h->started_wall, memory_order_relaxed);
		out->last_access_mono_ns = la;
		out->idle_ms = o->now > la ? (o->now - la) / 1000000u : 0;
		out->last_access_wall_ns = o->wall - (int64_t)(out->idle_ms * 1000000u);
		/* Not behind the seqlock, but the state word checked below
		 * says whether they are still this session's. */
		sr__stats_fill(r, slot, out);
	} else {
		get_packed(c->p, &rec, &bad);
	}
	atomic_thread_fence(memory_order_acquire);
	uint64_t s2 = atomic_load_explicit(rec.seq, memory_order_relaxed);
	uint64_t sw2 = atomic_load_explicit(&h->state, memory_order_relaxed);
	/* code - 1 wraps for a free slot (0), so one compare rejects it too. */
	if (s1 != s2 || sr_sw_gen(sw2) != gen || sr_sw_code(sw2) - 1u >= SR_STATE_COUNT)
		return 1;
	/* A bad length in a copy no writer disturbed is in the segment
	 * itself: retrying would read it again. */
	if (bad)
		return sr__fail(-SR_ECORRUPT,
		                "slot %u: its record holds a string length or variant count past "
		                "its maximum",
		                slot);
	c->sw = sw2;
	return 0;
}

/* read_once until it reads, with the patience `tries` allows. */
static int cold_read_retry(struct sr_registry *r, uint32_t slot, uint32_t gen,
                           struct sr_cold_copy *c, struct sr_info_out *o, unsigned tries)
{
	_Atomic uint64_t *seq = &r->cold[slot].seq;
	_Atomic uint64_t *state = &r->hot[slot].state;
	uint64_t deadline = 0;
	for (unsigned i = 0; i < tries; i++) {
		uint64_t sw = sr__ld(state);
		if (sr_sw_code(sw) == SR_SW_FREE || sr_sw_gen(sw) != gen)
			return -ENOENT;
		uint64_t s1 = sr__ld(seq);
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
		int rc = read_once(r, slot, gen, c, o, s1);
		if (rc <= 0)
			return rc;
	}
	return sr__fail(-SR_EBUSY, "slot %u kept changing or stayed mid-update", slot);
}

/* The first attempt inline, the loop apart: a walk's records are almost
 * never busy, and the loop's bookkeeping cost every one of them.  sw is the
 * state word if the caller just loaded it (acquire), else 0. */
static inline __attribute__((always_inline)) int cold_read(struct sr_registry *r, uint32_t slot,
                                                           uint32_t gen, struct sr_cold_copy *c,
                                                           struct sr_info_out *o, unsigned tries,
                                                           uint64_t sw)
{
	if (!sw)
		sw = sr__ld(&r->hot[slot].state);
	uint64_t s1 = sr__ld(&r->cold[slot].seq);
	if (sr_sw_code(sw) != SR_SW_FREE && sr_sw_gen(sw) == gen && !(s1 & 1)) {
		int rc = read_once(r, slot, gen, c, o, s1);
		if (rc <= 0)
			return rc;
	}
	return cold_read_retry(r, slot, gen, c, o, tries);
}

int sr__cold_read(struct sr_registry *r, uint32_t slot, uint32_t gen, struct sr_cold_copy *c,
                  unsigned tries)
{
	return cold_read(r, slot, gen, c, NULL, tries, 0);
}

void sr__cold_unpack(struct sr_cold_copy *c)
{
	unpack(c);
}

static inline __attribute__((always_inline)) int
snapshot_slot(struct sr_registry *r, uint32_t slot, uint32_t gen, uint32_t clients,
              struct sr_cold_copy *c, struct sr_info_out *o, unsigned tries, uint64_t sw)
{
	int rc = cold_read(r, slot, gen, c, o, tries, sw);
	if (rc)
		return rc;
	sr_session_info *out = o->info;
	out->state = (sr_state)(sr_sw_code(c->sw) - 1);
	out->slot = slot;
	out->generation = sr_sw_gen(c->sw);
	out->clients = clients;
	return 0;
}

int sr__snapshot_slot(struct sr_registry *r, uint32_t slot, uint32_t gen, uint32_t clients,
                      struct sr_cold_copy *c, struct sr_info_out *o, unsigned tries)
{
	return snapshot_slot(r, slot, gen, clients, c, o, tries, 0);
}

/* Here rather than with the other registry-wide operations, so that the
 * per-session read inlines into the loop. */
int sr__walk(struct sr_registry *r, sr_session_cb cb, void *ctx, uint32_t *busy)
{
	*busy = 0;
	uint64_t *per = sr__walk_buf_get(r);
	sr_session_info *info = malloc(sizeof(*info));
	struct sr_cold_copy *copy = malloc(sizeof(*copy));
	int rc = 0;
	if (!per || !info || !copy) {
		rc = sr__fail(-ENOMEM, "out of memory");
		goto out;
	}
	sr__clients_all(r, per);
	sr__cold_copy_init(copy);
	struct sr_info_out o;
	sr__info_out_init(&o, info);
	unsigned tries = SR_TRIES_FULL;
	/* In a local: the stores into the info could alias the handle. */
	const uint32_t capacity = r->capacity;
	for (uint32_t s = 0; s < capacity && rc == 0; s++) {
		uint64_t sw = sr__ld(&r->hot[s].state);
		if (sr_sw_code(sw) == SR_SW_FREE || sr_sw_code(sw) > SR_STATE_COUNT)
			continue;
		/* Never show a mix: a record deleted meanwhile is skipped, one
		 * stuck mid-update is counted and left out. */
		uint32_t gen = sr_sw_gen(sw), n = sr__clients_pick(r, per, s, gen);
		int src = snapshot_slot(r, s, gen, n, copy, &o, tries, sw);
		if (src == -SR_EBUSY && sr__walk_busy(r, &tries))
			src = snapshot_slot(r, s, gen, n, copy, &o, tries, 0);
		if (src == -SR_EBUSY)
			(*busy)++;
		if (src != 0)
			continue;
		rc = cb(info, ctx);
	}
out:
	sr__walk_buf_put(r, per);
	free(info);
	free(copy);
	return rc;
}

/* Under the writer lock, inside a wip record naming this slot. */
void sr__cold_write(struct sr_registry *r, uint32_t slot, const struct sr_cold_data *d)
{
	struct cold_loc rec = slot_loc(r, slot), undo = undo_loc(r);
	uint64_t buf[SR_COLD_WORDS];
	bool bad;
	uint64_t seq = atomic_load_explicit(rec.seq, memory_order_relaxed);
	store_words(&undo, buf, get_packed(buf, &rec, &bad));
	atomic_store_explicit(undo.seq, seq, memory_order_relaxed);
	/* The undo copy must be complete before the record is marked dirty. */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(rec.seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	store_words(&rec, buf, pack(d, buf));
	atomic_store_explicit(rec.seq, seq + 2, memory_order_release);
}

/* Under the writer lock, inside an insert's wip record: the slot is free, so
 * no reader trusts its old contents and there is nothing to undo; a writer
 * killed here leaves the slot free and its record is rewritten next time. */
void sr__cold_init(struct sr_registry *r, uint32_t slot, uint64_t created_mono,
                   int64_t created_wall, const char *output_dir)
{
	struct cold_loc rec = slot_loc(r, slot);
	uint64_t p[SR_COLD_FIXED + (SR_PATH_MAX + 7) / 8];
	size_t len = output_dir ? strnlen(output_dir, SR_PATH_MAX) : 0, n = words_for(len);
	memset(p, 0, n * 8);
	p[0] = created_mono;
	p[1] = (uint64_t)created_wall;
	p[5] = (uint64_t)len << 40;
	if (len)
		memcpy(stream_of(p), output_dir, len);
	uint64_t seq = atomic_load_explicit(rec.seq, memory_order_relaxed) | 1u;
	atomic_store_explicit(rec.seq, seq, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	store_words(&rec, p, n);
	atomic_store_explicit(rec.seq, seq + 1, memory_order_release);
}

/* Under the writer lock, after its owner died: roll a dirty record back, or
 * for an insert (nothing saved, the slot is not published) just close it. */
void sr__cold_repair(struct sr_registry *r, uint32_t slot, bool restore)
{
	struct cold_loc rec = slot_loc(r, slot), undo = undo_loc(r);
	uint64_t seq = atomic_load_explicit(rec.seq, memory_order_relaxed);
	if (!(seq & 1))
		return;
	if (restore) {
		uint64_t buf[SR_COLD_WORDS];
		bool bad;
		store_words(&rec, buf, get_packed(buf, &undo, &bad));
	}
	atomic_store_explicit(rec.seq, seq + 1, memory_order_release);
}

/* Whether a packed string holds a NUL, which no writer puts there. */
static bool has_nul(const unsigned char *s, size_t len)
{
	return len && memchr(s, '\0', len) != NULL;
}

/* 1 if the record breaks an invariant the writers keep, 0 if sound. */
int sr__cold_check(struct sr_registry *r, uint32_t slot, uint32_t gen, unsigned tries)
{
	struct sr_cold_copy c;
	int rc = cold_read(r, slot, gen, &c, NULL, tries, 0);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return 1;
	const unsigned char *s = stream_of(c.p);
	uint64_t f = c.p[5];
	for (unsigned k = 0; k < 3; k++) {
		if (has_nul(s, F_LEN(f, k)))
			return 1;
		s += F_LEN(f, k);
	}
	for (unsigned q = 0; q < F_NQ(f); q++) {
		struct qpart qp;
		memcpy(&qp, s, sizeof(qp));
		s += sizeof(qp);
		if (qp.len[0] == 0)
			return 1;
		for (unsigned k = 0; k < 4; k++) {
			if (has_nul(s, qp.len[k]))
				return 1;
			s += qp.len[k];
		}
	}
	return 0;
}
