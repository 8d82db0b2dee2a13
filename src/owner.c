/*
 * The owner record: one process (the reaper) owns a registry at a time.  The
 * record names its holder by pid and start time, as the process table does,
 * so a holder killed at any instant is recognised as dead and taken over by
 * one compare-and-swap: no lock to wedge, no cleanup to run.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sr_internal.h"

/* A claimer fills the record between two stores; readers that meet it
 * mid-claim wait this many yields for the holder's fields, then report the
 * pid alone. */
#define SR_OWNER_READ_TRIES 2000

static uint64_t now_mono_precise(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Read one consistent copy of the record; the word is returned, 0 if free. */
static uint64_t owner_read(struct sr_registry *r, sr_owner_info *out)
{
	struct sr_owner_rec *o = &r->hdr->owner;
	uint64_t info[SR_OWNER_INFO_WORDS];
	for (unsigned i = 0;; i++) {
		uint64_t w = atomic_load_explicit(&o->word, memory_order_acquire);
		unsigned st = sr_own_state(w);
		if (st != SR_OWN_LIVE && st != SR_OWN_CLAIMING)
			return 0;
		memset(out, 0, sizeof(*out));
		out->pid = sr_own_pid(w);
		if (st == SR_OWN_CLAIMING) {
			if (i < SR_OWNER_READ_TRIES) {
				sched_yield();
				continue;
			}
			/* Mid-claim for long: its fields are not its own yet. */
			out->alive = sr__pid_alive(out->pid, 0);
			return w;
		}
		uint64_t start = atomic_load_explicit(&o->start_time, memory_order_relaxed);
		uint64_t hb = atomic_load_explicit(&o->heartbeat_mono, memory_order_relaxed);
		int64_t hbw = atomic_load_explicit(&o->heartbeat_wall, memory_order_relaxed);
		int64_t cw = atomic_load_explicit(&o->claimed_wall, memory_order_relaxed);
		for (unsigned k = 0; k < SR_OWNER_INFO_WORDS; k++)
			info[k] = atomic_load_explicit(&o->info[k], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&o->word, memory_order_relaxed) != w &&
		    i < SR_OWNER_READ_TRIES)
			continue;
		out->start_time = start;
		memcpy(out->info, info, sizeof(out->info));
		out->info[SR_OWNER_INFO_MAX] = '\0';
		out->claimed_wall_ns = cw;
		out->heartbeat_wall_ns = hbw;
		uint64_t now = now_mono_precise();
		out->heartbeat_age_ms = now > hb ? (now - hb) / 1000000u : 0;
		out->alive = sr__pid_alive(out->pid, start);
		return w;
	}
}

static void owner_fill(struct sr_owner_rec *o, uint64_t start, const char *info)
{
	uint64_t words[SR_OWNER_INFO_WORDS];
	memset(words, 0, sizeof(words));
	memcpy(words, info, strnlen(info, SR_OWNER_INFO_MAX));
	for (unsigned k = 0; k < SR_OWNER_INFO_WORDS; k++)
		atomic_store_explicit(&o->info[k], words[k], memory_order_relaxed);
	atomic_store_explicit(&o->start_time, start, memory_order_relaxed);
	int64_t wall = sr__now_wall_ns();
	atomic_store_explicit(&o->claimed_wall, wall, memory_order_relaxed);
	atomic_store_explicit(&o->heartbeat_wall, wall, memory_order_relaxed);
	atomic_store_explicit(&o->heartbeat_mono, now_mono_precise(), memory_order_relaxed);
}

/* The word if this process holds the record, else 0. */
static uint64_t mine(struct sr_registry *r)
{
	uint64_t w = atomic_load_explicit(&r->hdr->owner.word, memory_order_acquire);
	if (sr_own_state(w) != SR_OWN_LIVE || sr_own_pid(w) != getpid())
		return 0;
	if (atomic_load_explicit(&r->hdr->owner.start_time, memory_order_relaxed) !=
	    sr_pid_start_time(getpid()))
		return 0;
	return w;
}

int sr_registry_claim_owner(sr_registry *reg, const char *info, sr_owner_info *holder)
{
	SR_CHECK_RW(reg);
	if (!info)
		info = "";
	if (strnlen(info, SR_OWNER_INFO_MAX + 1) > SR_OWNER_INFO_MAX)
		return sr__fail(-ENAMETOOLONG, "owner info longer than %d characters",
		                SR_OWNER_INFO_MAX);
	struct sr_owner_rec *o = &reg->hdr->owner;
	pid_t me = getpid();
	uint64_t start = sr_pid_start_time(me);
	sr_owner_info seen;
	for (int attempt = 0; attempt < 1000; attempt++) {
		uint64_t w = atomic_load_explicit(&o->word, memory_order_acquire);
		unsigned st = sr_own_state(w);
		bool takeover = false;
		if (st == SR_OWN_LIVE || st == SR_OWN_CLAIMING) {
			if (st == SR_OWN_LIVE && sr_own_pid(w) == me &&
			    atomic_load(&o->start_time) == start) {
				/* Already ours: a new claim replaces the info. */
				uint64_t claiming =
				    sr_own_make(SR_OWN_CLAIMING, sr_own_gen(w) + 1, me);
				if (!atomic_compare_exchange_strong(&o->word, &w, claiming))
					continue;
				owner_fill(o, start, info);
				uint64_t live = sr_own_make(SR_OWN_LIVE, sr_own_gen(w) + 1, me);
				atomic_store_explicit(&o->word, live, memory_order_release);
				atomic_store(&reg->owner_word, live);
				return 0;
			}
			uint64_t seen_w = owner_read(reg, &seen);
			if (seen_w != w)
				continue; /* it changed hands meanwhile: look again */
			if (seen.alive) {
				if (holder)
					*holder = seen;
				return sr__fail(-EBUSY, "the registry is owned by live pid %d (%s)",
				                (int)seen.pid,
				                seen.info[0] ? seen.info : "no info");
			}
			takeover = true;
		} else if (st != SR_OWN_FREE) {
			takeover = true; /* garbage: anyone may clear it */
		}
		/* One compare-and-swap decides among every concurrent claimer. */
		uint64_t claiming = sr_own_make(SR_OWN_CLAIMING, sr_own_gen(w) + 1, me);
		if (!atomic_compare_exchange_strong(&o->word, &w, claiming))
			continue;
		/* The process table slot makes the owner show among attached processes. */
		sr__own_proc(reg);
		owner_fill(o, start, info);
		uint64_t live = sr_own_make(SR_OWN_LIVE, sr_own_gen(claiming), me);
		atomic_store_explicit(&o->word, live, memory_order_release);
		atomic_store(&reg->owner_word, live);
		if (takeover)
			atomic_fetch_add(&reg->hdr->owner_takeovers, 1);
		return 0;
	}
	return sr__fail(-SR_EBUSY, "the owner record kept changing");
}

int sr_registry_owner_heartbeat(sr_registry *reg)
{
	SR_CHECK_RW(reg);
	if (!mine(reg))
		return sr__fail(-SR_ENOTOWNER, "this process does not hold the owner record");
	struct sr_owner_rec *o = &reg->hdr->owner;
	atomic_store_explicit(&o->heartbeat_wall, sr__now_wall_ns(), memory_order_relaxed);
	atomic_store_explicit(&o->heartbeat_mono, now_mono_precise(), memory_order_relaxed);
	return 0;
}

static int release_word(struct sr_registry *r, uint64_t w)
{
	uint64_t free_w = sr_own_make(SR_OWN_FREE, sr_own_gen(w), 0);
	return atomic_compare_exchange_strong(&r->hdr->owner.word, &w, free_w) ? 0 : -1;
}

int sr_registry_release_owner(sr_registry *reg)
{
	SR_CHECK_RW(reg);
	uint64_t w = mine(reg);
	if (!w || release_word(reg, w) != 0)
		return sr__fail(-SR_ENOTOWNER, "this process does not hold the owner record");
	atomic_store(&reg->owner_word, 0);
	return 0;
}

void sr__owner_release_handle(struct sr_registry *r)
{
	uint64_t w = atomic_exchange(&r->owner_word, 0);
	/* The exact word this handle set: never someone else's later claim. */
	if (w && sr_own_pid(w) == getpid())
		release_word(r, w);
}

int sr_registry_get_owner(sr_registry *reg, sr_owner_info *out)
{
	SR_CHECK_REG(reg);
	if (!out)
		return sr__fail(-EINVAL, "output is NULL");
	if (owner_read(reg, out) == 0) {
		memset(out, 0, sizeof(*out));
		return sr__fail(-ENOENT, "nobody holds the owner record");
	}
	return 0;
}
