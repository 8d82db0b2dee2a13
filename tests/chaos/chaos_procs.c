/* The workers and the keeper: forking, killing, reaping and watching them. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaos_run.h"

static void reset_slot(struct chaos_slot *s)
{
	atomic_store(&s->pid, 0);
	atomic_store(&s->cur_op, OP_NONE);
	atomic_store(&s->op_start_ns, 0);
	atomic_store(&s->reported, 0);
	atomic_store(&s->claimed, 0);
	memset(s->leases, 0, sizeof(s->leases));
}

static pid_t fork_child(struct chaos_run *run)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		chaos_violation(run, "fork failed: %s", strerror(errno));
		return -1;
	}
	return pid;
}

void chaos_spawn_worker(struct chaos_run *run, unsigned idx)
{
	struct chaos_slot *s = &run->sh->worker[idx];
	reset_slot(s);
	uint32_t inc = atomic_fetch_add(&s->incarnations, 1);
	uint64_t seed = run->cfg->seed ^ ((uint64_t)idx << 48) ^ ((uint64_t)inc << 20) ^ 0x5eed;
	pid_t pid = fork_child(run);
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_IGN);
		chaos_worker_main(run->sh, run->reg, idx, seed);
	}
	if (pid > 0)
		atomic_store(&s->pid, pid);
}

void chaos_spawn_keeper(struct chaos_run *run)
{
	struct chaos_slot *s = &run->sh->keeper;
	reset_slot(s);
	uint32_t inc = atomic_fetch_add(&s->incarnations, 1);
	pid_t pid = fork_child(run);
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_IGN);
		chaos_keeper_main(run->sh, run->reg,
		                  run->cfg->seed ^ 0x6b656570ull ^ ((uint64_t)inc << 24));
	}
	if (pid > 0) {
		atomic_store(&s->pid, pid);
		run->keeper = pid;
	}
}

static const char *describe(int status, char *buf, size_t n)
{
	if (WIFSIGNALED(status))
		snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
	return buf;
}

static int worker_of(struct chaos_run *run, pid_t pid)
{
	for (unsigned i = 0; i < run->cfg->workers; i++)
		if (atomic_load(&run->sh->worker[i].pid) == pid)
			return (int)i;
	return -1;
}

/* Our own kills are reaped where they are sent; whatever turns up here died
 * by itself (a crash is a finding) or is an orphan we adopted as subreaper. */
void chaos_reap(struct chaos_run *run)
{
	int status;
	pid_t pid;
	char why[96];
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int w = worker_of(run, pid);
		bool running = atomic_load(&run->sh->phase) == PH_RUN;
		if (w >= 0) {
			chaos_violation(run, "worker %d (pid %d) %s on its own", w, (int)pid,
			                describe(status, why, sizeof(why)));
			atomic_store(&run->sh->worker[w].pid, 0);
			if (running)
				chaos_spawn_worker(run, (unsigned)w);
		} else if (pid == run->keeper) {
			run->keeper = 0;
			atomic_store(&run->sh->keeper.pid, 0);
			if (running || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
				chaos_violation(run, "keeper (pid %d) %s", (int)pid,
				                describe(status, why, sizeof(why)));
			if (running)
				chaos_spawn_keeper(run);
		} else if (pid == run->reaper) {
			run->reaper = 0;
			chaos_violation(run, "reaper (pid %d) %s on its own", (int)pid,
			                describe(status, why, sizeof(why)));
			if (running)
				chaos_reaper_start(run);
		} else {
			run->orphans_reaped++;
		}
	}
}

int chaos_wait_child(struct chaos_run *run, pid_t pid, unsigned timeout_ms, int *status)
{
	(void)run;
	uint64_t end = chaos_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0)
			return -errno;
		if (chaos_now_ns() > end)
			break;
		chaos_sleep_ns(1000000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -ETIMEDOUT;
}

static void kill_slot(struct chaos_run *run, struct chaos_slot *s, bool keeper, unsigned idx)
{
	pid_t pid = atomic_load(&s->pid);
	if (pid <= 0)
		return;
	/* Read just before the kill: the operation the victim is most likely in. */
	uint32_t op = atomic_load(&s->cur_op);
	if (kill(pid, SIGKILL) != 0)
		return;
	int status;
	waitpid(pid, &status, 0);
	atomic_store(&s->pid, 0);
	run->kills++;
	atomic_fetch_add(&run->sh->kills_by_op[op < OP_COUNT ? op : OP_NONE], 1);
	if (keeper) {
		run->keeper = 0;
		atomic_fetch_add(&run->sh->keeper_kills, 1);
		chaos_spawn_keeper(run);
	} else {
		chaos_spawn_worker(run, idx);
	}
}

/* Workers spend most of their time between calls; to hit every operation
 * often, every other kill waits (a few ms at most) for a victim inside the
 * next operation of a cycle, announced in its slot just before the call. */
static bool kill_in_op(struct chaos_run *run)
{
	static const enum chaos_op cycle[] = {
	    OP_TOUCH,  OP_ADD_CLIENT, OP_REMOVE_CLIENT, OP_START,   OP_ERROR,   OP_INSERT,
	    OP_DELETE, OP_SNAPSHOT,   OP_FOREACH,       OP_QUALITY, OP_RECOVER, OP_DRIVE};
	static unsigned next;
	enum chaos_op want = cycle[next++ % (sizeof(cycle) / sizeof(cycle[0]))];
	bool keeper_op = want == OP_QUALITY || want == OP_RECOVER || want == OP_DRIVE;
	if (keeper_op && !run->keeper)
		return false;
	uint64_t end = chaos_now_ns() + 5000000ull;
	unsigned start = (unsigned)(chaos_rand(&run->rng) % run->cfg->workers);
	do {
		if (keeper_op) {
			if (atomic_load_explicit(&run->sh->keeper.cur_op, memory_order_relaxed) ==
			    (uint32_t)want) {
				kill_slot(run, &run->sh->keeper, true, 0);
				return true;
			}
			continue;
		}
		for (unsigned k = 0; k < run->cfg->workers; k++) {
			unsigned i = (start + k) % run->cfg->workers;
			struct chaos_slot *s = &run->sh->worker[i];
			if (atomic_load_explicit(&s->cur_op, memory_order_relaxed) ==
			    (uint32_t)want) {
				kill_slot(run, s, false, i);
				return true;
			}
		}
	} while (chaos_now_ns() < end);
	return false;
}

/* Several workers at the same instant: all SIGKILLs go out before any is
 * reaped, so a lock owner and the waiter the kernel wakes for it can die
 * together (the wake-up must not be lost with the waiter). */
static void kill_burst(struct chaos_run *run)
{
	unsigned w = run->cfg->workers;
	unsigned n = 2 + (unsigned)(chaos_rand(&run->rng) % (w - 1));
	unsigned first = (unsigned)(chaos_rand(&run->rng) % w);
	pid_t pids[CHAOS_MAX_WORKERS];
	for (unsigned k = 0; k < n; k++) {
		struct chaos_slot *s = &run->sh->worker[(first + k) % w];
		pids[k] = atomic_load(&s->pid);
		uint32_t op = atomic_load(&s->cur_op);
		if (pids[k] > 0 && kill(pids[k], SIGKILL) == 0) {
			run->kills++;
			run->burst_kills++;
			atomic_fetch_add(&run->sh->kills_by_op[op < OP_COUNT ? op : OP_NONE], 1);
		} else {
			pids[k] = 0;
		}
	}
	for (unsigned k = 0; k < n; k++) {
		if (pids[k] <= 0)
			continue;
		int status;
		waitpid(pids[k], &status, 0);
		unsigned i = (first + k) % w;
		atomic_store(&run->sh->worker[i].pid, 0);
		chaos_spawn_worker(run, i);
	}
}

void chaos_kill_one(struct chaos_run *run)
{
	if (run->cfg->workers >= 2 && chaos_rand(&run->rng) % 5 == 0) {
		kill_burst(run);
		return;
	}
	if ((chaos_rand(&run->rng) & 1) && kill_in_op(run))
		return;
	unsigned n = run->cfg->workers + (run->keeper ? 1 : 0);
	unsigned v = (unsigned)(chaos_rand(&run->rng) % n);
	bool keeper = v == run->cfg->workers;
	kill_slot(run, keeper ? &run->sh->keeper : &run->sh->worker[v], keeper, v);
}

static void watch_slot(struct chaos_run *run, struct chaos_slot *s, uint64_t now)
{
	uint64_t t0 = atomic_load_explicit(&s->op_start_ns, memory_order_relaxed);
	if (t0 == 0 || t0 > now || atomic_load(&s->pid) <= 0)
		return;
	if (now - t0 > run->inflight_max_ns) {
		run->inflight_max_ns = now - t0;
		run->inflight_op = atomic_load(&s->cur_op);
	}
}

void chaos_watch_inflight(struct chaos_run *run)
{
	chaos_steal_sample(run);
	uint64_t now = chaos_now_ns();
	for (unsigned i = 0; i < run->cfg->workers; i++)
		watch_slot(run, &run->sh->worker[i], now);
	if (run->keeper)
		watch_slot(run, &run->sh->keeper, now);
}
