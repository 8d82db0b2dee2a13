/*
 * streamreg-bench: the hot paths of streamreg against the floor (a bare
 * atomic) and against what a server author would use instead, all measured
 * in one invocation on one machine.  See docs/benchmarks.md.
 */
#include "bench.h"
#include "bench_backend_util.h"
#include "bench_hugedir.h"
#include "bench_interrupt.h"
#include "bench_matrix.h"
#include "bench_report.h"
#include "bench_run.h"
#include "redis_server.h"
#include "scenarios.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct options {
	bool quick, json, pin;
	const char *json_file;
	int reps;
	double duration_ms;
	uint32_t capacity, sessions;
	int procs_max;
	size_t latency_samples;
	unsigned only;        /* GROUP_* mask */
	const char *backends; /* comma-separated names, or NULL for all */
	uint32_t capacities[8];
	size_t n_capacities;
};

enum { GROUP_OPS = 1, GROUP_SCALING = 2, GROUP_LATENCY = 4, GROUP_CAPACITY = 8 };

static const struct backend *const all_backends[] = {
    &backend_streamreg,     &backend_atomic_shared, &backend_atomic_perproc,
    &backend_rwlock_inproc, &backend_rwlock_shared,
#ifdef SR_BENCH_HAVE_HIREDIS
    &backend_redis_rt,      &backend_redis_pipe,
#endif
#ifdef SR_BENCH_HAVE_LMDB
    &backend_lmdb,
#endif
#ifdef SR_BENCH_HAVE_TDB
    &backend_tdb,
#endif
};
#define N_BACKENDS (sizeof all_backends / sizeof all_backends[0])

static const char *const comparator_names[] = {"redis-rt", "redis-pipe", "lmdb", "tdb"};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: streamreg-bench [options]\n"
	        "  --quick            short run (under 30 s), for CI; numbers are indicative only\n"
	        "  --json             print JSON on stdout instead of the table\n"
	        "  --json-file PATH   also write the JSON to PATH\n"
	        "  --reps N           repetitions per measurement, medians reported (default 7; "
	        "quick 3)\n"
	        "  --duration-ms MS   timed part of one repetition (default 200; quick 20)\n"
	        "  --procs N          worker processes up to N (default 4; quick 2)\n"
	        "  --pin              pin worker w to cpu w %% ncpus (sched_setaffinity)\n"
	        "  --capacity N       table capacity of the operation scenarios (default 4096)\n"
	        "  --sessions N       live sessions in it (default capacity / 2)\n"
	        "  --latency-samples N  timed ops per latency run (default 1000000; quick 100000)\n"
	        "  --only LIST        ops,scaling,latency,capacity (default: all)\n"
	        "  --backends LIST    streamreg,atomic-shared,atomic-perproc,rwlock-inproc,\n"
	        "                     rwlock-shared,redis-rt,redis-pipe,lmdb,tdb (default: all)\n"
	        "  --help\n");
}

static int parse_u(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_only(const char *s, unsigned *mask)
{
	static const char *const names[] = {"ops", "scaling", "latency", "capacity"};
	char buf[128];
	snprintf(buf, sizeof buf, "%s", s);
	*mask = 0;
	for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t i = 0;
		while (i < 4 && strcmp(t, names[i]) != 0)
			i++;
		if (i == 4)
			return -1;
		*mask |= 1u << i;
	}
	return *mask ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option lo[] = {{"quick", no_argument, NULL, 'q'},
	                                   {"json", no_argument, NULL, 'j'},
	                                   {"json-file", required_argument, NULL, 'J'},
	                                   {"reps", required_argument, NULL, 'r'},
	                                   {"duration-ms", required_argument, NULL, 'd'},
	                                   {"procs", required_argument, NULL, 'p'},
	                                   {"pin", no_argument, NULL, 'P'},
	                                   {"capacity", required_argument, NULL, 'c'},
	                                   {"sessions", required_argument, NULL, 's'},
	                                   {"latency-samples", required_argument, NULL, 'l'},
	                                   {"only", required_argument, NULL, 'o'},
	                                   {"backends", required_argument, NULL, 'b'},
	                                   {"help", no_argument, NULL, 'h'},
	                                   {NULL, 0, NULL, 0}};
	unsigned long v;
	int reps = 0, procs = 0;
	double dur = 0;
	size_t lat = 0;
	memset(o, 0, sizeof *o);
	o->only = GROUP_OPS | GROUP_SCALING | GROUP_LATENCY | GROUP_CAPACITY;
	for (int c; (c = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
		switch (c) {
		case 'q':
			o->quick = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'J':
			o->json_file = optarg;
			break;
		case 'r':
			if (parse_u(optarg, 64, &v))
				goto bad;
			reps = (int)v;
			break;
		case 'd':
			if (parse_u(optarg, 60000, &v))
				goto bad;
			dur = (double)v;
			break;
		case 'p':
			if (parse_u(optarg, BENCH_MAX_WORKERS, &v))
				goto bad;
			procs = (int)v;
			break;
		case 'P':
			o->pin = true;
			break;
		case 'c':
			if (parse_u(optarg, 1u << 24, &v) || v < 16)
				goto bad;
			o->capacity = (uint32_t)v;
			break;
		case 's':
			if (parse_u(optarg, 1u << 24, &v))
				goto bad;
			o->sessions = (uint32_t)v;
			break;
		case 'l':
			if (parse_u(optarg, 100000000, &v) || v < 1000)
				goto bad;
			lat = v;
			break;
		case 'o':
			if (parse_only(optarg, &o->only))
				goto bad;
			break;
		case 'b':
			o->backends = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "streamreg-bench: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	o->reps = reps ? reps : o->quick ? 3 : 7;
	o->duration_ms = dur > 0 ? dur : o->quick ? 20 : 200;
	o->procs_max = procs ? procs : o->quick ? 2 : 4;
	o->latency_samples = lat ? lat : o->quick ? 100000 : 1000000;
	if (!o->capacity)
		o->capacity = 4096;
	if (!o->sessions)
		o->sessions = o->capacity / 2;
	if (o->sessions > o->capacity) {
		fprintf(stderr, "streamreg-bench: --sessions %u exceeds --capacity %u\n",
		        o->sessions, o->capacity);
		return -1;
	}
	static const uint32_t full_caps[] = {1024, 4096, 16384, 65536, 262144, 1048576};
	static const uint32_t quick_caps[] = {1024, 65536};
	const uint32_t *caps = o->quick ? quick_caps : full_caps;
	o->n_capacities = o->quick ? 2 : 6;
	memcpy(o->capacities, caps, o->n_capacities * sizeof caps[0]);
	return 0;
bad:
	fprintf(stderr, "streamreg-bench: bad value '%s'\n", optarg);
	usage(stderr);
	return -1;
}

static bool selected(const struct options *o, const char *name)
{
	if (!o->backends)
		return true;
	size_t len = strlen(name);
	for (const char *p = o->backends; (p = strstr(p, name)) != NULL; p += len)
		if ((p == o->backends || p[-1] == ',') && (p[len] == ',' || p[len] == 0))
			return true;
	return false;
}

/* Every name in --backends must be one this harness knows, built or not. */
static int check_backends(const struct options *o)
{
	if (!o->backends)
		return 0;
	char buf[512];
	snprintf(buf, sizeof buf, "%s", o->backends);
	for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		bool known = false;
		for (size_t i = 0; i < N_BACKENDS && !known; i++)
			known = !strcmp(t, all_backends[i]->name);
		for (size_t i = 0;
		     i < sizeof comparator_names / sizeof comparator_names[0] && !known; i++)
			known = !strcmp(t, comparator_names[i]);
		if (!known) {
			fprintf(stderr, "streamreg-bench: unknown backend '%s' in --backends\n", t);
			return -1;
		}
	}
	return 0;
}

/*
 * The capacity scenario twice: in /dev/shm (4 KiB pages on Debian) and in a
 * tmpfs mounted with huge=within_size (2 MiB pages), so one run shows what
 * the page size does to big tables.  Quick mode runs the huge pass only at
 * the largest capacity.
 */
static void capacity_passes(const struct options *o, const struct scenario_opts *so)
{
	const char *env_dir = getenv(SR_DIR_ENV);
	char *user_dir = env_dir ? strdup(env_dir) : NULL;
	unsetenv(SR_DIR_ENV);
	for (size_t i = 0; i < o->n_capacities; i++)
		scenario_capacity(o->capacities[i], so, "shm");
	char dir[64], why[300];
	if (bench_huge_dir_open(dir, sizeof dir, why, sizeof why) == 0) {
		fprintf(stderr,
		        "streamreg-bench: huge pages: mounted a private tmpfs with "
		        "huge=within_size on %s (removed at exit)\n",
		        dir);
		setenv(SR_DIR_ENV, dir, 1);
		for (size_t i = o->quick ? o->n_capacities - 1 : 0; i < o->n_capacities; i++)
			scenario_capacity(o->capacities[i], so, "huge");
		unsetenv(SR_DIR_ENV);
		bench_huge_dir_close();
	} else {
		struct result *r = report_add();
		r->kind = RK_SKIPPED;
		snprintf(r->scenario, sizeof r->scenario, "capacity");
		snprintf(r->backend, sizeof r->backend, "streamreg");
		snprintf(r->pages, sizeof r->pages, "huge");
		snprintf(r->note, sizeof r->note, "huge-page pass skipped: %s", why);
		fprintf(stderr, "streamreg-bench: %s\n", r->note);
	}
	if (user_dir)
		setenv(SR_DIR_ENV, user_dir, 1);
	free(user_dir);
}

int main(int argc, char **argv)
{
	struct options o;
	if (parse_args(argc, argv, &o) < 0 || check_backends(&o) < 0)
		return 2;
	atexit(redis_server_stop);
	bench_interrupt_init();
	int ncpus = bench_ncpus();
	struct run_info ri = {.mode = o.quick ? "quick" : "full",
	                      .reps = o.reps,
	                      .duration_ms = o.duration_ms,
	                      .capacity = o.capacity,
	                      .sessions = o.sessions,
	                      .pin = o.pin,
	                      .ncpus = ncpus,
	                      .timer_overhead_ns = bench_timer_overhead_ns()};
	report_loadavg(ri.load_start, sizeof ri.load_start);
	struct bench_keys keys;
	bench_make_keys(&keys, o.sessions, o.capacity, 42);

	for (size_t i = 0; i < sizeof comparator_names / sizeof comparator_names[0]; i++) {
		const char *why = bench_missing_reason(comparator_names[i]);
		if (why) {
			struct result *r = report_add();
			r->kind = RK_SKIPPED;
			snprintf(r->scenario, sizeof r->scenario, "find_touch");
			snprintf(r->backend, sizeof r->backend, "%s", comparator_names[i]);
			snprintf(r->note, sizeof r->note, "%s", why);
			fprintf(stderr, "streamreg-bench: %s: %s\n", comparator_names[i], why);
		}
	}
	if (o.only & (GROUP_OPS | GROUP_SCALING)) {
		const struct backend *chosen[N_BACKENDS];
		size_t n = 0;
		for (size_t i = 0; i < N_BACKENDS; i++)
			if (selected(&o, all_backends[i]->name))
				chosen[n++] = all_backends[i];
		struct matrix_opts mo = {.ops = o.only & GROUP_OPS,
		                         .scaling = o.only & GROUP_SCALING,
		                         .quick = o.quick,
		                         .pin = o.pin,
		                         .reps = o.reps,
		                         .procs_max = o.procs_max,
		                         .ncpus = ncpus,
		                         .duration_ns = (uint64_t)(o.duration_ms * 1e6),
		                         .seed = 42};
		bench_matrix_run(chosen, n, &keys, &mo);
		if ((o.only & GROUP_OPS) && !o.quick) {
			/*
			 * Viewer joins and leaves again with fewer channels than a
			 * process's lease table holds (default 1024): streamreg's
			 * client cost depends on it, so both sides of the line are shown.
			 */
			struct bench_keys few;
			bench_make_keys(&few, o.sessions < 512 ? o.sessions : 512, o.capacity, 43);
			const struct backend *cl[N_BACKENDS];
			size_t nc = 0;
			for (size_t i = 0; i < n; i++)
				if (chosen[i]->ops & OP_BIT(OP_ADD_REMOVE))
					cl[nc++] = chosen[i];
			mo.scaling = false;
			mo.op_mask = OP_BIT(OP_ADD_REMOVE) | OP_BIT(OP_MIXED);
			mo.suffix = "_512ch";
			bench_matrix_run(cl, nc, &few, &mo);
			bench_free_keys(&few);
		}
	}
	redis_server_stop();

	struct scenario_opts so = {.reps = o.reps,
	                           .duration_ns = (uint64_t)(o.duration_ms * 1e6),
	                           .pin = o.pin,
	                           .seed = 42,
	                           .latency_samples = o.latency_samples};
	if (o.only & GROUP_LATENCY) {
		const struct backend *lat_backends[] = {
		    &backend_streamreg,
		    &backend_rwlock_shared,
#ifdef SR_BENCH_HAVE_TDB
		    &backend_tdb,
#endif
		};
		for (size_t i = 0; i < sizeof lat_backends / sizeof lat_backends[0]; i++)
			if (selected(&o, lat_backends[i]->name))
				scenario_latency(lat_backends[i], &keys, &so);
	}
	if ((o.only & GROUP_CAPACITY) && selected(&o, "streamreg"))
		capacity_passes(&o, &so);

	/* An interrupted run has no results to print; it dies of its signal. */
	bench_interrupt_point();
	report_finish();
	if (o.json_file) {
		FILE *f = fopen(o.json_file, "w");
		if (!f) {
			fprintf(stderr, "streamreg-bench: %s: %s\n", o.json_file, strerror(errno));
			return 1;
		}
		report_json(f, &ri);
		if (fclose(f) != 0) {
			fprintf(stderr, "streamreg-bench: writing %s: %s\n", o.json_file,
			        strerror(errno));
			return 1;
		}
	}
	if (o.json)
		report_json(stdout, &ri);
	else
		report_table(stdout, &ri);
	bench_free_keys(&keys);
	int rc = fflush(stdout) == 0 ? 0 : 1;
	bench_interrupt_point();
	return rc;
}
