#include "e2e.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

uint64_t e2e_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void e2e_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void e2e_init(struct e2e *f, const char *tag)
{
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "rpt_%s_%d", tag, (int)getpid());
	snprintf(f->root, sizeof f->root, "/tmp/rpt_%s_XXXXXX", tag);
	assert_non_null(mkdtemp(f->root));
	snprintf(f->out, sizeof f->out, "%s/out", f->root);
	snprintf(f->lineup, sizeof f->lineup, "%s/lineup.m3u", f->root);
	snprintf(f->log, sizeof f->log, "%s/reaper.log", f->root);
	(void)sr_registry_unlink(f->name);
}

void e2e_lineup(struct e2e *f, const char *const *ids, const char *const *inputs, size_t n)
{
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.tmp", f->lineup);
	FILE *fp = fopen(tmp, "w");
	assert_non_null(fp);
	fprintf(fp, "#EXTM3U\n");
	for (size_t i = 0; i < n; i++)
		fprintf(fp, "#EXTINF:-1 tvg-id=\"%s\" tvg-name=\"Test %zu\",Test %zu\n%s\n", ids[i],
		        i, i, inputs[i]);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(rename(tmp, f->lineup), 0);
}

void e2e_start(struct e2e *f, const char *const *extra)
{
	const char *base[] = {REAPER_BIN,
	                      "--registry",
	                      f->name,
	                      "--lineup",
	                      f->lineup,
	                      "--output-dir",
	                      f->out,
	                      "--create",
	                      "--capacity",
	                      "64",
	                      "--ladder",
	                      "90p:100k,72p:60k",
	                      "--hls-time",
	                      "1",
	                      "--hls-list-size",
	                      "3",
	                      "--fps",
	                      "10",
	                      "--audio-bitrate",
	                      "32",
	                      "--scan-interval",
	                      "0.05"};
	const char *argv[64];
	size_t n = 0;
	for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
		argv[n++] = base[i];
	for (size_t i = 0; extra && extra[i]; i++) {
		assert_true(n < 62);
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	e2e_start_argv(f, argv);
}

void e2e_start_argv(struct e2e *f, const char *const *argv)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(f->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(126);
		if (f->nice && setpriority(PRIO_PROCESS, 0, f->nice) < 0)
			_exit(125);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	f->reaper = pid;
}

void e2e_start_ready(struct e2e *f, const char *const *extra)
{
	int before = e2e_count_log(f, "watching registry", NULL);
	e2e_start(f, extra);
	uint64_t end = e2e_now_us() + 10000000u;
	while (e2e_count_log(f, "watching registry", NULL) == before) {
		int st;
		if (waitpid(f->reaper, &st, WNOHANG) == f->reaper) {
			f->reaper = 0;
			print_error("reaper exited early, status %d; log %s\n", st, f->log);
			fail();
		}
		assert_true(e2e_now_us() < end);
		e2e_sleep_ms(5);
	}
	if (!f->reg) {
		int rc = sr_registry_attach(f->name, 0, &f->reg);
		assert_int_equal(rc, 0);
	}
}

int e2e_wait_exit(struct e2e *f, int ms)
{
	uint64_t end = e2e_now_us() + (uint64_t)ms * 1000u;
	for (;;) {
		int st;
		pid_t r = waitpid(f->reaper, &st, WNOHANG);
		if (r == f->reaper) {
			f->reaper = 0;
			return st;
		}
		if (e2e_now_us() >= end)
			return -1;
		e2e_sleep_ms(5);
	}
}

int e2e_stop(struct e2e *f, int sig)
{
	assert_true(f->reaper > 0);
	assert_int_equal(kill(f->reaper, sig), 0);
	int st = e2e_wait_exit(f, 20000);
	assert_true(st != -1);
	return st;
}

int e2e_cleanup(struct e2e *f)
{
	int bad = 0;
	if (f->reaper > 0) {
		kill(f->reaper, SIGTERM);
		int st = e2e_wait_exit(f, 15000);
		if (st == -1) {
			kill(f->reaper, SIGKILL);
			waitpid(f->reaper, NULL, 0);
			fprintf(stderr, "reaper did not exit after SIGTERM\n");
			bad = -1;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "reaper exit status %d after SIGTERM\n", st);
			bad = -1;
		}
	}
	/* sanitizer reports of the daemon land in its log */
	if (f->log[0] &&
	    (e2e_count_log(f, "Sanitizer", NULL) || e2e_count_log(f, "runtime error", NULL))) {
		fprintf(stderr, "sanitizer report in %s\n", f->log);
		bad = -1;
	}
	sr_registry_close(f->reg);
	f->reg = NULL;
	if (f->name[0])
		(void)sr_registry_unlink(f->name);
	if (getenv("RPT_KEEP") || bad) {
		fprintf(stderr, "kept %s\n", f->root);
		return bad;
	}
	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
	if (f->root[0] && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->root);
	return bad;
}

static void id_parse(const char *id, uuid_t out)
{
	assert_int_equal(sr_uuid_parse(id, out), 0);
}

int e2e_wait_state(struct e2e *f, const char *id, sr_state want, int ms)
{
	uuid_t u = {0};
	id_parse(id, u);
	uint64_t end = e2e_now_us() + (uint64_t)ms * 1000u;
	for (;;) {
		sr_state st;
		if (sr_session_get_state(f->reg, u, &st) == 0 && st == want)
			return 0;
		if (e2e_now_us() >= end)
			return -1;
		e2e_sleep_ms(2);
	}
}

static int scan_log(struct e2e *f, const char *a, const char *b, char *last, size_t len)
{
	FILE *fp = fopen(f->log, "r");
	if (!fp)
		return 0;
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof line, fp)) {
		if (strstr(line, a) && (!b || strstr(line, b))) {
			n++;
			if (last)
				snprintf(last, len, "%s", line);
		}
	}
	fclose(fp);
	return n;
}

int e2e_count_log(struct e2e *f, const char *a, const char *b)
{
	return scan_log(f, a, b, NULL, 0);
}

int e2e_last_log(struct e2e *f, const char *a, const char *b, char *buf, size_t len)
{
	return scan_log(f, a, b, buf, len) > 0 ? 0 : -1;
}

int e2e_wait_log(struct e2e *f, const char *a, const char *b, int ms)
{
	uint64_t end = e2e_now_us() + (uint64_t)ms * 1000u;
	while (e2e_count_log(f, a, b) == 0) {
		if (e2e_now_us() >= end)
			return -1;
		e2e_sleep_ms(10);
	}
	return 0;
}

void e2e_snapshot(struct e2e *f, const char *id, sr_session_info *out)
{
	uuid_t u = {0};
	id_parse(id, u);
	assert_int_equal(sr_session_snapshot(f->reg, u, out), 0);
}

int e2e_transition(struct e2e *f, const char *id, sr_state from, sr_state to)
{
	uuid_t u = {0};
	id_parse(id, u);
	return sr_session_transition(f->reg, u, from, to);
}

bool e2e_dir_exists(struct e2e *f, const char *id)
{
	char p[256];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", f->out, id);
	return lstat(p, &st) == 0;
}

bool e2e_alive(pid_t pid, uint64_t start)
{
	if (pid <= 0 || start == 0 || sr_pid_start_time(pid) != start)
		return false;
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

int e2e_children(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	int count = 0;
	for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n"))
		count++;
	return count;
}

int e2e_fixture_setup(void **state)
{
	struct e2e *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	*state = f;
	return 0;
}

int e2e_fixture_teardown(void **state)
{
	struct e2e *f = *state;
	int rc = e2e_cleanup(f);
	free(f);
	return rc;
}
