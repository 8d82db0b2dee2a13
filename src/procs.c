/*
 * The process table and client leases.  A process counts its viewers in its
 * own slot, never in a shared counter, so a process that dies at any instant
 * takes exactly its own viewers with it: the total for a channel is the sum
 * over live processes, and reclaiming a dead process just discards its slot.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_internal.h"

/* Every open handle, so a forked child can forget its parent's process slot. */
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sr_registry *handles;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
	pthread_mutex_lock(&handles_lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&handles_lock);
}

/* getpid() is a system call in glibc 2.36; the writer lock records it on
 * every acquisition.  Forgotten in a forked child. */
static _Atomic pid_t self_pid;

pid_t sr__self_pid(void)
{
	pid_t p = atomic_load_explicit(&self_pid, memory_order_relaxed);
	if (p == 0) {
		p = getpid();
		atomic_store_explicit(&self_pid, p, memory_order_relaxed);
	}
	return p;
}

static void after_fork_child(void)
{
	atomic_store_explicit(&self_pid, 0, memory_order_relaxed);
	for (struct sr_registry *r = handles; r; r = r->next_handle) {
		pthread_mutex_init(&r->claim_lock, NULL);
		pthread_mutex_init(&r->live_lock, NULL);
		pthread_mutex_init(&r->walk_lock, NULL);
		atomic_store(&r->proc_idx, -1);
		/* The owner record names the parent: the child holds nothing. */
		atomic_store(&r->owner_word, 0);
	}
	pthread_mutex_unlock(&handles_lock);
}

static void install_atfork(void)
{
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void sr__register_handle(struct sr_registry *r)
{
	pthread_once(&atfork_once, install_atfork);
	pthread_mutex_lock(&handles_lock);
	r->next_handle = handles;
	handles = r;
	pthread_mutex_unlock(&handles_lock);
}

void sr__unregister_handle(struct sr_registry *r)
{
	pthread_mutex_lock(&handles_lock);
	for (struct sr_registry **p = &handles; *p; p = &(*p)->next_handle) {
		if (*p == r) {
			*p = r->next_handle;
			break;
		}
	}
	pthread_mutex_unlock(&handles_lock);
}

static void zero_leases(struct sr_registry *r, struct sr_proc *p)
{
	struct sr_lease *l = sr__leases(p);
	for (uint32_t i = 0; i < r->lease_cells; i++) {
		atomic_store_explicit(&l[i].key, 0, memory_order_relaxed);
		atomic_store_explicit(&l[i].count, 0, memory_order_relaxed);
	}
	atomic_store_explicit(&p->cells_used, 0, memory_order_relaxed);
}

static int claim_proc(struct sr_registry *r)
{
	pid_t me = getpid();
	uint64_t start = sr_pid_start_time(me);
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < r->max_procs; i++) {
			struct sr_proc *p = sr__proc(r, i);
			uint64_t expect = 0;
			if (!atomic_compare_exchange_strong(&p->owner, &expect,
			                                    sr_owner_make(SR_PROC_CLAIMING, me)))
				continue;
			zero_leases(r, p);
			atomic_store(&p->start_time, start);
			atomic_store(&p->attach_wall_ns, sr__now_wall_ns());
			/* Readers only look below the high-water mark: raise it before
			 * this slot can hold a lease. */
			uint32_t hwm = atomic_load(&r->hdr->procs_hwm);
			while (hwm < i + 1 &&
			       !atomic_compare_exchange_weak(&r->hdr->procs_hwm, &hwm, i + 1))
				;
			atomic_store(&p->owner, sr_owner_make(SR_PROC_LIVE, me));
			return (int)i;
		}
		/* Full: dead processes may be holding slots; reclaim and retry. */
		sr_registry_recover(r, NULL);
	}
	return sr__fail(-SR_EPROCFULL,
	                "process table full: all %u slots hold live processes; "
	                "create the registry with a larger max_procs",
	                r->max_procs);
}

int sr__own_proc(struct sr_registry *r)
{
	int idx = atomic_load_explicit(&r->proc_idx, memory_order_acquire);
	if (idx >= 0)
		return idx;
	pthread_mutex_lock(&r->claim_lock);
	idx = atomic_load(&r->proc_idx);
	if (idx < 0) {
		idx = claim_proc(r);
		if (idx >= 0)
			atomic_store_explicit(&r->proc_idx, idx, memory_order_release);
	}
	pthread_mutex_unlock(&r->claim_lock);
	return idx;
}

void sr__proc_release_own(struct sr_registry *r)
{
	int idx = atomic_exchange(&r->proc_idx, -1);
	if (idx < 0)
		return;
	struct sr_proc *p = sr__proc(r, (uint32_t)idx);
	zero_leases(r, p);
	atomic_store(&p->start_time, 0);
	atomic_store(&p->owner, 0);
}

static inline uint64_t lease_key(uint32_t slot, uint32_t gen)
{
	return ((uint64_t)gen << 32) | ((uint64_t)slot + 1);
}

static struct sr_lease *lease_find(struct sr_registry *r, struct sr_proc *p, uint64_t key)
{
	struct sr_lease *l = sr__leases(p);
	uint32_t mask = r->lease_cells - 1;
	uint32_t pos = (uint32_t)(key * 0x9e3779b97f4a7c15ull >> 40) & mask;
	for (uint32_t i = 0; i < r->lease_cells; i++, pos = (pos + 1) & mask) {
		uint64_t k = atomic_load_explicit(&l[pos].key, memory_order_acquire);
		if (k == key)
			return &l[pos];
		if (k == 0)
			return NULL;
	}
	return NULL;
}

static bool lease_stale(struct sr_registry *r, uint64_t key)
{
	uint32_t slot = (uint32_t)(key & 0xffffffffu) - 1;
	if (slot >= r->capacity)
		return true;
	uint64_t sw = sr__ld(&r->hot[slot].state);
	return sr_sw_code(sw) == SR_SW_FREE || sr_sw_gen(sw) != (uint32_t)(key >> 32);
}

/* The epoch survives every change of key, so a lock-free increment that
 * loaded the count word in an earlier life of the cell fails its CAS. */
static inline uint64_t next_epoch(uint64_t c)
{
	/* Wraps within bits 32..62: the lock bit is never set by an epoch. */
	return ((c & ~SR_LEASE_LOCK) + SR_LEASE_EPOCH1) & ~SR_LEASE_LOCK & ~(uint64_t)0xffffffffu;
}

/* Under claim_lock.  Zero-count cells are left in place by remove (no lock on
 * that path), so they pile up like tombstones; this empties every one that
 * ends its probe chain.  Walking backwards from an empty cell, a cell whose
 * successor is empty lies inside no other key's chain, so clearing it cannot
 * hide anything from a lock-free lookup.  One pass, O(leases_per_proc). */
static void lease_sweep(struct sr_registry *r, struct sr_proc *p)
{
	struct sr_lease *l = sr__leases(p);
	uint32_t mask = r->lease_cells - 1, start = UINT32_MAX;
	for (uint32_t i = 0; i <= mask; i++) {
		if (atomic_load(&l[i].key) == 0) {
			start = i;
			break;
		}
	}
	if (start == UINT32_MAX)
		return;
	uint32_t used = 0;
	for (uint32_t n = 1, pos = (start - 1) & mask; n <= mask; n++, pos = (pos - 1) & mask) {
		uint64_t k = atomic_load(&l[pos].key);
		if (k == 0)
			continue;
		uint64_t c = atomic_load(&l[pos].count);
		bool dead = !(c & SR_LEASE_LOCK) && (sr_lease_n(c) == 0 || lease_stale(r, k));
		if (dead && atomic_load(&l[(pos + 1) & mask].key) == 0 &&
		    atomic_compare_exchange_strong(&l[pos].count, &c, c | SR_LEASE_LOCK)) {
			atomic_store(&l[pos].key, 0);
			atomic_store(&l[pos].count, next_epoch(c));
			continue;
		}
		used++;
	}
	atomic_store_explicit(&p->cells_used, used, memory_order_relaxed);
}

static uint32_t live_leases(struct sr_registry *r, struct sr_proc *p)
{
	struct sr_lease *l = sr__leases(p);
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->lease_cells; i++) {
		uint64_t k = atomic_load(&l[i].key);
		if (k && sr_lease_n(atomic_load(&l[i].count)) && !lease_stale(r, k))
			n++;
	}
	return n;
}

/* Under claim_lock.  Takes an empty cell, or reuses a zero or stale one on
 * the key's own probe chain, so chains stay intact.  The limit counts live
 * leases; the table has at least twice as many cells, and a sweep whenever
 * half of them are in use keeps lookups of absent keys short. */
static struct sr_lease *lease_claim(struct sr_registry *r, struct sr_proc *p, uint64_t key)
{
	struct sr_lease *l = sr__leases(p);
	uint32_t mask = r->lease_cells - 1;
	if (atomic_load_explicit(&p->cells_used, memory_order_relaxed) >= r->leases_per_proc) {
		lease_sweep(r, p);
		if (atomic_load_explicit(&p->cells_used, memory_order_relaxed) >=
		        r->leases_per_proc &&
		    live_leases(r, p) >= r->leases_per_proc)
			return NULL;
	}
	uint32_t pos = (uint32_t)(key * 0x9e3779b97f4a7c15ull >> 40) & mask;
	for (uint32_t i = 0; i < r->lease_cells; i++, pos = (pos + 1) & mask) {
		uint64_t k = atomic_load(&l[pos].key);
		if (k == key)
			return &l[pos];
		if (k == 0) {
			atomic_store(&l[pos].count, next_epoch(atomic_load(&l[pos].count)));
			atomic_store(&l[pos].key, key);
			atomic_fetch_add_explicit(&p->cells_used, 1, memory_order_relaxed);
			return &l[pos];
		}
		uint64_t c = atomic_load(&l[pos].count);
		if (c & SR_LEASE_LOCK)
			continue;
		if (sr_lease_n(c) != 0 && !lease_stale(r, k))
			continue;
		if (!atomic_compare_exchange_strong(&l[pos].count, &c, c | SR_LEASE_LOCK))
			continue;
		/* The key must not already sit further along the chain. */
		struct sr_lease *later = lease_find(r, p, key);
		if (later) {
			atomic_store(&l[pos].count, c);
			return later;
		}
		atomic_store(&l[pos].key, key);
		atomic_store(&l[pos].count, next_epoch(c));
		return &l[pos];
	}
	return NULL;
}

int sr__lease_add(struct sr_registry *r, uint32_t slot, uint32_t gen, int delta)
{
	int idx = sr__own_proc(r);
	if (idx < 0)
		return idx;
	struct sr_proc *p = sr__proc(r, (uint32_t)idx);
	uint64_t key = lease_key(slot, gen);
	for (int attempt = 0; attempt < 1000; attempt++) {
		struct sr_lease *l = lease_find(r, p, key);
		if (!l) {
			if (delta < 0)
				return sr__fail(-SR_ENOCLIENT,
				                "no client of this process on slot %u", slot);
			pthread_mutex_lock(&r->claim_lock);
			l = lease_claim(r, p, key);
			pthread_mutex_unlock(&r->claim_lock);
			if (!l)
				return sr__fail(
				    -SR_ELEASEFULL,
				    "this process counts viewers on %u channels already; "
				    "create the registry with more leases_per_proc",
				    r->leases_per_proc);
		}
		uint64_t c = atomic_load_explicit(&l->count, memory_order_acquire);
		if ((c & SR_LEASE_LOCK) ||
		    atomic_load_explicit(&l->key, memory_order_acquire) != key)
			continue;
		uint32_t n = sr_lease_n(c);
		if (delta < 0 && n == 0)
			return sr__fail(-SR_ENOCLIENT, "no client of this process on slot %u",
			                slot);
		if (delta > 0 && n == UINT32_MAX)
			return sr__fail(-EOVERFLOW, "client count overflow on slot %u", slot);
		uint64_t nc = (c & ~(uint64_t)0xffffffffu) | (uint32_t)(n + (uint32_t)delta);
		if (atomic_compare_exchange_weak_explicit(&l->count, &c, nc, memory_order_acq_rel,
		                                          memory_order_relaxed))
			return 0;
	}
	return sr__fail(-SR_EBUSY, "lease on slot %u kept changing", slot);
}

static bool proc_counts(uint64_t owner)
{
	unsigned st = sr_owner_state(owner);
	return st == SR_PROC_LIVE || st == SR_PROC_CLAIMING;
}

static uint32_t hwm(struct sr_registry *r)
{
	uint32_t n = atomic_load_explicit(&r->hdr->procs_hwm, memory_order_acquire);
	return n > r->max_procs ? r->max_procs : n;
}

uint32_t sr__clients_of(struct sr_registry *r, uint32_t slot, uint32_t gen)
{
	uint64_t key = lease_key(slot, gen), sum = 0;
	for (uint32_t i = 0, n = hwm(r); i < n; i++) {
		struct sr_proc *p = sr__proc(r, i);
		uint64_t owner = atomic_load_explicit(&p->owner, memory_order_acquire);
		if (!proc_counts(owner))
			continue;
		struct sr_lease *l = lease_find(r, p, key);
		uint32_t c =
		    l ? sr_lease_n(atomic_load_explicit(&l->count, memory_order_relaxed)) : 0;
		/* A dead holder's viewers are gone now, not when recovery runs. */
		if (c && sr__proc_alive(r, i, owner))
			sum += c;
	}
	return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* One pass over every live lease instead of one probe per process per slot.
 * Each entry keeps the generation its count belongs to, (gen << 32) | count,
 * so a walk that meets the slot under a later owner can tell the count is
 * not that owner's (sr__clients_pick).  A slot that changed hands during
 * this pass keeps only the newest owner's leases. */
int sr__clients_all(struct sr_registry *r, uint64_t *per_slot)
{
	uint64_t *bits = sr__walk_bits(r, per_slot);
	memset(bits, 0, sr__walk_bits_words(r) * sizeof(*bits));
	for (uint32_t i = 0, n = hwm(r); i < n; i++) {
		struct sr_proc *p = sr__proc(r, i);
		uint64_t owner = atomic_load_explicit(&p->owner, memory_order_acquire);
		if (!proc_counts(owner))
			continue;
		struct sr_lease *l = sr__leases(p);
		int alive = -1; /* asked once, at the first viewer it holds */
		for (uint32_t j = 0; j < r->lease_cells && alive != 0; j++) {
			uint64_t k = atomic_load_explicit(&l[j].key, memory_order_relaxed);
			if (k == 0)
				continue;
			uint32_t n_ =
			    sr_lease_n(atomic_load_explicit(&l[j].count, memory_order_relaxed));
			uint32_t slot = (uint32_t)(k & 0xffffffffu) - 1;
			if (n_ == 0 || slot >= r->capacity)
				continue;
			uint32_t gen = (uint32_t)(k >> 32);
			uint64_t sw =
			    atomic_load_explicit(&r->hot[slot].state, memory_order_relaxed);
			if (sr_sw_gen(sw) != gen)
				continue;
			if (alive < 0 && !(alive = sr__proc_alive(r, i, owner)))
				break;
			uint64_t bit = 1ull << (slot & 63);
			uint64_t e = bits[slot >> 6] & bit ? per_slot[slot] : 0;
			bits[slot >> 6] |= bit;
			uint32_t egen = (uint32_t)(e >> 32), en = (uint32_t)e;
			if (en != 0 && egen != gen) {
				/* Generations only grow: keep the later owner's. */
				if ((int32_t)(gen - egen) < 0)
					continue;
				en = 0;
			}
			uint64_t sum = (uint64_t)en + n_;
			per_slot[slot] =
			    (uint64_t)gen << 32 | (sum > UINT32_MAX ? UINT32_MAX : sum);
		}
	}
	return 0;
}

uint64_t *sr__walk_buf_get(struct sr_registry *r)
{
	size_t bytes = ((size_t)r->capacity + sr__walk_bits_words(r)) * sizeof(uint64_t);
	if (pthread_mutex_trylock(&r->walk_lock) != 0)
		return malloc(bytes);
	uint64_t *buf = atomic_load_explicit(&r->walk_buf, memory_order_relaxed);
	if (!buf) {
		buf = malloc(bytes);
		atomic_store_explicit(&r->walk_buf, buf, memory_order_relaxed);
	}
	if (!buf)
		pthread_mutex_unlock(&r->walk_lock);
	return buf;
}

void sr__walk_buf_put(struct sr_registry *r, uint64_t *buf)
{
	if (!buf)
		return;
	/* Only the lock holder has the handle's buffer: a fresh one is a
	 * different live allocation, so it never compares equal. */
	if (buf == atomic_load_explicit(&r->walk_buf, memory_order_relaxed))
		pthread_mutex_unlock(&r->walk_lock);
	else
		free(buf);
}

static uint64_t sum_leases(struct sr_registry *r, struct sr_proc *p)
{
	uint64_t sum = 0;
	struct sr_lease *l = sr__leases(p);
	for (uint32_t j = 0; j < r->lease_cells; j++) {
		uint64_t k = atomic_load_explicit(&l[j].key, memory_order_relaxed);
		if (k && !lease_stale(r, k))
			sum += sr_lease_n(atomic_load_explicit(&l[j].count, memory_order_relaxed));
	}
	return sum;
}

int sr__recover_procs(struct sr_registry *r, sr_recovery_report *rep)
{
	pid_t me = getpid();
	/* All slots, not just below the mark: a claimer may die before raising it. */
	for (uint32_t i = 0; i < r->max_procs; i++) {
		struct sr_proc *p = sr__proc(r, i);
		uint64_t o = atomic_load(&p->owner);
		unsigned st = sr_owner_state(o);
		if (st == SR_PROC_FREE)
			continue;
		rep->procs_checked++;
		pid_t pid = sr_owner_pid(o);
		if (pid == me)
			continue;
		/* A claimer writes its start time after the owner word, so only a
		 * live slot's start time names its owner; otherwise check the pid. */
		uint64_t start = st == SR_PROC_LIVE ? atomic_load(&p->start_time) : 0;
		if (sr__pid_alive(pid, start))
			continue;
		/* Exactly one recoverer wins the slot; a recoverer that dies
		 * mid-way leaves RECLAIMING with its own pid for the next one. */
		if (!atomic_compare_exchange_strong(&p->owner, &o,
		                                    sr_owner_make(SR_PROC_RECLAIMING, me)))
			continue;
		uint64_t released = st == SR_PROC_RECLAIMING ? 0 : sum_leases(r, p);
		zero_leases(r, p);
		atomic_store(&p->start_time, 0);
		atomic_store(&p->owner, 0);
		rep->procs_reclaimed++;
		rep->leases_released += released;
		atomic_fetch_add(&r->hdr->procs_reclaimed, 1);
		atomic_fetch_add(&r->hdr->leases_reclaimed, released);
	}
	return 0;
}

int sr_registry_procs(sr_registry *reg, sr_proc_cb cb, void *ctx)
{
	SR_CHECK_REG(reg);
	if (!cb)
		return sr__fail(-EINVAL, "callback is NULL");
	for (uint32_t i = 0; i < reg->max_procs; i++) {
		struct sr_proc *p = sr__proc(reg, i);
		uint64_t o = atomic_load(&p->owner);
		unsigned st = sr_owner_state(o);
		if (st == SR_PROC_FREE || st > SR_PROC_RECLAIMING)
			continue;
		sr_proc_info info;
		memset(&info, 0, sizeof(info));
		info.slot = i;
		info.pid = sr_owner_pid(o);
		info.start_time = atomic_load(&p->start_time);
		info.attach_wall_ns = atomic_load(&p->attach_wall_ns);
		info.reclaiming = st == SR_PROC_RECLAIMING;
		info.alive = sr__pid_alive(info.pid, st == SR_PROC_LIVE ? info.start_time : 0);
		struct sr_lease *l = sr__leases(p);
		for (uint32_t j = 0; j < reg->lease_cells; j++) {
			uint64_t k = atomic_load_explicit(&l[j].key, memory_order_relaxed);
			uint32_t n =
			    sr_lease_n(atomic_load_explicit(&l[j].count, memory_order_relaxed));
			if (k && n && !lease_stale(reg, k)) {
				info.channels++;
				info.clients += n;
			}
		}
		int rc = cb(&info, ctx);
		if (rc)
			return rc;
	}
	return 0;
}
