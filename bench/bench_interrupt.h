/*
 * Ctrl-C and SIGTERM (bench_interrupt.c): the handler only records the
 * signal; the harness notices it at its interrupt points and cleans up there,
 * outside the handler, with whatever calls it needs.
 */
#ifndef SR_BENCH_INTERRUPT_H
#define SR_BENCH_INTERRUPT_H

#include <stdbool.h>
#include <sys/types.h>

/* Catch SIGINT and SIGTERM from now on; call before anything is created. */
void bench_interrupt_init(void);

/* A SIGINT or SIGTERM has arrived: in-process workers stop their timed loop. */
bool bench_interrupted(void);

/*
 * Main thread only, where nothing is half-made: when a signal has arrived,
 * kill and reap every child still running, stop redis-server, remove every
 * scratch file and directory and the huge-page mount, then die of that
 * signal.  Returns at once otherwise.
 */
void bench_interrupt_point(void);

/*
 * fork() for a child of the harness (worker or redis-server), from the main
 * thread.  The parent gets the pid, listed for bench_interrupt_point() until
 * bench_reaped(); the child gets 0, with SIGINT and SIGTERM at their default
 * action and SIGKILL due when the harness dies.
 */
pid_t bench_fork(void);

/* pid was waited for: it is no longer a child to kill. */
void bench_reaped(pid_t pid);

#endif
