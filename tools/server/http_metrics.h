/*
 * The server's own Prometheus figures: requests by route and status, a
 * latency histogram per route, and the events an operator alerts on (start
 * timeouts, worker restarts, viewers served uncounted).
 *
 * Requests are answered by whichever worker the kernel picks, so per-worker
 * counters would make /metrics answer differently on every scrape.  The
 * figures live in one anonymous MAP_SHARED block that the master creates
 * before forking; every worker adds to it with relaxed atomics, any worker
 * reports all of it, and the counters survive a worker's death (they only
 * ever rise while the master lives, as Prometheus counters must).
 */
#ifndef SRV_HTTP_METRICS_H
#define SRV_HTTP_METRICS_H

#include <stdint.h>

struct strbuf;

/* Route labels: a small fixed set, so label cardinality stays bounded. */
enum hm_route {
	HM_ROUTE_INVALID, /* refused before routing: bad path, method, header */
	HM_ROUTE_INDEX,
	HM_ROUTE_STATIC, /* the player page's files */
	HM_ROUTE_CHANNELS,
	HM_ROUTE_MASTER,
	HM_ROUTE_PLAYLIST,
	HM_ROUTE_SEGMENT,
	HM_ROUTE_SESSIONS,
	HM_ROUTE_METRICS,
	HM_ROUTE_HEALTH,
	HM_ROUTES
};

struct http_metrics;

/* Create the shared block, or NULL with errno. */
struct http_metrics *http_metrics_create(void);
void http_metrics_destroy(struct http_metrics *hm);

/* One answered request: its route, status and time from headers to reply. */
void http_metrics_observe(struct http_metrics *hm, enum hm_route route, unsigned status,
                          uint64_t elapsed_ns);

enum hm_event {
	HM_START_TIMEOUT,    /* a first request got 503: the channel did not start in time */
	HM_START_FAILED,     /* a first request got 503: the channel failed to start */
	HM_WORKER_RESTART,   /* the master replaced a worker that died */
	HM_VIEWER_UNCOUNTED, /* a viewer was served without a viewer-table slot */
	HM_START_WAKEUP,     /* a start wait woke up (state change, deadline or slice) */
	HM_EVENTS
};
void http_metrics_count(struct http_metrics *hm, enum hm_event ev);
uint64_t http_metrics_get(const struct http_metrics *hm, enum hm_event ev);

/* Append the Prometheus text of every figure to b. */
void http_metrics_format(const struct http_metrics *hm, struct strbuf *b);

/* Label text of a route, as it appears in the metrics. */
const char *http_metrics_route_name(enum hm_route route);

#endif
