/*
 * LD_PRELOAD shim for test_touch_stall: while SRT_STALL is set in its
 * environment, a process that loads it stops itself (SIGSTOP) right after
 * each read of CLOCK_MONOTONIC_COARSE, and returns the time it read before
 * stopping, as a process preempted just after its clock read would.  A touch
 * reads that clock between loading the last access and storing it, so the
 * stall lands exactly where a lost update would happen, instead of hoping a
 * random stop hits a window a few instructions wide.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

typedef int clock_fn(clockid_t, struct timespec *);

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static clock_fn *real;
	if (!real)
		real = (clock_fn *)dlsym(RTLD_NEXT, "clock_gettime");
	int rc = real(id, ts);
	if (id != CLOCK_MONOTONIC_COARSE)
		return rc;
	if (getenv("SRT_STALL"))
		raise(SIGSTOP);
	return rc;
}
