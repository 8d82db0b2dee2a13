/*
 * The writer lock: a robust, process-shared mutex.  When its owner dies the
 * kernel hands the next locker EOWNERDEAD, and that locker repairs what the
 * dead writer was doing (recorded in hdr->wip) before marking the lock
 * consistent.  Readers never take it.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sr_internal.h"

/* A live holder never keeps the lock this long; past it we report, not hang. */
#define SR_LOCK_TIMEOUT_MS 2000

static void repair(struct sr_registry *r)
{
	struct sr_header *h = r->hdr;
	uint32_t op = atomic_load_explicit(&h->wip.op, memory_order_acquire);
	uint32_t slot = h->wip.slot;
	if (op != SR_WIP_NONE && slot < r->capacity) {
		sr__cold_repair(r, slot, op != SR_WIP_INSERT);
		struct sr_hot *hot = &r->hot[slot];
		uint64_t sw = sr__ld(&hot->state);
		/* A delete that got as far as the wip record is finished; an insert
		 * stands if its state word was published, else the slot stays free. */
		if (op == SR_WIP_DELETE && sr_sw_code(sw) != SR_SW_FREE)
			atomic_store_explicit(&hot->state, (uint64_t)sr_sw_gen(sw) << 32,
			                      memory_order_release);
		/* Only lock holders move into active: a mover that died before
		 * its move landed leaves the slot not active, and the start
		 * times it wrote go back. */
		if (op == SR_WIP_START && sr_sw_code(sw) != SR_STATE_ACTIVE + 1u) {
			atomic_store_explicit(&hot->started_mono, h->wip.uuid[0],
			                      memory_order_relaxed);
			atomic_store_explicit(&hot->started_wall, h->wip.uuid[1],
			                      memory_order_relaxed);
		}
	}
	/* The index, free stack and count are derived from the hot records,
	 * so rebuilding them undoes any half-done step of any operation. */
	sr__index_rebuild(r);
	sr__free_rebuild(r);
	atomic_store_explicit(&h->wip.op, SR_WIP_NONE, memory_order_release);
	atomic_fetch_add(&h->locks_repaired, 1);
}

/* Nonzero while the mutex is held: a robust mutex keeps its owner's thread
 * id in its futex word (the kernel needs it there to report a death). */
#define SR_FUTEX_TID_MASK 0x3fffffff
static int lock_owner(pthread_mutex_t *m)
{
#ifdef __GLIBC__
	return __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) & SR_FUTEX_TID_MASK;
#else
	(void)m;
	return 0;
#endif
}

static int after_lock(struct sr_registry *r, int rc)
{
	if (rc == EOWNERDEAD) {
		repair(r);
		pthread_mutex_consistent(&r->hdr->lock);
		rc = 0;
	}
	if (rc == 0) {
		atomic_store_explicit(&r->hdr->lock_owner_pid, sr__self_pid(),
		                      memory_order_relaxed);
		return 0;
	}
	if (rc == ETIMEDOUT)
		return sr__fail(
		    -ETIMEDOUT, "writer lock held for over %d ms by live pid %d",
		    SR_LOCK_TIMEOUT_MS,
		    (int)atomic_load_explicit(&r->hdr->lock_owner_pid, memory_order_relaxed));
	return sr__fail(-SR_ECORRUPT, "writer lock unusable: %s", strerror(rc));
}

/* ThreadSanitizer (clang 14) does not intercept pthread_mutex_clocklock and
 * would miss the lock's ordering; the realtime variant it does know. */
#if defined(__SANITIZE_THREAD__)
#define SR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SR_TSAN 1
#endif
#endif
#ifdef SR_TSAN
#define SR_LOCK_CLOCK        CLOCK_REALTIME
#define sr_timed_lock(m, ts) pthread_mutex_timedlock(m, ts)
#else
#define SR_LOCK_CLOCK        CLOCK_MONOTONIC
#define sr_timed_lock(m, ts) pthread_mutex_clocklock(m, CLOCK_MONOTONIC, ts)
#endif

static void add_ms(struct timespec *ts, long ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Unlocking, and the kernel on an owner's death, wake one waiter.  If that
 * waiter is SIGKILLed before it takes the lock, the wake-up is lost and the
 * others would sleep to their deadline with the lock free.  Waiting in short
 * slices bounds that stall to one slice. */
#define SR_LOCK_SLICE_MS 10

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* A writer holds the lock for well under a microsecond: a contender that
 * spins takes it without the futex sleep and wake-up, two system calls that
 * cost more than the critical section.  It spins reading the lock word and
 * tries only when it looks free, and backs off exponentially between looks:
 * each look pulls the lock's cache line away from the holder (the free stack
 * and work-in-progress record sit on the next line for that reason), and a
 * contender that looks every few ns takes the lock at every release, so two
 * processes hand every operation's lines from core to core (insert + delete:
 * 0.28x of one process together, measured).  Backing off lets the holder run
 * a stretch of operations in its own cache (0.28x became 0.7x to 0.9x).
 * Pauses are about 25 ns here: looks come every 1.6 to 25 us, for about
 * 100 us in all (a holder that long is descheduled), then the futex. */
#define SR_LOCK_BACKOFF_MIN 64
#define SR_LOCK_BACKOFF_MAX 1024
#define SR_LOCK_SPIN_BUDGET 4000

static int spin_lock(pthread_mutex_t *m)
{
	unsigned delay = SR_LOCK_BACKOFF_MIN;
	for (unsigned spent = 0; spent < SR_LOCK_SPIN_BUDGET; spent += delay) {
		if (lock_owner(m) == 0) {
			int rc = pthread_mutex_trylock(m);
			if (rc != EBUSY)
				return rc;
		}
		for (unsigned i = 0; i < delay; i++)
			cpu_relax();
		if (delay < SR_LOCK_BACKOFF_MAX)
			delay *= 2;
	}
	return EBUSY;
}

int sr__lock(struct sr_registry *r)
{
	int rc = sr__lock_guard(r);
	if (rc)
		return rc;
	pthread_mutex_t *m = &r->hdr->lock;
	rc = pthread_mutex_trylock(m);
	if (rc == EBUSY)
		rc = spin_lock(m);
	if (rc != EBUSY && rc != ENOTRECOVERABLE)
		return after_lock(r, rc);
	struct timespec deadline, now;
	clock_gettime(SR_LOCK_CLOCK, &deadline);
	add_ms(&deadline, SR_LOCK_TIMEOUT_MS);
	struct timespec slice;
	bool marked = false, looked = false;
	do {
		/* "Not recoverable" is garbage in the owner word, and a slice that
		 * ran out may mean an owner that never was (garbage in the lock
		 * word): once marked owner-died, the next try repairs. */
		if ((rc == ENOTRECOVERABLE && !marked && sr__lock_unrecoverable(m)) ||
		    (rc == ETIMEDOUT && sr__lock_phantom(r, !looked))) {
			marked = true;
		}
		/* Reading the holder's maps is for the first slice that runs out. */
		if (rc == ETIMEDOUT)
			looked = true;
		clock_gettime(SR_LOCK_CLOCK, &now);
		slice = now;
		add_ms(&slice, SR_LOCK_SLICE_MS);
		if (before(&deadline, &slice))
			slice = deadline;
		rc = sr_timed_lock(m, &slice);
	} while ((rc == ETIMEDOUT || (rc == ENOTRECOVERABLE && marked)) &&
	         before(&slice, &deadline));
	return after_lock(r, rc);
}

void sr__unlock(struct sr_registry *r)
{
	atomic_store_explicit(&r->hdr->lock_owner_pid, 0, memory_order_relaxed);
	pthread_mutex_unlock(&r->hdr->lock);
}

int sr__lock_probe(struct sr_registry *r)
{
	int rc = sr__lock_guard(r);
	if (rc)
		return rc;
	pthread_mutex_t *m = &r->hdr->lock;
	rc = pthread_mutex_trylock(m);
	/* Held by an owner that does not exist, or said to be unrecoverable:
	 * marked owner-died, so one more try repairs it. */
	if ((rc == EBUSY && sr__lock_phantom(r, true)) ||
	    (rc == ENOTRECOVERABLE && sr__lock_unrecoverable(m)))
		rc = pthread_mutex_trylock(m);
	if (rc == EBUSY)
		return 0;
	bool dead = rc == EOWNERDEAD;
	if ((rc = after_lock(r, rc)) != 0)
		return rc;
	sr__unlock(r);
	return dead;
}

void sr__wip_begin(struct sr_registry *r, uint32_t op, uint32_t slot, const uint64_t uuid[2])
{
	struct sr_header *h = r->hdr;
	h->wip.slot = slot;
	h->wip.uuid[0] = uuid ? uuid[0] : 0;
	h->wip.uuid[1] = uuid ? uuid[1] : 0;
	atomic_store_explicit(&h->wip.op, op, memory_order_release);
}

void sr__wip_end(struct sr_registry *r)
{
	atomic_store_explicit(&r->hdr->wip.op, SR_WIP_NONE, memory_order_release);
}
