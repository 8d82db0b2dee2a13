/* Building and queueing libmicrohttpd responses.  Every answer, including
 * the ones libmicrohttpd makes itself (http_mhd_errors.c), carries the same
 * headers: CORS, the worker's index, and a text/plain body on errors. */
#ifndef SRV_HTTP_REPLY_H
#define SRV_HTTP_REPLY_H

#include <microhttpd.h>
#include <stddef.h>

#include "http_metrics.h"
#include "worker_internal.h"

/* The request being answered on this thread, for the verbose log. */
extern _Thread_local const char *http_cur_method;
extern _Thread_local const char *http_cur_url;
/* Status of the answer queued on this thread (0: none yet) and the route
 * it was for, read back for the request metrics. */
extern _Thread_local unsigned http_cur_status;
extern _Thread_local enum hm_route http_cur_route;

/* Short text/plain body "<status> <reason>: <detail>\n". */
enum MHD_Result reply_error(struct worker *wk, struct MHD_Connection *c, unsigned status,
                            const char *detail);
/* 503 with Retry-After. */
enum MHD_Result reply_unavailable(struct worker *wk, struct MHD_Connection *c, unsigned retry_s,
                                  const char *detail);
/* A malloc'd body, freed by libmicrohttpd once sent. */
enum MHD_Result reply_owned(struct worker *wk, struct MHD_Connection *c, unsigned status,
                            const char *ctype, const char *cache, char *body, size_t len);
/* reply_owned() with a Set-Cookie header (NULL: none). */
enum MHD_Result reply_owned_cookie(struct worker *wk, struct MHD_Connection *c, unsigned status,
                                   const char *ctype, const char *cache, char *body, size_t len,
                                   const char *cookie);
/* A file's content already in memory (malloc'd, taken over): 200, or 206 /
 * 416 when the request asks for a byte range (RFC 9110 §14). */
enum MHD_Result reply_file_mem(struct worker *wk, struct MHD_Connection *c, const char *ctype,
                               const char *cache, char *body, size_t len);
/* An open file, sent with sendfile() and closed by libmicrohttpd: 200, or
 * 206 / 416 for a byte range, with ETag and Last-Modified (If-Range). */
enum MHD_Result reply_file(struct worker *wk, struct MHD_Connection *c, const char *ctype,
                           const char *cache, int fd, size_t size);
/* 204 to OPTIONS: a CORS preflight gets the methods and the headers it asked
 * for; a plain OPTIONS gets Allow. */
enum MHD_Result reply_options(struct worker *wk, struct MHD_Connection *c);

/* The reason phrase of a status the server sends. */
const char *http_reason(unsigned status);

/* http_mhd_errors.c: queue a response through libmicrohttpd itself (every
 * response of ours goes through here); and the answers libmicrohttpd makes
 * on its own get our headers and a plain message.  Call once per worker
 * before the daemon starts; -1 if libmicrohttpd cannot be found. */
struct http_metrics;
int http_mhd_errors_init(unsigned worker_index, size_t max_header_bytes, struct http_metrics *hm);
enum MHD_Result http_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r);
/* The headers every answer carries: CORS and X-Streamreg-Worker. */
void http_common_headers(struct MHD_Response *r, unsigned worker_index);

#endif
