/*
 * The monitor subcommands of `streamreg`: top (live screen, text or JSON
 * snapshot) and stats (text, JSON or Prometheus).  Both attach read-only and
 * take no lock; see docs/monitor.md.
 */
#ifndef SR_TOOLS_MONITOR_H
#define SR_TOOLS_MONITOR_H

/*
 * `streamreg top NAME [...]`; argv[0] is "top".  Returns the exit status:
 * 0, 1 (could not read or print), 2 (usage), 3 (no such or no valid registry).
 */
int cli_top(int argc, char **argv);

/* `streamreg stats NAME [--prometheus | --json]`; argv[0] is "stats".  Exit status as cli_top. */
int cli_stats(int argc, char **argv);

#endif
