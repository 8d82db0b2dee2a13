#include "srt.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef SRT_COVERAGE
/* Children end in _exit(), which skips gcov's exit hook: dump explicitly. */
extern void __gcov_dump(void);
#endif

#define SRT_MAX_NAMES    256
#define SRT_MAX_CHILDREN 1024

static char tracked_names[SRT_MAX_NAMES][SR_NAME_MAX + 1];
static size_t n_tracked_names;
static pid_t children[SRT_MAX_CHILDREN];
static size_t n_children;
static unsigned name_counter;

void srt_unique_name(char *name)
{
	snprintf(name, SR_NAME_MAX + 1, "srtest_%ld_%u", (long)getpid(), name_counter++);
}

void srt_shm_path(const char *name, char *path, size_t len)
{
	snprintf(path, len, "/dev/shm/%s", name);
}

void srt_track_name(const char *name)
{
	if (n_tracked_names < SRT_MAX_NAMES)
		snprintf(tracked_names[n_tracked_names++], SR_NAME_MAX + 1, "%s", name);
}

void srt_cleanup_names(void)
{
	for (size_t i = 0; i < n_tracked_names; i++)
		sr_registry_unlink(tracked_names[i]);
	n_tracked_names = 0;
}

int srt_create(struct srt_fx *fx, uint32_t capacity, uint32_t max_procs, uint32_t leases)
{
	sr_create_options opt;

	sr_create_options_init(&opt);
	if (capacity)
		opt.capacity = capacity;
	if (max_procs)
		opt.max_procs = max_procs;
	if (leases)
		opt.leases_per_proc = leases;
	srt_unique_name(fx->name);
	srt_track_name(fx->name);
	return sr_registry_create(fx->name, &opt, &fx->reg);
}

static int setup_with(void **state, uint32_t capacity)
{
	struct srt_fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	*state = fx;
	int rc = srt_create(fx, capacity, 0, 0);
	if (rc != 0) {
		fprintf(stderr, "setup: sr_registry_create(%s): %s (%s)\n", fx->name,
		        sr_strerror(rc), sr_errdetail());
		return -1;
	}
	return 0;
}

int srt_setup_default(void **state)
{
	return setup_with(state, 0);
}

int srt_setup_small(void **state)
{
	return setup_with(state, 4);
}

int srt_teardown(void **state)
{
	struct srt_fx *fx = *state;

	srt_kill_children();
	if (fx) {
		sr_registry_close(fx->reg);
		sr_registry_unlink(fx->name);
		free(fx);
	}
	srt_cleanup_names();
	*state = NULL;
	return 0;
}

void srt_uuid(uuid_t out)
{
	uuid_generate_random(out);
}

void srt_insert_active(sr_registry *reg, const uuid_t id)
{
	assert_int_equal(sr_session_insert(reg, id, NULL), 0);
	assert_int_equal(sr_session_set_state(reg, id, SR_STATE_STARTING, NULL), 0);
	assert_int_equal(sr_session_set_state(reg, id, SR_STATE_ACTIVE, NULL), 0);
}

void srt_uuid_n(uuid_t out, uint32_t tag, uint32_t n)
{
	memset(out, 0, sizeof(uuid_t));
	memcpy(out, &tag, sizeof(tag));
	memcpy(out + 12, &n, sizeof(n));
	out[6] = 0x40; /* version 4 nibble, so it looks like a real uuid */
	out[8] |= 0x80;
}

double srt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void srt_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- Child processes ------------------------------------------------------ */

static void track_child(pid_t pid)
{
	if (n_children < SRT_MAX_CHILDREN)
		children[n_children++] = pid;
}

void srt_untrack_child(pid_t pid)
{
	for (size_t i = 0; i < n_children; i++) {
		if (children[i] == pid) {
			children[i] = children[--n_children];
			return;
		}
	}
}

pid_t srt_spawn(int (*fn)(void *arg), void *arg)
{
	pid_t parent = getpid();

	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return pid;
	if (pid == 0) {
		static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGABRT};
		for (size_t i = 0; i < SRT_ARRAY_LEN(sigs); i++)
			signal(sigs[i], SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(120);
		int rc = fn(arg);
#ifdef SRT_COVERAGE
		__gcov_dump();
#endif
		_exit(rc);
	}
	track_child(pid);
	return pid;
}

int srt_wait(pid_t pid)
{
	int status;
	pid_t r;

	do {
		r = waitpid(pid, &status, 0);
	} while (r < 0 && errno == EINTR);
	srt_untrack_child(pid);
	if (r < 0)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

bool srt_all_exited(pid_t *pids, int *codes, int n)
{
	bool all = true;
	for (int i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		int status;
		pid_t r = waitpid(pids[i], &status, WNOHANG);
		if (r != pids[i]) {
			all = false;
			continue;
		}
		srt_untrack_child(pids[i]);
		codes[i] = WIFEXITED(status)     ? WEXITSTATUS(status)
		           : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
		                                 : -1;
		pids[i] = 0;
	}
	return all;
}

void srt_kill_children(void)
{
	while (n_children > 0) {
		pid_t pid = children[n_children - 1];
		kill(pid, SIGKILL);
		srt_wait(pid);
	}
}

void srt_gate_init(struct srt_gate *g)
{
	if (pipe(g->fd) != 0)
		g->fd[0] = g->fd[1] = -1;
}

void srt_gate_wait(struct srt_gate *g)
{
	char c;

	close(g->fd[1]);
	while (read(g->fd[0], &c, 1) < 0 && errno == EINTR)
		;
	close(g->fd[0]);
}

void srt_gate_open(struct srt_gate *g)
{
	close(g->fd[0]);
	close(g->fd[1]);
}

void *srt_shared_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void srt_shared_free(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

int srt_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int srt_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t r = write(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* ---- JSON --------------------------------------------------------------- */

static int write_temp(const char *text, char *path, size_t len)
{
	snprintf(path, len, "/tmp/srtest_json_%ld_XXXXXX", (long)getpid());
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	int rc = srt_write_full(fd, text, strlen(text));
	close(fd);
	return rc;
}

int srt_json_query(const char *json, const char *expr, char *out, size_t len)
{
	char path[PATH_MAX], cmd[PATH_MAX + 512];

	if (strchr(expr, '\'') || write_temp(json, path, sizeof(path)) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd),
	         "python3 -c 'import json,sys; "
	         "d=json.loads(open(sys.argv[1], \"rb\").read().decode(\"utf-8\")); "
	         "print(json.dumps(%s))' %s 2>&1",
	         expr, path);
	FILE *p = popen(cmd, "r");
	if (!p) {
		unlink(path);
		return -1;
	}
	size_t n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	while (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	int status = pclose(p);
	unlink(path);
	return status;
}

int srt_pipe_to(const char *cmd, const char *text)
{
	/* A checker that exits early must fail the test, not kill it. */
	signal(SIGPIPE, SIG_IGN);
	fflush(NULL);
	FILE *p = popen(cmd, "w");
	if (!p)
		return -1;
	fwrite(text, 1, strlen(text), p);
	return pclose(p);
}

int srt_json_valid(const char *json)
{
	/* Strict UTF-8: json.load on a text stream would let bad bytes through as escapes. */
	return srt_pipe_to("python3 -c 'import json,sys; "
	                   "json.loads(sys.stdin.buffer.read().decode(\"utf-8\"))'",
	                   json) == 0;
}

void srt_json_batch_add(struct srt_json_batch *b, const char *json)
{
	size_t n = strlen(json) + 1;

	if (b->len + n > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 65536) + n;
		char *p = realloc(b->buf, cap);
		if (!p)
			return;
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, json, n);
	b->len += n;
	b->count++;
}

int srt_json_batch_valid(struct srt_json_batch *b)
{
	int ok = 1;

	if (b->count > 0) {
		char path[PATH_MAX], cmd[PATH_MAX + 512];
		snprintf(path, sizeof(path), "/tmp/srtest_jsonb_%ld_XXXXXX", (long)getpid());
		int fd = mkstemp(path);
		ok = fd >= 0 && srt_write_full(fd, b->buf, b->len) == 0;
		if (fd >= 0)
			close(fd);
		/* NUL separates the documents; bad ones are printed for the log. */
		snprintf(cmd, sizeof(cmd),
		         "python3 -c 'import json,sys\n"
		         "bad = 0\n"
		         "for i, d in enumerate(open(sys.argv[1], "
		         "\"rb\").read().split(b\"\\0\")[:-1]):\n"
		         "    try: json.loads(d.decode(\"utf-8\"))\n"
		         "    except Exception as e:\n"
		         "        bad += 1\n"
		         "        print(\"document %%d: %%s: %%r\" %% (i, e, d[:300]), "
		         "file=sys.stderr)\n"
		         "sys.exit(1 if bad else 0)' %s",
		         path);
		fflush(NULL);
		ok = ok && system(cmd) == 0;
		unlink(path);
	}
	free(b->buf);
	memset(b, 0, sizeof(*b));
	return ok;
}
