/* Timing, randomness and the per-record check shared by every chaos process. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chaos.h"

static const char *const op_names[OP_COUNT] = {
    [OP_NONE] = "none",
    [OP_TOUCH] = "touch",
    [OP_FIND] = "find",
    [OP_ADD_CLIENT] = "add_client",
    [OP_REMOVE_CLIENT] = "remove_client",
    [OP_GET_CLIENTS] = "get_clients",
    [OP_START] = "start_request",
    [OP_ERROR] = "record_error",
    [OP_SNAPSHOT] = "snapshot",
    [OP_SCAN] = "scan",
    [OP_FOREACH] = "foreach",
    [OP_LIST] = "list",
    [OP_INSERT] = "insert",
    [OP_DELETE] = "delete",
    [OP_RECOVER] = "recover",
    [OP_DRIVE] = "drive_state",
    [OP_QUALITY] = "set_qualities",
};

const char *chaos_op_name(enum chaos_op op)
{
	return (unsigned)op < OP_COUNT ? op_names[op] : "invalid";
}

uint64_t chaos_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: each process seeds its own from --seed, so a run replays. */
uint64_t chaos_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

void chaos_sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
	                      .tv_nsec = (long)(ns % 1000000000ull)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Run-queue wait, from /proc/self/schedstat (second field, ns).  The machine
 * may be loaded far beyond its cores; an operation that sat preempted in the
 * run queue was not wedged, so the wedge bound applies to its duration minus
 * that wait.  Reading the file costs microseconds, so it is read at most once
 * a millisecond at an operation's start, and again only after a slow one:
 * the wait subtracted may include up to a millisecond before the operation,
 * an error far below the 100 ms bound.
 */
static struct {
	pid_t pid;
	int fd;
	uint64_t delay_ns, cpu_ns, at_ns;
} ss = {.fd = -1};

/* What the slowest operation of this process was made of, for the report. */
static uint64_t last_cpu_ns, last_wait_ns;

static bool read_delay(uint64_t *delay, uint64_t *cpu)
{
	if (ss.pid != getpid()) {
		if (ss.fd >= 0)
			close(ss.fd);
		ss.fd = open("/proc/self/schedstat", O_RDONLY | O_CLOEXEC);
		ss.pid = getpid();
	}
	char buf[128];
	ssize_t n = ss.fd >= 0 ? pread(ss.fd, buf, sizeof(buf) - 1, 0) : -1;
	if (n <= 0)
		return false;
	buf[n] = '\0';
	unsigned long long run, wait;
	if (sscanf(buf, "%llu %llu", &run, &wait) != 2)
		return false;
	*delay = wait;
	*cpu = run;
	return true;
}

/* The start is published so the killer can tell which operation it hit and
 * the parent can see an operation that never ends. */
void chaos_op_begin(struct chaos_slot *s, enum chaos_op op, uint64_t *t0)
{
	atomic_store_explicit(&s->cur_op, (uint32_t)op, memory_order_relaxed);
	*t0 = chaos_now_ns();
	if (*t0 - ss.at_ns > 1000000ull || ss.pid != getpid()) {
		uint64_t d, c;
		if (read_delay(&d, &c)) {
			ss.delay_ns = d;
			ss.cpu_ns = c;
			ss.at_ns = *t0;
		}
	}
	atomic_store_explicit(&s->op_start_ns, *t0, memory_order_relaxed);
}

/* Duration minus the run-queue wait since the last reading. */
static uint64_t unpreempted(uint64_t wall, uint64_t now)
{
	uint64_t d, c;
	last_cpu_ns = last_wait_ns = 0;
	if (wall < 5000000ull || ss.pid != getpid() || !read_delay(&d, &c) || d < ss.delay_ns)
		return wall;
	uint64_t waited = d - ss.delay_ns;
	last_wait_ns = waited;
	last_cpu_ns = c - ss.cpu_ns;
	ss.delay_ns = d;
	ss.cpu_ns = c;
	ss.at_ns = now;
	return waited >= wall ? 0 : wall - waited;
}

static struct chaos_shared *stats_sh;

void chaos_op_stats_bind(struct chaos_shared *sh)
{
	stats_sh = sh;
}

static void atomic_max(_Atomic uint64_t *p, uint64_t v)
{
	uint64_t m = atomic_load_explicit(p, memory_order_relaxed);
	while (v > m && !atomic_compare_exchange_weak(p, &m, v))
		;
}

static void op_stats(enum chaos_op op, uint64_t wall, uint64_t d)
{
	if (!stats_sh)
		return;
	if (d > 10000000ull)
		atomic_fetch_add(&stats_sh->op_over_10ms[op], 1);
	atomic_max(&stats_sh->op_max_ns[op], d);
	atomic_max(&stats_sh->op_max_wall_ns[op], wall);
}

static bool takes_lock(enum chaos_op op)
{
	return op == OP_ERROR || op == OP_INSERT || op == OP_DELETE || op == OP_QUALITY ||
	       op == OP_RECOVER || op == OP_SNAPSHOT || op == OP_FOREACH;
}

static void publish_event(enum chaos_op op, uint64_t t0, uint64_t t1)
{
	if (!stats_sh)
		return;
	uint32_t i = atomic_fetch_add(&stats_sh->ev_next, 1) % CHAOS_EVENTS;
	struct chaos_event *e = &stats_sh->ev[i];
	atomic_store(&e->ready, 0);
	e->t0 = t0;
	e->t1 = t1;
	e->cpu = last_cpu_ns;
	e->wait = last_wait_ns;
	e->op = (uint32_t)op;
	e->pid = (int32_t)getpid();
	atomic_store(&e->ready, 1);
}

void chaos_op_end(struct chaos_slot *s, enum chaos_op op, uint64_t t0)
{
	uint64_t now = chaos_now_ns();
	uint64_t wall = now - t0;
	uint64_t d = unpreempted(wall, now);
	op_stats(op, wall, d);
	if (d > CHAOS_WEDGE_NS || (takes_lock(op) && last_wait_ns >= 10000000ull))
		publish_event(op, t0, now);
	atomic_store_explicit(&s->op_start_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&s->cur_op, OP_NONE, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->ops, 1, memory_order_relaxed);
	if (d > CHAOS_WEDGE_NS)
		atomic_fetch_add(&s->slow, 1);
	uint64_t m = atomic_load_explicit(&s->max_ns, memory_order_relaxed);
	if (d > m) {
		/* One writer per slot: a plain store after the load is exact. */
		atomic_store(&s->max_ns, d);
		atomic_store(&s->max_op, (uint32_t)op);
		atomic_store(&s->max_wall_ns, wall);
		atomic_store(&s->max_cpu_ns, last_cpu_ns);
		atomic_store(&s->max_wait_ns, last_wait_ns);
		atomic_store(&s->max_t0_ns, t0);
	}
}

void chaos_unexpected(struct chaos_slot *s, enum chaos_op op, int rc)
{
	atomic_fetch_add(&s->unexpected, 1);
	if (atomic_exchange(&s->first_unexpected_set, 1) == 0)
		snprintf(s->first_unexpected, sizeof(s->first_unexpected),
		         "%s returned %d (%s): %s", chaos_op_name(op), rc, sr_strerror(rc),
		         sr_errdetail());
}

/* The keeper writes n variants whose every field derives from one tag: a
 * snapshot holding two tags, or fields that disagree, is a torn read. */
void chaos_quality_make(sr_quality *q, size_t n, uint32_t tag)
{
	memset(q, 0, n * sizeof(*q));
	for (size_t i = 0; i < n; i++) {
		snprintf(q[i].level, sizeof(q[i].level), "%up", 100 + (unsigned)i);
		q[i].bitrate_kbps = tag;
		q[i].width = tag % 4096 + 16;
		q[i].height = (unsigned)n;
		snprintf(q[i].codec, sizeof(q[i].codec), "h264");
		snprintf(q[i].segment_path, sizeof(q[i].segment_path), "t%u/%zu/seg_%%05d.ts", tag,
		         i);
		snprintf(q[i].playlist_path, sizeof(q[i].playlist_path), "t%u/%zu/index.m3u8", tag,
		         i);
	}
}

static bool same_quality(const sr_quality *a, const sr_quality *b)
{
	return strcmp(a->level, b->level) == 0 && strcmp(a->codec, b->codec) == 0 &&
	       a->bitrate_kbps == b->bitrate_kbps && a->width == b->width &&
	       a->height == b->height && strcmp(a->segment_path, b->segment_path) == 0 &&
	       strcmp(a->playlist_path, b->playlist_path) == 0;
}

/* Paths are set in one call as "/chaos/<tag>" and "/chaos/<tag>/seg": the
 * two must name the same tag. */
static bool paths_agree(const sr_session_info *in)
{
	if (in->output_dir[0] == '\0' && in->segment_path[0] == '\0')
		return true;
	char want[SR_PATH_MAX + 8];
	snprintf(want, sizeof(want), "%s/seg", in->output_dir);
	return strncmp(in->output_dir, "/chaos/", 7) == 0 && strcmp(want, in->segment_path) == 0;
}

bool chaos_record_check(const sr_session_info *in, bool strict)
{
	if ((unsigned)in->state >= SR_STATE_COUNT || in->n_qualities > SR_MAX_QUALITIES)
		return false;
	if (strnlen(in->last_error, sizeof(in->last_error)) == sizeof(in->last_error) ||
	    strnlen(in->output_dir, sizeof(in->output_dir)) == sizeof(in->output_dir) ||
	    strnlen(in->segment_path, sizeof(in->segment_path)) == sizeof(in->segment_path))
		return false;
	if (!strict)
		return true;
	if (!paths_agree(in))
		return false;
	if (in->n_qualities == 0)
		return true;
	sr_quality want[SR_MAX_QUALITIES];
	chaos_quality_make(want, in->n_qualities, in->qualities[0].bitrate_kbps);
	for (uint32_t i = 0; i < in->n_qualities; i++)
		if (!same_quality(&want[i], &in->qualities[i]))
			return false;
	return true;
}
