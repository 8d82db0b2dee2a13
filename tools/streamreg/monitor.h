/* The monitor subcommands of `streamreg`: top (live screen) and stats. */
#ifndef SR_TOOLS_MONITOR_H
#define SR_TOOLS_MONITOR_H

/* `streamreg top NAME [...]`; argv[0] is "top". Returns the exit status. */
int cli_top(int argc, char **argv);

/* `streamreg stats NAME --prometheus`; argv[0] is "stats". Returns the exit status. */
int cli_stats(int argc, char **argv);

#endif
