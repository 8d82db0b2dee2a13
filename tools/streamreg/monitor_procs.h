/*
 * Who is attached to a registry and what each process is: every process
 * that maps the segment (found in /proc/PID/maps by the segment's device and
 * inode), merged with the registry's process table (who holds viewers) and
 * its owner record (the reaper), each named from /proc ("reaper", "server
 * master", "server worker", "streamreg hold", ...).
 */
#ifndef SR_TOOLS_MONITOR_PROCS_H
#define SR_TOOLS_MONITOR_PROCS_H

#include "monitor_snapshot.h"

/*
 * Fill snap->procs for registry name (attached as reg).  Processes this
 * user may not inspect are still listed from the process table.  0, or
 * -ENOMEM (snap->nprocs is then 0).
 */
int mon_procs_take(const char *name, sr_registry *reg, mon_snapshot *snap);

/*
 * The name of what pid is: "reaper" for the owner, "server master" /
 * "server worker" for streamreg-server, "streamreg CMD" for the CLI, else
 * its command name ("?" when gone).
 */
void mon_proc_role(pid_t pid, pid_t owner, char *buf, size_t len);

#endif
