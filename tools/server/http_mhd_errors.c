/*
 * The answers libmicrohttpd makes by itself: a request line or headers that
 * do not fit in a connection's memory (414, 431), a version other than
 * HTTP/1.x (505), a malformed request (400), an oversized body (413).  In
 * 0.9.75 it builds them internally (an HTML body such as "Your HTTP header
 * was too big", even for an overlong URL, and none of our headers) and no
 * option changes them.  It queues them through its own exported
 * MHD_queue_response(), and only those: every response of ours goes through
 * http_queue() to the library's function directly.  So this program defines
 * MHD_queue_response (exported, see tools/server/CMakeLists.txt), which the
 * dynamic linker binds libmicrohttpd's call to, and answers with our headers
 * and a plain message instead.  tests/server/http_errors_test.py checks
 * each of these answers, so a libmicrohttpd that stops calling through its
 * PLT fails the suite instead of silently losing the headers.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "http_metrics.h"
#include "http_reply.h"

typedef enum MHD_Result (*queue_fn)(struct MHD_Connection *, unsigned int, struct MHD_Response *);

static queue_fn real_queue;
static unsigned our_index;
static size_t header_limit;
static struct http_metrics *metrics;

int http_mhd_errors_init(unsigned worker_index, size_t max_header_bytes, struct http_metrics *hm)
{
	our_index = worker_index;
	header_limit = max_header_bytes;
	metrics = hm;
	/* ISO C has no conversion from void * to a function pointer; POSIX
	 * guarantees the representation, so copy it. */
	void *sym = dlsym(RTLD_NEXT, "MHD_queue_response");
	if (!sym)
		return -1;
	memcpy(&real_queue, &sym, sizeof real_queue);
	return 0;
}

enum MHD_Result http_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
	return real_queue(c, status, r);
}

static const char *what(unsigned status, char *buf, size_t len)
{
	switch (status) {
	case 400:
		return "the request is not valid HTTP/1.x (request line, header line or "
		       "body framing)";
	case 413:
		return "the request body is larger than this server accepts";
	case 414:
		snprintf(buf, len,
		         "the request line is longer than the %zu bytes a request may "
		         "use (--max-header-bytes)",
		         header_limit);
		return buf;
	case 431:
		snprintf(buf, len,
		         "the request headers are larger than the %zu bytes a request "
		         "may use (--max-header-bytes)",
		         header_limit);
		return buf;
	case 505:
		return "only HTTP/1.0 and HTTP/1.1 are served";
	default:
		return "the request could not be processed";
	}
}

/* Only libmicrohttpd's internal error path reaches this. */
enum MHD_Result MHD_queue_response(struct MHD_Connection *c, unsigned int status,
                                   struct MHD_Response *theirs)
{
	(void)theirs; /* its caller destroys it */
	char detail[160], body[256];
	int n = snprintf(body, sizeof body, "%u %s: %s\n", status, http_reason(status),
	                 what(status, detail, sizeof detail));
	if (n < 0 || (size_t)n >= sizeof body)
		n = (int)sizeof body - 1;
	struct MHD_Response *r =
	    MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return real_queue(c, status, theirs);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	http_common_headers(r, our_index);
	enum MHD_Result ret = real_queue(c, status, r);
	MHD_destroy_response(r);
	/* Refused before routing; the time to refuse is not worth a sample. */
	if (metrics)
		http_metrics_observe(metrics, HM_ROUTE_INVALID, status, 0);
	return ret;
}
