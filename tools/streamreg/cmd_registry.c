/* create, destroy and check: the registry as a whole. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "cli_util.h"

static void print_create_help(void)
{
	sr_create_options d;
	sr_create_options_init(&d);
	printf("Usage: streamreg create NAME [--capacity N] [--max-procs N] [--leases N] "
	       "[--mode OCTAL]\n"
	       "\n"
	       "Create registry NAME (the file $STREAMREG_DIR/NAME, by default /dev/shm/NAME);\n"
	       "refuses a name that already exists.\n"
	       "\n"
	       "  -c, --capacity N   sessions the table holds (default %" PRIu32 ", at most %u)\n"
	       "  -p, --max-procs N  processes counting viewers at once, the reaper\n"
	       "                     included (default %" PRIu32 ", at most %u)\n"
	       "  -l, --leases N     channels one process can count viewers on (default %" PRIu32
	       ", at most %u)\n"
	       "  -m, --mode OCTAL   permission bits of the segment (default %04o); give\n"
	       "                     readers such as monitors read permission, e.g. 0640\n"
	       "  -h, --help         show this help\n",
	       d.capacity, SR_CAPACITY_MAX, d.max_procs, SR_PROCS_MAX, d.leases_per_proc,
	       SR_LEASES_MAX, (unsigned)d.mode);
}

int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"capacity", required_argument, NULL, 'c'},
	    {"max-procs", required_argument, NULL, 'p'},
	    {"leases", required_argument, NULL, 'l'},
	    {"mode", required_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const names[] = {"registry NAME"};
	const char *cmd = argv[0];
	sr_create_options o;
	sr_create_options_init(&o);
	unsigned mode = (unsigned)o.mode;
	int c, rc = CLI_OK;

	cli_getopt_reset();
	while (rc == CLI_OK &&
	       (c = cli_getopt(cmd, argc, argv, "c:p:l:m:", opts)) != CLI_OPT_DONE) {
		switch (c) {
		case CLI_OPT_HELP:
			print_create_help();
			return CLI_OK;
		case 'c':
			rc = cli_parse_u32(cmd, "--capacity", optarg, 1, SR_CAPACITY_MAX,
			                   &o.capacity);
			break;
		case 'p':
			rc = cli_parse_u32(cmd, "--max-procs", optarg, 1, SR_PROCS_MAX,
			                   &o.max_procs);
			break;
		case 'l':
			rc = cli_parse_u32(cmd, "--leases", optarg, 1, SR_LEASES_MAX,
			                   &o.leases_per_proc);
			break;
		case 'm':
			rc = cli_parse_mode(cmd, optarg, &mode);
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (rc != CLI_OK || (rc = cli_operands(cmd, argc, argv, 1, names)) != CLI_OK)
		return rc;
	const char *name = argv[optind];
	if ((rc = cli_check_name(cmd, name)) != CLI_OK)
		return rc;
	o.mode = (mode_t)mode;

	sr_registry *reg = NULL;
	int err = sr_registry_create(name, &o, &reg);
	if (err == -EEXIST)
		return cli_lib_error_hint(
		    cmd, err, CLI_FAILED,
		    "remove it first with 'streamreg destroy' to start afresh", "registry '%s'",
		    name);
	if (err < 0)
		return cli_lib_error(cmd, err, CLI_FAILED, "cannot create registry '%s'", name);

	sr_registry_stats st;
	if (sr_registry_stats_get(reg, &st) == 0)
		printf("created registry '%s': capacity %" PRIu32 " sessions, %" PRIu32
		       " processes of %" PRIu32 " leases each, mode %04o, %" PRIu64 " bytes\n",
		       name, st.capacity, st.max_procs, st.leases_per_proc, mode, st.segment_size);
	else
		printf("created registry '%s'\n", name);
	sr_registry_close(reg);
	return CLI_OK;
}

static const char destroy_help[] =
    "Usage: streamreg destroy NAME [--force]\n"
    "\n"
    "Remove registry NAME.  Processes still attached keep their mapping until\n"
    "they detach; new attaches fail.\n"
    "\n"
    "  -f, --force  remove its file even when it is not a valid registry\n"
    "  -h, --help   show this help\n";

static int unlink_registry(const char *cmd, const char *name)
{
	int err = sr_registry_unlink(name);
	if (err < 0)
		return cli_lib_error(cmd, err, err == -ENOENT ? CLI_NOREG : CLI_FAILED,
		                     "cannot remove registry '%s'", name);
	return CLI_OK;
}

int cmd_destroy(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const names[] = {"registry NAME"};
	const char *cmd = argv[0];
	bool force = false;
	int c, rc;

	cli_getopt_reset();
	while ((c = cli_getopt(cmd, argc, argv, "f", opts)) != CLI_OPT_DONE) {
		if (c == CLI_OPT_HELP) {
			fputs(destroy_help, stdout);
			return CLI_OK;
		}
		if (c != 'f')
			return CLI_USAGE;
		force = true;
	}
	if ((rc = cli_operands(cmd, argc, argv, 1, names)) != CLI_OK)
		return rc;
	const char *name = argv[optind];
	if ((rc = cli_check_name(cmd, name)) != CLI_OK)
		return rc;

	/* Attach first so that a typo cannot remove another program's shm
	 * object: only a valid registry goes without --force. */
	sr_registry *reg = NULL;
	int err = sr_registry_attach(name, SR_ATTACH_READONLY, &reg);
	if (err == -ENOENT)
		return cli_lib_error(cmd, 0, CLI_NOREG, "registry '%s' does not exist", name);
	if (err < 0) {
		if (!force)
			return cli_lib_error_hint(
			    cmd, err, cli_is_noreg_error(err) ? CLI_NOREG : CLI_FAILED,
			    "use --force to remove it anyway", "registry '%s' is not usable", name);
		if ((rc = unlink_registry(cmd, name)) == CLI_OK)
			printf("removed '%s' (not a valid registry)\n", name);
		return rc;
	}
	sr_registry_stats st;
	bool have_stats = sr_registry_stats_get(reg, &st) == 0;
	sr_registry_close(reg);
	if ((rc = unlink_registry(cmd, name)) != CLI_OK)
		return rc;
	if (!have_stats) {
		printf("destroyed registry '%s'\n", name);
		return CLI_OK;
	}
	printf("destroyed registry '%s' (%" PRIu32 " %s", name, st.sessions,
	       st.sessions == 1 ? "session" : "sessions");
	if (st.procs_attached > 0)
		printf("; %" PRIu32 " attached %s keep%s it until detaching", st.procs_attached,
		       st.procs_attached == 1 ? "process" : "processes",
		       st.procs_attached == 1 ? "s" : "");
	printf(")\n");
	return CLI_OK;
}
