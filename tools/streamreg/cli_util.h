/* Shared pieces of the `streamreg` subcommands: exit codes, argument
 * parsing, attaching and error reporting. */
#ifndef SR_TOOLS_CLI_UTIL_H
#define SR_TOOLS_CLI_UTIL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "streamreg.h"

/* Exit statuses, documented in docs/cli.md; scripts rely on them. */
enum cli_status {
	CLI_OK = 0,
	CLI_FAILED = 1, /* the registry refused the operation */
	CLI_USAGE = 2,  /* the command line is wrong */
	CLI_NOREG = 3,  /* the registry is missing or not a valid registry */
};

/*
 * Result of cli_getopt(): CLI_OPT_DONE when the options are consumed,
 * CLI_OPT_HELP for -h/--help, CLI_OPT_ERROR after printing a usage error,
 * otherwise the option's value from the table.
 */
enum { CLI_OPT_DONE = -1, CLI_OPT_HELP = -2, CLI_OPT_ERROR = -3 };

/*
 * getopt_long over argv[0..argc) where argv[0] is the subcommand.  Adds
 * -h/--help itself and reports unknown options and missing values as one
 * line on stderr.  Call cli_getopt_reset() before the first call.
 */
void cli_getopt_reset(void);
int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/*
 * Check the operands left after the options: exactly `want` of them
 * (names them in the error otherwise).  Returns CLI_OK or CLI_USAGE.
 */
int cli_operands(const char *cmd, int argc, char **argv, int want, const char *const *names);

/* Print "streamreg: CMD: MESSAGE (see 'streamreg CMD --help')" and return CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Report a failed library call: "streamreg: CMD: WHAT: strerror (detail)",
 * without ": strerror" when err is 0 (WHAT says it all), without "WHAT: "
 * when what_fmt is NULL.  Must run right
 * after the failing call, before another failing sr_ call replaces
 * sr_errdetail().  Returns `status`.
 */
int cli_lib_error(const char *cmd, int err, int status, const char *what_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The same, followed by "; HINT" (what the operator can do about it). */
int cli_lib_error_hint(const char *cmd, int err, int status, const char *hint, const char *what_fmt,
                       ...) __attribute__((format(printf, 5, 6)));

/* Validate a registry name (usage error if bad). */
int cli_check_name(const char *cmd, const char *name);

/* Parse a channel UUID strictly (usage error if bad). */
int cli_parse_uuid(const char *cmd, const char *text, uuid_t out);

/* Parse a decimal unsigned in [min, max] for option `opt` (usage error if bad). */
int cli_parse_u32(const char *cmd, const char *opt, const char *text, uint32_t min, uint32_t max,
                  uint32_t *out);

/* Parse permission bits in octal, at most 0777 (usage error if bad). */
int cli_parse_mode(const char *cmd, const char *text, unsigned *out);

/*
 * Attach registry `name` (validated first).  On failure prints why and
 * returns CLI_NOREG for a missing or invalid segment, CLI_USAGE for a bad
 * name, CLI_FAILED otherwise (permissions, resources).
 */
int cli_attach(const char *cmd, const char *name, unsigned flags, sr_registry **out);

/* Whether err means the segment is missing or not a valid registry. */
bool cli_is_noreg_error(int err);

/* Render a duration as "850ms", "12.3s", "4m05s", "3h02m" or "2d04h". */
void cli_format_duration(uint64_t ms, char *buf, size_t len);

/* Render a CLOCK_REALTIME instant as "2026-11-25 11:44:14 UTC", or "-" for 0. */
void cli_format_wall(int64_t wall_ns, char *buf, size_t len);

#endif
