/*
 * ngx_http_streamreg_module: streamreg inside nginx (docs/nginx.md).
 *
 * Shared between the module's files: configuration, the per-worker state
 * (registry handle, viewer-table holder) and the request handlers.  nginx
 * workers are single-threaded, so the worker state is plain globals.
 */
#ifndef NGX_HTTP_STREAMREG_H
#define NGX_HTTP_STREAMREG_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <streamreg.h>

#include "st_lineup.h"
#include "viewers.h"

#define SR_NGX_STATUS_OFF        0
#define SR_NGX_STATUS_JSON       1
#define SR_NGX_STATUS_PROMETHEUS 2

typedef struct {
	ngx_str_t registry;        /* streamreg_registry NAME */
	ngx_uint_t max_viewers;    /* streamreg_max_viewers N */
	ngx_msec_t viewer_timeout; /* streamreg_viewer_timeout T */
	ngx_shm_zone_t *zone;      /* the viewer table and its holders */
	/* streamreg_lineup FILE (optional): names and order for /channels and
	 * the 404 of a channel it does not list, as streamreg-server. */
	struct st_lineup *lineup;
	ngx_array_t hls_locs; /* ngx_http_streamreg_loc_conf_t * using streamreg_hls */
	/* First location that needs the registry, for the "nginx -t" message. */
	ngx_str_t user_file;
	ngx_uint_t user_line;
	const char *user_directive;
} ngx_http_streamreg_main_conf_t;

typedef struct {
	ngx_str_t hls_dir;        /* streamreg_hls DIR */
	ngx_msec_t start_timeout; /* streamreg_start_timeout T */
	ngx_uint_t status;        /* streamreg_status json|prometheus */
	/* The output directory, opened O_PATH at configuration time (so a
	 * worker opens files with one openat2) and reopened by a worker whose
	 * sweep sees DIR replaced. */
	int dir_fd;
	dev_t dir_dev;
	ino_t dir_ino;
} ngx_http_streamreg_loc_conf_t;

extern ngx_module_t ngx_http_streamreg_module;

/* ---- per-worker state (ngx_http_streamreg_worker.c) -------------------- */

/*
 * The worker's registry handle, or NULL while it is missing (the reason is
 * in *why for the 503 and the error log).  Never blocks.
 */
sr_registry *sr_ngx_registry(const char **why);
/* The viewer table and this worker's holder id in it. */
struct viewer_table *sr_ngx_viewers(uint32_t *holder);

/* The shared zone: viewer table plus the holder table. */
ngx_shm_zone_t *sr_ngx_zone_add(ngx_conf_t *cf, ngx_http_streamreg_main_conf_t *mcf);
ngx_int_t sr_ngx_worker_start(ngx_cycle_t *cycle);
void sr_ngx_worker_stop(ngx_cycle_t *cycle);

/* ---- replies (ngx_http_streamreg_reply.c) ------------------------------- */

/* Headers on every answer: CORS for browser players, the worker index. */
ngx_int_t sr_ngx_common_headers(ngx_http_request_t *r);
ngx_int_t sr_ngx_add_header(ngx_http_request_t *r, const char *key, const char *value);
/* A one-line text/plain error ("404 Not Found: no such file"); 503s carry
 * Retry-After: retry_after (0: none).  Returns the output filter's code. */
ngx_int_t sr_ngx_reply_error(ngx_http_request_t *r, ngx_uint_t status, const char *why,
                             unsigned retry_after);
/* Whether the request was answered already (*rc: the code to return):
 * OPTIONS gets the preflight answer, any method but GET, HEAD and OPTIONS
 * 405; a failure to discard a body ends it too. */
bool sr_ngx_method_answered(ngx_http_request_t *r, ngx_int_t *rc);
/* A body from memory (copied into the request pool). */
ngx_int_t sr_ngx_reply_body(ngx_http_request_t *r, const char *ctype, const char *cache,
                            const char *body, size_t len);
/* A file with nginx's static path: sendfile, ranges, ETag/Last-Modified. */
ngx_int_t sr_ngx_reply_file(ngx_http_request_t *r, int fd, const struct stat *st, const char *ctype,
                            const char *cache);

/* ---- handlers -------------------------------------------------------------- */

ngx_int_t sr_ngx_hls_handler(ngx_http_request_t *r);    /* streamreg_hls */
ngx_int_t sr_ngx_status_handler(ngx_http_request_t *r); /* streamreg_status */
/* GET /channels under streamreg_hls: the player page's channel list. */
ngx_int_t sr_ngx_channels(ngx_http_request_t *r, sr_registry *reg);

/*
 * The variant playlist to serve (hls_media_playlist(), cached per worker
 * while its files are unchanged): valid until the next call, or NULL with
 * errno as hls_media_playlist() sets it.
 */
const char *sr_ngx_playlist(int dir_fd, const uuid_t channel, const char *variant, const char *file,
                            size_t *len);

/* The master.m3u8 wait (ngx_http_streamreg_wait.c). */
typedef struct sr_ngx_ctx sr_ngx_ctx;
struct sr_ngx_ctx {
	ngx_http_request_t *r;
	ngx_http_streamreg_loc_conf_t *lcf;
	uuid_t channel;
	sr_session_ref ref; /* resolved once per request */
	ngx_event_t wait_ev;
	ngx_msec_t waited; /* ms spent waiting so far */
	unsigned has_viewer : 1;
	unsigned reused : 1;    /* the client's existing viewer: not ours to release */
	unsigned delivered : 1; /* the master playlist with the token went out */
	unsigned requested : 1; /* this request moved the channel to starting */
	unsigned waiting : 1;
	uint32_t slot;
	uint64_t nonce;
};
/* Ask for a start if the channel is idle or failed (one CAS winner). */
void sr_ngx_start_request(sr_registry *reg, sr_ngx_ctx *ctx);
/* Suspend the request on timers until the channel is active; NGX_DONE. */
ngx_int_t sr_ngx_wait_begin(sr_ngx_ctx *ctx);
/* Serve the master playlist rewritten with the viewer's token. */
ngx_int_t sr_ngx_serve_master(sr_ngx_ctx *ctx);
/* Drop the viewer a failed master request created. */
void sr_ngx_release_viewer(sr_ngx_ctx *ctx);

#endif
