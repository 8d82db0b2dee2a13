/*
 * streamreg-chaos: see chaos.h.  The parent is the killer and the judge; it
 * never counts a viewer itself, so every lease in the registry belongs to a
 * worker whose tally it can ask for.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaos_run.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

void chaos_violation(struct chaos_run *run, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stdout, "VIOLATION: ");
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
	run->violations++;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: streamreg-chaos --seconds N [options]\n"
	        "\n"
	        "Worker processes hammer a fresh registry with the real operation mix while a\n"
	        "killer SIGKILLs them (and the reaper) at random instants; then the invariants\n"
	        "are checked and the figures printed.  Exit status 1 on any violation.\n"
	        "\n"
	        "  --seconds N           run time (default 10; with --soak, 3600)\n"
	        "  --workers W           worker processes, 1..%d (default 4)\n"
	        "  --channels C          channels, 1..%d (default 8)\n"
	        "  --seed S              random seed (default: random, printed)\n"
	        "  --kill-every MS       mean time between kills (default 20)\n"
	        "  --soak                long run: checkpoints every 60 s, progress lines\n"
	        "  --with-reaper PATH    run the real streamreg-reaper instead of the keeper\n"
	        "  --lineup FILE         its lineup (required with --with-reaper)\n"
	        "  --output-dir DIR      its output directory (required with --with-reaper)\n"
	        "  --reaper-kill-every S SIGKILL and restart the reaper this often (default 8)\n"
	        "  --tight               workers never pause: maximal lock contention, but\n"
	        "                        on a loaded machine preemption inflates durations\n"
	        "  --storm               every worker in tight loops of lock-taking calls\n"
	        "                        (record_error, insert/delete); implies --tight\n"
	        "  --verbose             progress lines\n"
	        "  --inject-fault KIND   self-test of the checks: \"lease\" (a worker misreports\n"
	        "                        its viewers) or \"slow\" (a 150 ms operation)\n"
	        "  --help                this text\n",
	        CHAOS_MAX_WORKERS, CHAOS_MAX_CHANNELS);
}

static int parse_uint(const char *opt, const char *s, unsigned long min, unsigned long max,
                      unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "streamreg-chaos: %s: \"%s\" is not a number in %lu..%lu\n", opt, s,
		        min, max);
		return -1;
	}
	*out = v;
	return 0;
}

enum {
	O_SECONDS = 256,
	O_WORKERS,
	O_CHANNELS,
	O_SEED,
	O_KILL,
	O_SOAK,
	O_REAPER,
	O_LINEUP,
	O_OUTDIR,
	O_RKILL,
	O_VERBOSE,
	O_INJECT,
	O_TIGHT,
	O_STORM,
	O_HELP
};

static int parse_args(int argc, char **argv, struct chaos_config *cfg)
{
	static const struct option opts[] = {
	    {"seconds", required_argument, NULL, O_SECONDS},
	    {"workers", required_argument, NULL, O_WORKERS},
	    {"channels", required_argument, NULL, O_CHANNELS},
	    {"seed", required_argument, NULL, O_SEED},
	    {"kill-every", required_argument, NULL, O_KILL},
	    {"soak", no_argument, NULL, O_SOAK},
	    {"with-reaper", required_argument, NULL, O_REAPER},
	    {"lineup", required_argument, NULL, O_LINEUP},
	    {"output-dir", required_argument, NULL, O_OUTDIR},
	    {"reaper-kill-every", required_argument, NULL, O_RKILL},
	    {"verbose", no_argument, NULL, O_VERBOSE},
	    {"tight", no_argument, NULL, O_TIGHT},
	    {"storm", no_argument, NULL, O_STORM},
	    {"inject-fault", required_argument, NULL, O_INJECT},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0}};
	unsigned long v;
	bool seconds_given = false, seed_given = false;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_SECONDS:
			if (parse_uint("--seconds", optarg, 1, 7 * 86400, &v))
				return -1;
			cfg->seconds = (double)v;
			seconds_given = true;
			break;
		case O_WORKERS:
			if (parse_uint("--workers", optarg, 1, CHAOS_MAX_WORKERS, &v))
				return -1;
			cfg->workers = (unsigned)v;
			break;
		case O_CHANNELS:
			if (parse_uint("--channels", optarg, 1, CHAOS_MAX_CHANNELS, &v))
				return -1;
			cfg->channels = (unsigned)v;
			break;
		case O_SEED:
			if (parse_uint("--seed", optarg, 0, ~0ul, &v))
				return -1;
			cfg->seed = v;
			seed_given = true;
			break;
		case O_KILL:
			if (parse_uint("--kill-every", optarg, 1, 60000, &v))
				return -1;
			cfg->kill_mean_ms = (unsigned)v;
			break;
		case O_RKILL:
			if (parse_uint("--reaper-kill-every", optarg, 1, 3600, &v))
				return -1;
			cfg->reaper_kill_s = (unsigned)v;
			break;
		case O_SOAK:
			cfg->soak = true;
			break;
		case O_REAPER:
			cfg->reaper_path = optarg;
			break;
		case O_LINEUP:
			cfg->lineup = optarg;
			break;
		case O_OUTDIR:
			cfg->output_dir = optarg;
			break;
		case O_VERBOSE:
			cfg->verbose = true;
			break;
		case O_TIGHT:
			cfg->tight = true;
			break;
		case O_STORM:
			cfg->storm = cfg->tight = true;
			break;
		case O_INJECT:
			if (strcmp(optarg, "lease") && strcmp(optarg, "slow")) {
				fprintf(stderr, "streamreg-chaos: --inject-fault: lease or slow\n");
				return -1;
			}
			cfg->inject = optarg;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "streamreg-chaos: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if (cfg->reaper_path && (!cfg->lineup || !cfg->output_dir)) {
		fprintf(stderr, "streamreg-chaos: --with-reaper needs --lineup and --output-dir\n");
		return -1;
	}
	if (!cfg->reaper_path && (cfg->lineup || cfg->output_dir)) {
		fprintf(stderr,
		        "streamreg-chaos: --lineup and --output-dir go with --with-reaper\n");
		return -1;
	}
	if (!seconds_given && cfg->soak)
		cfg->seconds = 3600;
	if (!seed_given && getrandom(&cfg->seed, sizeof(cfg->seed), 0) != sizeof(cfg->seed))
		cfg->seed = (uint64_t)chaos_now_ns() ^ (uint64_t)getpid();
	return 0;
}

static int setup_registry(struct chaos_run *run)
{
	struct chaos_config *cfg = run->cfg;
	snprintf(cfg->name, sizeof(cfg->name), "chaos_%d_%llx", (int)getpid(),
	         (unsigned long long)(chaos_rand(&run->rng) & 0xffffff));
	sr_create_options o;
	sr_create_options_init(&o);
	o.capacity = cfg->channels + CHAOS_SPARE_SLOTS;
	/* A tight process table: restarted workers find it full of dead slots
	 * and must reclaim them, which is what pre-fork servers live through. */
	o.max_procs = cfg->workers + 4;
	o.leases_per_proc = 128;
	int rc = sr_registry_create(cfg->name, &o, &run->reg);
	if (rc != 0) {
		fprintf(stderr, "streamreg-chaos: cannot create registry %s: %s (%s)\n", cfg->name,
		        sr_strerror(rc), sr_errdetail());
		return -1;
	}
	struct chaos_shared *sh = run->sh;
	for (unsigned i = 0; i < CHAOS_EXTRA; i++)
		uuid_generate_random(sh->extra[i]);
	if (cfg->reaper_path)
		return chaos_reaper_start(run) < 0 ? -1 : chaos_reaper_channels(run);
	sh->strict_records = true;
	sh->n_channels = cfg->channels;
	for (unsigned i = 0; i < cfg->channels; i++) {
		uuid_generate_random(sh->channels[i]);
		if ((rc = sr_session_insert(run->reg, sh->channels[i], NULL)) != 0) {
			fprintf(stderr, "streamreg-chaos: insert: %s\n", sr_strerror(rc));
			return -1;
		}
	}
	return 0;
}

static void start_round(struct chaos_run *run, bool first)
{
	atomic_store(&run->sh->phase, PH_RUN);
	if (!run->cfg->reaper_path)
		chaos_spawn_keeper(run);
	if (first)
		for (unsigned i = 0; i < run->cfg->workers; i++)
			chaos_spawn_worker(run, i);
}

static uint64_t total_ops(struct chaos_run *run)
{
	uint64_t n = atomic_load(&run->sh->keeper.ops);
	for (unsigned i = 0; i < run->cfg->workers; i++)
		n += atomic_load(&run->sh->worker[i].ops);
	return n;
}

/* Each channel in turn goes quiet for a while, long enough for the
 * keeper (20 ms) or the reaper (its idle grace, 1.5 s) to stop it, so start
 * and stop cycles happen under the killing too. */
static void rotate_quiet(struct chaos_run *run)
{
	static uint64_t next;
	static unsigned turn;
	uint64_t now = chaos_now_ns();
	uint64_t period = run->cfg->reaper_path ? 3500000000ull : 300000000ull;
	if (now < next)
		return;
	next = now + period;
	unsigned n = run->sh->n_channels;
	for (unsigned i = 0; i < n; i++)
		atomic_store(&run->sh->quiet[i], 0);
	/* Every other period one channel is quiet: half its life, for two. */
	unsigned t = turn++;
	if (n > 0 && (t & 1) == 0)
		atomic_store(&run->sh->quiet[(t / 2) % n], 1);
}

/* Kill at random instants until the round is over. */
static void kill_loop(struct chaos_run *run, uint64_t until)
{
	uint64_t next_progress = chaos_now_ns() + 10000000000ull;
	uint64_t next_reaper_kill =
	    chaos_now_ns() + (uint64_t)run->cfg->reaper_kill_s * 1000000000ull;
	while (!interrupted && chaos_now_ns() < until) {
		uint64_t wait_ns =
		    chaos_rand(&run->rng) % (2ull * run->cfg->kill_mean_ms * 1000000ull + 1);
		uint64_t wake = chaos_now_ns() + wait_ns;
		while (chaos_now_ns() < wake && !interrupted) {
			chaos_sleep_ns(wait_ns < 2000000 ? wait_ns : 2000000);
			chaos_watch_inflight(run);
		}
		chaos_reap(run);
		chaos_kill_one(run);
		rotate_quiet(run);
		if (run->cfg->reaper_path) {
			chaos_reaper_watch(run);
			if (chaos_now_ns() >= next_reaper_kill) {
				chaos_reaper_kill_restart(run);
				next_reaper_kill =
				    chaos_now_ns() +
				    (uint64_t)run->cfg->reaper_kill_s * 1000000000ull;
			}
		}
		if ((run->cfg->verbose || run->cfg->soak) && chaos_now_ns() >= next_progress) {
			printf("progress: %llu operations, %llu kills, %llu violations\n",
			       (unsigned long long)total_ops(run), (unsigned long long)run->kills,
			       (unsigned long long)run->violations);
			fflush(stdout);
			next_progress += 10000000000ull;
		}
	}
}

void chaos_print_figures(struct chaos_run *run, FILE *out)
{
	struct chaos_shared *sh = run->sh;
	uint64_t ops = total_ops(run), max_ns = 0, busy = 0, full = 0;
	uint32_t max_op = OP_NONE;
	for (unsigned i = 0; i <= run->cfg->workers; i++) {
		struct chaos_slot *s = i < run->cfg->workers ? &sh->worker[i] : &sh->keeper;
		if (atomic_load(&s->max_ns) > max_ns) {
			max_ns = atomic_load(&s->max_ns);
			max_op = atomic_load(&s->max_op);
		}
		busy += atomic_load(&s->busy);
		full += atomic_load(&s->full);
	}
	sr_registry_stats st;
	memset(&st, 0, sizeof(st));
	sr_registry_stats_get(run->reg, &st);
	fprintf(out, "operations done:        %llu (%.0f/s)\n", (unsigned long long)ops,
	        (double)ops / run->cfg->seconds);
	fprintf(out, "kills delivered:        %llu (keeper %llu, reaper %llu, in bursts %llu)\n",
	        (unsigned long long)run->kills, (unsigned long long)atomic_load(&sh->keeper_kills),
	        (unsigned long long)run->reaper_kills, (unsigned long long)run->burst_kills);
	fprintf(out, "kills by operation:    ");
	for (int op = 0; op < OP_COUNT; op++) {
		uint64_t k = atomic_load(&sh->kills_by_op[op]);
		if (k)
			fprintf(out, " %s=%llu", op == OP_NONE ? "between_ops" : chaos_op_name(op),
			        (unsigned long long)k);
	}
	fputc('\n', out);
	fprintf(out,
	        "recoveries performed:   %llu recover calls; procs_reclaimed %llu, "
	        "leases_reclaimed %llu, locks_repaired %llu\n",
	        (unsigned long long)atomic_load(&sh->rec_calls),
	        (unsigned long long)st.procs_reclaimed, (unsigned long long)st.leases_reclaimed,
	        (unsigned long long)st.locks_repaired);
	fprintf(
	    out,
	    "longest operation:      %.3f ms not preempted (%s); longest seen in flight %.3f ms\n",
	    (double)max_ns / 1e6, chaos_op_name(max_op), (double)run->inflight_max_ns / 1e6);
	fprintf(out,
	        "longest per operation, ms, not preempted / wall clock [count over 10 ms]:\n ");
	for (int op = 1; op < OP_COUNT; op++)
		if (atomic_load(&sh->op_max_wall_ns[op]))
			fprintf(out, " %s=%.2f/%.2f[%llu]", chaos_op_name(op),
			        (double)atomic_load(&sh->op_max_ns[op]) / 1e6,
			        (double)atomic_load(&sh->op_max_wall_ns[op]) / 1e6,
			        (unsigned long long)atomic_load(&sh->op_over_10ms[op]));
	fputc('\n', out);
	fprintf(out,
	        "slow operations excused: %llu (explained by run-queue wait, host steal time "
	        "or a preempted lock holder; see --verbose)\n",
	        (unsigned long long)run->excused);
	fprintf(out, "snapshot retries (EBUSY): %llu; inserts refused, table full: %llu\n",
	        (unsigned long long)busy, (unsigned long long)full);
	if (run->cfg->reaper_path)
		fprintf(out,
		        "transcoder checks:      %llu, most at once for one channel %llu; "
		        "orphans reaped %llu\n",
		        (unsigned long long)run->transcoder_checks,
		        (unsigned long long)run->max_transcoders_seen,
		        (unsigned long long)run->orphans_reaped);
	fprintf(out, "invariant violations:   %llu\n", (unsigned long long)run->violations);
}

int main(int argc, char **argv)
{
	struct chaos_config cfg = {
	    .seconds = 10, .workers = 4, .channels = 8, .kill_mean_ms = 20, .reaper_kill_s = 8};
	if (parse_args(argc, argv, &cfg) != 0)
		return 2;
	struct chaos_shared *sh =
	    mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("streamreg-chaos: mmap");
		return 2;
	}
	struct chaos_run run = {.cfg = &cfg, .sh = sh, .rng = cfg.seed ^ 0xc4a05ull};
	chaos_op_stats_bind(sh);
	sh->tight = cfg.tight;
	sh->storm = cfg.storm;
	if (cfg.inject)
		sh->inject = strcmp(cfg.inject, "lease") == 0 ? 1 : 2;
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Transcoders orphaned by a killed reaper come to us, so we can see
	 * whether the next reaper cleans them up. */
	if (cfg.reaper_path)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (setup_registry(&run) != 0) {
		if (run.reaper)
			chaos_reaper_final(&run);
		if (run.reg) {
			sr_registry_close(run.reg);
			sr_registry_unlink(cfg.name);
		}
		return 2;
	}
	printf("streamreg-chaos: %.0f s, %u workers, %u channels, seed %llu%s%s\n", cfg.seconds,
	       cfg.workers, cfg.channels, (unsigned long long)cfg.seed,
	       cfg.reaper_path ? ", real reaper " : ", library-level keeper",
	       cfg.reaper_path ? cfg.reaper_path : "");
	fflush(stdout);
	uint64_t start = chaos_now_ns();
	uint64_t end = start + (uint64_t)(cfg.seconds * 1e9);
	uint64_t round_ns = cfg.soak ? 60000000000ull : end - start;
	fflush(NULL);
	run.witness = fork();
	if (run.witness == 0) {
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		chaos_witness_main(sh);
	}
	start_round(&run, true);
	for (;;) {
		uint64_t until = chaos_now_ns() + round_ns;
		kill_loop(&run, until < end ? until : end);
		chaos_checkpoint(&run);
		if (interrupted || chaos_now_ns() >= end)
			break;
		if (cfg.soak) {
			printf("checkpoint %u: %llu violations so far\n", run.round,
			       (unsigned long long)run.violations);
			fflush(stdout);
		}
		start_round(&run, false);
	}
	if (run.witness > 0) {
		kill(run.witness, SIGKILL);
		waitpid(run.witness, NULL, 0);
	}
	chaos_final(&run);
	if (cfg.reaper_path)
		chaos_reaper_final(&run);
	chaos_print_figures(&run, stdout);
	sr_registry_close(run.reg);
	sr_registry_unlink(cfg.name);
	return run.violations ? 1 : 0;
}
