/* Log lines on stderr, or through syslog(3) with --syslog. */
#ifndef RP_LOG_H
#define RP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

void rp_log_init(const char *ident, bool use_syslog);

/** One line at a syslog priority (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG). */
void rp_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** snprintf where cutting a long message short is intended. */
void rp_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
