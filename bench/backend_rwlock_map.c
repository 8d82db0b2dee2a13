/*
 * The seed design transliterated: one reader-writer lock over a hash map of
 * session structs.  "rwlock-inproc" is what an in-process registry costs
 * (private lock, threads); "rwlock-shared" puts the same map and a
 * PTHREAD_PROCESS_SHARED lock in shared memory for forked workers.
 *
 * The map is written to give the comparator its best case: open addressing
 * on a power-of-two index with linear probing and backward-shift deletion
 * (no tombstones), session structs in a pool addressed by index (no
 * pointers, so it works in shared memory), and a touch done under the read
 * lock with an atomic store, storing only when the coarse clock moved, as
 * streamreg does.
 */
#include "bench.h"
#include "bench_backend_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "streamreg.h"

struct bucket {
	uint32_t hash;
	uint32_t slot_plus1; /* 0: empty */
};

struct seed_map {
	pthread_rwlock_t lock;
	uint32_t mask; /* buckets - 1 */
	uint32_t pool_cap;
	uint32_t free_head; /* first free pool slot + 1, chained through info.slot */
	uint32_t count;
	size_t bytes;
	bool shared;
	size_t pool_off; /* from the map start: no pointers, so it works shared */
	size_t buckets_off;
};

struct map_local {
	struct seed_map *m;
	sr_session_info copy;
};

static struct bucket *buckets(struct seed_map *m)
{
	return (struct bucket *)((char *)m + m->buckets_off);
}

static sr_session_info *pool(struct seed_map *m)
{
	return (sr_session_info *)((char *)m + m->pool_off);
}

static uint32_t key_hash(const uint8_t *id)
{
	uint64_t a, b;
	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(h >> 32) | 1u;
}

static uint64_t coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Bucket index holding id, or -1. */
static long map_find(struct seed_map *m, const uint8_t *id)
{
	uint32_t h = key_hash(id);
	struct bucket *b = buckets(m);
	sr_session_info *p = pool(m);
	for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
		if (!b[i].slot_plus1)
			return -1;
		if (b[i].hash == h && !memcmp(p[b[i].slot_plus1 - 1].channel_id, id, 16))
			return (long)i;
	}
}

static sr_session_info *map_get(struct seed_map *m, const uint8_t *id)
{
	long i = map_find(m, id);
	return i < 0 ? NULL : &pool(m)[buckets(m)[i].slot_plus1 - 1];
}

static int map_insert(struct seed_map *m, const uint8_t *id)
{
	if (map_find(m, id) >= 0 || !m->free_head || m->count + 1 > (m->mask + 1) / 2)
		return -1;
	uint32_t slot = m->free_head - 1;
	sr_session_info *s = &pool(m)[slot];
	m->free_head = s->slot;
	memset(s, 0, sizeof *s);
	memcpy(s->channel_id, id, 16);
	s->slot = slot;
	s->state = SR_STATE_IDLE;
	s->created_mono_ns = s->last_access_mono_ns = coarse_ns();
	uint32_t h = key_hash(id);
	struct bucket *b = buckets(m);
	uint32_t i = h & m->mask;
	while (b[i].slot_plus1)
		i = (i + 1) & m->mask;
	b[i] = (struct bucket){h, slot + 1};
	m->count++;
	return 0;
}

static int map_delete(struct seed_map *m, const uint8_t *id)
{
	long found = map_find(m, id);
	if (found < 0)
		return -1;
	struct bucket *b = buckets(m);
	uint32_t i = (uint32_t)found, slot = b[i].slot_plus1 - 1;
	pool(m)[slot].slot = m->free_head;
	m->free_head = slot + 1;
	/* Backward shift: pull later entries of the cluster into the hole. */
	for (uint32_t j = (i + 1) & m->mask; b[j].slot_plus1; j = (j + 1) & m->mask) {
		uint32_t home = b[j].hash & m->mask;
		bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
		if (movable) {
			b[i] = b[j];
			i = j;
		}
	}
	b[i] = (struct bucket){0, 0};
	m->count--;
	return 0;
}

static int map_setup(void **shared, const struct bench_keys *k, bool pshared, char *err,
                     size_t errlen)
{
	uint32_t pool_cap = k->n_live + BENCH_MAX_WORKERS, nb = 16;
	while (nb < 2 * pool_cap)
		nb *= 2;
	size_t head = (sizeof(struct seed_map) + 63) & ~(size_t)63;
	size_t boff = head, poff = (boff + nb * sizeof(struct bucket) + 63) & ~(size_t)63;
	size_t bytes = poff + (size_t)pool_cap * sizeof(sr_session_info);
	struct seed_map *m =
	    pshared ? mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
	            : calloc(1, bytes);
	if (!m || m == MAP_FAILED)
		return bench_fail(err, errlen, "cannot allocate a %zu-byte map", bytes);
	m->mask = nb - 1;
	m->pool_cap = pool_cap;
	m->bytes = bytes;
	m->shared = pshared;
	m->buckets_off = boff;
	m->pool_off = poff;
	sr_session_info *p = pool(m);
	for (uint32_t i = 0; i < pool_cap; i++)
		p[i].slot = i + 2 <= pool_cap ? i + 2 : 0;
	m->free_head = 1;
	pthread_rwlockattr_t a;
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setpshared(&a,
	                              pshared ? PTHREAD_PROCESS_SHARED : PTHREAD_PROCESS_PRIVATE);
	int rc = pthread_rwlock_init(&m->lock, &a);
	pthread_rwlockattr_destroy(&a);
	if (rc)
		return bench_fail(err, errlen, "pthread_rwlock_init failed");
	for (uint32_t i = 0; i < k->n_live; i++)
		if (map_insert(m, k->ids[i]) < 0)
			return bench_fail(err, errlen, "map insert #%u failed", i);
	*shared = m;
	return 0;
}

static int inproc_setup(void **shared, const struct bench_keys *k, char *err, size_t errlen)
{
	return map_setup(shared, k, false, err, errlen);
}

static int pshared_setup(void **shared, const struct bench_keys *k, char *err, size_t errlen)
{
	return map_setup(shared, k, true, err, errlen);
}

static int map_open(void *shared, struct worker_ctx *w, void **local, char *err, size_t errlen)
{
	(void)w;
	struct map_local *l = malloc(sizeof *l);
	if (!l)
		return bench_fail(err, errlen, "out of memory");
	l->m = shared;
	*local = l;
	return 0;
}

static sr_state cas_next(sr_state s)
{
	return s == SR_STATE_STOPPING ? SR_STATE_IDLE : (sr_state)(s + 1);
}

static long map_run(void *local, struct worker_ctx *w, enum op_kind k, const uint32_t *idx,
                    size_t n)
{
	struct map_local *l = local;
	struct seed_map *m = l->m;
	const struct bench_keys *keys = w->keys;
	long failed = 0;
	for (size_t j = 0; j < n; j++) {
		const uint8_t *id = keys->ids[idx[j]];
		sr_session_info *s = NULL;
		switch (k) {
		case OP_FIND_TOUCH: {
			uint64_t now = coarse_ns();
			pthread_rwlock_rdlock(&m->lock);
			s = map_get(m, id);
			if (s && __atomic_load_n(&s->last_access_mono_ns, __ATOMIC_RELAXED) != now)
				__atomic_store_n(&s->last_access_mono_ns, now, __ATOMIC_RELAXED);
			pthread_rwlock_unlock(&m->lock);
			break;
		}
		case OP_FIND:
			pthread_rwlock_rdlock(&m->lock);
			s = map_get(m, id);
			pthread_rwlock_unlock(&m->lock);
			break;
		case OP_SNAPSHOT:
			pthread_rwlock_rdlock(&m->lock);
			if ((s = map_get(m, id)) != NULL)
				memcpy(&l->copy, s, sizeof l->copy);
			pthread_rwlock_unlock(&m->lock);
			break;
		case OP_ADD_REMOVE:
			pthread_rwlock_wrlock(&m->lock);
			if ((s = map_get(m, id)) != NULL) {
				s->clients++;
				s->last_access_mono_ns = coarse_ns();
			}
			pthread_rwlock_unlock(&m->lock);
			pthread_rwlock_wrlock(&m->lock);
			if ((s = map_get(m, id)) != NULL) {
				s->clients--;
				s->last_access_mono_ns = coarse_ns();
			}
			pthread_rwlock_unlock(&m->lock);
			break;
		case OP_STATE_CAS: {
			sr_state from = (sr_state)w->cas_state[idx[j]];
			pthread_rwlock_wrlock(&m->lock);
			s = map_get(m, id);
			sr_state now = s ? s->state : from;
			if (s && s->state == from)
				s->state = cas_next(from);
			pthread_rwlock_unlock(&m->lock);
			if (now == from) {
				w->cas_state[idx[j]] = (uint8_t)cas_next(from);
			} else {
				w->cas_state[idx[j]] = (uint8_t)now;
				failed++;
			}
			break;
		}
		case OP_INSERT_DELETE: {
			const uint8_t *sp =
			    keys->ids[bench_spare_index(keys, w->id, w->spare_next++)];
			pthread_rwlock_wrlock(&m->lock);
			int rc = map_insert(m, sp);
			pthread_rwlock_unlock(&m->lock);
			pthread_rwlock_wrlock(&m->lock);
			int rd = map_delete(m, sp);
			pthread_rwlock_unlock(&m->lock);
			if (rc < 0 || rd < 0)
				return -1;
			break;
		}
		default:
			return -1;
		}
		if (k != OP_INSERT_DELETE && !s)
			return -1;
	}
	return failed;
}

static void map_close(void *local)
{
	free(local);
}

static void map_teardown(void *shared)
{
	struct seed_map *m = shared;
	pthread_rwlock_destroy(&m->lock);
	if (m->shared)
		munmap(m, m->bytes);
	else
		free(m);
}

#define MAP_OPS                                                                                    \
	(OP_BIT(OP_FIND_TOUCH) | OP_BIT(OP_FIND) | OP_BIT(OP_ADD_REMOVE) | OP_BIT(OP_STATE_CAS) |  \
	 OP_BIT(OP_SNAPSHOT) | OP_BIT(OP_INSERT_DELETE) | OP_BIT(OP_MIXED))

const struct backend backend_rwlock_inproc = {
    .name = "rwlock-inproc",
    .desc = "seed design: pthread_rwlock over a hash map of session structs, one process, "
            "workers are threads",
    .ops = MAP_OPS,
    .threads = true,
    .batch = 256,
    .setup = inproc_setup,
    .open = map_open,
    .run = map_run,
    .close = map_close,
    .teardown = map_teardown,
};

const struct backend backend_rwlock_shared = {
    .name = "rwlock-shared",
    .desc = "seed design in shared memory: process-shared pthread_rwlock, forked workers",
    .ops = MAP_OPS,
    .batch = 256,
    .setup = pshared_setup,
    .open = map_open,
    .run = map_run,
    .close = map_close,
    .teardown = map_teardown,
};
