/* hold: keep a viewer on a channel while the command runs, as a player would,
 * and print every state change it sees. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "st_num.h"

static const char hold_help[] =
    "Usage: streamreg hold NAME UUID [--for SECONDS] [--interval SECONDS] [--no-start]\n"
    "                      [--any-owner]\n"
    "\n"
    "Hold one viewer on channel UUID of registry NAME while the command runs, as a\n"
    "player would: the channel is asked to start (idle or failed -> starting) and\n"
    "the reaper will not stop it for idleness.  Every state change is printed as\n"
    "one line on stdout (time, old -> new state, transcoder pid, last error).\n"
    "The viewer is released on exit (SIGINT, SIGTERM, --for elapsed, or the\n"
    "session deleted), and by the registry if the command is killed.\n"
    "\n"
    "  -f, --for SECONDS       hold this long, then exit 0 (default: until a signal)\n"
    "  -i, --interval SECONDS  how often the state is read (default 0.1)\n"
    "  -n, --no-start          only hold the viewer; do not request a start\n"
    "  -a, --any-owner         write to a registry owned by another user\n"
    "  -h, --help              show this help\n"
    "\n"
    "Exit status: 0 after a signal or --for, 1 if the session is missing, was\n"
    "deleted, or the viewer could not be counted; 2 usage; 3 no registry.\n";

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
	stop_sig = sig;
}

static void now_text(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

static void print_change(const char *from, const sr_session_info *s, const char *why)
{
	char t[64];
	now_text(t, sizeof t);
	printf("%s %s -> %s pid=%ld clients=%" PRIu32, t, from, sr_state_name(s->state),
	       (long)s->pid, s->clients);
	if (s->state == SR_STATE_FAILED && s->last_error[0])
		printf(" error=\"%s\"", s->last_error);
	if (why)
		printf(" (%s)", why);
	putchar('\n');
	fflush(stdout);
}

struct hold_opts {
	uint64_t for_ms; /* 0: until a signal */
	uint64_t interval_ms;
	bool start;
	unsigned attach_flags;
};

static int hold_options(const char *cmd, int argc, char **argv, struct hold_opts *o)
{
	static const struct option opts[] = {
	    {"for", required_argument, NULL, 'f'},
	    {"interval", required_argument, NULL, 'i'},
	    {"no-start", no_argument, NULL, 'n'},
	    {"any-owner", no_argument, NULL, 'a'},
	    {NULL, 0, NULL, 0},
	};
	*o = (struct hold_opts){.interval_ms = 100, .start = true};
	int c;
	cli_getopt_reset();
	while ((c = cli_getopt(cmd, argc, argv, "f:i:na", opts)) != CLI_OPT_DONE) {
		switch (c) {
		case CLI_OPT_HELP:
			fputs(hold_help, stdout);
			return -1;
		case 'f':
			if (st_parse_seconds_ms(optarg, 1, 86400000ull * 365, &o->for_ms) < 0)
				return cli_usage_error(cmd,
				                       "--for must be seconds such as 30 or 0.5, "
				                       "not '%s'",
				                       optarg);
			break;
		case 'i':
			if (st_parse_seconds_ms(optarg, 10, 60000, &o->interval_ms) < 0)
				return cli_usage_error(
				    cmd, "--interval must be 0.01 to 60 seconds, not '%s'", optarg);
			break;
		case 'n':
			o->start = false;
			break;
		case 'a':
			o->attach_flags |= SR_ATTACH_ANY_OWNER;
			break;
		default:
			return CLI_USAGE;
		}
	}
	return CLI_OK;
}

/* Poll the session until a signal, --for, or its deletion. */
static int watch(sr_registry *reg, const uuid_t id, const char *id_text, const struct hold_opts *o,
                 sr_session_info *last)
{
	uint64_t end = o->for_ms ? sr_now_mono_ns() / 1000000u + o->for_ms : 0;
	struct timespec iv = {(time_t)(o->interval_ms / 1000),
	                      (long)(o->interval_ms % 1000) * 1000000L};
	while (!stop_sig && (!end || sr_now_mono_ns() / 1000000u < end)) {
		nanosleep(&iv, NULL);
		sr_session_info s;
		int rc = sr_session_snapshot(reg, id, &s);
		if (rc == -ENOENT) {
			fprintf(stderr, "streamreg: hold: session %s was deleted\n", id_text);
			return CLI_FAILED;
		}
		if (rc < 0)
			continue; /* a record mid-update: read it again next turn */
		if (s.state != last->state || s.pid != last->pid)
			print_change(sr_state_name(last->state), &s, NULL);
		*last = s;
	}
	return CLI_OK;
}

int cmd_hold(int argc, char **argv)
{
	static const char *const names[] = {"registry NAME", "channel UUID"};
	const char *cmd = argv[0];
	struct hold_opts o;
	int rc = hold_options(cmd, argc, argv, &o);
	if (rc < 0)
		return CLI_OK;
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_operands(cmd, argc, argv, 2, names)) != CLI_OK)
		return rc;
	const char *name = argv[optind];
	uuid_t id = {0};
	char id_text[SR_UUID_STR_LEN + 1];
	if ((rc = cli_check_name(cmd, name)) != CLI_OK ||
	    (rc = cli_parse_uuid(cmd, argv[optind + 1], id)) != CLI_OK)
		return rc;
	sr_uuid_format(id, id_text);
	sr_registry *reg;
	if ((rc = cli_attach(cmd, name, o.attach_flags, &reg)) != CLI_OK)
		return rc;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	sr_session_info last;
	int err = sr_session_add_client(reg, id);
	if (err == 0)
		err = sr_session_snapshot(reg, id, &last);
	if (err != 0) {
		if (err == -ENOENT)
			fprintf(stderr, "streamreg: hold: no session %s in registry '%s'\n",
			        id_text, name);
		else
			cli_lib_error(cmd, err, CLI_FAILED, "session %s", id_text);
		sr_registry_close(reg);
		return CLI_FAILED;
	}
	char t[64];
	now_text(t, sizeof t);
	printf("%s holding a viewer on %s in '%s' (pid %ld); state %s, clients %" PRIu32 "\n", t,
	       id_text, name, (long)getpid(), sr_state_name(last.state), last.clients);
	fflush(stdout);
	if (o.start && (last.state == SR_STATE_IDLE || last.state == SR_STATE_FAILED) &&
	    sr_session_transition(reg, id, last.state, SR_STATE_STARTING) == 0) {
		sr_session_info s = last;
		s.state = SR_STATE_STARTING;
		print_change(sr_state_name(last.state), &s, "start requested");
		last = s;
	}
	rc = watch(reg, id, id_text, &o, &last);
	err = sr_session_remove_client(reg, id);
	now_text(t, sizeof t);
	if (err == 0)
		printf("%s released the viewer on %s%s\n", t, id_text, stop_sig ? " (signal)" : "");
	fflush(stdout);
	sr_registry_close(reg);
	return rc;
}
