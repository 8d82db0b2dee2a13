#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The child runs on its own stack in the parent's memory (CLONE_VM) while the
 * parent waits (CLONE_VFORK) until it has called execve or exited: no page
 * tables are copied, which makes a spawn a fraction of a fork's cost and keeps
 * a burst of starts short (issue 11 item 8).  Until exec it may only make
 * system calls and write to what spawn_ctx points at: everything else is the
 * parent's.  A failure is reported through ctx->step and ctx->err, which the
 * parent reads once it runs again.
 */
struct spawn_ctx {
	char *const *argv;
	int cwd_fd;
	int err_w;
	int report_w; /* forked child (rp_spawn_start): failures and the exec time go here */
	pid_t parent;
	int step; /* 0: exec succeeded (the parent only runs again after it) */
	int err;
};

enum {
	STEP_PGID = 1,
	STEP_PDEATH,
	STEP_ORPHAN,
	STEP_SIGNALS,
	STEP_DEVNULL,
	STEP_DUP,
	STEP_CWD,
	STEP_CLOSE,
	STEP_EXEC
};

static const char *step_name(int step)
{
	switch (step) {
	case STEP_PGID:
		return "setpgid";
	case STEP_PDEATH:
		return "prctl(PR_SET_PDEATHSIG)";
	case STEP_ORPHAN:
		return "parent exited before exec";
	case STEP_SIGNALS:
		return "signal reset";
	case STEP_DEVNULL:
		return "open /dev/null";
	case STEP_DUP:
		return "dup2";
	case STEP_CWD:
		return "fchdir";
	case STEP_CLOSE:
		return "close_range";
	default:
		return "execv";
	}
}

/* errno is the parent thread's (shared memory, same TLS): the raw value
 * goes to ctx before anything else can change it. */
/* What a forked child tells its parent through the report pipe: a failed
 * step with its errno, or step 0 and the CLOCK_MONOTONIC instant of execve. */
struct spawn_report {
	int step;
	int err;
	uint64_t exec_ns;
};

static int child_fail(struct spawn_ctx *ctx, int step, int err)
{
	ctx->err = err;
	ctx->step = step;
	if (ctx->report_w >= 0) {
		struct spawn_report rep = {step, err, 0};
		ssize_t w = write(ctx->report_w, &rep, sizeof rep);
		(void)w;
	}
	_exit(127);
}

static int child_main(void *arg)
{
	struct spawn_ctx *ctx = arg;
	if (setpgid(0, 0) < 0)
		return child_fail(ctx, STEP_PGID, errno);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return child_fail(ctx, STEP_PDEATH, errno);
	/* the parent may have died before the prctl took effect: then no
	 * signal will come, and the child must not outlive it */
	if (getppid() != ctx->parent)
		return child_fail(ctx, STEP_ORPHAN, ESRCH);
	/* blocked signals and ignored dispositions survive exec; ffmpeg must
	 * see SIGTERM and SIGPIPE as usual.  The dispositions first: unblocking
	 * while a handler of the parent is still installed could run it here. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)sigaction(s, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		return child_fail(ctx, STEP_SIGNALS, errno);
	int null = open("/dev/null", O_RDWR);
	if (null < 0)
		return child_fail(ctx, STEP_DEVNULL, errno);
	if (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(ctx->err_w, 2) < 0)
		return child_fail(ctx, STEP_DUP, errno);
	if (ctx->cwd_fd >= 0 && fchdir(ctx->cwd_fd) < 0)
		return child_fail(ctx, STEP_CWD, errno);
	/* every other descriptor (the registry's shm fd, other children's
	 * pipes, the signalfd) closes at exec */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return child_fail(ctx, STEP_CLOSE, errno);
	/* a reaper run with a raised priority (Nice=-10 in its unit, so a
	 * burst of starts is not held up by the load) must not pass it on to
	 * the encoders: back to the default, which needs no privilege.  Last
	 * before exec, so the setup above still ran at the reaper's priority. */
	errno = 0;
	int prio = getpriority(PRIO_PROCESS, 0);
	if (errno == 0 && prio < 0)
		(void)setpriority(PRIO_PROCESS, 0, 0);
	if (ctx->report_w >= 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		struct spawn_report rep = {
		    0, 0, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec};
		ssize_t w = write(ctx->report_w, &rep, sizeof rep);
		(void)w;
	}
	execv(ctx->argv[0], ctx->argv);
	return child_fail(ctx, STEP_EXEC, errno);
}

/* c empty (nothing to close), and argv checked. */
static int spawn_init(struct rp_child *c, char *const argv[], char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->pid = -1;
	c->pidfd = -1;
	c->errfd = -1;
	c->report_fd = -1;
	if (!argv || !argv[0] || argv[0][0] != '/') {
		snprintf(err, errlen, "program must be an absolute path");
		return -EINVAL;
	}
	return 0;
}

/* One stack serves every spawn: the parent is suspended while it is used. */
#define CHILD_STACK_SIZE ((size_t)256 * 1024)
static void *child_stack;

int rp_spawn(struct rp_child *c, char *const argv[], int cwd_fd, char *err, size_t errlen)
{
	int errp[2];
	int rc = spawn_init(c, argv, err, errlen);
	if (rc)
		return rc;
	if (!child_stack) {
		void *s = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (s == MAP_FAILED) {
			int e = errno;
			snprintf(err, errlen, "child stack: %s", strerror(e));
			return -e;
		}
		child_stack = s;
	}
	if (pipe2(errp, O_CLOEXEC) < 0) {
		int e = errno;
		snprintf(err, errlen, "pipe: %s", strerror(e));
		return -e;
	}
	struct spawn_ctx ctx = {
	    .argv = argv, .cwd_fd = cwd_fd, .err_w = errp[1], .report_w = -1, .parent = getpid()};
	int pidfd = -1;
	/* CLONE_PIDFD: the pidfd comes with the pid, so no signal can ever
	 * reach a process that merely reused it */
	pid_t pid = clone(child_main, (char *)child_stack + CHILD_STACK_SIZE,
	                  CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &ctx, &pidfd);
	int clone_errno = errno;
	close(errp[1]);
	if (pid < 0) {
		close(errp[0]);
		snprintf(err, errlen, "clone: %s", strerror(clone_errno));
		return -clone_errno;
	}
	/* setpgid in the parent too: the group exists before anyone signals it
	 * (the child did it already; this only keeps the old contract) */
	(void)setpgid(pid, pid);
	if (ctx.step) {
		snprintf(err, errlen, "%s %s: %s", step_name(ctx.step), argv[0], strerror(ctx.err));
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (pidfd >= 0)
			close(pidfd);
		close(errp[0]);
		return ctx.err ? -ctx.err : -ECHILD;
	}
	int fl = fcntl(errp[0], F_GETFL);
	if (fl >= 0)
		(void)fcntl(errp[0], F_SETFL, fl | O_NONBLOCK);
	c->pid = pid;
	c->pidfd = pidfd;
	c->errfd = errp[0];
	return 0;
}

int rp_spawn_start(struct rp_child *c, char *const argv[], int cwd_fd, char *err, size_t errlen)
{
	int errp[2], rep[2];
	int rc = spawn_init(c, argv, err, errlen);
	if (rc)
		return rc;
	if (pipe2(errp, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
		int e = errno;
		snprintf(err, errlen, "pipe: %s", strerror(e));
		return -e;
	}
	struct spawn_ctx ctx = {.argv = argv,
	                        .cwd_fd = cwd_fd,
	                        .err_w = errp[1],
	                        .report_w = rep[1],
	                        .parent = getpid()};
	pid_t pid = fork();
	if (pid == 0) {
		close(errp[0]);
		close(rep[0]);
		child_main(&ctx);
	}
	int fork_errno = errno;
	close(errp[1]);
	close(rep[1]);
	if (pid < 0) {
		close(errp[0]);
		close(rep[0]);
		snprintf(err, errlen, "fork: %s", strerror(fork_errno));
		return -fork_errno;
	}
	(void)setpgid(pid, pid);
	/* no one else reaps our children, so the pid cannot be reused before
	 * the pidfd pins it */
	c->pidfd = pidfd_open(pid, 0);
	c->pid = pid;
	c->errfd = errp[0];
	c->report_fd = rep[0];
	return 0;
}

int rp_spawn_finish(struct rp_child *c, char *const argv[], uint64_t *exec_ns, char *err,
                    size_t errlen)
{
	struct spawn_report rep = {0, 0, 0};
	ssize_t r;
	do
		r = read(c->report_fd, &rep, sizeof rep);
	while (r < 0 && errno == EINTR);
	/* the exec time, then EOF when the pipe closed at exec; or a failure */
	if (r == (ssize_t)sizeof rep && rep.step == 0) {
		struct spawn_report more;
		do
			r = read(c->report_fd, &more, sizeof more);
		while (r < 0 && errno == EINTR);
		if (r == (ssize_t)sizeof more)
			rep = more;
		else
			r = 0;
	} else if (r != (ssize_t)sizeof rep) {
		rep.step = STEP_EXEC;
		rep.err = ECHILD;
	}
	close(c->report_fd);
	c->report_fd = -1;
	if (rep.step == 0 && r == 0 && c->pidfd >= 0) {
		*exec_ns = rep.exec_ns;
		int fl = fcntl(c->errfd, F_GETFL);
		if (fl >= 0)
			(void)fcntl(c->errfd, F_SETFL, fl | O_NONBLOCK);
		return 0;
	}
	int e = rep.step ? rep.err : errno;
	if (rep.step)
		snprintf(err, errlen, "%s %s: %s", step_name(rep.step), argv[0], strerror(e));
	else
		snprintf(err, errlen, "pidfd_open: %s", strerror(e));
	if (c->pidfd < 0)
		kill(c->pid, SIGKILL);
	while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (c->pidfd >= 0)
		close(c->pidfd);
	close(c->errfd);
	c->pidfd = c->errfd = -1;
	c->pid = -1;
	return e ? -e : -ECHILD;
}

bool rp_child_alive(const struct rp_child *c)
{
	if (c->reaped || c->pidfd < 0)
		return false;
	struct pollfd p = {.fd = c->pidfd, .events = POLLIN};
	return poll(&p, 1, 0) == 0;
}

int rp_child_signal(struct rp_child *c, int sig)
{
	if (c->reaped || c->pidfd < 0)
		return -ESRCH;
	int rc = 0;
	if (pidfd_send_signal(c->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
		rc = -errno;
	/* the group id is the leader's pid, which stays reserved until we reap
	 * the leader, so the group signal cannot hit a stranger either */
	if (kill(-c->pid, sig) < 0 && errno != ESRCH && !rc)
		rc = -errno;
	return rc;
}

/* Progress and banner noise is not what explains a failure. */
static bool meaningful(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return false;
	static const char *const noise[] = {"frame=", "size=", "Press [q]",
	                                    "video:", "Exiting normally"};
	for (size_t i = 0; i < sizeof noise / sizeof noise[0]; i++)
		if (strncmp(s, noise[i], strlen(noise[i])) == 0)
			return false;
	return true;
}

static void end_line(struct rp_child *c)
{
	c->partial[c->partial_len] = '\0';
	if (meaningful(c->partial)) {
		/* keep the start of a long line: that is where ffmpeg names the
		 * component and the error */
		size_t n = c->partial_len < RP_LASTLINE_MAX ? c->partial_len : RP_LASTLINE_MAX;
		memcpy(c->last_line, c->partial, n);
		c->last_line[n] = '\0';
	}
	c->partial_len = 0;
}

int rp_child_read_stderr(struct rp_child *c)
{
	char buf[4096];
	if (c->errfd < 0)
		return 1;
	for (;;) {
		ssize_t r = read(c->errfd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return 0; /* EAGAIN: nothing more for now */
		if (r == 0) {
			if (c->partial_len)
				end_line(c);
			close(c->errfd);
			c->errfd = -1;
			return 1;
		}
		for (ssize_t i = 0; i < r; i++) {
			char ch = buf[i];
			if (ch == '\n' || ch == '\r') {
				if (c->partial_len)
					end_line(c);
			} else if (c->partial_len < sizeof c->partial - 1) {
				c->partial[c->partial_len++] = (unsigned char)ch < 0x20 ? ' ' : ch;
			}
		}
	}
}

int rp_child_reap(struct rp_child *c, bool block)
{
	if (c->reaped)
		return 1;
	if (c->pidfd < 0)
		return -EBADF;
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int flags = WEXITED | WNOWAIT | (block ? 0 : WNOHANG);
	int r;
	do
		r = waitid(P_PIDFD, (id_t)c->pidfd, &si, flags);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (si.si_pid == 0)
		return 0;
	/* the leader is dead but still a zombie, so its group id is still
	 * ours: take down anything it left in the group before letting go */
	(void)kill(-c->pid, SIGKILL);
	do
		r = waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	c->how = si.si_code;
	c->code = si.si_status;
	c->reaped = true;
	close(c->pidfd);
	c->pidfd = -1;
	/* the pipe may still hold the last words; stragglers are dead now, so
	 * the write end is closed and this read ends */
	while (c->errfd >= 0 && rp_child_read_stderr(c) == 0) {
		struct pollfd p = {.fd = c->errfd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			break;
	}
	if (c->errfd >= 0) {
		close(c->errfd);
		c->errfd = -1;
	}
	return 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int wait_exit(struct rp_child *c, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		struct pollfd p[2] = {{.fd = c->pidfd, .events = POLLIN},
		                      {.fd = c->errfd, .events = POLLIN}};
		uint64_t now = now_ms();
		int left = now >= end ? 0 : (int)(end - now);
		int n = poll(p, c->errfd >= 0 ? 2 : 1, left);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (c->errfd >= 0 && (p[1].revents & (POLLIN | POLLHUP)))
			rp_child_read_stderr(c);
		if (p[0].revents & POLLIN)
			return 1;
		if (now_ms() >= end)
			return 0;
	}
}

int rp_child_stop(struct rp_child *c, int timeout_ms)
{
	if (c->reaped)
		return 0;
	int killed = 0;
	rp_child_signal(c, SIGTERM);
	int w = wait_exit(c, timeout_ms);
	if (w < 0)
		return w;
	if (w == 0) {
		rp_child_signal(c, SIGKILL);
		killed = 1;
	}
	int r = rp_child_reap(c, true);
	return r < 0 ? r : killed;
}

void rp_child_describe_exit(const struct rp_child *c, char *buf, size_t len)
{
	if (!c->reaped)
		snprintf(buf, len, "still running");
	else if (c->how == CLD_EXITED)
		snprintf(buf, len, "exited with status %d", c->code);
	else
		snprintf(buf, len, "killed by signal %d (%s)%s", c->code, strsignal(c->code),
		         c->how == CLD_DUMPED ? ", core dumped" : "");
}

void rp_child_close(struct rp_child *c)
{
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->errfd >= 0)
		close(c->errfd);
	c->pidfd = -1;
	c->errfd = -1;
}
