#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"
#include "monitor_attach.h"
#include "monitor_format.h"
#include "monitor_guard.h"
#include "monitor_output.h"

typedef enum stats_format { STATS_TEXT, STATS_JSON, STATS_PROMETHEUS } stats_format;

static void stats_usage(FILE *f)
{
	fputs("usage: streamreg stats NAME [--prometheus | --json]\n"
	      "Registry totals as text, as JSON, or with --prometheus in Prometheus text\n"
	      "exposition format (the same text as the HTTP server's /metrics).  Read-only:\n"
	      "needs only read permission.  See docs/monitor.md for every metric.\n",
	      f);
}

static int parse_stats_args(int argc, char **argv, const char **name, stats_format *fmt)
{
	char msg[160];
	*name = NULL;
	*fmt = STATS_TEXT;
	if (mon_wants_help(argc, argv)) {
		stats_usage(stdout);
		return 1;
	}
	for (int i = 1; i < argc && argv[i] != NULL; i++) {
		bool prom = strcmp(argv[i], "--prometheus") == 0;
		if (prom || strcmp(argv[i], "--json") == 0) {
			stats_format want = prom ? STATS_PROMETHEUS : STATS_JSON;
			/* The synopsis offers one format: a second one would be
			 * silently dropped, so it is refused. */
			if (*fmt != STATS_TEXT && *fmt != want)
				return mon_usage_error(
				    "stats", "--prometheus and --json exclude each other");
			*fmt = want;
		} else if (argv[i][0] == '-') {
			snprintf(msg, sizeof msg, "unknown option '%.60s'", argv[i]);
			return mon_usage_error("stats", msg);
		} else if (*name == NULL) {
			*name = argv[i];
		} else {
			snprintf(msg, sizeof msg, "unexpected argument '%.60s'", argv[i]);
			return mon_usage_error("stats", msg);
		}
	}
	return mon_check_name("stats", *name);
}

struct prom_args {
	sr_registry *reg;
	char *text;
};

static int render_prometheus(void *ctx)
{
	struct prom_args *a = ctx;
	return sr_registry_prometheus(a->reg, &a->text);
}

static int print_prometheus(const char *name)
{
	char what[128];
	snprintf(what, sizeof what, "registry '%s'", name);
	sr_registry *reg = NULL;
	int rc = mon_attach(name, &reg);
	if (rc < 0) {
		mon_report_error("stats", what, rc);
		return rc;
	}
	struct prom_args args = {reg, NULL};
	rc = mon_guard_sigbus(render_prometheus, &args);
	if (rc < 0)
		mon_report_error("stats", what, rc);
	else if (fputs(args.text, stdout) == EOF || fflush(stdout) != 0)
		mon_report_error("stats", "output", rc = -EIO);
	free(args.text);
	sr_registry_close(reg);
	return rc;
}

static int print_totals(const char *name, bool json)
{
	sr_registry *reg = NULL;
	mon_snapshot snap = {0};
	int rc = mon_snapshot_once("stats", name, &reg, &snap);
	if (rc == 0 && json) {
		rc = mon_json_registry(stdout, name, &snap);
		fputc('\n', stdout);
	} else if (rc == 0) {
		char line[1024];
		mon_format_registry_line(name, &snap, line, sizeof line);
		printf("%s\n", line);
		mon_format_sessions_line(&snap, line, sizeof line);
		printf("%s\n", line);
		mon_format_procs_line(&snap, line, sizeof line);
		printf("%s\n", line);
	}
	if (rc == 0 && (ferror(stdout) || fflush(stdout) != 0))
		mon_report_error("stats", "output", rc = -EIO);
	mon_snapshot_free(&snap);
	sr_registry_close(reg);
	return rc;
}

int cli_stats(int argc, char **argv)
{
	const char *name;
	stats_format fmt;
	int rc = parse_stats_args(argc, argv, &name, &fmt);
	if (rc != 0)
		return rc < 0 ? MON_EXIT_USAGE : MON_EXIT_OK;
	rc = fmt == STATS_PROMETHEUS ? print_prometheus(name)
	                             : print_totals(name, fmt == STATS_JSON);
	return mon_exit_status(rc);
}
