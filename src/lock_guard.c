/*
 * The writer lock lives in the mutable, unchecksummed part of the header, so
 * its bytes can be garbage (a hostile or buggy writer, a stray pwrite).
 * glibc trusts them: a kind word with the priority-protect bit makes
 * pthread_mutex_trylock assert in tpp.c and abort the caller, a lock word
 * naming a thread that does not exist (or one that does not even map the
 * registry) makes every locker wait forever, an
 * owner word saying "not recoverable" makes every lock fail.  So
 * before glibc sees the lock we check the two words it trusts against what
 * pthread_mutex_init writes, and repair what no live thread can be using:
 * a garbled kind is re-initialised (as owner-died), a lock word with a dead
 * or absent owner, or a free lock said to be unrecoverable, is marked
 * owner-died.  Either way the next locker gets EOWNERDEAD and runs
 * the ordinary repair of a dead writer (lock.c), counted in locks_repaired.
 *
 * This reads glibc's mutex words (pthread_mutex_t.__data), which the layout
 * fingerprint already ties to this build's pthread_mutex_t.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sr_internal.h"

/* Kind word of a lock being re-initialised: 0x5a in the top byte, the
 * repairer's pid below (pid_max is at most 2^22). */
#define SR_KIND_REPAIRING    0x5a000000
#define sr_kind_repairing(k) (((unsigned)(k)&0xff000000u) == SR_KIND_REPAIRING)
#define sr_kind_repairer(k)  ((pid_t)((unsigned)(k)&0x00ffffffu))
#define SR_REPAIR_WAIT_NS    (2000 * 1000000ull)

int sr__lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int rc = pthread_mutexattr_init(&a);
	if (rc == 0)
		rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (rc == 0)
		rc = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return rc;
}

/* What sr__lock_init writes, taken from a private mutex. */
static pthread_mutex_t clean_image;
static int clean_kind = -1;
static pthread_once_t clean_once = PTHREAD_ONCE_INIT;

static void make_clean_image(void)
{
	if (sr__lock_init(&clean_image) == 0)
		clean_kind = clean_image.__data.__kind;
}

static int kind_of(pthread_mutex_t *m)
{
	return __atomic_load_n(&m->__data.__kind, __ATOMIC_ACQUIRE);
}

/* Whether thread tid maps this registry's segment, from /proc/TID/maps
 * (dev and inode of the mapped file); true when that cannot be read. */
static bool maps_segment(const struct sr_registry *r, pid_t tid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno != ENOENT;
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long ino;
		if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &ino) == 3)
			found = ino == (unsigned long long)r->ino && maj == major(r->dev) &&
			        min == minor(r->dev);
	}
	fclose(f);
	return found;
}

/* Whether thread tid may hold the lock: it runs, and (when maps is set, a
 * costlier look) it has the segment mapped.  0, absent ids and our own id
 * (the library never nests the lock) may not. */
static bool may_hold(const struct sr_registry *r, pid_t tid, bool maps)
{
	if (tid <= 0 || tid == (pid_t)syscall(SYS_gettid))
		return false;
	if (kill(tid, 0) != 0 && errno != EPERM)
		return false;
	return !maps || maps_segment(r, tid);
}

bool sr__lock_unrecoverable(pthread_mutex_t *m)
{
	/* glibc only says "not recoverable" after an owner-died lock was
	 * unlocked without being made consistent, which this library never
	 * does: the word is garbage.  Marking the free lock owner-died sends
	 * the next locker down the repair path, which makes it consistent. */
	int v = 0;
	return __atomic_compare_exchange_n(&m->__data.__lock, &v, FUTEX_OWNER_DIED, false,
	                                   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

bool sr__lock_phantom(struct sr_registry *r, bool maps)
{
	int *word = &r->hdr->lock.__data.__lock;
	int v = __atomic_load_n(word, __ATOMIC_ACQUIRE);
	if (v == 0 || (v & FUTEX_OWNER_DIED) || may_hold(r, v & FUTEX_TID_MASK, maps))
		return false;
	/* The kernel would have done this had the owner died on its robust
	 * list; a lock word it never saw gets it from us.  The compare-and-swap
	 * loses to any real change meanwhile. */
	return __atomic_compare_exchange_n(word, &v, v | FUTEX_OWNER_DIED, false, __ATOMIC_ACQ_REL,
	                                   __ATOMIC_ACQUIRE);
}

/* Holding the repair marker: rewrite the whole mutex as freshly initialised
 * but owner-died, the kind word last. */
static void reinit(pthread_mutex_t *m)
{
	pthread_mutex_t img = clean_image;
	img.__data.__lock = FUTEX_OWNER_DIED;
	unsigned char *dst = (unsigned char *)m;
	const unsigned char *src = (const unsigned char *)&img;
	size_t k = offsetof(pthread_mutex_t, __data.__kind);
	memcpy(dst, src, k);
	memcpy(dst + k + sizeof(int), src + k + sizeof(int), sizeof(img) - k - sizeof(int));
	__atomic_store_n(&m->__data.__kind, clean_kind, __ATOMIC_RELEASE);
}

int sr__lock_guard(struct sr_registry *r)
{
	pthread_once(&clean_once, make_clean_image);
	if (clean_kind < 0)
		return sr__fail(-SR_ECORRUPT, "cannot build a reference writer lock");
	pthread_mutex_t *m = &r->hdr->lock;
	int k = kind_of(m);
	if (k == clean_kind)
		return 0;
	pid_t me = sr__self_pid();
	uint64_t deadline = sr_now_mono_ns() + SR_REPAIR_WAIT_NS;
	for (;;) {
		if (k == clean_kind)
			return 0;
		/* Another process is re-initialising: give it time, unless it died. */
		if (sr_kind_repairing(k) && sr_kind_repairer(k) != me &&
		    sr__pid_alive(sr_kind_repairer(k), 0) && sr_now_mono_ns() < deadline) {
			sched_yield();
			k = kind_of(m);
			continue;
		}
		if (__atomic_compare_exchange_n(&m->__data.__kind, &k, SR_KIND_REPAIRING | me,
		                                false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
		/* k now holds the current kind: look again. */
	}
	/* Ours to repair, unless a live thread may be holding it. */
	int v = __atomic_load_n(&m->__data.__lock, __ATOMIC_ACQUIRE);
	pid_t tid = v & FUTEX_TID_MASK;
	if (!(v & FUTEX_OWNER_DIED) && may_hold(r, tid, true)) {
		__atomic_store_n(&m->__data.__kind, k, __ATOMIC_RELEASE);
		return sr__fail(-SR_ECORRUPT,
		                "writer lock garbled (kind word 0x%x) while thread %d may hold "
		                "it; retry once it is gone",
		                (unsigned)k, (int)tid);
	}
	reinit(m);
	return 0;
}
