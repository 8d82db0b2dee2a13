#include "monitor_guard.h"

#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "streamreg.h"

static sigjmp_buf bus_env;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	if (bus_armed)
		siglongjmp(bus_env, 1);
	/* Not ours: die the way the fault would have killed us. */
	signal(sig, SIG_DFL);
	raise(sig);
}

int mon_guard_sigbus(int (*fn)(void *ctx), void *ctx)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old) != 0)
		return fn(ctx);
	volatile int rc = -SR_ETRUNCATED;
	if (sigsetjmp(bus_env, 1) == 0) {
		bus_armed = 1;
		rc = fn(ctx);
	}
	bus_armed = 0;
	sigaction(SIGBUS, &old, NULL);
	return rc;
}
