#include <stdio.h>

#include "monitor.h"

/* Placeholder until the monitor lands; exits 2 so nobody mistakes it for output. */
int cli_stats(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "streamreg stats: not built yet\n");
	return 2;
}
