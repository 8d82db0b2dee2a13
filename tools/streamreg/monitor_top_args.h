/* Command line of `streamreg top`. */
#ifndef SR_TOOLS_MONITOR_TOP_ARGS_H
#define SR_TOOLS_MONITOR_TOP_ARGS_H

#include <stdbool.h>
#include <stdio.h>

#include "monitor_view.h"

typedef struct top_args {
	const char *name;
	double interval_s;
	bool once;
	bool json;
	int filter;
	mon_sort sort;
	bool sort_given;
} top_args;

/* The --help text. */
void top_usage(FILE *f);

/*
 * Parse argv[1..argc) (argv[0] is "top").  0 when a.name and the options are
 * set, 1 after printing --help, -EINVAL after printing one usage error line.
 */
int parse_top_args(int argc, char **argv, top_args *a);

#endif
