/*
 * Interrupting the harness.  Removing what it made takes calls a signal
 * handler must not make (readdir, umount, waiting for redis-server to exit),
 * so the handler only stores the signal number, and the main thread polls
 * it at interrupt points: every wait for workers (one poll per millisecond),
 * the end of every measurement and the long loops of setup.  Threads of an
 * in-process store end their timed loop on it too.  Forked workers keep the
 * default action instead: a terminal's Ctrl-C, sent to the whole process
 * group, kills them outright, and the harness reaps them.
 */
#include "bench_interrupt.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "bench_backend_util.h"
#include "bench_hugedir.h"
#include "redis_server.h"

/* Lock-free, so C11 lets the handler store to it; worker threads read it. */
static atomic_int caught;

/* The children not yet reaped: a worker run's processes, redis-server. */
#define MAX_CHILDREN (BENCH_MAX_WORKERS + 8)
static pid_t children[MAX_CHILDREN];

static void on_signal(int sig)
{
	atomic_store_explicit(&caught, sig, memory_order_relaxed);
}

void bench_interrupt_init(void)
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

bool bench_interrupted(void)
{
	return atomic_load_explicit(&caught, memory_order_relaxed) != 0;
}

pid_t bench_fork(void)
{
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		atomic_store(&caught, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* The harness died before prctl: nobody would reap or release us. */
		if (getppid() != parent)
			_exit(126);
		return 0;
	}
	for (int i = 0; pid > 0 && i < MAX_CHILDREN; i++)
		if (children[i] == 0) {
			children[i] = pid;
			break;
		}
	return pid;
}

void bench_reaped(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

void bench_interrupt_point(void)
{
	int sig = atomic_load(&caught);
	if (!sig)
		return;
	/* redis-server gets its SIGTERM and a moment to exit; the workers are
	 * killed before any file goes, so that none makes one again. */
	redis_server_stop();
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0) {
			while (waitpid(children[i], NULL, 0) < 0 && errno == EINTR)
				;
			children[i] = 0;
		}
	bench_scratch_remove_all();
	bench_huge_dir_close();
	fprintf(stderr,
	        "streamreg-bench: interrupted by signal %d: workers killed, scratch removed\n",
	        sig);
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(128 + sig);
}
