#include "monitor_top_args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "monitor_attach.h"
#include "st_num.h"

#define INTERVAL_MIN_MS 50
#define INTERVAL_MAX_MS 86400000

void top_usage(FILE *f)
{
	fputs(
	    "usage: streamreg top NAME [--interval SECONDS] [--once] [--json] [--state STATE]\n"
	    "                          [--sort clients|idle|errors|state|slot]\n"
	    "Live view of a registry (read-only: needs only read permission, takes no lock).\n"
	    "Prints one snapshot and exits when stdout is not a terminal, or with --once.\n"
	    "\n"
	    "  --interval SECONDS  refresh period, 0.05 to 86400 (default 1)\n"
	    "  --once              one text snapshot, even on a terminal\n"
	    "  --json              one JSON snapshot: {\"registry\":{totals},\"sessions\":[...]}\n"
	    "  --state STATE       only sessions in STATE (idle, starting, active, stopping,\n"
	    "                      failed)\n"
	    "  --sort KEY          clients (default), idle, errors, state or slot\n"
	    "\n"
	    "Keys: c i e s o sort by clients, idle, errors, state, slot; f cycle the state\n"
	    "filter; p pause; arrows, PgUp, PgDn, Home scroll; q quit.  See docs/monitor.md.\n",
	    f);
}

/*
 * Accepts "--opt value" and "--opt=value"; *i moves past what was consumed.
 * NULL if argv[*i] is another option; *missing when the value is absent.
 */
static const char *option_value(int argc, char **argv, int *i, const char *opt, bool *missing)
{
	size_t len = strlen(opt);
	*missing = false;
	if (argv[*i] == NULL || strncmp(argv[*i], opt, len) != 0)
		return NULL;
	if (argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (argv[*i][len] != '\0')
		return NULL;
	if (*i + 1 >= argc || argv[*i + 1] == NULL) {
		*missing = true;
		return "";
	}
	return argv[++*i];
}

static int parse_interval(const char *text, double *out)
{
	uint64_t ms;
	if (st_parse_seconds_ms(text, INTERVAL_MIN_MS, INTERVAL_MAX_MS, &ms) < 0) {
		char msg[160];
		snprintf(msg, sizeof msg, "bad --interval '%.40s': seconds between %.2f and %.0f",
		         text, INTERVAL_MIN_MS / 1000.0, INTERVAL_MAX_MS / 1000.0);
		return mon_usage_error("top", msg);
	}
	*out = (double)ms / 1000.0;
	return 0;
}

static int parse_option(const char *opt, const char *v, top_args *a)
{
	char msg[160];
	if (strcmp(opt, "--interval") == 0)
		return parse_interval(v, &a->interval_s);
	if (strcmp(opt, "--state") == 0) {
		sr_state st;
		if (sr_state_parse(v, &st) < 0) {
			snprintf(msg, sizeof msg,
			         "bad --state '%.40s': idle, starting, active, stopping or failed",
			         v);
			return mon_usage_error("top", msg);
		}
		a->filter = (int)st;
		return 0;
	}
	if (mon_sort_parse(v, &a->sort) < 0) {
		snprintf(msg, sizeof msg,
		         "bad --sort '%.40s': clients, idle, errors, state or slot", v);
		return mon_usage_error("top", msg);
	}
	a->sort_given = true;
	return 0;
}

int parse_top_args(int argc, char **argv, top_args *a)
{
	static const char *const valued[] = {"--interval", "--state", "--sort"};
	char msg[160];
	*a = (top_args){.interval_s = 1.0, .filter = MON_FILTER_ALL, .sort = MON_SORT_CLIENTS};
	if (mon_wants_help(argc, argv)) {
		top_usage(stdout);
		return 1;
	}
	for (int i = 1; i < argc && argv[i] != NULL; i++) {
		if (strcmp(argv[i], "--once") == 0) {
			a->once = true;
			continue;
		}
		if (strcmp(argv[i], "--json") == 0) {
			a->json = true;
			continue;
		}
		const char *v = NULL;
		size_t k = 0;
		bool missing = false;
		for (; k < sizeof valued / sizeof valued[0] && v == NULL; k++)
			v = option_value(argc, argv, &i, valued[k], &missing);
		if (missing) {
			snprintf(msg, sizeof msg, "%s needs a value", valued[k - 1]);
			return mon_usage_error("top", msg);
		}
		if (v != NULL) {
			if (parse_option(valued[k - 1], v, a) < 0)
				return -EINVAL;
		} else if (argv[i][0] == '-') {
			snprintf(msg, sizeof msg, "unknown option '%.60s'", argv[i]);
			return mon_usage_error("top", msg);
		} else if (a->name == NULL) {
			a->name = argv[i];
		} else {
			snprintf(msg, sizeof msg, "unexpected argument '%.60s'", argv[i]);
			return mon_usage_error("top", msg);
		}
	}
	return mon_check_name("top", a->name);
}
