#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum srv_log_level max_level = SRV_LOG_INFO;
static char role[32] = "master";

void srv_log_set_level(enum srv_log_level level)
{
	max_level = level;
}

void srv_log_set_role(const char *r)
{
	snprintf(role, sizeof role, "%s", r);
}

void srv_log(enum srv_log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	if (level > max_level)
		return;
	/* Format the whole line first so that one write() keeps lines from
	 * several processes sharing stderr from interleaving. */
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(
	    line, sizeof line, "%02d:%02d:%02d.%03ld streamreg-server[%d] %s: %s: ", tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, (int)getpid(), role, names[level]);
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt,
	                  ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
