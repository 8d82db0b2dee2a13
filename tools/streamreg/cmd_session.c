/* add, del, state and error: changes to one session. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"

static const char add_help[] = "Usage: streamreg add NAME UUID [--output-dir DIR] [--any-owner]\n"
                               "\n"
                               "Add channel UUID to registry NAME, in state idle.\n"
                               "\n"
                               "  -o, --output-dir DIR  where the channel's segments will live\n"
                               "  -a, --any-owner       write to a registry owned by another user\n"
                               "  -h, --help            show this help\n";

static const char del_help[] = "Usage: streamreg del NAME UUID [--any-owner]\n"
                               "\n"
                               "Delete channel UUID from registry NAME, whatever its state.\n"
                               "\n"
                               "  -a, --any-owner  write to a registry owned by another user\n"
                               "  -h, --help       show this help\n";

static const char state_help[] =
    "Usage: streamreg state NAME UUID STATE [--any-owner]\n"
    "\n"
    "Move channel UUID to STATE (idle, starting, active, stopping, failed) from\n"
    "its current state, if the state machine allows it:\n"
    "  idle -> starting;  starting -> active | failed | stopping;\n"
    "  active -> stopping | failed;  stopping -> idle | failed;\n"
    "  failed -> starting | stopping | idle.\n"
    "A refused transition changes nothing and exits 1.\n"
    "\n"
    "  -a, --any-owner  write to a registry owned by another user\n"
    "  -h, --help       show this help\n";

static const char error_help[] =
    "Usage: streamreg error NAME UUID MESSAGE [--any-owner]\n"
    "\n"
    "Record an error on channel UUID: its error count goes up by one and MESSAGE\n"
    "(1 to 255 bytes) becomes its last error.  Put '--' before a MESSAGE that\n"
    "starts with '-'.\n"
    "\n"
    "  -a, --any-owner  write to a registry owned by another user\n"
    "  -h, --help       show this help\n";

/* What every subcommand here shares: options parsed, NAME and UUID checked,
 * the registry attached read-write. */
struct session_cmd {
	const char *cmd;
	const char *help;
	bool with_output_dir; /* only add takes --output-dir */
	const char *output_dir;
	unsigned attach_flags;
	const char *name;
	uuid_t id;
	char id_text[SR_UUID_STR_LEN + 1];
	sr_registry *reg;
};

static int session_open(struct session_cmd *s, int argc, char **argv, int want,
                        const char *const *names)
{
	int rc = cli_operands(s->cmd, argc, argv, want, names);
	if (rc != CLI_OK)
		return rc;
	s->name = argv[optind];
	if ((rc = cli_check_name(s->cmd, s->name)) != CLI_OK)
		return rc;
	if ((rc = cli_parse_uuid(s->cmd, argv[optind + 1], s->id)) != CLI_OK)
		return rc;
	sr_uuid_format(s->id, s->id_text);
	return cli_attach(s->cmd, s->name, s->attach_flags, &s->reg);
}

static int session_error(const struct session_cmd *s, int err)
{
	if (err == -ENOENT) {
		fprintf(stderr, "streamreg: %s: no session %s in registry '%s'\n", s->cmd,
		        s->id_text, s->name);
		return CLI_FAILED;
	}
	return cli_lib_error(s->cmd, err, CLI_FAILED, "session %s", s->id_text);
}

/* Parse the options: CLI_OK to go on, HELP_SHOWN after printing the help,
 * or CLI_USAGE. */
enum { HELP_SHOWN = 0x100 };
static int session_options(struct session_cmd *s, int argc, char **argv)
{
	/* Without --output-dir, the table starts at its second entry. */
	static const struct option opts[] = {
	    {"output-dir", required_argument, NULL, 'o'},
	    {"any-owner", no_argument, NULL, 'a'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	cli_getopt_reset();
	while ((c = cli_getopt(s->cmd, argc, argv, s->with_output_dir ? "ao:" : "a",
	                       s->with_output_dir ? opts : opts + 1)) != CLI_OPT_DONE) {
		switch (c) {
		case CLI_OPT_HELP:
			fputs(s->help, stdout);
			return HELP_SHOWN;
		case 'a':
			s->attach_flags |= SR_ATTACH_ANY_OWNER;
			break;
		case 'o':
			s->output_dir = optarg;
			break;
		default:
			return CLI_USAGE;
		}
	}
	return CLI_OK;
}

int cmd_add(int argc, char **argv)
{
	static const char *const names[] = {"registry NAME", "channel UUID"};
	struct session_cmd s = {.cmd = argv[0], .help = add_help, .with_output_dir = true};
	int rc = session_options(&s, argc, argv);
	if (rc != CLI_OK)
		return rc == HELP_SHOWN ? CLI_OK : rc;
	const char *output_dir = s.output_dir;
	if (output_dir && strlen(output_dir) > SR_PATH_MAX)
		return cli_usage_error(s.cmd, "--output-dir too long: %zu bytes, at most %d",
		                       strlen(output_dir), SR_PATH_MAX);
	if ((rc = session_open(&s, argc, argv, 2, names)) != CLI_OK)
		return rc;
	int err = sr_session_insert(s.reg, s.id, output_dir);
	if (err == -EEXIST)
		rc = cli_lib_error(s.cmd, err, CLI_FAILED, "session %s", s.id_text);
	else if (err < 0)
		rc = cli_lib_error(s.cmd, err, CLI_FAILED, NULL);
	else
		printf("added session %s to '%s'\n", s.id_text, s.name);
	sr_registry_close(s.reg);
	return rc;
}

int cmd_del(int argc, char **argv)
{
	static const char *const names[] = {"registry NAME", "channel UUID"};
	struct session_cmd s = {.cmd = argv[0], .help = del_help};
	int rc = session_options(&s, argc, argv);
	if (rc != CLI_OK)
		return rc == HELP_SHOWN ? CLI_OK : rc;
	if ((rc = session_open(&s, argc, argv, 2, names)) != CLI_OK)
		return rc;
	int err = sr_session_delete(s.reg, s.id);
	if (err < 0)
		rc = session_error(&s, err);
	else
		printf("deleted session %s from '%s'\n", s.id_text, s.name);
	sr_registry_close(s.reg);
	return rc;
}

/* "starting, failed": where the state machine lets `from` go. */
static void allowed_targets(sr_state from, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int to = 0; to < SR_STATE_COUNT; to++) {
		if (!sr_can_transition(from, (sr_state)to))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
		                 sr_state_name((sr_state)to));
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	if (!buf[0])
		snprintf(buf, len, "none");
}

static int refused_transition(const struct session_cmd *s, int err, sr_state to)
{
	char detail[512];
	snprintf(detail, sizeof(detail), "%s", sr_errdetail());
	sr_state cur;
	if (sr_session_get_state(s->reg, s->id, &cur) < 0) {
		fprintf(stderr, "streamreg: %s: cannot move %s to %s: %s%s%s%s\n", s->cmd,
		        s->id_text, sr_state_name(to), sr_strerror(err), detail[0] ? " (" : "",
		        detail, detail[0] ? ")" : "");
		return CLI_FAILED;
	}
	char allowed[128];
	allowed_targets(cur, allowed, sizeof(allowed));
	fprintf(stderr,
	        "streamreg: %s: %s -> %s refused for %s: %s%s%s%s; from %s it can go to: %s\n",
	        s->cmd, sr_state_name(cur), sr_state_name(to), s->id_text, sr_strerror(err),
	        detail[0] ? " (" : "", detail, detail[0] ? ")" : "", sr_state_name(cur), allowed);
	return CLI_FAILED;
}

int cmd_state(int argc, char **argv)
{
	static const char *const names[] = {"registry NAME", "channel UUID", "STATE"};
	struct session_cmd s = {.cmd = argv[0], .help = state_help};
	int rc = session_options(&s, argc, argv);
	if (rc != CLI_OK)
		return rc == HELP_SHOWN ? CLI_OK : rc;
	/* The state is checked before attaching so a typo costs nothing. */
	sr_state to = SR_STATE_IDLE;
	if (argc - optind == 3 && sr_state_parse(argv[optind + 2], &to) < 0)
		return cli_usage_error(s.cmd,
		                       "unknown state '%s' (one of idle, starting, active, "
		                       "stopping, failed)",
		                       argv[optind + 2]);
	if ((rc = session_open(&s, argc, argv, 3, names)) != CLI_OK)
		return rc;
	sr_state prev;
	int err = sr_session_set_state(s.reg, s.id, to, &prev);
	if (err == -SR_EBADTRANS)
		rc = refused_transition(&s, err, to);
	else if (err < 0)
		rc = session_error(&s, err);
	else
		printf("%s: %s -> %s\n", s.id_text, sr_state_name(prev), sr_state_name(to));
	sr_registry_close(s.reg);
	return rc;
}

int cmd_error(int argc, char **argv)
{
	static const char *const names[] = {"registry NAME", "channel UUID", "MESSAGE"};
	struct session_cmd s = {.cmd = argv[0], .help = error_help};
	int rc = session_options(&s, argc, argv);
	if (rc != CLI_OK)
		return rc == HELP_SHOWN ? CLI_OK : rc;
	if (argc - optind == 3) {
		size_t len = strlen(argv[optind + 2]);
		if (len == 0)
			return cli_usage_error(s.cmd, "empty MESSAGE");
		if (len > SR_ERROR_MAX)
			return cli_usage_error(s.cmd, "MESSAGE too long: %zu bytes, at most %d",
			                       len, SR_ERROR_MAX);
	}
	if ((rc = session_open(&s, argc, argv, 3, names)) != CLI_OK)
		return rc;
	int err = sr_session_record_error(s.reg, s.id, argv[optind + 2]);
	uint32_t count = 0;
	if (err < 0)
		rc = session_error(&s, err);
	else if (sr_session_error_count(s.reg, s.id, &count) == 0)
		printf("recorded error on %s (%" PRIu32 " so far)\n", s.id_text, count);
	else
		printf("recorded error on %s\n", s.id_text);
	sr_registry_close(s.reg);
	return rc;
}
