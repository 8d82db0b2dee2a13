/*
 * streamreg-bench: shared types of the harness.
 *
 * Every store under test (streamreg and each comparator) is a backend: a
 * table of functions that prepares the same set of sessions in the parent,
 * opens its own handle in every forked worker, and runs a batch of one kind
 * of operation on given session indices.  Scenarios are written once against
 * this interface, so every store runs exactly the same key sequences.
 */
#ifndef SR_BENCH_H
#define SR_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uuid/uuid.h>

/** Operations a backend may implement; the mixed profile is built from them. */
enum op_kind {
	OP_FIND_TOUCH,    /* per-request path: look up + last access = now */
	OP_FIND,          /* look up only: the read floor of every store */
	OP_ADD_REMOVE,    /* viewer join then leave: counts as one op */
	OP_STATE_CAS,     /* one compare-and-swap along idle->starting->active->stopping->idle */
	OP_SNAPSHOT,      /* consistent copy of one whole session record */
	OP_INSERT_DELETE, /* insert a fresh session then delete it: counts as one op */
	OP_MIXED,         /* worker profile, composed by the runner */
	/* A viewer's master-playlist request as streamreg-server makes it: make
	 * sure the session exists, count the viewer, read the state; then the
	 * viewer leaves.  By UUID every step looks the channel up again; by
	 * reference only the first does.  streamreg only. */
	OP_REQUEST_UUID,
	OP_REQUEST_REF,
	OP_COUNT
};

#define OP_BIT(k) (1u << (k))

/** Key distributions over the live sessions. */
enum dist_kind { DIST_UNIFORM, DIST_HOT, DIST_ZIPF, DIST_DISTINCT, DIST_COUNT };

/** Most workers one run forks. */
#define BENCH_MAX_WORKERS 64
/** Spare (never preloaded) keys each worker cycles through for insert+delete. */
#define BENCH_SPARE_PER_WORKER 1024
/** Session indices each worker cycles through (precomputed, power of two). */
#define BENCH_SEQ_LEN 65536u

/** The sessions every backend holds: live ones first, then per-worker spares. */
struct bench_keys {
	uuid_t *ids;       /* n_live + BENCH_MAX_WORKERS * BENCH_SPARE_PER_WORKER */
	uint32_t n_live;   /* preloaded sessions */
	uint32_t capacity; /* table capacity asked of stores that have one */
};

/** Index of worker w's j-th spare key. */
static inline uint32_t bench_spare_index(const struct bench_keys *k, int w, uint32_t j)
{
	return k->n_live + (uint32_t)w * BENCH_SPARE_PER_WORKER + j % BENCH_SPARE_PER_WORKER;
}

/** Per-worker state handed to backends (a worker is one process or thread). */
struct worker_ctx {
	int id; /* 0 .. nworkers-1 */
	int nworkers;
	const struct bench_keys *keys;
	uint32_t spare_next; /* next spare key for insert+delete */
	uint8_t *cas_state;  /* per live session: the state this worker expects */
};

struct backend {
	const char *name; /* short id used in tables and JSON */
	const char *desc; /* one line for the reader */
	unsigned ops;     /* OP_BIT mask of what run() implements */
	bool threads;     /* workers are threads of the parent process (in-process stores) */
	unsigned batch;   /* ops per timed batch; small for slow stores */
	/* Parent: build the store with keys->n_live sessions.  0 or -1 with *err set. */
	int (*setup)(void **shared, const struct bench_keys *keys, char *err, size_t errlen);
	/* Worker: open a handle of its own (after fork). */
	int (*open)(void *shared, struct worker_ctx *w, void **local, char *err, size_t errlen);
	/* Run n ops of kind k on sessions idx[0..n).  Returns failed ops (>= 0) or -1 if broken. */
	long (*run)(void *local, struct worker_ctx *w, enum op_kind k, const uint32_t *idx,
	            size_t n);
	void (*close)(void *local);
	void (*teardown)(void *shared);
};

/* Backends; a backend whose library was not found is absent from the list. */
extern const struct backend backend_streamreg;
extern const struct backend backend_atomic_shared;
extern const struct backend backend_atomic_perproc;
extern const struct backend backend_rwlock_inproc;
extern const struct backend backend_rwlock_shared;
extern const struct backend backend_redis_rt;
extern const struct backend backend_redis_pipe;
extern const struct backend backend_lmdb;
extern const struct backend backend_tdb;

/** Why a comparator is not in this build (NULL if it is). */
const char *bench_missing_reason(const char *backend_name);

const char *op_name(enum op_kind k);
const char *dist_name(enum dist_kind d);

/* ---- clock, statistics, keys (bench_util.c) ---- */
uint64_t bench_now_ns(void);
/* CPU time of the calling thread: excludes time spent descheduled. */
uint64_t bench_cpu_now_ns(void);
uint64_t bench_timer_overhead_ns(void);
double bench_median(double *v, size_t n);
int bench_cmp_u32(const void *a, const void *b);
void bench_make_keys(struct bench_keys *k, uint32_t n_live, uint32_t capacity, uint64_t seed);
void bench_free_keys(struct bench_keys *k);
/* Fill seq[BENCH_SEQ_LEN] with session indices for worker w of nworkers. */
void bench_make_seq(uint32_t *seq, enum dist_kind d, uint32_t n_live, int w, int nworkers,
                    uint64_t seed);
/* Pin the calling process or thread to cpu (mod online cpus).  0 or -errno. */
int bench_pin(int cpu);
int bench_ncpus(void);

#endif
