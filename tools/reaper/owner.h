/*
 * One reaper per registry: the reaper holds the registry's owner record
 * (pid + start time, kept by the library, robust to SIGKILL) for as long as
 * it serves, and heartbeats it on every scan so monitors can tell a stuck
 * reaper from a working one (reaper_up in /metrics).
 */
#ifndef RP_OWNER_H
#define RP_OWNER_H

#include "streamreg.h"

/**
 * Claim the owner record of reg (named name) for this reaper, whose output
 * directory is outdir.  A dead holder is taken over at once.  0, or -1
 * after logging who holds it (pid, output directory) or why it failed.
 */
int rp_claim_owner(sr_registry *reg, const char *name, const char *outdir);

/** Heartbeat; -1 after logging if this reaper no longer holds the record. */
int rp_owner_heartbeat(sr_registry *reg, const char *name);

#endif
