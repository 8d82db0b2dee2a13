/*
 * How streamreg behaves as the table grows: find + touch throughput on a
 * half-full table, the reaper's full scan on a full one, and the memory a
 * slot and the whole segment take.
 *
 * The reaper's scan is what tools/reaper does on every tick: recover what
 * dead processes left, then walk every session deciding whether it should
 * be cleaned (state, clients, idle time).  Timed twice: through
 * sr_session_scan (hot fields only, the reaper's path) and through
 * sr_session_foreach (a consistent copy of every whole record).
 */
#include "bench_backend_util.h"
#include "bench_interrupt.h"
#include "scenarios.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Short, so sessions without viewers count as candidates and the decision is exercised. */
#define GRACE_MS 1

struct decide {
	uint32_t seen;
	uint32_t candidates;
};

static bool should_clean(sr_state s, uint32_t clients, uint64_t idle_ms)
{
	bool stoppable = s == SR_STATE_STARTING || s == SR_STATE_ACTIVE || s == SR_STATE_FAILED;
	return stoppable && clients == 0 && idle_ms >= GRACE_MS;
}

static int on_brief(const sr_session_brief *b, void *ctx)
{
	struct decide *d = ctx;
	d->seen++;
	d->candidates += should_clean(b->state, b->clients, b->idle_ms);
	return 0;
}

static int on_info(const sr_session_info *i, void *ctx)
{
	struct decide *d = ctx;
	d->seen++;
	d->candidates += should_clean(i->state, i->clients, i->idle_ms);
	return 0;
}

/* The page kind of this pass ("4k" or "huge"), set by scenario_capacity. */
static const char *pass_pages = "4k";

static void set_pages(struct result *r, sr_registry *reg)
{
	size_t ps = 0;
	snprintf(r->pages, sizeof r->pages, "%s", pass_pages);
	if (reg && sr_registry_page_size(reg, &ps) == 0)
		r->page_bytes = ps;
}

static void skipped(const char *scenario, uint32_t cap, const char *what, int rc)
{
	struct result *r = report_add();
	r->kind = RK_SKIPPED;
	snprintf(r->pages, sizeof r->pages, "%s", pass_pages);
	r->capacity = cap;
	snprintf(r->scenario, sizeof r->scenario, "%s", scenario);
	snprintf(r->backend, sizeof r->backend, "streamreg");
	snprintf(r->note, sizeof r->note, "capacity %u: %s: %s (%s)", cap, what, sr_strerror(rc),
	         sr_errdetail());
	fprintf(stderr, "streamreg-bench: %s\n", r->note);
}

/* Default options apart from the capacity, so the figures are what a user gets. */
static void memory_row(sr_registry *reg, const char *name, uint32_t capacity)
{
	sr_registry_stats st;
	int rc = sr_registry_stats_get(reg, &st);
	if (rc < 0) {
		skipped("memory", capacity, "sr_registry_stats_get", rc);
		return;
	}
	struct result *r = report_add();
	r->kind = RK_MEMORY;
	snprintf(r->scenario, sizeof r->scenario, "memory");
	snprintf(r->backend, sizeof r->backend, "streamreg");
	r->capacity = capacity;
	r->sessions = st.sessions;
	r->slot_bytes = st.slot_bytes;
	r->segment_bytes = st.segment_size;
	set_pages(r, reg);
	/* tmpfs allocates pages on first write: what the half-full table really holds. */
	char path[SR_DIR_MAX + SR_NAME_MAX + 2];
	struct stat sb;
	if (sr_registry_path(name, path, sizeof path) == 0 && stat(path, &sb) == 0)
		r->resident_bytes = (uint64_t)sb.st_blocks * 512u;
	snprintf(r->note, sizeof r->note, "default max_procs %u and leases_per_proc %u",
	         st.max_procs, st.leases_per_proc);
}

static void throughput(uint32_t capacity, const struct scenario_opts *o)
{
	struct bench_keys keys;
	char err[256];
	void *shared;
	bench_make_keys(&keys, capacity / 2, capacity, o->seed);
	if (backend_streamreg.setup(&shared, &keys, err, sizeof err) < 0) {
		struct result *r = report_add();
		r->kind = RK_SKIPPED;
		snprintf(r->scenario, sizeof r->scenario, "capacity");
		snprintf(r->backend, sizeof r->backend, "streamreg");
		snprintf(r->note, sizeof r->note, "capacity %u: %s", capacity, err);
		bench_free_keys(&keys);
		return;
	}
	memory_row(bench_sr_handle(shared), bench_sr_name(shared), capacity);
	static const enum op_kind ops[] = {OP_FIND_TOUCH, OP_FIND};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		struct run_params p = {.b = &backend_streamreg,
		                       .shared = shared,
		                       .keys = &keys,
		                       .op = ops[i],
		                       .dist = DIST_UNIFORM,
		                       .nworkers = 1,
		                       .pin = o->pin,
		                       .duration_ns = o->duration_ns,
		                       .seed = o->seed};
		struct run_summary s;
		struct result *r = report_add();
		set_pages(r, bench_sr_handle(shared));
		snprintf(r->scenario, sizeof r->scenario, "capacity");
		snprintf(r->backend, sizeof r->backend, "streamreg");
		snprintf(r->op, sizeof r->op, "%s", op_name(ops[i]));
		snprintf(r->dist, sizeof r->dist, "uniform");
		r->procs = 1;
		r->capacity = capacity;
		r->sessions = keys.n_live;
		if (bench_run_reps(&p, o->reps, &s) < 0) {
			r->kind = RK_SKIPPED;
			snprintf(r->note, sizeof r->note, "%s", s.msg);
			continue;
		}
		r->kind = RK_THROUGHPUT;
		r->ns_per_op = s.ns_per_op;
		r->ops_per_sec = s.ops_per_sec;
		r->cpu_ns_per_op = s.cpu_ns_per_op;
		r->ops_min = s.ops_min;
		r->ops_max = s.ops_max;
		r->reps = s.reps;
		fprintf(stderr, "  capacity %8u %-10s %.1f ns/op (pages %s, %llu KiB)\n", capacity,
		        op_name(ops[i]), s.ns_per_op, r->pages,
		        (unsigned long long)(r->page_bytes >> 10));
	}
	backend_streamreg.teardown(shared);
	bench_free_keys(&keys);
}

/*
 * Fill to capacity, everything active, a viewer on every 16th session: at
 * most `leases` of them, half the lease table, since a full open-addressing
 * table makes every miss probe all of it.
 */
static int fill_for_reaper(sr_registry *reg, const struct bench_keys *keys, uint32_t *n,
                           uint32_t leases)
{
	int rc = 0;
	uint32_t held = 0;
	for (*n = 0; *n < keys->n_live; ++*n) {
		const uint8_t *id = keys->ids[*n];
		/* A million sessions take a while: Ctrl-C must not wait for them. */
		if (*n % 65536 == 0)
			bench_interrupt_point();
		if ((rc = sr_session_insert(reg, id, "/dev/null")) < 0)
			break;
		if ((rc = sr_session_transition(reg, id, SR_STATE_IDLE, SR_STATE_STARTING)) < 0 ||
		    (rc = sr_session_transition(reg, id, SR_STATE_STARTING, SR_STATE_ACTIVE)) < 0)
			return rc;
		if (*n % 16 == 0 && held < leases) {
			if ((rc = sr_session_add_client(reg, id)) < 0)
				return rc;
			held++;
		}
	}
	return rc == -SR_EFULL && *n > 0 ? 0 : rc;
}

/*
 * The floor of a scan: a plain sequential read of as many bytes as the hot
 * records of n sessions (64 each, docs/design.md), from a file in the same
 * directory as the registry, so on the same kind of pages.  One warm-up read,
 * as the scans before it warm the registry's records.
 */
struct floor_buf {
	const uint64_t *words;
	size_t n;
	char path[SR_DIR_MAX + SR_NAME_MAX + 2];
};

static int floor_open(struct floor_buf *fb, const char *name, uint32_t n)
{
	char fname[SR_NAME_MAX + 1];
	snprintf(fname, sizeof fname, "%.50s-floor", name);
	fb->n = (size_t)n * 64 / sizeof(uint64_t);
	fb->words = NULL;
	if (sr_registry_path(fname, fb->path, sizeof fb->path) < 0)
		return -EINVAL;
	int fd = open(fb->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	unlink(fb->path);
	size_t bytes = fb->n * sizeof(uint64_t);
	void *p = MAP_FAILED;
	if (ftruncate(fd, (off_t)bytes) == 0)
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return -e;
	madvise(p, bytes, MADV_HUGEPAGE);
	memset(p, 1, bytes);
	fb->words = p;
	return 0;
}

/* Wall-clock ms; *cpu_ms gets the CPU time. */
static double floor_read_ms(const struct floor_buf *fb, double *cpu_ms)
{
	uint64_t c0 = bench_cpu_now_ns(), t0 = bench_now_ns(), sum = 0;
	for (size_t i = 0; i < fb->n; i++)
		sum += fb->words[i];
	/* Keeps the sum, so the reads are not optimised away. */
	__asm__ volatile("" : : "r"(sum));
	uint64_t t1 = bench_now_ns();
	*cpu_ms = (double)(bench_cpu_now_ns() - c0) / 1e6;
	return (double)(t1 - t0) / 1e6;
}

static void floor_close(struct floor_buf *fb)
{
	if (fb->words)
		munmap((void *)fb->words, fb->n * sizeof(uint64_t));
	fb->words = NULL;
}

static void reaper_and_memory(uint32_t capacity, const struct scenario_opts *o)
{
	struct bench_keys keys;
	char name[SR_NAME_MAX + 1];
	sr_registry *reg;
	sr_create_options opt;
	sr_create_options_init(&opt);
	opt.capacity = capacity;
	opt.leases_per_proc = capacity / 16 + 1 < SR_LEASES_MAX ? capacity / 16 + 1 : SR_LEASES_MAX;
	bench_sr_unique_name(name, sizeof name);
	int rc = sr_registry_create(name, &opt, &reg);
	if (rc < 0) {
		skipped("reaper_scan", capacity, "sr_registry_create", rc);
		bench_sr_unlink(name);
		return;
	}
	bench_make_keys(&keys, capacity, capacity, o->seed);
	uint32_t n = 0;
	uuid_t *ids = NULL;
	struct floor_buf fb = {NULL, 0, ""};
	char note[160] = "";
	if ((rc = fill_for_reaper(reg, &keys, &n, opt.leases_per_proc / 2)) < 0) {
		skipped("reaper_scan", capacity, "filling the table", rc);
		goto out;
	}
	double scan[64], each[64], scan_cpu[64], each_cpu[64], per_id[64], flo[64], flo_cpu[64];
	if ((rc = floor_open(&fb, name, n)) < 0) {
		skipped("reaper_scan", capacity, "creating the floor's file", rc);
		goto out;
	}
	(void)floor_read_ms(&fb, &flo_cpu[0]);
	ids = malloc(((size_t)n + 1) * sizeof *ids);
	if (!ids) {
		skipped("reaper_scan", capacity, "allocating the id list", -ENOMEM);
		goto out;
	}
	int reps = o->reps < 5 ? 5 : o->reps > 64 ? 64 : o->reps;
	struct decide d = {0, 0}, d2 = {0, 0};
	for (int i = 0; i < reps; i++) {
		bench_interrupt_point();
		d = (struct decide){0, 0};
		uint64_t c0 = bench_cpu_now_ns(), t0 = bench_now_ns();
		if ((rc = sr_registry_recover(reg, NULL)) < 0 ||
		    (rc = sr_session_scan(reg, on_brief, &d)) < 0) {
			skipped("reaper_scan", capacity, "recover + scan", rc);
			goto out;
		}
		uint64_t t1 = bench_now_ns(), c1 = bench_cpu_now_ns();
		scan_cpu[i] = (double)(c1 - c0) / 1e6;
		d2 = (struct decide){0, 0};
		if ((rc = sr_registry_recover(reg, NULL)) < 0 ||
		    (rc = sr_session_foreach(reg, on_info, &d2)) < 0) {
			skipped("reaper_scan", capacity, "recover + foreach", rc);
			goto out;
		}
		uint64_t t2 = bench_now_ns();
		each_cpu[i] = (double)(bench_cpu_now_ns() - c1) / 1e6;
		/* The reaper's older path: list the ids, then one call per session. */
		size_t listed = 0, asked = 0;
		if ((rc = sr_registry_recover(reg, NULL)) < 0 ||
		    (rc = sr_session_list(reg, ids, n, &listed)) < 0) {
			skipped("reaper_scan", capacity, "recover + list", rc);
			goto out;
		}
		for (size_t j = 0; j < listed && j < n; j++)
			asked += sr_session_should_cleanup(reg, ids[j], GRACE_MS) == 1;
		uint64_t t3 = bench_now_ns();
		flo[i] = floor_read_ms(&fb, &flo_cpu[i]);
		scan[i] = (double)(t1 - t0) / 1e6;
		each[i] = (double)(t2 - t1) / 1e6;
		per_id[i] = (double)(t3 - t2) / 1e6;
		if (asked != d.candidates)
			snprintf(note, sizeof note,
			         "should_cleanup found %zu candidates, the scan %u (sessions aged "
			         "between the walks)",
			         asked, d.candidates);
	}
	struct result *r = report_add();
	r->kind = RK_REAPER;
	snprintf(r->scenario, sizeof r->scenario, "reaper_scan");
	snprintf(r->backend, sizeof r->backend, "streamreg");
	r->capacity = capacity;
	r->sessions = n;
	r->reps = reps;
	r->scan_ms = bench_median(scan, (size_t)reps);
	r->foreach_ms = bench_median(each, (size_t)reps);
	r->list_cleanup_ms = bench_median(per_id, (size_t)reps);
	r->scan_cpu_ms = bench_median(scan_cpu, (size_t)reps);
	r->floor_ms = bench_median(flo, (size_t)reps);
	r->foreach_cpu_ms = bench_median(each_cpu, (size_t)reps);
	r->floor_cpu_ms = bench_median(flo_cpu, (size_t)reps);
	set_pages(r, reg);
	r->cleanup_candidates = d.candidates;
	if (d.seen != n || d2.seen != n)
		snprintf(r->note, sizeof r->note, "walks saw %u and %u sessions of %u", d.seen,
		         d2.seen, n);
	else
		snprintf(r->note, sizeof r->note, "%s", note);
	fprintf(stderr,
	        "  reaper   %8u scan %.3f ms, foreach %.3f ms, floor %.3f ms (%u sessions, "
	        "pages %s)\n",
	        capacity, r->scan_ms, r->foreach_ms, r->floor_ms, n, r->pages);

out:
	floor_close(&fb);
	free(ids);
	sr_registry_close(reg);
	bench_sr_unlink(name);
	bench_free_keys(&keys);
}

int scenario_capacity(uint32_t capacity, const struct scenario_opts *o, const char *pages)
{
	pass_pages = pages;
	throughput(capacity, o);
	reaper_and_memory(capacity, o);
	return 0;
}
