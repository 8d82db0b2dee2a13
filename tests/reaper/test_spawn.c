/* Spawn and watch with real child processes (sh, sleep): process groups,
 * descriptors, stderr capture, SIGTERM/SIGKILL escalation, death with the
 * parent, and many start/stop cycles without a zombie or a leaked fd. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "spawn.h"

static void spawn_ok(struct rp_child *c, char *const argv[])
{
	char err[256] = "";
	int rc = rp_spawn(c, argv, -1, err, sizeof err);
	if (rc)
		print_error("spawn %s: %s\n", argv[0], err);
	assert_int_equal(rc, 0);
	assert_true(c->pid > 0);
	assert_true(c->pidfd >= 0);
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Children of this process that still exist (zombies included). */
static int count_children(void)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	int count = 0;
	for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n"))
		count++;
	return count;
}

static void test_exit_status_and_last_line(void **state)
{
	(void)state;
	struct rp_child c;
	char *argv[] = {
	    "/bin/sh", "-c",
	    "echo first >&2; echo 'frame=  10 fps=0.0' >&2; printf 'real error\\n\\n' >&2;"
	    " printf 'frame= 20\\r' >&2; exit 3",
	    NULL};
	spawn_ok(&c, argv);
	assert_int_equal(rp_child_reap(&c, true), 1);
	assert_true(c.reaped);
	assert_int_equal(c.how, CLD_EXITED);
	assert_int_equal(c.code, 3);
	/* progress lines and blank lines are not the last meaningful line */
	assert_string_equal(c.last_line, "real error");
	char how[128];
	rp_child_describe_exit(&c, how, sizeof how);
	assert_string_equal(how, "exited with status 3");
	assert_int_equal(c.pidfd, -1);
	assert_int_equal(c.errfd, -1);
	assert_int_equal(rp_child_signal(&c, SIGTERM), -ESRCH);
	assert_false(rp_child_alive(&c));
}

/* Run as the spawned child (see main): report what it inherited. */
static int child_report(void)
{
	char in[64] = "", out[64] = "", fds[256] = "";
	ssize_t n = readlink("/proc/self/fd/0", in, sizeof in - 1);
	if (n > 0)
		in[n] = '\0';
	n = readlink("/proc/self/fd/1", out, sizeof out - 1);
	if (n > 0)
		out[n] = '\0';
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		size_t used = strlen(fds), name = strlen(de->d_name);
		if (used + name + 2 > sizeof fds)
			break;
		memcpy(fds + used, de->d_name, name);
		memcpy(fds + used + name, ",", 2);
	}
	closedir(d);
	sigset_t blocked;
	sigprocmask(SIG_BLOCK, NULL, &blocked);
	int nblocked = 0;
	for (int s = 1; s < 32; s++)
		nblocked += sigismember(&blocked, s) == 1;
	struct sigaction sa;
	sigaction(SIGPIPE, NULL, &sa);
	fprintf(stderr, "pgid=%d pid=%d in=%s out=%s fds=%s blocked=%d sigpipe=%s\n",
	        (int)getpgid(0), (int)getpid(), in, out, fds, nblocked,
	        sa.sa_handler == SIG_DFL ? "default" : "changed");
	return 0;
}

static char self_exe[4096];

static void test_isolation(void **state)
{
	(void)state;
	/* what the reaper's child would otherwise inherit: a descriptor
	 * without CLOEXEC, blocked signals, an ignored SIGPIPE */
	int leak = open("/dev/null", O_RDONLY);
	assert_true(leak >= 3);
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);
	struct rp_child c;
	char *argv[] = {self_exe, "--child-report", NULL};
	spawn_ok(&c, argv);
	pid_t pid = c.pid;
	assert_int_equal(rp_child_reap(&c, true), 1);
	close(leak);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	char want[256];
	snprintf(want, sizeof want,
	         "pgid=%d pid=%d in=/dev/null out=/dev/null fds=0,1,2, blocked=0 sigpipe=default",
	         (int)pid, (int)pid);
	assert_int_equal(c.how, CLD_EXITED);
	assert_int_equal(c.code, 0);
	assert_string_equal(c.last_line, want);
}

static void test_exec_failure_reported(void **state)
{
	(void)state;
	struct rp_child c;
	char err[256] = "";
	char *argv[] = {"/nonexistent/ffmpeg", NULL};
	assert_int_equal(rp_spawn(&c, argv, -1, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "execv /nonexistent/ffmpeg"));
	char *rel[] = {"sleep", "1", NULL};
	assert_int_equal(rp_spawn(&c, rel, -1, err, sizeof err), -EINVAL);
	assert_int_equal(count_children(), 0);
}

static void test_sigterm_then_sigkill(void **state)
{
	(void)state;
	struct rp_child c;
	/* ignores SIGTERM, like a hung ffmpeg; a grandchild shares its group */
	char *argv[] = {"/bin/sh", "-c", "trap '' TERM; sleep 30 & echo ready $! >&2; wait", NULL};
	spawn_ok(&c, argv);
	/* wait for the trap to be installed */
	for (int i = 0; i < 500 && strncmp(c.last_line, "ready ", 6) != 0; i++) {
		rp_child_read_stderr(&c);
		usleep(10000);
	}
	assert_memory_equal(c.last_line, "ready ", 6);
	pid_t grandchild = atoi(c.last_line + 6);
	assert_true(grandchild > 0);
	assert_true(rp_child_alive(&c));
	assert_int_equal(rp_child_stop(&c, 200), 1); /* needed SIGKILL */
	assert_int_equal(c.how, CLD_KILLED);
	assert_int_equal(c.code, SIGKILL);
	char how[128];
	rp_child_describe_exit(&c, how, sizeof how);
	assert_non_null(strstr(how, "killed by signal 9"));
	/* the grandchild sleep died with the group: gone, or a zombie waiting
	 * for init to reap it */
	char path[64], st[256] = "";
	snprintf(path, sizeof path, "/proc/%d/stat", (int)grandchild);
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(path, "r");
		if (!f)
			break;
		size_t n = fread(st, 1, sizeof st - 1, f);
		fclose(f);
		st[n] = '\0';
		char *paren = strrchr(st, ')');
		if (paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'))
			break;
		st[0] = '\0';
		usleep(10000);
	}
	assert_true(access(path, F_OK) != 0 || st[0] != '\0');

	char *polite[] = {"/bin/sleep", "30", NULL};
	spawn_ok(&c, polite);
	assert_int_equal(rp_child_stop(&c, 2000), 0); /* SIGTERM was enough */
	assert_int_equal(c.code, SIGTERM);
}

static void test_cwd(void **state)
{
	(void)state;
	int dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	struct rp_child c;
	char err[128];
	char *argv[] = {"/bin/sh", "-c", "pwd >&2", NULL};
	assert_int_equal(rp_spawn(&c, argv, dfd, err, sizeof err), 0);
	assert_int_equal(rp_child_reap(&c, true), 1);
	close(dfd);
	assert_string_equal(c.last_line, "/tmp");
}

/* The child dies when its parent does (PR_SET_PDEATHSIG).  A middle process
 * spawns `sleep` and is SIGKILLed; as a subreaper we inherit the orphan and
 * can see how it ended. */
static void test_dies_with_parent(void **state)
{
	(void)state;
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	pid_t mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		close(p[0]);
		struct rp_child c;
		char err[128];
		char *argv[] = {"/bin/sleep", "60", NULL};
		if (rp_spawn(&c, argv, -1, err, sizeof err) != 0)
			_exit(1);
		if (write(p[1], &c.pid, sizeof c.pid) != (ssize_t)sizeof c.pid)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	pid_t grandchild = 0;
	assert_int_equal(read(p[0], &grandchild, sizeof grandchild), (ssize_t)sizeof grandchild);
	close(p[0]);
	assert_true(grandchild > 0);
	assert_int_equal(kill(mid, SIGKILL), 0);
	int st;
	assert_int_equal(waitpid(mid, &st, 0), mid);
	/* the orphan is re-parented to us and must end by SIGKILL, soon */
	assert_int_equal(waitpid(grandchild, &st, 0), grandchild);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

/* 200 start/stop cycles of a cheap real child through the same spawn,
 * signal and reap calls the reaper uses for ffmpeg. */
static void test_cycles(void **state)
{
	(void)state;
	int fds0 = count_fds();
	for (int i = 0; i < 200; i++) {
		struct rp_child c;
		char *argv[] = {"/bin/sleep", "30", NULL};
		spawn_ok(&c, argv);
		assert_true(rp_child_alive(&c));
		if (i % 2)
			assert_int_equal(rp_child_stop(&c, 2000), 0);
		else {
			/* the non-blocking path of the event loop */
			assert_int_equal(rp_child_signal(&c, SIGTERM), 0);
			int r;
			while ((r = rp_child_reap(&c, false)) == 0)
				usleep(1000);
			assert_int_equal(r, 1);
		}
		assert_true(c.reaped);
	}
	assert_int_equal(count_children(), 0); /* no zombie */
	assert_int_equal(count_fds(), fds0);   /* no leaked descriptor */
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child-report") == 0)
		return child_report();
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_status_and_last_line),
	    cmocka_unit_test(test_isolation),
	    cmocka_unit_test(test_exec_failure_reported),
	    cmocka_unit_test(test_sigterm_then_sigkill),
	    cmocka_unit_test(test_cwd),
	    cmocka_unit_test(test_dies_with_parent),
	    cmocka_unit_test(test_cycles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
