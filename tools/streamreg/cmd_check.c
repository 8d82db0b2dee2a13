/* check: validate a registry and, with --recover, reclaim what dead
 * processes left behind. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "cli_util.h"

static const char check_help[] =
    "Usage: streamreg check NAME [--recover [--any-owner]]\n"
    "\n"
    "Validate registry NAME: its header (attach), every live record\n"
    "(invariants), and report its figures (sessions, clients, process table,\n"
    "reclaims, pages; 'streamreg top' lists the processes).  Needs only read\n"
    "permission.  Exits 3 when the segment or a record is bad.\n"
    "\n"
    "  -r, --recover    attach read-write and reclaim the slots, client leases\n"
    "                   and writer lock of dead processes, then print what was\n"
    "                   freed\n"
    "  -a, --any-owner  with --recover: accept a registry owned by another user\n"
    "  -h, --help       show this help\n";

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The figures of one recovery: counters moved since `before`, or what the
 * recover call itself reported if larger (the read-write attach reclaims
 * too, so the call alone can miss what the attach already freed). */
static void print_recovery(const sr_registry_stats *before, const sr_registry_stats *after,
                           const sr_recovery_report *rep)
{
	uint64_t procs = after->procs_reclaimed - before->procs_reclaimed;
	uint64_t leases = after->leases_reclaimed - before->leases_reclaimed;
	uint64_t locks = after->locks_repaired - before->locks_repaired;
	if (procs < rep->procs_reclaimed)
		procs = rep->procs_reclaimed;
	if (leases < rep->leases_released)
		leases = rep->leases_released;
	if (locks < rep->lock_repaired)
		locks = rep->lock_repaired;
	printf("  recovered   %" PRIu64 " dead %s reclaimed, %" PRIu64 " client %s released, "
	       "%" PRIu64 " writer %s repaired, %" PRIu32 " %s repaired\n",
	       procs, plural(procs, "process", "processes"), leases,
	       plural(leases, "lease", "leases"), locks, plural(locks, "lock", "locks"),
	       rep->records_repaired, plural(rep->records_repaired, "record", "records"));
}

static int recover(const char *cmd, const char *name, unsigned flags,
                   const sr_registry_stats *before)
{
	sr_registry *rw = NULL;
	int rc = cli_attach(cmd, name, flags, &rw);
	if (rc != CLI_OK)
		return rc;
	sr_recovery_report rep = {0};
	int err = sr_registry_recover(rw, &rep);
	if (err < 0) {
		rc = cli_lib_error(cmd, err, CLI_FAILED, "recovery of '%s' failed", name);
		sr_registry_close(rw);
		return rc;
	}
	sr_registry_stats after;
	if ((err = sr_registry_stats_get(rw, &after)) < 0) {
		rc = cli_lib_error(cmd, err, CLI_FAILED, "cannot read the figures of '%s'", name);
		sr_registry_close(rw);
		return rc;
	}
	sr_registry_close(rw);
	print_recovery(before, &after, &rep);
	return CLI_OK;
}

/* The page size in use, and where the file lives: what an operator checks
 * before blaming a big registry's lookup cost on anything else. */
static void print_pages(const char *name, size_t page_size)
{
	char path[SR_DIR_MAX + SR_NAME_MAX + 2] = "?";
	(void)sr_registry_path(name, path, sizeof(path));
	if (page_size >= (size_t)1 << 20)
		printf("  pages       %zu MiB (transparent huge pages), file %s\n", page_size >> 20,
		       path);
	else if (page_size)
		printf("  pages       %zu KiB, file %s (for big registries: a tmpfs mounted with "
		       "huge=within_size, named by %s)\n",
		       page_size >> 10, path, SR_DIR_ENV);
	else
		printf("  pages       unknown, file %s\n", path);
}

static void print_report(const sr_registry_stats *st, int bad)
{
	char created[64], age[32];
	cli_format_wall(st->created_wall_ns, created, sizeof(created));
	cli_format_duration(st->age_ms, age, sizeof(age));
	printf("  segment     %" PRIu64 " bytes, layout %d, %" PRIu32 " slots of %" PRIu64
	       " bytes\n",
	       st->segment_size, SR_LAYOUT_VERSION, st->capacity, st->slot_bytes);
	printf("  created     %s by pid %ld, age %s, birth id %016" PRIx64 "\n", created,
	       (long)st->creator_pid, age, st->birth_id);
	printf("  sessions    %" PRIu32 " of %" PRIu32 " in use (", st->sessions, st->capacity);
	for (int s = 0; s < SR_STATE_COUNT; s++)
		printf("%s%s %" PRIu32, s ? ", " : "", sr_state_name((sr_state)s), st->by_state[s]);
	printf(")\n");
	printf("  clients     %" PRIu64 "\n", st->clients);
	printf("  processes   %" PRIu32 " of %" PRIu32
	       " in the process table (viewer holders, the owner), %" PRIu32 " leases each\n",
	       st->procs_attached, st->max_procs, st->leases_per_proc);
	printf("  reclaimed   %" PRIu64 " dead processes, %" PRIu64 " client leases, %" PRIu64
	       " writer locks since creation\n",
	       st->procs_reclaimed, st->leases_reclaimed, st->locks_repaired);
	printf("  records     %d bad\n", bad);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"recover", no_argument, NULL, 'r'},
	    {"any-owner", no_argument, NULL, 'a'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const names[] = {"registry NAME"};
	const char *cmd = argv[0];
	bool do_recover = false;
	unsigned flags = 0;
	int c, rc;

	cli_getopt_reset();
	while ((c = cli_getopt(cmd, argc, argv, "ra", opts)) != CLI_OPT_DONE) {
		switch (c) {
		case CLI_OPT_HELP:
			fputs(check_help, stdout);
			return CLI_OK;
		case 'r':
			do_recover = true;
			break;
		case 'a':
			flags |= SR_ATTACH_ANY_OWNER;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if ((rc = cli_operands(cmd, argc, argv, 1, names)) != CLI_OK)
		return rc;
	const char *name = argv[optind];

	/* Read-only first: it validates the header without changing anything,
	 * and gives the counters the recovery is measured against. */
	sr_registry *reg = NULL;
	if ((rc = cli_attach(cmd, name, SR_ATTACH_READONLY, &reg)) != CLI_OK)
		return rc;
	sr_registry_stats st;
	int err = sr_registry_stats_get(reg, &st);
	if (err < 0) {
		rc = cli_lib_error(cmd, err, CLI_NOREG, "cannot read the figures of '%s'", name);
		sr_registry_close(reg);
		return rc;
	}
	printf("registry '%s'\n", name);
	if (do_recover && (rc = recover(cmd, name, flags, &st)) != CLI_OK) {
		sr_registry_close(reg);
		return rc;
	}
	int bad = sr_registry_verify(reg);
	if (bad < 0) {
		rc = cli_lib_error(cmd, bad, CLI_NOREG, "cannot verify registry '%s'", name);
		sr_registry_close(reg);
		return rc;
	}
	if ((err = sr_registry_stats_get(reg, &st)) < 0) {
		rc = cli_lib_error(cmd, err, CLI_NOREG, "cannot read the figures of '%s'", name);
		sr_registry_close(reg);
		return rc;
	}
	size_t page_size = 0;
	if (sr_registry_page_size(reg, &page_size) < 0)
		page_size = 0;
	sr_registry_close(reg);
	print_report(&st, bad);
	print_pages(name, page_size);
	if (bad > 0) {
		fprintf(stderr, "streamreg: %s: registry '%s' has %d bad %s%s%s%s\n", cmd, name,
		        bad, plural((uint64_t)bad, "record", "records"),
		        do_recover ? "" : "; try 'streamreg check ", do_recover ? "" : name,
		        do_recover ? "" : " --recover'");
		return CLI_NOREG;
	}
	printf("  status      ok\n");
	return CLI_OK;
}
