/* Survive a registry segment shrinking under a read-only mapping. */
#ifndef SR_TOOLS_MONITOR_GUARD_H
#define SR_TOOLS_MONITOR_GUARD_H

/*
 * Run fn(ctx) and return its result, or -SR_ETRUNCATED if it touched a page
 * past the end of a segment that someone truncated after we mapped it (the
 * kernel sends SIGBUS).  A monitor may watch a registry owned by another
 * user, who can shrink it at any time: that must not kill the monitor.
 * Memory fn allocated before the fault is lost; not reentrant.
 */
int mon_guard_sigbus(int (*fn)(void *ctx), void *ctx);

#endif
