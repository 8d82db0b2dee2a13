/*
 * The endpoints.  Every path goes through route_parse() first, so handlers
 * only ever see a checked channel id and single-component names.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "channels_json.h"
#include "hls_files.h"
#include "http_reply.h"
#include "route.h"
#include "st_chandir.h"
#include "st_hlsjoin.h"
#include "st_log.h"
#include "st_run.h"
#include "strbuf.h"
#include "web_files.h"
#include "worker_internal.h"

/* Per-viewer master playlists must never be shared or reused: they carry
 * the viewer's token. */
#define CACHE_MASTER "private, no-store"
/* Live playlists change every segment duration. */
#define CACHE_PLAYLIST "no-cache"
/* A segment never changes, and its name (run id + sequence number) is
 * never used again by another run of the channel. */
#define CACHE_SEGMENT "max-age=86400, immutable"
/* The cookie that names a browser's viewer of a channel. */
#define VIEWER_COOKIE "sr_viewer"
/* Repeated warnings (table full) are written once per interval, with a count. */
#define REPEAT_LOG_INTERVAL_MS 10000

/* The session exists once anyone asked for the channel.  A present one,
 * the common case, costs one lock-free lookup; its reference then serves
 * every later registry call of the request. */
static int ensure_session(struct worker *wk, const uuid_t id, sr_session_ref *ref)
{
	int rc = sr_session_resolve(wk->reg, id, ref);
	if (rc != -ENOENT)
		return rc;
	char dir[SR_PATH_MAX + 1];
	bool fits = st_chan_dir(dir, sizeof dir, wk->opt->output_dir, id) == 0;
	rc = sr_session_find_or_insert(wk->reg, id, fits ? dir : NULL, ref);
	return rc < 0 ? rc : 0;
}

static void release_viewer(struct worker *wk, struct request *rq)
{
	if (!rq->has_viewer)
		return;
	if (!rq->viewer_reused)
		viewers_release(wk->vt, wk->reg, wk->holder, rq->viewer_slot, rq->viewer_nonce);
	rq->has_viewer = false;
}

static struct hls_root files(const struct worker *wk)
{
	return (struct hls_root){.dir = wk->opt->output_dir, .fd = -1};
}

static enum MHD_Result serve_master(struct worker *wk, struct MHD_Connection *c, struct request *rq)
{
	struct hls_root root = files(wk);
	char rel[ST_RUN_NAME_MAX + 16];
	off_t size;
	int fd = hls_master_rel(&root, rq->w.channel, rel, sizeof rel);
	if (fd == 0)
		fd = hls_open_root(&root, rq->w.channel, rel, &size);
	if (fd < 0) {
		/* Active but no playlist: the transcoder is being replaced or
		 * its directory was cleaned under us; the player retries. */
		release_viewer(wk, rq);
		return reply_unavailable(wk, c, 1, "channel has no master playlist yet");
	}
	size_t len;
	char *text = hls_read_all(fd, &len);
	if (!text) {
		release_viewer(wk, rq);
		return reply_error(wk, c, 500, "cannot read the master playlist");
	}
	char prefix[8 + ROUTE_TOKEN_LEN];
	char cookie[128 + SR_UUID_STR_LEN];
	if (rq->has_viewer) {
		char token[ROUTE_TOKEN_LEN + 1], id[SR_UUID_STR_LEN + 1];
		route_format_token(rq->viewer_slot, rq->viewer_nonce, token);
		snprintf(prefix, sizeof prefix, "v/%s/", token);
		/* The player's next fetch of this master playlist (a page
		 * reload, hls.js after an error) presents it and stays the same
		 * viewer.  Scoped to the channel; no script needs it. */
		sr_uuid_format(rq->w.channel, id);
		snprintf(cookie, sizeof cookie,
		         VIEWER_COOKIE "=%s; Path=/channels/%s/; HttpOnly; SameSite=Lax", token,
		         id);
	} else {
		prefix[0] = '\0';
	}
	size_t out_len;
	char *out = hls_rewrite_master(text, len, prefix, &out_len);
	free(text);
	if (!out) {
		release_viewer(wk, rq);
		return reply_error(wk, c, 500, "out of memory");
	}
	rq->delivered = true;
	return reply_owned_cookie(wk, c, 200, route_content_type(ROUTE_FILE_PLAYLIST), CACHE_MASTER,
	                          out, out_len, rq->has_viewer ? cookie : NULL);
}

/* Who asks, as far as a request tells: the client's address and its
 * User-Agent (FNV-1a).  Many players can share both; viewers_claim() only
 * uses it to recognise a client that refetches without playing. */
static uint64_t client_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	return viewers_client_hash(
	    ci ? ci->client_addr : NULL,
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT));
}

/* One line per interval for conditions that a flood repeats per request
 * (a full viewer table, a full registry); the lock serves the threads of
 * --threads. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct st_log_limit viewer_log = {.interval_ms = REPEAT_LOG_INTERVAL_MS};
static struct st_log_limit session_log = {.interval_ms = REPEAT_LOG_INTERVAL_MS};

void http_log_flush(void)
{
	pthread_mutex_lock(&log_lock);
	st_log_limit_flush(&viewer_log);
	st_log_limit_flush(&session_log);
	pthread_mutex_unlock(&log_lock);
}

/* The viewer a master.m3u8 request is: the one its cookie names, the
 * client's own unconfirmed one, or a new one (docs/server.md, "What a
 * viewer is").  A full table or a refused lease still serves, uncounted. */
static void claim_viewer(struct worker *wk, struct MHD_Connection *c, struct request *rq,
                         const uuid_t channel)
{
	sr_session_ref ref = rq->w.ref;
	int err = 0;
	enum viewer_result v = VIEWER_UNKNOWN;
	const char *ck = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, VIEWER_COOKIE);
	if (route_parse_token(ck, &rq->viewer_slot, &rq->viewer_nonce) == 0)
		v = viewers_renew_pending(wk->vt, wk->reg, wk->holder, channel, rq->viewer_slot,
		                          rq->viewer_nonce, &err);
	if (v == VIEWER_RENEWED) {
		v = VIEWER_REUSED;
	} else if (v != VIEWER_COUNTED) {
		err = 0;
		v = viewers_claim(wk->vt, wk->reg, wk->holder, channel, client_of(c),
		                  &rq->viewer_slot, &rq->viewer_nonce, &err);
	}
	if (v == VIEWER_COUNTED || v == VIEWER_REUSED) {
		rq->has_viewer = true;
		rq->viewer_reused = v == VIEWER_REUSED;
		if (v == VIEWER_REUSED)
			sr_ref_touch(wk->reg, ref);
		return;
	}
	sr_ref_touch(wk->reg, ref);
	if (v != VIEWER_FULL && v != VIEWER_ERROR)
		return;
	http_metrics_count(wk->hm, HM_VIEWER_UNCOUNTED);
	pthread_mutex_lock(&log_lock);
	if (v == VIEWER_FULL)
		st_log_limited(&viewer_log, LOG_WARNING,
		               "viewer table full (%u): serving viewers uncounted; raise "
		               "--max-viewers",
		               viewers_capacity(wk->vt));
	else
		st_log_limited(&viewer_log, LOG_WARNING, "viewer lease refused: %s",
		               sr_strerror(err));
	pthread_mutex_unlock(&log_lock);
}

static enum MHD_Result handle_master(struct worker *wk, struct MHD_Connection *c,
                                     struct request *rq, const struct route *r)
{
	int rc = ensure_session(wk, r->channel, &rq->w.ref);
	if (rc < 0) {
		pthread_mutex_lock(&log_lock);
		st_log_limited(&session_log, LOG_WARNING, "session insert: %s (%s)",
		               sr_strerror(rc), sr_errdetail());
		pthread_mutex_unlock(&log_lock);
		return reply_unavailable(wk, c, 5, sr_strerror(rc));
	}
	memcpy(rq->w.channel, r->channel, sizeof(uuid_t));
	if (!rq->head)
		claim_viewer(wk, c, rq, r->channel);
	else
		sr_ref_touch(wk->reg, rq->w.ref);
	sr_state st;
	rc = sr_ref_get_state(wk->reg, rq->w.ref, &st);
	if (rc < 0) {
		release_viewer(wk, rq);
		return reply_error(wk, c, 500, sr_strerror(rc));
	}
	if (st == SR_STATE_ACTIVE)
		return serve_master(wk, c, rq);
	st = start_request(wk, &rq->w, st);
	if (st == SR_STATE_ACTIVE)
		return serve_master(wk, c, rq);
	/* Restarting (failed, or starting after a failure) with a run still
	 * served: its players never stopped, a new one joins them at once. */
	struct st_run run;
	struct hls_root root = files(wk);
	if ((st == SR_STATE_FAILED || st == SR_STATE_STARTING) &&
	    hls_current(&root, r->channel, &run) == 0)
		return serve_master(wk, c, rq);
	start_wait_begin(wk, rq, c);
	return MHD_YES;
}

static enum MHD_Result finish_wait(struct worker *wk, struct MHD_Connection *c, struct request *rq)
{
	switch (rq->w.result) {
	case WAIT_ACTIVE:
		return serve_master(wk, c, rq);
	case WAIT_FAILED: {
		http_metrics_count(wk->hm, HM_START_FAILED);
		char msg[SR_ERROR_MAX + 64];
		snprintf(msg, sizeof msg, "channel failed to start: %s", rq->w.error);
		release_viewer(wk, rq);
		return reply_unavailable(wk, c, 5, msg);
	}
	case WAIT_TIMEOUT:
	case WAIT_SHUTDOWN:
	case WAIT_BUSY:
		if (rq->w.result == WAIT_TIMEOUT)
			http_metrics_count(wk->hm, HM_START_TIMEOUT);
		release_viewer(wk, rq);
		return reply_unavailable(wk, c, 2, rq->w.error);
	case WAIT_ERROR:
	case WAIT_PENDING:
		break;
	}
	release_viewer(wk, rq);
	return reply_error(wk, c, 500, rq->w.error[0] ? rq->w.error : "internal error");
}

/*
 * A variant playlist is the current run's, joined to the previous run's
 * while the current one's window is not full (st_hls_join, docs/server.md
 * "Restarts").  A channel with no current run yet answers 503 with
 * Retry-After: players retry a 5xx, while a 404 ends hls.js for good.
 */
static enum MHD_Result serve_media_playlist(struct worker *wk, struct MHD_Connection *c,
                                            const struct route *r)
{
	struct hls_root root = files(wk);
	size_t len;
	int fd = -1;
	char *out = hls_media_playlist(&root, r->channel, r->variant, r->file, &len,
	                               wk->opt->sendfile_playlists ? &fd : NULL);
	if (fd >= 0)
		return reply_file(wk, c, route_content_type(r->file_type), CACHE_PLAYLIST, fd, len);
	if (out)
		return reply_file_mem(wk, c, route_content_type(r->file_type), CACHE_PLAYLIST, out,
		                      len);
	if (errno == EAGAIN)
		return reply_unavailable(wk, c, 1, "channel is starting");
	if (errno == ENOENT)
		return reply_error(wk, c, 404, "no such file");
	return reply_error(wk, c, 500, "cannot read the playlist");
}

static enum MHD_Result handle_file(struct worker *wk, struct MHD_Connection *c,
                                   const struct route *r)
{
	if (!wk->registry_off) {
		enum viewer_result v = VIEWER_UNKNOWN;
		int err = 0;
		if (r->has_token)
			v = viewers_renew(wk->vt, wk->reg, wk->holder, r->channel, r->token_slot,
			                  r->token_nonce, &err);
		/* Taking a lease already touched the session. */
		if (v != VIEWER_COUNTED)
			sr_session_touch(wk->reg, r->channel);
		if (v == VIEWER_MISMATCH)
			return reply_error(wk, c, 404, "viewer token of another channel");
	}
	if (r->file_type == ROUTE_FILE_PLAYLIST)
		return serve_media_playlist(wk, c, r);
	/* A segment names its run: it is served from that run's directory
	 * whether or not the run is still the current one. */
	struct hls_root root = files(wk);
	char rel[ST_RUN_NAME_MAX + 2 * ROUTE_NAME_MAX + 3];
	off_t size = 0;
	int fd = hls_segment_rel(r->variant, r->file, rel, sizeof rel);
	if (fd == 0)
		fd = hls_open_root(&root, r->channel, rel, &size);
	if (fd < 0)
		return reply_error(wk, c, 404, fd == -ENOENT ? "no such file" : strerror(-fd));
	return reply_file(wk, c, route_content_type(r->file_type), CACHE_SEGMENT, fd, (size_t)size);
}

/* The player page and its files.  They may change with an upgrade, so
 * browsers revalidate (ETag, 304) rather than keep a stale copy. */
static enum MHD_Result handle_static(struct worker *wk, struct MHD_Connection *c, const char *name)
{
	if (!wk->opt->web_root[0])
		return reply_error(wk, c, 404, "the player page is not installed");
	off_t size;
	const char *ctype;
	int fd = web_open(wk->opt->web_root, name, &size, &ctype);
	if (fd < 0)
		return reply_error(wk, c, 404, fd == -ENOENT ? "no such file" : strerror(-fd));
	return reply_file(wk, c, ctype, "no-cache", fd, (size_t)size);
}

static enum MHD_Result handle_channels(struct worker *wk, struct MHD_Connection *c)
{
	size_t len;
	char *body = channels_json(wk->reg, wk->vt, wk->lineup, &len);
	if (!body)
		return reply_error(wk, c, 500, "out of memory");
	return reply_owned(wk, c, 200, "application/json", "no-store", body, len);
}

/* Without the page's files (--web-root names none, or an install without
 * them): a plain list of links that players open. */
static enum MHD_Result handle_index(struct worker *wk, struct MHD_Connection *c)
{
	if (wk->opt->web_root[0])
		return handle_static(wk, c, "index.html");
	struct strbuf b = {0};
	strbuf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	                "<title>streamreg channels</title></head><body>\n"
	                "<h1>Channels</h1>\n<p>Open a link in VLC, ffplay or Safari. "
	                "<a href=\"/channels\">/channels</a> (JSON), "
	                "<a href=\"/api/sessions\">/api/sessions</a>, "
	                "<a href=\"/metrics\">/metrics</a>.</p>\n<ul>\n");
	for (size_t i = 0; i < wk->lineup->n; i++) {
		const struct st_channel *ch = &wk->lineup->ch[wk->lineup->order[i]];
		char id[SR_UUID_STR_LEN + 1];
		sr_uuid_format(ch->id, id);
		strbuf_printf(&b, "<li><a href=\"/channels/%s/master.m3u8\">", id);
		strbuf_html(&b, ch->name[0] ? ch->name : id);
		strbuf_puts(&b, "</a></li>\n");
	}
	strbuf_puts(&b, "</ul>\n</body></html>\n");
	size_t len;
	char *body = strbuf_take(&b, &len);
	if (!body)
		return reply_error(wk, c, 500, "out of memory");
	return reply_owned(wk, c, 200, "text/html; charset=utf-8", "no-store", body, len);
}

static enum MHD_Result handle_library_text(struct worker *wk, struct MHD_Connection *c,
                                           bool metrics)
{
	char *text = NULL;
	int rc =
	    metrics ? sr_registry_prometheus(wk->reg, &text) : sr_registry_json(wk->reg, &text);
	if (rc < 0 || !text) {
		char msg[SR_ERROR_MAX + 64];
		snprintf(msg, sizeof msg, "%s (%s)", sr_strerror(rc), sr_errdetail());
		return reply_error(wk, c, 500, msg);
	}
	if (!metrics)
		return reply_owned(wk, c, 200, "application/json", "no-store", text, strlen(text));
	/* The server's own figures after the library's. */
	struct strbuf b = {0};
	strbuf_puts(&b, text);
	free(text);
	http_metrics_format(wk->hm, &b);
	strbuf_printf(&b,
	              "# HELP streamreg_server_viewers HLS viewers in the server's viewer table.\n"
	              "# TYPE streamreg_server_viewers gauge\n"
	              "streamreg_server_viewers %u\n"
	              "# HELP streamreg_server_viewer_capacity Size of the viewer table.\n"
	              "# TYPE streamreg_server_viewer_capacity gauge\n"
	              "streamreg_server_viewer_capacity %u\n",
	              viewers_count(wk->vt, NULL), viewers_capacity(wk->vt));
	size_t len;
	char *body = strbuf_take(&b, &len);
	if (!body)
		return reply_error(wk, c, 500, "out of memory");
	return reply_owned(wk, c, 200, "text/plain; version=0.0.4; charset=utf-8", "no-store", body,
	                   len);
}

static enum hm_route metrics_route(const struct route *r)
{
	switch (r->kind) {
	case ROUTE_INDEX:
		return HM_ROUTE_INDEX;
	case ROUTE_CHANNELS:
		return HM_ROUTE_CHANNELS;
	case ROUTE_MASTER:
		return HM_ROUTE_MASTER;
	case ROUTE_FILE:
		return r->file_type == ROUTE_FILE_PLAYLIST ? HM_ROUTE_PLAYLIST : HM_ROUTE_SEGMENT;
	case ROUTE_SESSIONS:
		return HM_ROUTE_SESSIONS;
	case ROUTE_METRICS:
		return HM_ROUTE_METRICS;
	case ROUTE_HEALTH:
		return HM_ROUTE_HEALTH;
	case ROUTE_STATIC:
		return HM_ROUTE_STATIC;
	}
	return HM_ROUTE_INVALID;
}

static enum MHD_Result dispatch(struct worker *wk, struct MHD_Connection *c, const char *url,
                                struct request *rq)
{
	struct route r;
	const char *why;
	int status = route_parse(url, &r, &why);
	if (status)
		return reply_error(wk, c, (unsigned)status, why);
	http_cur_route = metrics_route(&r);
	if ((r.kind == ROUTE_MASTER || r.kind == ROUTE_FILE) &&
	    !st_lineup_find(wk->lineup, r.channel))
		return reply_error(wk, c, 404, "unknown channel");
	switch (r.kind) {
	case ROUTE_INDEX:
		return handle_index(wk, c);
	case ROUTE_CHANNELS:
		return handle_channels(wk, c);
	case ROUTE_MASTER:
		return handle_master(wk, c, rq, &r);
	case ROUTE_FILE:
		return handle_file(wk, c, &r);
	case ROUTE_SESSIONS:
		return handle_library_text(wk, c, false);
	case ROUTE_METRICS:
		return handle_library_text(wk, c, true);
	case ROUTE_STATIC:
		return handle_static(wk, c, r.file);
	case ROUTE_HEALTH: {
		char msg[64];
		int n =
		    snprintf(msg, sizeof msg, "ok worker %u pid %d\n", wk->index, (int)getpid());
		char *body = strndup(msg, (size_t)n);
		if (!body)
			return MHD_NO;
		return reply_owned(wk, c, 200, "text/plain; charset=utf-8", "no-store", body,
		                   (size_t)n);
	}
	}
	return reply_error(wk, c, 404, "no such resource");
}

void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)conn;
	/* Called with the request target as received, before libmicrohttpd
	 * cuts off the query and decodes it: the one moment its length can be
	 * measured (see request_defect()). */
	struct request *rq = calloc(1, sizeof *rq);
	if (rq) {
		rq->raw_uri = uri;
		rq->raw_uri_len = strlen(uri);
	}
	return rq;
}

static enum MHD_Result count_host(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	(void)kind;
	(void)value;
	if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
		++*(unsigned *)cls;
	return MHD_YES;
}

/* What libmicrohttpd 0.9.75 lets through that HTTP does not allow; NULL if
 * the request is fine. */
static const char *request_defect(const struct request *rq, struct MHD_Connection *c,
                                  const char *url, const char *version)
{
	/* libmicrohttpd ends the target at the space before the version with a
	 * NUL; a NUL received inside the target ends the C string earlier, and
	 * the handler would see only the part before it (a playlist name
	 * followed by "\0.ts", say). */
	if (rq->raw_uri == url && version[0] && url + rq->raw_uri_len + 1 != version)
		return "NUL byte in the request target";
	unsigned hosts = 0;
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_host, &hosts);
	/* RFC 9112 §3.2: an HTTP/1.1 request without Host, or with more than
	 * one, gets 400. */
	if (hosts > 1)
		return "more than one Host header";
	if (hosts == 0 && strcmp(version, MHD_HTTP_VERSION_1_0) != 0)
		return "HTTP/1.1 request without a Host header (RFC 9112 section 3.2)";
	return NULL;
}

static enum MHD_Result handle_options(struct worker *wk, struct MHD_Connection *c, const char *url)
{
	/* "OPTIONS *" asks about the server; any other target is checked like a
	 * GET so that traversal gets no 2xx, but a path naming nothing still
	 * gets its preflight: the GET that follows says 404. */
	if (strcmp(url, "*") != 0) {
		struct route r;
		const char *why;
		int status = route_parse(url, &r, &why);
		if (status == 400)
			return reply_error(wk, c, 400, why);
		if (status == 0)
			http_cur_route = metrics_route(&r);
	}
	return reply_options(wk, c);
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
	struct worker *wk = cls;
	struct request *rq = *con_cls;
	(void)upload_data;
	http_cur_method = method;
	http_cur_url = url;
	if (!rq || !rq->seen) {
		/* Headers are in.  Answer on a later call, once MHD has the whole
		 * request: a response queued now would force Connection: close. */
		conn_guard_headers_done(wk, conn);
		atomic_fetch_add_explicit(&wk->requests, 1, memory_order_relaxed);
		if (!rq) {
			rq = calloc(1, sizeof *rq);
			if (!rq)
				return MHD_NO;
			*con_cls = rq;
		}
		rq->seen = true;
		rq->t0_ns = worker_now_ns();
		rq->head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
		rq->options = strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0;
		/* A wrong method is refused before its body is read: answering
		 * now also closes the connection, so a slow body cannot hold it. */
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && !rq->head && !rq->options)
			return reply_error(wk, conn, 405, "only GET, HEAD and OPTIONS");
		rq->defect = request_defect(rq, conn, url, version);
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* a request body: ignored */
		return MHD_YES;
	}
	if (rq->suspended) {
		if (rq->w.result == WAIT_PENDING)
			return MHD_YES;
		rq->suspended = false;
		http_cur_route = HM_ROUTE_MASTER; /* only master requests wait */
		return finish_wait(wk, conn, rq);
	}
	if (rq->defect)
		return reply_error(wk, conn, 400, rq->defect);
	if (rq->options)
		return handle_options(wk, conn, url);
	return dispatch(wk, conn, url, rq);
}

enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url,
                            const char *method, const char *version, const char *upload_data,
                            size_t *upload_data_size, void **con_cls)
{
	struct worker *wk = cls;
	http_cur_status = 0;
	http_cur_route = HM_ROUTE_INVALID;
	enum MHD_Result ret =
	    handle_request(cls, conn, url, method, version, upload_data, upload_data_size, con_cls);
	const struct request *rq = *con_cls;
	/* Counted once, on the call that queued the answer. */
	if (http_cur_status && rq)
		http_metrics_observe(wk->hm, http_cur_route, http_cur_status,
		                     worker_now_ns() - rq->t0_ns);
	return ret;
}

void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
	struct worker *wk = cls;
	struct request *rq = *con_cls;
	(void)toe;
	conn_guard_request_done(wk, conn);
	if (!rq)
		return;
	/* A viewer whose master playlist never reached the player cannot
	 * come back with its token. */
	if (!rq->delivered)
		release_viewer(wk, rq);
	free(rq);
	*con_cls = NULL;
}
