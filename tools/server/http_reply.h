/* Building and queueing libmicrohttpd responses. */
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
/* An open file, sent with sendfile() and closed by libmicrohttpd. */
enum MHD_Result reply_fd(struct worker *wk, struct MHD_Connection *c, const char *ctype,
                         const char *cache, int fd, size_t size);

#endif
