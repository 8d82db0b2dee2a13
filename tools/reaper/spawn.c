#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Runs in the child between fork and exec: async-signal-safe calls only.
 * Reports errno through the close-on-exec pipe and exits. */
static void child_fail(int report_fd, int step)
{
	int msg[2] = {step, errno};
	ssize_t r = write(report_fd, msg, sizeof msg);
	(void)r;
	_exit(127);
}

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

static void child_setup(char *const argv[], int cwd_fd, int err_w, int report_w, pid_t parent)
{
	if (setpgid(0, 0) < 0)
		child_fail(report_w, STEP_PGID);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(report_w, STEP_PDEATH);
	/* the parent may have died before the prctl took effect: then no
	 * signal will come, and the child must not outlive it */
	if (getppid() != parent) {
		errno = ESRCH;
		child_fail(report_w, STEP_ORPHAN);
	}
	/* blocked signals and ignored dispositions survive exec; ffmpeg must
	 * see SIGTERM and SIGPIPE as usual */
	sigset_t none;
	sigemptyset(&none);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)sigaction(s, &dfl, NULL);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(report_w, STEP_SIGNALS);
	int null = open("/dev/null", O_RDWR);
	if (null < 0)
		child_fail(report_w, STEP_DEVNULL);
	if (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(err_w, 2) < 0)
		child_fail(report_w, STEP_DUP);
	if (cwd_fd >= 0 && fchdir(cwd_fd) < 0)
		child_fail(report_w, STEP_CWD);
	/* every other descriptor (the registry's shm fd, other children's
	 * pipes, the signalfd) closes at exec; report_w already has CLOEXEC */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		child_fail(report_w, STEP_CLOSE);
	execv(argv[0], argv);
	child_fail(report_w, STEP_EXEC);
}

int rp_spawn(struct rp_child *c, char *const argv[], int cwd_fd, char *err, size_t errlen)
{
	int errp[2], rep[2];
	memset(c, 0, sizeof *c);
	c->pid = -1;
	c->pidfd = -1;
	c->errfd = -1;
	if (!argv || !argv[0] || argv[0][0] != '/') {
		snprintf(err, errlen, "program must be an absolute path");
		return -EINVAL;
	}
	if (pipe2(errp, O_CLOEXEC) < 0) {
		int e = errno;
		snprintf(err, errlen, "pipe: %s", strerror(e));
		return -e;
	}
	if (pipe2(rep, O_CLOEXEC) < 0) {
		int e = errno;
		close(errp[0]);
		close(errp[1]);
		snprintf(err, errlen, "pipe: %s", strerror(e));
		return -e;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(errp[0]);
		close(errp[1]);
		close(rep[0]);
		close(rep[1]);
		snprintf(err, errlen, "fork: %s", strerror(e));
		return -e;
	}
	if (pid == 0) {
		close(errp[0]);
		close(rep[0]);
		child_setup(argv, cwd_fd, errp[1], rep[1], parent);
	}
	close(errp[1]);
	close(rep[1]);
	/* setpgid in both processes: whichever runs first, the group exists
	 * before anyone signals it */
	(void)setpgid(pid, pid);
	/* no one else reaps our children, so the pid cannot be reused before
	 * the pidfd pins it */
	int pidfd = pidfd_open(pid, 0);
	int pidfd_errno = errno;
	int msg[2];
	ssize_t r;
	do
		r = read(rep[0], msg, sizeof msg);
	while (r < 0 && errno == EINTR);
	close(rep[0]);
	if (r == (ssize_t)sizeof msg || pidfd < 0) {
		int e = r == (ssize_t)sizeof msg ? msg[1] : pidfd_errno;
		if (r == (ssize_t)sizeof msg)
			snprintf(err, errlen, "%s %s: %s", step_name(msg[0]), argv[0], strerror(e));
		else
			snprintf(err, errlen, "pidfd_open: %s", strerror(e));
		if (pidfd < 0)
			kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (pidfd >= 0)
			close(pidfd);
		close(errp[0]);
		return e ? -e : -ECHILD;
	}
	int fl = fcntl(errp[0], F_GETFL);
	if (fl >= 0)
		(void)fcntl(errp[0], F_SETFL, fl | O_NONBLOCK);
	c->pid = pid;
	c->pidfd = pidfd;
	c->errfd = errp[0];
	return 0;
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
