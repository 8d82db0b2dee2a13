#include "http_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st_log.h"

_Thread_local const char *http_cur_method;
_Thread_local const char *http_cur_url;
_Thread_local unsigned http_cur_status;
_Thread_local enum hm_route http_cur_route;

static const char *reason(unsigned status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Error";
	}
}

static enum MHD_Result queue(struct worker *wk, struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *r, const char *ctype, const char *cache)
{
	if (!r)
		return MHD_NO; /* out of memory: MHD closes the connection */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (cache)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
	/* Browser players (hls.js) fetch playlists and segments cross-origin. */
	MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
	if (status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	/* Which worker answered: lets tests and operators see requests of one
	 * viewer spread over the workers. */
	char idx[12];
	snprintf(idx, sizeof idx, "%u", wk->index);
	MHD_add_response_header(r, "X-Streamreg-Worker", idx);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	if (ret == MHD_YES)
		http_cur_status = status;
	MHD_destroy_response(r);
	if (wk->opt->verbose)
		st_debug("%s %s -> %u", http_cur_method ? http_cur_method : "?",
		         http_cur_url ? http_cur_url : "?", status);
	return ret;
}

enum MHD_Result reply_error(struct worker *wk, struct MHD_Connection *c, unsigned status,
                            const char *detail)
{
	char body[SR_ERROR_MAX + 128];
	int n = snprintf(body, sizeof body, "%u %s: %s\n", status, reason(status), detail);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof body)
		n = (int)sizeof body - 1;
	struct MHD_Response *r =
	    MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	return queue(wk, c, status, r, "text/plain; charset=utf-8", "no-store");
}

enum MHD_Result reply_unavailable(struct worker *wk, struct MHD_Connection *c, unsigned retry_s,
                                  const char *detail)
{
	char body[SR_ERROR_MAX + 128];
	int n = snprintf(body, sizeof body, "503 Service Unavailable: %s\n", detail);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof body)
		n = (int)sizeof body - 1;
	struct MHD_Response *r =
	    MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	if (r) {
		char retry[16];
		snprintf(retry, sizeof retry, "%u", retry_s);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
	}
	return queue(wk, c, 503, r, "text/plain; charset=utf-8", "no-store");
}

enum MHD_Result reply_owned(struct worker *wk, struct MHD_Connection *c, unsigned status,
                            const char *ctype, const char *cache, char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r)
		free(body);
	return queue(wk, c, status, r, ctype, cache);
}

enum MHD_Result reply_fd(struct worker *wk, struct MHD_Connection *c, const char *ctype,
                         const char *cache, int fd, size_t size)
{
	struct MHD_Response *r = MHD_create_response_from_fd(size, fd);
	if (!r) {
		close(fd);
		return reply_error(wk, c, 500, "out of memory");
	}
	return queue(wk, c, 200, r, ctype, cache);
}
