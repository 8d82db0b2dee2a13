#include "st_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool to_syslog;
static int max_level = LOG_DEBUG;
static const char *log_ident = "streamreg";
static char role[32];

void st_log_init(const char *ident, bool use_syslog)
{
	if (ident)
		log_ident = ident;
	to_syslog = use_syslog;
	if (use_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void st_log_set_level(int level)
{
	max_level = level;
}

bool st_log_enabled(int level)
{
	return level <= max_level;
}

void st_log_set_role(const char *r)
{
	snprintf(role, sizeof role, "%s", r ? r : "");
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_DEBUG:
		return "debug";
	default:
		return "info";
	}
}

static void write_line(int level, const char *msg)
{
	if (to_syslog) {
		syslog(level, "%s", msg);
		if (level > LOG_ERR)
			return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char line[2300];
	int n =
	    snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s%s%s: %s\n",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             ts.tv_nsec / 1000000, log_ident, (int)getpid(), role, role[0] ? ": " : "",
	             level_name(level), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line) {
		n = (int)sizeof line - 1;
		line[n - 1] = '\n';
	}
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

void st_log(int level, const char *fmt, ...)
{
	if (level > max_level)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	write_line(level, msg);
}

void st_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int st_log_limit_decide(struct st_log_limit *lim, uint64_t now, uint64_t *report)
{
	*report = 0;
	/* window_start 0 means "no window yet"; a clock at 0 is one too */
	if (lim->window_start_ms == 0 || now - lim->window_start_ms >= lim->interval_ms) {
		*report = lim->suppressed;
		lim->suppressed = 0;
		lim->window_start_ms = now ? now : 1;
		return 1;
	}
	lim->suppressed++;
	return 0;
}

bool st_log_limited(struct st_log_limit *lim, int level, const char *fmt, ...)
{
	if (level > max_level)
		return false;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	uint64_t report;
	if (!st_log_limit_decide(lim, now_ms(), &report)) {
		lim->level = level;
		/* kept cut to the buffer: the flush line only recalls it */
		st_fmt(lim->last, sizeof lim->last, "%s", msg);
		return false;
	}
	if (report) {
		char line[2200];
		snprintf(line, sizeof line, "%s [%llu more like this in the last %.1f s]", msg,
		         (unsigned long long)report, (double)lim->interval_ms / 1000.0);
		write_line(level, line);
	} else {
		write_line(level, msg);
	}
	return true;
}

uint64_t st_log_limit_flush(struct st_log_limit *lim)
{
	uint64_t now = now_ms();
	if (lim->suppressed == 0 || now - lim->window_start_ms < lim->interval_ms)
		return 0;
	uint64_t n = lim->suppressed;
	char line[400];
	snprintf(line, sizeof line, "%llu more like this in the last %.1f s, the last: %s",
	         (unsigned long long)n, (double)lim->interval_ms / 1000.0, lim->last);
	write_line(lim->level, line);
	lim->suppressed = 0;
	/* the window stays closed: the next line opens a new one and is written */
	lim->window_start_ms = 0;
	return n;
}
