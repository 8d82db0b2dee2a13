/*
 * Log lines of the streamreg tools: one write(2) per line on stderr (lines
 * of processes sharing stderr never tear), or syslog(3).  Levels are syslog
 * priorities.  A rate limiter folds a line repeated many times (one per
 * request, one per failed start) into one line with a count per interval.
 */
#ifndef ST_LOG_H
#define ST_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

/**
 * Name the program (ident, e.g. "streamreg-reaper") and choose syslog or
 * stderr.  With syslog, errors still reach stderr: without a syslog daemon,
 * or during setup, the operator must see why a tool stopped.
 */
void st_log_init(const char *ident, bool use_syslog);

/** Drop lines less severe than level (LOG_ERR ... LOG_DEBUG); default LOG_DEBUG. */
void st_log_set_level(int level);

/** Whether a line at level would be written (to skip formatting costly ones). */
bool st_log_enabled(int level);

/** A role printed after the pid ("master", "worker 2"); NULL or "" for none. Copied. */
void st_log_set_role(const char *role);

/** One line at a syslog priority (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG). */
void st_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define st_error(...) st_log(LOG_ERR, __VA_ARGS__)
#define st_warn(...)  st_log(LOG_WARNING, __VA_ARGS__)
#define st_info(...)  st_log(LOG_INFO, __VA_ARGS__)
#define st_debug(...) st_log(LOG_DEBUG, __VA_ARGS__)

/** snprintf where cutting a long message short is intended. */
void st_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/**
 * Rate limit for one kind of line.  Zero-initialise it and set interval_ms.
 * The first line of an interval is written; the next ones in the same
 * interval are only counted; the first line after the interval carries the
 * count ("... [N more like this in the last 10 s]").  st_log_limit_flush()
 * writes a pending count, e.g. from a periodic timer, so none is lost when
 * the repetition stops.  Not thread-safe: one per thread or a lock around it.
 */
struct st_log_limit {
	uint64_t interval_ms;
	uint64_t window_start_ms; /* monotonic ms of the line that opened the window */
	uint64_t suppressed;      /* lines counted, not written, in the window */
	int level;                /* of the last suppressed line, for the flush */
	char last[256];           /* its text, for the flush */
};

/** st_log() through a rate limit; returns whether the line was written. */
bool st_log_limited(struct st_log_limit *lim, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * If the interval is over and lines were suppressed, write one line with
 * the count and the last of them.  Returns how many it reported (0: none).
 */
uint64_t st_log_limit_flush(struct st_log_limit *lim);

/** Same decision logic with an explicit clock, for tests: 1 write, 0 count. */
int st_log_limit_decide(struct st_log_limit *lim, uint64_t now_ms, uint64_t *report);

#endif
