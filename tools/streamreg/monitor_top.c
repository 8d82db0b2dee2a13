#include <stdio.h>

#include "monitor.h"

/* Placeholder until the monitor lands; exits 2 so nobody mistakes it for output. */
int cli_top(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "streamreg top: not built yet\n");
	return 2;
}
