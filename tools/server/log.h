/* One-line log messages on stderr, prefixed with the program and pid so the
 * lines of the master and its workers can be told apart. */
#ifndef SRV_LOG_H
#define SRV_LOG_H

enum srv_log_level { SRV_LOG_ERROR, SRV_LOG_WARN, SRV_LOG_INFO, SRV_LOG_DEBUG };

/* Messages above this level are dropped; set once from the command line. */
void srv_log_set_level(enum srv_log_level level);
/* The role printed after the pid ("master", "worker 2"); copied. */
void srv_log_set_role(const char *role);

void srv_log(enum srv_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define srv_error(...) srv_log(SRV_LOG_ERROR, __VA_ARGS__)
#define srv_warn(...)  srv_log(SRV_LOG_WARN, __VA_ARGS__)
#define srv_info(...)  srv_log(SRV_LOG_INFO, __VA_ARGS__)
#define srv_debug(...) srv_log(SRV_LOG_DEBUG, __VA_ARGS__)

#endif
