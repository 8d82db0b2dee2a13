/* show and ls: read-only views of the sessions, as text or JSON. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"

static const char show_help[] =
    "Usage: streamreg show NAME UUID [--json]\n"
    "\n"
    "Show every field of channel UUID in registry NAME, from a consistent\n"
    "snapshot.  Needs only read permission.\n"
    "\n"
    "  -j, --json  print one JSON object (keys channel_id, state, clients,\n"
    "              idle_ms, error_count, last_error, qualities, pid, ...)\n"
    "  -h, --help  show this help\n";

static const char ls_help[] = "Usage: streamreg ls NAME [--json]\n"
                              "\n"
                              "List the sessions of registry NAME, one per line, in slot\n"
                              "order.  Needs only read permission.\n"
                              "\n"
                              "  -j, --json  print a JSON array of session objects (as show)\n"
                              "  -h, --help  show this help\n";

/* Parse [--json] and the operands; HELP_SHOWN after printing help. */
enum { HELP_SHOWN = 0x100 };
static int parse_view(int argc, char **argv, const char *help, int want, const char *const *names,
                      bool *json)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	cli_getopt_reset();
	while ((c = cli_getopt(argv[0], argc, argv, "j", opts)) != CLI_OPT_DONE) {
		if (c == CLI_OPT_HELP) {
			fputs(help, stdout);
			return HELP_SHOWN;
		}
		if (c != 'j')
			return CLI_USAGE;
		*json = true;
	}
	return cli_operands(argv[0], argc, argv, want, names);
}

/* Stored strings come from other programs: keep control characters from
 * reaching the terminal or breaking the table. */
static void put_clean(const char *s, size_t max)
{
	size_t n = strlen(s);
	bool cut = n > max;
	for (size_t i = 0; i < n && i < (cut ? max - 3 : max); i++)
		putchar((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
	if (cut)
		fputs("...", stdout);
}

static void print_field(const char *key, const char *value)
{
	printf("%-13s ", key);
	put_clean(value[0] ? value : "-", 4096);
	putchar('\n');
}

static void print_qualities(const sr_session_info *in)
{
	if (in->n_qualities == 0) {
		print_field("qualities", "none");
		return;
	}
	for (uint32_t i = 0; i < in->n_qualities && i < SR_MAX_QUALITIES; i++) {
		const sr_quality *q = &in->qualities[i];
		printf("%-13s %-6s %6" PRIu32 " kbps %5" PRIu32 "x%-5" PRIu32 " %-6s ",
		       i ? "" : "qualities", q->level, q->bitrate_kbps, q->width, q->height,
		       q->codec[0] ? q->codec : "-");
		put_clean(q->playlist_path[0] ? q->playlist_path : "-", 4096);
		putchar('\n');
	}
}

static void print_session(const sr_session_info *in)
{
	char buf[128], when[64], dur[32];
	sr_uuid_format(in->channel_id, buf);
	print_field("channel_id", buf);
	print_field("state", sr_state_name(in->state));
	snprintf(buf, sizeof(buf), "%" PRIu32, in->clients);
	print_field("clients", buf);
	cli_format_duration(in->idle_ms, dur, sizeof(dur));
	snprintf(buf, sizeof(buf), "%s (%" PRIu64 " ms)", dur, in->idle_ms);
	print_field("idle", buf);
	cli_format_wall(in->created_wall_ns, when, sizeof(when));
	print_field("created", when);
	cli_format_wall(in->started_wall_ns, when, sizeof(when));
	uint64_t now = sr_now_mono_ns();
	if (in->state == SR_STATE_ACTIVE && in->started_mono_ns && now >= in->started_mono_ns) {
		cli_format_duration((now - in->started_mono_ns) / 1000000, dur, sizeof(dur));
		snprintf(buf, sizeof(buf), "%s (up %s)", when, dur);
		print_field("started", buf);
	} else {
		print_field("started", when);
	}
	cli_format_wall(in->last_access_wall_ns, when, sizeof(when));
	print_field("last_access", when);
	snprintf(buf, sizeof(buf), "%" PRIu32, in->error_count);
	print_field("error_count", buf);
	print_field("last_error", in->last_error);
	cli_format_wall(in->last_error_wall_ns, when, sizeof(when));
	print_field("last_error_at", in->error_count ? when : "");
	print_field("output_dir", in->output_dir);
	print_field("segment_path", in->segment_path);
	if (in->pid > 0) {
		/* The start time tells the recorded process from a reused pid. */
		bool alive = sr_pid_start_time(in->pid) == in->pid_start && in->pid_start != 0;
		snprintf(buf, sizeof(buf), "%ld (%s)", (long)in->pid,
		         alive ? "running" : "not running");
		print_field("pid", buf);
	} else {
		print_field("pid", "");
	}
	snprintf(buf, sizeof(buf), "%" PRIu32, in->restart_count);
	print_field("restarts", buf);
	snprintf(buf, sizeof(buf), "%" PRIu32 " (generation %" PRIu32 ")", in->slot,
	         in->generation);
	print_field("slot", buf);
	print_qualities(in);
}

int cmd_show(int argc, char **argv)
{
	static const char *const names[] = {"registry NAME", "channel UUID"};
	const char *cmd = argv[0];
	bool json = false;
	int rc = parse_view(argc, argv, show_help, 2, names, &json);
	if (rc != CLI_OK)
		return rc == HELP_SHOWN ? CLI_OK : rc;
	const char *name = argv[optind];
	uuid_t id = {0};
	if ((rc = cli_check_name(cmd, name)) != CLI_OK ||
	    (rc = cli_parse_uuid(cmd, argv[optind + 1], id)) != CLI_OK)
		return rc;
	char id_text[SR_UUID_STR_LEN + 1];
	sr_uuid_format(id, id_text);

	sr_registry *reg = NULL;
	if ((rc = cli_attach(cmd, name, SR_ATTACH_READONLY, &reg)) != CLI_OK)
		return rc;
	sr_session_info info;
	char *text = NULL;
	int err = sr_session_snapshot(reg, id, &info);
	if (err == -ENOENT) {
		fprintf(stderr, "streamreg: %s: no session %s in registry '%s'\n", cmd, id_text,
		        name);
		rc = CLI_FAILED;
	} else if (err < 0) {
		rc = cli_lib_error(cmd, err, CLI_FAILED, "session %s", id_text);
	} else if (!json) {
		print_session(&info);
	} else if ((err = sr_session_info_json(&info, &text)) < 0) {
		rc = cli_lib_error(cmd, err, CLI_FAILED, "cannot render session %s", id_text);
	} else {
		puts(text);
	}
	free(text);
	sr_registry_close(reg);
	return rc;
}

static void print_table_header(void)
{
	printf("%-36s  %-8s  %7s  %7s  %6s  %7s  %-16s  %s\n", "CHANNEL", "STATE", "CLIENTS",
	       "IDLE", "ERRORS", "PID", "QUALITIES", "LAST ERROR");
}

static int print_row(const sr_session_info *in, void *ctx)
{
	unsigned *rows = ctx;
	char id[SR_UUID_STR_LEN + 1], idle[32], pid[16], levels[128];
	sr_uuid_format(in->channel_id, id);
	cli_format_duration(in->idle_ms, idle, sizeof(idle));
	if (in->pid > 0)
		snprintf(pid, sizeof(pid), "%ld", (long)in->pid);
	else
		snprintf(pid, sizeof(pid), "-");
	size_t used = 0;
	levels[0] = '\0';
	for (uint32_t i = 0; i < in->n_qualities && i < SR_MAX_QUALITIES; i++) {
		int n = snprintf(levels + used, sizeof(levels) - used, "%s%s", i ? "," : "",
		                 in->qualities[i].level);
		if (n < 0 || (size_t)n >= sizeof(levels) - used)
			break;
		used += (size_t)n;
	}
	printf("%-36s  %-8s  %7" PRIu32 "  %7s  %6" PRIu32 "  %7s  ", id, sr_state_name(in->state),
	       in->clients, idle, in->error_count, pid);
	/* Pad by hand: put_clean may shorten, and %-16s would not clean. */
	const char *lv = levels[0] ? levels : "-";
	put_clean(lv, 16);
	printf("%*s  ", strlen(lv) < 16 ? (int)(16 - strlen(lv)) : 0, "");
	put_clean(in->last_error[0] ? in->last_error : "-", 60);
	putchar('\n');
	(*rows)++;
	return 0;
}

int cmd_ls(int argc, char **argv)
{
	static const char *const names[] = {"registry NAME"};
	const char *cmd = argv[0];
	bool json = false;
	int rc = parse_view(argc, argv, ls_help, 1, names, &json);
	if (rc != CLI_OK)
		return rc == HELP_SHOWN ? CLI_OK : rc;
	const char *name = argv[optind];
	sr_registry *reg = NULL;
	if ((rc = cli_attach(cmd, name, SR_ATTACH_READONLY, &reg)) != CLI_OK)
		return rc;

	int err;
	if (json) {
		char *text = NULL;
		if ((err = sr_registry_json(reg, &text)) < 0)
			rc = cli_lib_error(cmd, err, CLI_FAILED, "cannot list registry '%s'", name);
		else
			puts(text);
		free(text);
	} else {
		unsigned rows = 0;
		print_table_header();
		if ((err = sr_session_foreach(reg, print_row, &rows)) < 0) {
			rc = cli_lib_error(cmd, err, CLI_FAILED, "cannot list registry '%s'", name);
		} else {
			sr_registry_stats st;
			if (sr_registry_stats_get(reg, &st) == 0)
				printf("%u %s, capacity %" PRIu32 "\n", rows,
				       rows == 1 ? "session" : "sessions", st.capacity);
		}
	}
	sr_registry_close(reg);
	return rc;
}
