#include "http_reply.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cors.h"
#include "http_range.h"
#include "st_log.h"

_Thread_local const char *http_cur_method;
_Thread_local const char *http_cur_url;
_Thread_local unsigned http_cur_status;
_Thread_local enum hm_route http_cur_route;

const char *http_reason(unsigned status)
{
	switch (status) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 416:
		return "Range Not Satisfiable";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

void http_common_headers(struct MHD_Response *r, unsigned worker_index)
{
	/* Browser players (hls.js) fetch playlists and segments cross-origin. */
	MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
	MHD_add_response_header(r, "Access-Control-Expose-Headers", CORS_EXPOSE);
	/* Which worker answered: lets tests and operators see requests of one
	 * viewer spread over the workers. */
	char idx[12];
	snprintf(idx, sizeof idx, "%u", worker_index);
	MHD_add_response_header(r, "X-Streamreg-Worker", idx);
}

static enum MHD_Result queue(struct worker *wk, struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *r, const char *ctype, const char *cache)
{
	if (!r)
		return MHD_NO; /* out of memory: MHD closes the connection */
	if (ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (cache)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
	if (status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, CORS_METHODS);
	http_common_headers(r, wk->index);
	enum MHD_Result ret = http_queue(c, status, r);
	if (ret == MHD_YES)
		http_cur_status = status;
	MHD_destroy_response(r);
	if (wk->opt->verbose)
		st_debug("%s %s -> %u", http_cur_method ? http_cur_method : "?",
		         http_cur_url ? http_cur_url : "?", status);
	return ret;
}

static struct MHD_Response *text_body(unsigned status, const char *detail)
{
	char body[SR_ERROR_MAX + 128];
	int n = snprintf(body, sizeof body, "%u %s: %s\n", status, http_reason(status), detail);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof body)
		n = (int)sizeof body - 1;
	return MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
}

enum MHD_Result reply_error(struct worker *wk, struct MHD_Connection *c, unsigned status,
                            const char *detail)
{
	return queue(wk, c, status, text_body(status, detail), "text/plain; charset=utf-8",
	             "no-store");
}

enum MHD_Result reply_unavailable(struct worker *wk, struct MHD_Connection *c, unsigned retry_s,
                                  const char *detail)
{
	struct MHD_Response *r = text_body(503, detail);
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

enum MHD_Result reply_owned_cookie(struct worker *wk, struct MHD_Connection *c, unsigned status,
                                   const char *ctype, const char *cache, char *body, size_t len,
                                   const char *cookie)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r)
		free(body);
	else if (cookie)
		MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
	return queue(wk, c, status, r, ctype, cache);
}

/* The range a request gets.  Range applies to GET only (RFC 9110 §14.2);
 * If-Range must name the current validator exactly, or the whole file is
 * sent (§13.1.5). */
static enum range_kind select_range(struct MHD_Connection *c, uint64_t size, const char *etag,
                                    const char *modified, uint64_t *first, uint64_t *len)
{
	if (!http_cur_method || strcmp(http_cur_method, MHD_HTTP_METHOD_GET) != 0)
		return RANGE_FULL;
	const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
	if (!range)
		return RANGE_FULL;
	const char *if_range =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
	if (if_range && !((etag && strcmp(if_range, etag) == 0) ||
	                  (modified && strcmp(if_range, modified) == 0)))
		return RANGE_FULL;
	return range_select(range, size, first, len);
}

static void range_headers(struct MHD_Response *r, enum range_kind k, uint64_t first, uint64_t len,
                          uint64_t size)
{
	char v[80];
	MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (k == RANGE_PARTIAL) {
		snprintf(v, sizeof v, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first,
		         first + len - 1, size);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, v);
	} else if (k == RANGE_UNSATISFIABLE) {
		snprintf(v, sizeof v, "bytes */%" PRIu64, size);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, v);
	}
}

static enum MHD_Result reply_unsatisfiable(struct worker *wk, struct MHD_Connection *c,
                                           uint64_t size)
{
	char msg[64];
	snprintf(msg, sizeof msg, "the file has %" PRIu64 " bytes", size);
	struct MHD_Response *r = text_body(416, msg);
	if (r)
		range_headers(r, RANGE_UNSATISFIABLE, 0, 0, size);
	return queue(wk, c, 416, r, "text/plain; charset=utf-8", "no-store");
}

enum MHD_Result reply_file_mem(struct worker *wk, struct MHD_Connection *c, const char *ctype,
                               const char *cache, char *body, size_t len)
{
	uint64_t first = 0, n = len;
	enum range_kind k = select_range(c, len, NULL, NULL, &first, &n);
	if (k == RANGE_UNSATISFIABLE) {
		free(body);
		return reply_unsatisfiable(wk, c, len);
	}
	struct MHD_Response *r;
	if (k == RANGE_PARTIAL) {
		r = MHD_create_response_from_buffer((size_t)n, body + first, MHD_RESPMEM_MUST_COPY);
		free(body);
	} else {
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		if (!r)
			free(body);
	}
	if (r)
		range_headers(r, k, first, n, len);
	return queue(wk, c, k == RANGE_PARTIAL ? 206 : 200, r, ctype, cache);
}

enum MHD_Result reply_file(struct worker *wk, struct MHD_Connection *c, const char *ctype,
                           const char *cache, int fd, size_t size)
{
	/* Validators from the open file: a strong ETag (a segment's bytes never
	 * change under its name; a rewritten file gets a new inode or mtime). */
	char etag[80] = "", modified[40] = "";
	struct stat st;
	if (fstat(fd, &st) == 0) {
		snprintf(etag, sizeof etag, "\"%jx-%jx-%jx\"", (uintmax_t)st.st_ino,
		         (uintmax_t)st.st_size,
		         (uintmax_t)st.st_mtim.tv_sec * 1000000000u +
		             (uintmax_t)st.st_mtim.tv_nsec);
		struct tm tm;
		if (gmtime_r(&st.st_mtim.tv_sec, &tm))
			strftime(modified, sizeof modified, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	}
	const char *inm =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm && etag[0] && (strcmp(inm, etag) == 0 || strcmp(inm, "*") == 0)) {
		/* The browser's copy is current (the page's files, hls.js). */
		close(fd);
		struct MHD_Response *r =
		    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
		return queue(wk, c, 304, r, NULL, cache);
	}
	uint64_t first = 0, n = size;
	enum range_kind k =
	    select_range(c, size, etag[0] ? etag : NULL, modified[0] ? modified : NULL, &first, &n);
	if (k == RANGE_UNSATISFIABLE) {
		close(fd);
		return reply_unsatisfiable(wk, c, size);
	}
	struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(n, fd, (int64_t)first);
	if (!r) {
		close(fd);
		return reply_error(wk, c, 500, "out of memory");
	}
	range_headers(r, k, first, n, size);
	if (etag[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	if (modified[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, modified);
	return queue(wk, c, k == RANGE_PARTIAL ? 206 : 200, r, ctype, cache);
}

enum MHD_Result reply_options(struct worker *wk, struct MHD_Connection *c)
{
	const char *method =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Method");
	const char *headers =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Headers");
	if (headers && !cors_header_list_ok(headers))
		return reply_error(wk, c, 400, "malformed Access-Control-Request-Headers");
	struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, CORS_METHODS);
	if (method) {
		/* A preflight: the real request may follow from any origin, with
		 * whatever headers it announced (an auth token, say).  The answer
		 * depends on them, so caches must key on them. */
		MHD_add_response_header(r, "Access-Control-Allow-Methods", CORS_METHODS);
		if (headers && *headers)
			MHD_add_response_header(r, "Access-Control-Allow-Headers", headers);
		MHD_add_response_header(r, "Access-Control-Max-Age", CORS_MAX_AGE);
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, CORS_VARY);
	}
	return queue(wk, c, 204, r, NULL, "no-store");
}
