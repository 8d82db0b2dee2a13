/*
 * Child processes watched through pidfds, so that no signal can ever reach a
 * process that merely reused the pid of one that exited.
 */
#ifndef RP_SPAWN_H
#define RP_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RP_LASTLINE_MAX 255

struct rp_child {
	pid_t pid;     /* also its process group id */
	int pidfd;     /* -1 once reaped */
	int errfd;     /* read end of its stderr, non-blocking; -1 at EOF */
	int report_fd; /* between rp_spawn_start() and rp_spawn_finish(), else -1 */
	bool reaped;
	int how;                             /* CLD_EXITED, CLD_KILLED or CLD_DUMPED once reaped */
	int code;                            /* exit status or signal number */
	char last_line[RP_LASTLINE_MAX + 1]; /* last meaningful stderr line */
	char partial[512];                   /* the line being received */
	size_t partial_len;
};

/**
 * Start argv[0] (an absolute path) with argv: in its own process group,
 * stdin and stdout on /dev/null, stderr on a pipe, no other descriptor,
 * default signal handling, killed with SIGKILL when the calling thread
 * exits, and working directory cwd_fd when it is not -1.  Returns 0 once
 * exec succeeded, or a negative errno with a message in err (a failed exec
 * is reported here, not as a child exit).
 */
int rp_spawn(struct rp_child *c, char *const argv[], int cwd_fd, char *err, size_t errlen);

/**
 * rp_spawn() in two halves, for a burst: rp_spawn_start() forks and returns
 * at once (the children of a burst then reach exec in parallel instead of
 * one after the other); rp_spawn_finish() waits for this child's exec and
 * gives the CLOCK_MONOTONIC instant it called execve in *exec_ns.  Same
 * results and child setup as rp_spawn(); after a failed finish the child is
 * reaped and c holds nothing.
 */
int rp_spawn_start(struct rp_child *c, char *const argv[], int cwd_fd, char *err, size_t errlen);
int rp_spawn_finish(struct rp_child *c, char *const argv[], uint64_t *exec_ns, char *err,
                    size_t errlen);

/** Whether the child has not exited yet (its pidfd is not readable). */
bool rp_child_alive(const struct rp_child *c);

/**
 * Send sig to the child and its process group.  0, or a negative errno;
 * after the child was reaped nothing is sent and -ESRCH is returned.
 */
int rp_child_signal(struct rp_child *c, int sig);

/**
 * Read what stderr has for us without blocking and remember the last
 * meaningful line.  Returns 1 at end of file (errfd then closed), else 0.
 */
int rp_child_read_stderr(struct rp_child *c);

/**
 * Reap the child if it exited: 1 when reaped (exit status recorded, pidfd
 * and stderr closed, stragglers in its group killed), 0 while it runs, or a
 * negative errno.  With block, waits for the exit.
 */
int rp_child_reap(struct rp_child *c, bool block);

/**
 * Stop synchronously: SIGTERM, wait up to timeout_ms, then SIGKILL, reap.
 * Returns 1 if SIGKILL was needed, 0 if SIGTERM sufficed, negative on error.
 */
int rp_child_stop(struct rp_child *c, int timeout_ms);

/** "exited with status 1", "killed by signal 9 (Killed)"; after reaping. */
void rp_child_describe_exit(const struct rp_child *c, char *buf, size_t len);

/** Close what is left open without waiting (the child may become a zombie). */
void rp_child_close(struct rp_child *c);

#endif
