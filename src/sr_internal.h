/*
 * Internal layout of the shared segment and the private handle.  Nothing in
 * the segment is a pointer: every process maps it at its own address, and
 * every index read from it is bounds-checked against the geometry copied
 * into the private handle at attach, so hostile bytes cannot steer a reader
 * outside the mapping.  docs/design.md explains who writes what.
 */
#ifndef SR_INTERNAL_H
#define SR_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "streamreg.h"

#define SR_MAGIC     "STRMREG\0"
#define SR_CACHELINE 64

/* ---- Hot record: one cache line per session, all atomics ----------------
 * state word: generation in bits 32..63, (state + 1) in bits 0..7, 0 = free.
 * Readers validate a record by reading the state word before and after the
 * other fields; the generation only grows, so a reused slot is detected. */
struct sr_hot {
	_Atomic uint64_t state;
	_Atomic uint64_t last_access; /* CLOCK_MONOTONIC_COARSE ns */
	_Atomic uint64_t uuid[2];
	_Atomic uint64_t started_mono;
	_Atomic uint64_t started_wall;
	_Atomic uint64_t spare[2];
};

#define SR_SW_FREE          0u
#define sr_sw_gen(w)        ((uint32_t)((w) >> 32))
#define sr_sw_code(w)       ((uint32_t)((w)&0xffu))
#define sr_sw_make(gen, st) (((uint64_t)(gen) << 32) | ((uint64_t)(st) + 1u))

/* ---- Per-slot counters: written on state changes only, never on the hot
 * path, so they live apart from the hot line.  Reset at insert, before the
 * state word publishes the new generation; readers validate against the
 * state word as for the hot record. */
struct sr_stats {
	_Atomic uint64_t into[SR_STATE_COUNT]; /* transitions into each state */
	_Atomic uint64_t restarts;
	_Atomic uint64_t start_timeouts;
	_Atomic int64_t last_change_wall;
	_Atomic int64_t last_failure_wall;
	_Atomic uint64_t start_req_mono; /* CLOCK_MONOTONIC ns of the last move to starting */
	_Atomic uint64_t start_latency;  /* ns, of the last move to active */
	/* Bumped on every state change and delete: the futex word of
	 * sr_ref_wait_state(), which sleeps only while it has not moved.  Never
	 * reset, unlike the counters: a waiter may span a delete and insert. */
	_Atomic uint32_t change_seq;
	_Atomic uint32_t
	    waiters; /* a waiter SIGKILLed mid-wait leaves it high: spurious wakes only */
	_Atomic uint64_t spare[4];
};
_Static_assert(sizeof(struct sr_stats) == (size_t)2 * SR_CACHELINE, "stats are two cache lines");

/* ---- Cold record: everything else, behind a seqlock ---------------------- */
struct sr_quality_data {
	char level[SR_LEVEL_MAX + 1];
	char codec[SR_CODEC_MAX + 1];
	uint32_t bitrate_kbps, width, height, pad;
	char segment_path[SR_VARIANT_PATH_MAX + 1];
	char playlist_path[SR_VARIANT_PATH_MAX + 1];
};

struct sr_cold_data {
	uint64_t created_mono_ns;
	int64_t created_wall_ns;
	int64_t last_error_wall_ns;
	uint64_t pid_start;
	int32_t pid;
	uint32_t error_count;
	uint32_t restart_count;
	uint32_t n_qualities;
	char output_dir[SR_PATH_MAX + 1];
	char segment_path[SR_PATH_MAX + 1];
	char last_error[SR_ERROR_MAX + 1];
	struct sr_quality_data q[SR_MAX_QUALITIES];
};

/* The shared form packs the strings: SR_COLD_FIXED words (the fixed fields
 * above, the variant count and the three top-level string lengths), then a
 * byte stream without padding or NULs: output_dir, segment_path, last_error,
 * then per variant SR_COLD_QPART bytes (bitrate, width, height, the lengths
 * of its four strings) and its level, codec, segment and playlist paths.
 * A slot has room for every string at its maximum, but a typical record is
 * the first line or two, so a walk reads little of it.  Every length read
 * back is checked against its field's maximum: the offsets are sums of
 * bounded lengths, so no garbled byte can point outside the slot. */
#define SR_COLD_FIXED    6
#define SR_COLD_QPART    16
#define SR_COLD_QSTR_MAX (SR_LEVEL_MAX + SR_CODEC_MAX + 2 * SR_VARIANT_PATH_MAX)
#define SR_COLD_STREAM_MAX                                                                         \
	(2 * SR_PATH_MAX + SR_ERROR_MAX + SR_MAX_QUALITIES * (SR_COLD_QPART + SR_COLD_QSTR_MAX))
#define SR_COLD_WORDS (SR_COLD_FIXED + (SR_COLD_STREAM_MAX + 7) / 8)
/* Words of a record in its slot of the dense head array, after the sequence:
 * the head is two cache lines, so the heads of all slots are one sequential
 * array a walk streams through, and only records longer than that reach
 * into their tail, a separate array. */
#define SR_COLD_HEAD_WORDS 15
_Static_assert(SR_PATH_MAX <= 255 && SR_ERROR_MAX <= 255 && SR_VARIANT_PATH_MAX <= 255 &&
                   SR_LEVEL_MAX <= 255 && SR_CODEC_MAX <= 255 && SR_MAX_QUALITIES <= 255,
               "packed lengths and the variant count are single bytes");

/* Readers copy the words with relaxed atomic loads (Boehm's seqlock), so a
 * concurrent writer is a benign, well-defined race, not undefined behaviour. */
struct sr_cold {
	_Atomic uint64_t seq; /* odd while a writer is inside */
	_Atomic uint64_t w[SR_COLD_HEAD_WORDS];
};
_Static_assert(sizeof(struct sr_cold) == (size_t)2 * SR_CACHELINE, "a cold head is two lines");
struct sr_cold_tail {
	_Atomic uint64_t w[SR_COLD_WORDS - SR_COLD_HEAD_WORDS];
};
/* The header's undo copy: one record, head and tail words in a row. */
struct sr_cold_undo {
	_Atomic uint64_t seq;
	_Atomic uint64_t w[SR_COLD_WORDS];
};

/* ---- Index: open addressing over 32-bit entries ---------------------------
 * 0 = empty, 1 = tombstone, else (7-bit hash tag << 25) | (slot + 2).  Four
 * bytes, not eight: a million-slot index is then 8 MiB, small enough to stay
 * mostly in the last-level cache beside the hot records, so a lookup in a
 * big table misses memory about once instead of twice.  The tag still spares
 * all but 1 in 128 wrong candidates their hot-line read.  Two arrays: a
 * rebuild fills the inactive one and flips index_active, so lock-free
 * readers never see a half-built table. */
#define SR_IX_EMPTY     0u
#define SR_IX_TOMB      1u
#define SR_IX_SLOT_BITS 25u
#define SR_IX_SLOT_MASK ((1u << SR_IX_SLOT_BITS) - 1u)
_Static_assert(SR_CAPACITY_MAX + 1u <= SR_IX_SLOT_MASK, "slot + 2 fits an index entry");

/* ---- Process table: one slot per attached read-write process -------------
 * owner word: state in bits 56..63, pid in bits 0..31.  Client counts live
 * here, in the process's own leases, so when a process dies its viewers
 * vanish with it exactly: the session totals are sums over live processes. */
enum { SR_PROC_FREE = 0, SR_PROC_CLAIMING = 1, SR_PROC_LIVE = 2, SR_PROC_RECLAIMING = 3 };
#define sr_owner_state(o)      ((unsigned)((o) >> 56))
#define sr_owner_pid(o)        ((pid_t)(uint32_t)((o)&0xffffffffu))
#define sr_owner_make(st, pid) (((uint64_t)(st) << 56) | (uint64_t)(uint32_t)(pid))

/* key: (generation << 32) | (slot + 1), 0 = empty.  count word: bit 63 is a
 * reuse lock, bits 32..62 an epoch bumped on reuse (defeats ABA between a
 * lock-free increment and a reuse), bits 0..31 the count. */
struct sr_lease {
	_Atomic uint64_t key;
	_Atomic uint64_t count;
};
#define SR_LEASE_LOCK   (1ull << 63)
#define SR_LEASE_EPOCH1 (1ull << 32)
#define sr_lease_n(c)   ((uint32_t)((c)&0xffffffffu))

struct sr_proc {
	_Atomic uint64_t owner;
	_Atomic uint64_t start_time; /* of the owner, clock ticks since boot */
	_Atomic int64_t attach_wall_ns;
	_Atomic uint64_t cells_used; /* non-empty lease cells; owner's claim_lock */
	_Atomic uint64_t spare[4];
	/* followed by lease_cells struct sr_lease */
};

/* ---- Work in progress of the writer holding the lock -------------------- */
/* SR_WIP_START: a move into active; wip.uuid holds the old start times
 * (mono, wall) to put back if the move did not happen. */
enum { SR_WIP_NONE = 0, SR_WIP_INSERT, SR_WIP_DELETE, SR_WIP_COLD, SR_WIP_REBUILD, SR_WIP_START };

/* ---- Owner record ---------------------------------------------------------
 * word: state in bits 56..63, a claim generation in bits 32..55 (bumped on
 * every claim, so a reader that saw the same word twice read one holder's
 * fields), pid in bits 0..31.  Only the claimer writes the other fields,
 * while the word says CLAIMING with its pid. */
enum { SR_OWN_FREE = 0, SR_OWN_CLAIMING = 1, SR_OWN_LIVE = 2 };
#define sr_own_state(w) ((unsigned)((w) >> 56))
#define sr_own_gen(w)   ((uint32_t)(((w) >> 32) & 0xffffffu))
#define sr_own_pid(w)   ((pid_t)(uint32_t)((w)&0xffffffffu))
#define sr_own_make(st, gen, pid)                                                                  \
	(((uint64_t)(st) << 56) | ((uint64_t)((gen)&0xffffffu) << 32) | (uint64_t)(uint32_t)(pid))
#define SR_OWNER_INFO_WORDS ((SR_OWNER_INFO_MAX + 1) / 8)

struct sr_owner_rec {
	_Atomic uint64_t word;
	_Atomic uint64_t start_time;
	_Atomic uint64_t heartbeat_mono; /* CLOCK_MONOTONIC ns */
	_Atomic int64_t heartbeat_wall;
	_Atomic int64_t claimed_wall;
	_Atomic uint64_t spare[3];
	_Atomic uint64_t info[SR_OWNER_INFO_WORDS];
};

/* Upper bounds of the start-latency buckets, ms; the last is +Inf. */
#define SR_LATENCY_BOUNDS_MS                                                                       \
	{                                                                                          \
		100, 250, 500, 1000, 2000, 5000, 10000, 30000, 60000, UINT64_MAX                   \
	}

/* ---- Header ----------------------------------------------------------------
 * The part up to `checksum` is written once at creation and covered by the
 * checksum; attach copies the geometry out of it and never trusts it again. */
struct sr_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t fingerprint;
	uint32_t capacity;
	uint32_t max_procs;
	uint32_t leases_per_proc;
	uint32_t index_size;
	uint64_t segment_size;
	uint64_t off_hot, off_cold, off_index0, off_index1, off_free, off_procs, off_stats;
	uint64_t off_cold_tail;
	uint64_t proc_stride;
	int32_t creator_pid;
	uint32_t creator_uid;
	uint64_t birth_id;
	int64_t created_wall_ns;
	uint64_t created_mono_ns;
	uint32_t mode;
	uint32_t reserved;
	uint64_t checksum;

	/* Mutable, shared by everyone. */
	alignas(SR_CACHELINE) _Atomic uint32_t doorbell;
	_Atomic uint32_t doorbell_waiters;
	_Atomic uint32_t procs_hwm; /* slots [0, hwm) may be in use */
	_Atomic uint32_t index_active;
	_Atomic uint32_t index_seq;
	_Atomic uint32_t sessions;
	_Atomic uint64_t procs_reclaimed;
	_Atomic uint64_t leases_reclaimed;
	_Atomic uint64_t locks_repaired;
	_Atomic int32_t lock_owner_pid; /* diagnostics only */

	/* Registry-wide counters; they only rise. */
	alignas(SR_CACHELINE) _Atomic uint64_t transitions[SR_STATE_COUNT];
	_Atomic uint64_t restarts;
	_Atomic uint64_t start_timeouts;
	_Atomic uint64_t owner_takeovers;
	_Atomic uint64_t latency_count;
	_Atomic uint64_t latency_sum_ns;
	_Atomic uint64_t latency_bucket[SR_LATENCY_BUCKETS]; /* not cumulative */

	alignas(SR_CACHELINE) struct sr_owner_rec owner;

	/* Writer lock and what it protects. */
	alignas(SR_CACHELINE) pthread_mutex_t lock;
	/* Apart from the lock: a contender reading the lock word would
	 * otherwise pull these from the holder on every look. */
	alignas(SR_CACHELINE) uint32_t free_top;
	uint32_t tombstones;
	struct {
		_Atomic uint32_t op;
		uint32_t slot;
		uint64_t uuid[2];
	} wip;
	alignas(SR_CACHELINE) struct sr_cold_undo undo;
};

/* ---- Private handle ---------------------------------------------------- */
struct sr_registry {
	unsigned char *base;
	size_t size;
	bool readonly;
	dev_t dev;
	ino_t ino;
	char name[SR_NAME_MAX + 2];
	/* Geometry copied at attach and validated once. */
	uint32_t capacity, max_procs, leases_per_proc, lease_cells, index_size;
	uint64_t birth_id;
	struct sr_header *hdr;
	struct sr_hot *hot;
	struct sr_cold *cold;
	struct sr_cold_tail *cold_tail;
	struct sr_stats *stats;
	_Atomic uint32_t *index[2];
	uint32_t *free_stack;
	unsigned char *procs;
	uint64_t proc_stride;
	/* This process's slot in the process table, claimed on first need. */
	pthread_mutex_t claim_lock;
	_Atomic int proc_idx; /* -1 until claimed */
	/* Per-slot client sums of the last walk, kept for the next: a fresh
	 * capacity x 8 B buffer costs a page fault per 4 KiB on every scan. */
	pthread_mutex_t walk_lock;
	/* Set once, under walk_lock, then kept until close; atomic because a
	 * thread that walked with a fresh buffer compares against it without
	 * the lock while the holder may be setting it. */
	uint64_t *_Atomic walk_buf;
	/* The owner word this process set by claiming through this handle, or 0;
	 * a forked child forgets it. */
	_Atomic uint64_t owner_word;
	/* Whether each process slot's owner still runs (liveness.c). */
	pthread_mutex_t live_lock;
	struct sr_live *live;
	struct sr_registry *next_handle;
};

/* errors.c */
void sr__set_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Record the calling thread's detail, evaluate to err: a macro so that
 * static analysis sees a failure path never returns 0.  The detail is
 * formatted first, so pass a saved errno, never errno itself. */
#define sr__fail(err, ...) (sr__set_detail(__VA_ARGS__), (err))

/* util.c */
uint64_t sr__hash(const struct sr_registry *r, const uint64_t u[2]);
/* Inline: every lookup and every walked session converts. */
static inline void sr__uuid_words(const uuid_t id, uint64_t w[2])
{
	memcpy(w, id, 16);
}
/* Word by word: the words were often just stored separately, and one
 * 16-byte load of them would stall on store forwarding. */
static inline void sr__words_uuid(const uint64_t w[2], uuid_t id)
{
	memcpy(id, &w[0], 8);
	memcpy(id + 8, &w[1], 8);
}
int64_t sr__now_wall_ns(void);
int64_t sr__now_wall_coarse_ns(void);
bool sr__pid_alive(pid_t pid, uint64_t start_time);
int sr__copy_str(char *dst, size_t cap, const char *src, const char *what);

/* regdir.c */
int sr__dir(char *out, size_t len);
void sr__advise_huge(void *base, size_t size);
/* Room for a registry's path: directory, '/', name, NUL. */
#define SR_PATH_BUF (SR_DIR_MAX + SR_NAME_MAX + 2)

/* layout.c */
struct sr_geometry {
	uint32_t capacity, max_procs, leases_per_proc, lease_cells, index_size;
	uint64_t off_hot, off_cold, off_index0, off_index1, off_free, off_procs, off_stats;
	uint64_t off_cold_tail, proc_stride, segment_size;
};
int sr__geometry(uint32_t capacity, uint32_t max_procs, uint32_t leases, struct sr_geometry *g);
uint64_t sr__fingerprint(void);
uint64_t sr__header_checksum(const struct sr_header *h);
void sr__bind_geometry(struct sr_registry *r, const struct sr_geometry *g);

/* lock.c */
int sr__lock(struct sr_registry *r);
void sr__unlock(struct sr_registry *r);
int sr__lock_probe(struct sr_registry *r); /* repair a dead owner if any; 1 if repaired */

/* lock_guard.c: the lock's bytes checked before glibc trusts them. */
int sr__lock_init(pthread_mutex_t *m);                   /* 0 or an errno value */
int sr__lock_guard(struct sr_registry *r);               /* 0, or refuse (negative) */
bool sr__lock_phantom(struct sr_registry *r, bool maps); /* no holder: marked owner-died */
bool sr__lock_unrecoverable(pthread_mutex_t *m);         /* free but "not recoverable": marked */
void sr__wip_begin(struct sr_registry *r, uint32_t op, uint32_t slot, const uint64_t uuid[2]);
void sr__wip_end(struct sr_registry *r);

/* index.c */
int sr__lookup(struct sr_registry *r, const uint64_t u[2], uint32_t *slot, uint64_t *sw);
/* The writers hash once and pass the hash (sr__hash of the key) along. */
int sr__lookup_hashed(struct sr_registry *r, const uint64_t u[2], uint64_t hash, uint32_t *slot,
                      uint64_t *sw);
int sr__index_insert(struct sr_registry *r, uint64_t hash, uint32_t slot);
void sr__index_remove(struct sr_registry *r, uint64_t hash, uint32_t slot);
void sr__index_rebuild(struct sr_registry *r);
void sr__free_rebuild(struct sr_registry *r);

/* cold.c */
/* Read attempts: a live writer holds a record odd for about a microsecond,
 * so FULL outlasts any live writer; a walk that already met one stuck
 * record (dead or hostile writer) gives the rest only WALK_BUSY tries, so a
 * table of stuck records costs milliseconds, not seconds. */
#define SR_TRIES_FULL      2000u
#define SR_TRIES_WALK_BUSY 8u
/* A private copy of a cold record: the packed words as read, and the
 * unpacked form the rest of the library uses.  The marks remember how far
 * each string of `d` was written, so a copy reused across records is
 * cleared again only where it was written. */
struct sr_cold_marks {
	uint16_t str[3 + 2 * SR_MAX_QUALITIES]; /* words: three top strings, two per variant */
	uint8_t nq;
};
struct sr_cold_copy {
	uint64_t p[SR_COLD_WORDS];
	struct sr_cold_data d;
	struct sr_cold_marks mark;
	/* The state word that validated the copy. */
	uint64_t sw;
};
void sr__cold_copy_init(struct sr_cold_copy *c);
int sr__cold_read(struct sr_registry *r, uint32_t slot, uint32_t gen, struct sr_cold_copy *c,
                  unsigned tries);
/* Read attempts this thread made on a record held mid-update: the work a
 * walk spends on stuck records, which tests bound instead of timing it. */
extern _Thread_local uint64_t sr__odd_reads;
/* c->d from the words sr__cold_read copied (it leaves them packed). */
void sr__cold_unpack(struct sr_cold_copy *c);
void sr__cold_write(struct sr_registry *r, uint32_t slot, const struct sr_cold_data *d);
void sr__cold_init(struct sr_registry *r, uint32_t slot, uint64_t created_mono,
                   int64_t created_wall, const char *output_dir);
void sr__cold_repair(struct sr_registry *r, uint32_t slot, bool restore);
int sr__cold_check(struct sr_registry *r, uint32_t slot, uint32_t gen, unsigned tries);
/* Word i (< SR_COLD_WORDS) of slot's record, wherever it sits. */
static inline _Atomic uint64_t *sr__cold_word(const struct sr_registry *r, uint32_t slot, size_t i)
{
	return i < SR_COLD_HEAD_WORDS ? &r->cold[slot].w[i]
	                              : &r->cold_tail[slot].w[i - SR_COLD_HEAD_WORDS];
}

/* procs.c */
static inline struct sr_proc *sr__proc(const struct sr_registry *r, uint32_t i)
{
	return (struct sr_proc *)(void *)(r->procs + (uint64_t)i * r->proc_stride);
}
static inline struct sr_lease *sr__leases(struct sr_proc *p)
{
	return (struct sr_lease *)(void *)(p + 1);
}
uint32_t sr__clients_of(struct sr_registry *r, uint32_t slot, uint32_t gen);
/* A walk's client sums: capacity entries, (gen << 32) | count, then one bit
 * per slot saying whether its entry was written by this walk.  Clearing the
 * bits instead of the entries, and reading an entry only where its bit is
 * set, keeps the reaper's scan to its hot lines plus capacity / 8 bytes. */
int sr__clients_all(struct sr_registry *r, uint64_t *per_slot);
static inline size_t sr__walk_bits_words(const struct sr_registry *r)
{
	return ((size_t)r->capacity + 63u) / 64u;
}
static inline uint64_t *sr__walk_bits(const struct sr_registry *r, uint64_t *per_slot)
{
	return per_slot + r->capacity;
}
/* A buffer for sr__clients_all: the handle's own if no other thread holds
 * it, else a fresh one; NULL when out of memory. */
uint64_t *sr__walk_buf_get(struct sr_registry *r);
void sr__walk_buf_put(struct sr_registry *r, uint64_t *buf);
/* Inline: the reaper's scan asks once per session, and a call there costs
 * about a fifth of the scan. */
static inline uint32_t sr__clients_pick(struct sr_registry *r, const uint64_t *per_slot,
                                        uint32_t slot, uint32_t gen)
{
	if (!(per_slot[r->capacity + (slot >> 6)] >> (slot & 63) & 1u))
		return 0;
	uint64_t e = per_slot[slot];
	if ((uint32_t)e == 0)
		return 0;
	if ((uint32_t)(e >> 32) == gen)
		return (uint32_t)e;
	/* The slot changed hands after the pass: count this owner alone. */
	return sr__clients_of(r, slot, gen);
}
int sr__lease_add(struct sr_registry *r, uint32_t slot, uint32_t gen, int delta);
void sr__proc_release_own(struct sr_registry *r);
int sr__recover_procs(struct sr_registry *r, sr_recovery_report *rep);
void sr__register_handle(struct sr_registry *r);
int sr__own_proc(struct sr_registry *r);
pid_t sr__self_pid(void);

/* owner.c */
void sr__owner_release_handle(struct sr_registry *r);

/* stats.c */
void sr__stats_reset(struct sr_registry *r, uint32_t slot);
void sr__stats_transition(struct sr_registry *r, uint32_t slot, uint32_t gen, sr_state to);
void sr__stats_add_restarts(struct sr_registry *r, uint32_t slot, uint32_t gen, uint32_t n);
/* Inline: a walk copies every session's counters. */
static inline void sr__stats_fill(struct sr_registry *r, uint32_t slot, sr_session_info *out)
{
	struct sr_stats *s = &r->stats[slot];
#pragma GCC unroll 8
	for (int i = 0; i < SR_STATE_COUNT; i++)
		out->transitions[i] = atomic_load_explicit(&s->into[i], memory_order_relaxed);
	out->restarts_total = atomic_load_explicit(&s->restarts, memory_order_relaxed);
	out->start_timeouts_total = atomic_load_explicit(&s->start_timeouts, memory_order_relaxed);
	out->last_state_change_wall_ns =
	    atomic_load_explicit(&s->last_change_wall, memory_order_relaxed);
	out->last_failure_wall_ns =
	    atomic_load_explicit(&s->last_failure_wall, memory_order_relaxed);
	out->start_latency_ns = atomic_load_explicit(&s->start_latency, memory_order_relaxed);
}
void sr__unregister_handle(struct sr_registry *r);

/* liveness.c: whether slot i's owner (its owner word) still runs; a
 * pidfd per slot, cached in the handle, makes asking again one poll(). */
void sr__live_init(struct sr_registry *r);
void sr__live_free(struct sr_registry *r);
bool sr__proc_alive(struct sr_registry *r, uint32_t i, uint64_t owner);

/* session.c */
int sr__resolve(struct sr_registry *r, const uuid_t id, uint32_t *slot, uint32_t *gen);
void sr__ring(struct sr_registry *r);
int sr__insert(struct sr_registry *reg, const uuid_t id, const char *output_dir, bool or_find,
               uint32_t *slot, uint32_t *gen);

/* session_ref.c: the slot-level operations every session call ends in. */
int sr__ref_check(struct sr_registry *r, sr_session_ref ref, uint64_t *sw);
void sr__touch_slot(struct sr_registry *r, uint32_t slot);
uint64_t sr__idle_of(struct sr_registry *r, uint32_t slot);
int sr__check_states(sr_state from, sr_state to);
int sr__ref_transition(struct sr_registry *r, sr_session_ref ref, sr_state from, sr_state to,
                       sr_state *found);
int sr__ref_set_state(struct sr_registry *r, sr_session_ref ref, sr_state to, sr_state *prev);
void sr__wake_state(struct sr_registry *r, uint32_t slot);

/* session_data.c */
/* Where snapshots go.  A walk reuses one info for every session: `shown`
 * says how many words of each of the info's strings the last session may
 * have left non-zero (0: none), so the next clears only that, and the
 * clocks are read once. */
struct sr_info_out {
	sr_session_info *info;
	struct sr_cold_marks shown;
	uint64_t now;
	int64_t wall;
};
void sr__info_out_init(struct sr_info_out *o, sr_session_info *info);
/* cold.c, with the record reading it inlines: a walk calls it per session.
 * c is scratch (it need not be initialised); o->info gets the snapshot. */
int sr__snapshot_slot(struct sr_registry *r, uint32_t slot, uint32_t gen, uint32_t clients,
                      struct sr_cold_copy *c, struct sr_info_out *o, unsigned tries);
int sr__walk_busy(struct sr_registry *r, unsigned *tries);

/* cold.c: every session's snapshot to cb, in slot order, with the walk's
 * patience budget; *busy gets how many stuck records were left out. */
int sr__walk(struct sr_registry *r, sr_session_cb cb, void *ctx, uint32_t *busy);

static inline uint64_t sr__ld(_Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_acquire);
}

#define SR_CHECK_REG(r)                                                                            \
	do {                                                                                       \
		if (!(r))                                                                          \
			return sr__fail(-EINVAL, "registry handle is NULL");                       \
	} while (0)
#define SR_CHECK_RW(r)                                                                             \
	do {                                                                                       \
		SR_CHECK_REG(r);                                                                   \
		if ((r)->readonly)                                                                 \
			return sr__fail(-EROFS, "registry handle is read-only");                   \
	} while (0)

#endif
