#include "http_metrics.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>

#include <streamreg.h>

#include "strbuf.h"

/* Status codes that get their own label; anything else is counted under
 * its class ("2xx", "4xx", ...) so a hostile client cannot grow the series. */
static const unsigned known_status[] = {200, 204, 206, 304, 400, 403, 404, 405,
                                        408, 414, 416, 431, 500, 503, 505};
#define N_KNOWN  (sizeof known_status / sizeof known_status[0])
#define N_STATUS (N_KNOWN + 5) /* + 1xx..5xx classes */

/* Upper bounds in microseconds.  Playlists from memory take tens of
 * microseconds; a first request that waits for its transcoder takes
 * seconds, so the buckets span both. */
static const uint64_t bucket_us[] = {100,     250,     500,     1000,    2500,   5000,
                                     10000,   25000,   50000,   100000,  250000, 500000,
                                     1000000, 2500000, 5000000, 10000000};
#define N_BUCKETS (sizeof bucket_us / sizeof bucket_us[0])

struct route_latency {
	_Atomic uint64_t le[N_BUCKETS]; /* non-cumulative: one bucket per request */
	_Atomic uint64_t inf;
	_Atomic uint64_t sum_us;
	_Atomic uint64_t count;
};

struct http_metrics {
	_Atomic uint64_t requests[HM_ROUTES][N_STATUS];
	struct route_latency latency[HM_ROUTES];
	_Atomic uint64_t events[HM_EVENTS];
};

static const char *const route_names[HM_ROUTES] = {
    [HM_ROUTE_INVALID] = "invalid", [HM_ROUTE_INDEX] = "index",
    [HM_ROUTE_STATIC] = "static",   [HM_ROUTE_CHANNELS] = "channels",
    [HM_ROUTE_MASTER] = "master",   [HM_ROUTE_PLAYLIST] = "playlist",
    [HM_ROUTE_SEGMENT] = "segment", [HM_ROUTE_SESSIONS] = "sessions",
    [HM_ROUTE_METRICS] = "metrics", [HM_ROUTE_HEALTH] = "health",
};

const char *http_metrics_route_name(enum hm_route route)
{
	return (unsigned)route < HM_ROUTES ? route_names[route] : "invalid";
}

struct http_metrics *http_metrics_create(void)
{
	void *p = mmap(NULL, sizeof(struct http_metrics), PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	return p; /* anonymous pages start zeroed: every counter at 0 */
}

void http_metrics_destroy(struct http_metrics *hm)
{
	if (hm)
		munmap(hm, sizeof *hm);
}

static size_t status_index(unsigned status)
{
	for (size_t i = 0; i < N_KNOWN; i++)
		if (known_status[i] == status)
			return i;
	unsigned cls = status / 100;
	if (cls < 1 || cls > 5)
		cls = 5;
	return N_KNOWN + cls - 1;
}

static void status_label(size_t i, char *out, size_t len)
{
	if (i < N_KNOWN)
		snprintf(out, len, "%u", known_status[i]);
	else
		snprintf(out, len, "%zuxx", i - N_KNOWN + 1);
}

void http_metrics_observe(struct http_metrics *hm, enum hm_route route, unsigned status,
                          uint64_t elapsed_ns)
{
	if (!hm)
		return;
	if ((unsigned)route >= HM_ROUTES)
		route = HM_ROUTE_INVALID;
	atomic_fetch_add_explicit(&hm->requests[route][status_index(status)], 1,
	                          memory_order_relaxed);
	struct route_latency *l = &hm->latency[route];
	uint64_t us = elapsed_ns / 1000u;
	size_t b = 0;
	while (b < N_BUCKETS && us > bucket_us[b])
		b++;
	atomic_fetch_add_explicit(b < N_BUCKETS ? &l->le[b] : &l->inf, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->sum_us, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->count, 1, memory_order_relaxed);
}

void http_metrics_count(struct http_metrics *hm, enum hm_event ev)
{
	if (hm && (unsigned)ev < HM_EVENTS)
		atomic_fetch_add_explicit(&hm->events[ev], 1, memory_order_relaxed);
}

uint64_t http_metrics_get(const struct http_metrics *hm, enum hm_event ev)
{
	if (!hm || (unsigned)ev >= HM_EVENTS)
		return 0;
	return atomic_load_explicit(&((struct http_metrics *)hm)->events[ev], memory_order_relaxed);
}

static uint64_t ld(const _Atomic uint64_t *p)
{
	return atomic_load_explicit((_Atomic uint64_t *)p, memory_order_relaxed);
}

static void format_requests(const struct http_metrics *hm, struct strbuf *b)
{
	strbuf_puts(b, "# HELP streamreg_http_requests_total HTTP requests answered, by route and "
	               "status code.\n# TYPE streamreg_http_requests_total counter\n");
	for (unsigned r = 0; r < HM_ROUTES; r++)
		for (size_t s = 0; s < N_STATUS; s++) {
			uint64_t n = ld(&hm->requests[r][s]);
			if (!n)
				continue; /* a series appears with its first request */
			char code[8];
			status_label(s, code, sizeof code);
			strbuf_printf(
			    b, "streamreg_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
			    route_names[r], code, (unsigned long long)n);
		}
}

static void format_latency(const struct http_metrics *hm, struct strbuf *b)
{
	strbuf_puts(b, "# HELP streamreg_http_request_duration_seconds Time from a request's "
	               "headers to its answer being queued, by route.\n"
	               "# TYPE streamreg_http_request_duration_seconds histogram\n");
	for (unsigned r = 0; r < HM_ROUTES; r++) {
		const struct route_latency *l = &hm->latency[r];
		uint64_t count = ld(&l->count);
		if (!count)
			continue;
		/* Buckets are read one by one while others add: make the
		 * cumulative figures monotonic and +Inf equal to _count, as
		 * Prometheus expects of one scrape. */
		uint64_t cum = 0;
		for (size_t i = 0; i < N_BUCKETS; i++) {
			cum += ld(&l->le[i]);
			if (cum > count)
				cum = count;
			strbuf_printf(b,
			              "streamreg_http_request_duration_seconds_bucket{route=\"%s\","
			              "le=\"%g\"} %llu\n",
			              route_names[r], (double)bucket_us[i] / 1e6,
			              (unsigned long long)cum);
		}
		strbuf_printf(
		    b,
		    "streamreg_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
		    "%llu\n"
		    "streamreg_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
		    "streamreg_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
		    route_names[r], (unsigned long long)count, route_names[r],
		    (double)ld(&l->sum_us) / 1e6, route_names[r], (unsigned long long)count);
	}
}

static void format_events(const struct http_metrics *hm, struct strbuf *b)
{
	static const struct {
		const char *name, *help;
	} ev[HM_EVENTS] = {
	    [HM_START_TIMEOUT] = {"streamreg_server_start_timeouts_total",
	                          "First requests answered 503 because their channel did not "
	                          "become active within --start-timeout."},
	    [HM_START_FAILED] = {"streamreg_server_start_failures_total",
	                         "First requests answered 503 because their channel failed to "
	                         "start."},
	    [HM_WORKER_RESTART] = {"streamreg_server_worker_restarts_total",
	                           "Workers that died and were replaced by the master."},
	    [HM_VIEWER_UNCOUNTED] = {"streamreg_server_viewers_uncounted_total",
	                             "Viewers served without being counted (viewer table full "
	                             "or lease refused)."},
	    [HM_START_WAKEUP] = {"streamreg_server_start_wait_wakeups_total",
	                         "Times a thread waiting for channels to leave starting woke up: "
	                         "a state change, a deadline, or the shutdown check once a second "
	                         "(no polling)."},
	};
	for (unsigned i = 0; i < HM_EVENTS; i++)
		strbuf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", ev[i].name,
		              ev[i].help, ev[i].name, ev[i].name,
		              (unsigned long long)ld(&hm->events[i]));
}

void http_metrics_format(const struct http_metrics *hm, struct strbuf *b)
{
	if (!hm)
		return;
	format_requests(hm, b);
	format_latency(hm, b);
	format_events(hm, b);
	strbuf_printf(b,
	              "# HELP streamreg_server_build_info Version of streamreg-server and of the "
	              "registry layout it speaks; always 1.\n"
	              "# TYPE streamreg_server_build_info gauge\n"
	              "streamreg_server_build_info{version=\"%d.%d\",layout=\"%d\"} 1\n",
	              SR_VERSION_MAJOR, SR_VERSION_MINOR, SR_LAYOUT_VERSION);
}
