/*
 * Whether the process owning a process-table slot still runs, as readers
 * need it to leave a dead holder's viewers out of every count at once
 * rather than when recovery reclaims its slot.
 *
 * Each handle keeps, per slot, a pidfd on the owner, opened the first time
 * the slot holds viewers and checked against the slot's start time (so a
 * reused pid is never mistaken for the owner).  Asking again is one poll()
 * on it: the pidfd becomes readable when the process exits, zombie or not.
 * Where no pidfd can be had (out of descriptors, old kernel), the answer
 * comes from /proc (sr__pid_alive), exact but slower.  Only slots with a
 * nonzero count are asked about, and a process never asks about itself.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "sr_internal.h"

enum { LIVE_EMPTY = 0, LIVE_FD, LIVE_PROC, LIVE_DEAD };

struct sr_live {
	uint64_t owner, start; /* the owner this entry is about */
	int kind;              /* LIVE_* */
	int fd;
};

void sr__live_init(struct sr_registry *r)
{
	pthread_mutex_init(&r->live_lock, NULL);
	r->live = NULL;
}

void sr__live_free(struct sr_registry *r)
{
	if (r->live) {
		for (uint32_t i = 0; i < r->max_procs; i++)
			if (r->live[i].kind == LIVE_FD)
				close(r->live[i].fd);
		free(r->live);
		r->live = NULL;
	}
	pthread_mutex_destroy(&r->live_lock);
}

static void entry_open(struct sr_live *e, uint64_t owner, uint64_t start)
{
	if (e->kind == LIVE_FD)
		close(e->fd);
	e->owner = owner;
	e->start = start;
	e->fd = -1;
	pid_t pid = sr_owner_pid(owner);
	int fd = pidfd_open(pid, 0);
	if (fd < 0) {
		e->kind = errno == ESRCH ? LIVE_DEAD : LIVE_PROC;
		return;
	}
	/* The pidfd names whichever process has the pid now: it is the owner
	 * only if the start time matches, read after opening. */
	if (!sr__pid_alive(pid, start)) {
		close(fd);
		e->kind = LIVE_DEAD;
		return;
	}
	e->kind = LIVE_FD;
	e->fd = fd;
}

bool sr__proc_alive(struct sr_registry *r, uint32_t i, uint64_t owner)
{
	pid_t pid = sr_owner_pid(owner);
	if (pid == sr__self_pid())
		return true;
	if (i >= r->max_procs)
		return false;
	uint64_t start = atomic_load_explicit(&sr__proc(r, i)->start_time, memory_order_acquire);
	bool alive;
	pthread_mutex_lock(&r->live_lock);
	if (!r->live)
		r->live = calloc(r->max_procs, sizeof(*r->live));
	if (!r->live) {
		pthread_mutex_unlock(&r->live_lock);
		return sr__pid_alive(pid, start);
	}
	struct sr_live *e = &r->live[i];
	if (e->kind == LIVE_EMPTY || e->owner != owner || e->start != start)
		entry_open(e, owner, start);
	switch (e->kind) {
	case LIVE_FD: {
		struct pollfd p = {.fd = e->fd, .events = POLLIN};
		int n = poll(&p, 1, 0);
		alive = n == 0;
		if (n < 0) /* cannot tell this way: ask /proc */
			alive = sr__pid_alive(pid, start);
		if (!alive && n > 0) {
			close(e->fd);
			e->kind = LIVE_DEAD;
		}
		break;
	}
	case LIVE_PROC:
		alive = sr__pid_alive(pid, start);
		break;
	default:
		alive = false;
	}
	pthread_mutex_unlock(&r->live_lock);
	return alive;
}
