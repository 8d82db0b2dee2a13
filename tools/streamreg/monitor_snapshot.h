/* One consistent picture of a registry, shared by every monitor output. */
#ifndef SR_TOOLS_MONITOR_SNAPSHOT_H
#define SR_TOOLS_MONITOR_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "streamreg.h"

/* A process attached to the registry, named for what it is. */
typedef struct mon_proc {
	pid_t pid;
	char role[48];     /* "reaper", "server worker", "streamreg hold", ... */
	bool mapped;       /* maps the segment (attached, read-only or not) */
	bool in_table;     /* has a process-table slot (holds viewers, or owns) */
	uint32_t channels; /* channels it holds viewers on */
	uint64_t clients;  /* viewers it holds */
} mon_proc;

typedef struct mon_snapshot {
	sr_registry_stats stats;           /* Registry-wide figures from the library. */
	sr_registry_counters counters;     /* Counters that only rise, latency histogram. */
	bool owner_held;                   /* owner is filled: someone holds the owner record */
	sr_owner_info owner;               /* The reaper, as its owner record says. */
	sr_session_info *sessions;         /* Every record that was read consistently. */
	size_t n;                          /* Entries in sessions. */
	size_t cap;                        /* Allocated entries. */
	uint32_t by_state[SR_STATE_COUNT]; /* Counted over sessions, so totals match the rows. */
	uint64_t clients;                  /* Sum of the rows' clients. */
	uint32_t skipped;                  /* Records left out: they kept changing under us. */
	uint64_t taken_mono_ns;            /* When the copy was taken (sr_now_mono_ns clock). */
	uuid_t *ids;                       /* Scratch: the listing being copied. */
	mon_proc *procs;                   /* Who is attached (monitor_procs.h); may be empty. */
	size_t nprocs;
	size_t procs_cap;
	size_t ids_cap;
} mon_snapshot;

/*
 * Copy every session of reg into snap (reusing its buffers).  A record that
 * stays busy over a few retries, or that fails the plausibility checks, is
 * left out and counted in skipped: the monitor never shows a torn record.
 * -SR_ETRUNCATED if the segment shrank under the mapping (see monitor_guard.h).
 */
int mon_snapshot_take(sr_registry *reg, mon_snapshot *snap);

/* Free the buffers; snap may be reused after mon_snapshot_take(). */
void mon_snapshot_free(mon_snapshot *snap);

#endif
