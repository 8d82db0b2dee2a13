/* Read-only attachment of the registry a monitor command names. */
#ifndef SR_TOOLS_MONITOR_ATTACH_H
#define SR_TOOLS_MONITOR_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor_snapshot.h"

/* Exit statuses shared with the other `streamreg` commands (docs/cli.md). */
enum mon_exit {
	MON_EXIT_OK = 0,
	MON_EXIT_FAILED = 1, /* could not read or print */
	MON_EXIT_USAGE = 2,  /* bad command line */
	MON_EXIT_NOREG = 3,  /* the registry is missing or not a valid registry */
};

/* The exit status for a result: 0, or what kind of failure rc is. */
int mon_exit_status(int rc);

/* Print "streamreg: CMD: MSG (see 'streamreg CMD --help')"; returns -EINVAL. */
int mon_usage_error(const char *cmd, const char *msg);

/* Whether -h or --help is anywhere on the line: it wins over everything else. */
bool mon_wants_help(int argc, char **argv);

/* A usage error unless name is present and a valid registry name. */
int mon_check_name(const char *cmd, const char *name);

/* "message (detail)" for an sr_ error code, using the thread's sr_errdetail(). */
void mon_describe_error(int rc, char *buf, size_t len);

/*
 * Attach name with SR_ATTACH_READONLY: a PROT_READ mapping that takes no
 * lock, so read permission on the segment is enough and writers are never
 * slowed.  Returns 0 or a negative sr_ error code.
 */
int mon_attach(const char *name, sr_registry **out);

/*
 * Take a snapshot of the registry under name, reattaching (at most a few
 * times) if it is replaced while we read it, so a one-shot output never
 * mixes two registries.  *reg may be NULL on entry; on return it is the
 * handle the snapshot came from.  On failure prints "streamreg: CMD: ..." to
 * stderr and returns a negative code.
 */
int mon_snapshot_once(const char *cmd, const char *name, sr_registry **reg, mon_snapshot *snap);

/*
 * Whether the segment under name is now smaller than mapped_bytes: someone
 * truncated it under our mapping, and reading the lost pages would fault.
 */
bool mon_segment_shrunk(const char *name, uint64_t mapped_bytes);

/* Print "streamreg: CMD: WHAT: message (detail)" to stderr. */
void mon_report_error(const char *cmd, const char *what, int rc);

#endif
