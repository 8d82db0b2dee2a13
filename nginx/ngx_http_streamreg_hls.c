/*
 * streamreg_hls: /channels/{uuid}/master.m3u8 and the variant playlists
 * and segments, with streamreg-server's URL scheme and viewer rules
 * (docs/server.md).  Paths are judged on the raw request URI by the
 * server's own route_parse(), before anything touches the disk.
 */
/* nginx headers first: they set _GNU_SOURCE and friends. */
#include "ngx_http_streamreg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channels_json.h"
#include "hls_files.h"
#include "route.h"
#include "st_chandir.h"

#define CACHE_MASTER   "private, no-store"
#define CACHE_PLAYLIST "no-cache"
#define CACHE_SEGMENT  "max-age=86400, immutable"
/* The cookie that names a browser's viewer of a channel (streamreg-server's). */
#define VIEWER_COOKIE "sr_viewer"
/* Longest raw path looked at; longer ones name nothing we serve. */
#define PATH_MAX_LEN 1024

static ngx_int_t registry_unavailable(ngx_http_request_t *r, const char *why)
{
	/* The tick logged the reason when it appeared; one line per request
	 * would flood the log while the registry is gone. */
	return sr_ngx_reply_error(r, NGX_HTTP_SERVICE_UNAVAILABLE, why, 5);
}

static ngx_int_t handle_file(ngx_http_request_t *r, ngx_http_streamreg_loc_conf_t *lcf,
                             sr_registry *reg, const struct route *rt)
{
	uint32_t holder;
	struct viewer_table *vt = sr_ngx_viewers(&holder);
	enum viewer_result v = VIEWER_UNKNOWN;
	int err = 0;
	if (rt->has_token && vt)
		v = viewers_renew(vt, reg, holder, rt->channel, rt->token_slot, rt->token_nonce,
		                  &err);
	/* Taking a lease already touched the session. */
	if (v != VIEWER_COUNTED) {
		int rc = sr_session_touch(reg, rt->channel);
		if (rc == -ENOENT)
			return sr_ngx_reply_error(r, NGX_HTTP_NOT_FOUND, "unknown channel", 0);
	}
	if (v == VIEWER_MISMATCH)
		return sr_ngx_reply_error(r, NGX_HTTP_NOT_FOUND, "viewer token of another channel",
		                          0);
	/* The run layout of docs/server.md, "Restarts": a variant playlist is
	 * the current run's joined to the previous one's, a segment lies in
	 * the run its name gives. */
	if (rt->file_type == ROUTE_FILE_PLAYLIST) {
		size_t len;
		const char *out =
		    sr_ngx_playlist(lcf->dir_fd, rt->channel, rt->variant, rt->file, &len);
		if (out == NULL && errno == EAGAIN)
			return sr_ngx_reply_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
			                          "channel is starting", 1);
		if (out == NULL)
			return sr_ngx_reply_error(
			    r,
			    errno == ENOENT ? NGX_HTTP_NOT_FOUND : NGX_HTTP_INTERNAL_SERVER_ERROR,
			    errno == ENOENT ? "no such file" : "cannot read the playlist", 0);
		return sr_ngx_reply_body(r, route_content_type(rt->file_type), CACHE_PLAYLIST, out,
		                         len);
	}
	char rel[ST_RUN_NAME_MAX + 2 * ROUTE_NAME_MAX + 3];
	struct stat st;
	int fd = hls_segment_rel(rt->variant, rt->file, rel, sizeof rel);
	if (fd == 0)
		fd = hls_open_in(lcf->dir_fd, rt->channel, rel, &st);
	if (fd < 0)
		return sr_ngx_reply_error(r, NGX_HTTP_NOT_FOUND,
		                          fd == -ENOENT ? "no such file" : strerror(-fd), 0);
	return sr_ngx_reply_file(r, fd, &st, route_content_type(rt->file_type), CACHE_SEGMENT);
}

void sr_ngx_release_viewer(sr_ngx_ctx *ctx)
{
	if (!ctx->has_viewer)
		return;
	ctx->has_viewer = 0;
	if (ctx->reused)
		return;
	const char *why;
	uint32_t holder;
	struct viewer_table *vt = sr_ngx_viewers(&holder);
	if (vt)
		viewers_release(vt, sr_ngx_registry(&why), holder, ctx->slot, ctx->nonce);
}

/* Whatever way the request ends (served, 503, client gone, worker exit). */
static void ctx_cleanup(void *data)
{
	sr_ngx_ctx *ctx = data;
	if (ctx->wait_ev.timer_set)
		ngx_del_timer(&ctx->wait_ev);
	/* A viewer whose master playlist never went out cannot come back
	 * with its token. */
	if (!ctx->delivered)
		sr_ngx_release_viewer(ctx);
}

ngx_int_t sr_ngx_serve_master(sr_ngx_ctx *ctx)
{
	ngx_http_request_t *r = ctx->r;
	struct stat st;
	struct hls_root root = {.dir = NULL, .fd = ctx->lcf->dir_fd};
	char rel[ST_RUN_NAME_MAX + 16];
	int fd = hls_master_rel(&root, ctx->channel, rel, sizeof rel);
	if (fd == 0)
		fd = hls_open_in(ctx->lcf->dir_fd, ctx->channel, rel, &st);
	if (fd < 0) {
		/* Active but no playlist: the transcoder is being replaced or
		 * its directory was cleaned under us; the player retries. */
		sr_ngx_release_viewer(ctx);
		return sr_ngx_reply_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
		                          "channel has no master playlist yet", 1);
	}
	size_t len;
	char *text = hls_read_all(fd, &len);
	if (text == NULL) {
		sr_ngx_release_viewer(ctx);
		return sr_ngx_reply_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
		                          "cannot read the master playlist", 0);
	}
	char prefix[8 + ROUTE_TOKEN_LEN] = "";
	if (ctx->has_viewer) {
		char token[ROUTE_TOKEN_LEN + 1], id[SR_UUID_STR_LEN + 1];
		route_format_token(ctx->slot, ctx->nonce, token);
		snprintf(prefix, sizeof prefix, "v/%s/", token);
		/* As streamreg-server: the player's next fetch of this master
		 * playlist presents it and stays the same viewer. */
		sr_uuid_format(ctx->channel, id);
		char *cookie = ngx_pnalloc(r->pool, 128 + SR_UUID_STR_LEN);
		if (cookie == NULL)
			return NGX_ERROR;
		snprintf(cookie, 128 + SR_UUID_STR_LEN,
		         VIEWER_COOKIE "=%s; Path=/channels/%s/; HttpOnly; SameSite=Lax", token,
		         id);
		if (sr_ngx_add_header(r, "Set-Cookie", cookie) != NGX_OK)
			return NGX_ERROR;
	}
	size_t out_len;
	char *out = hls_rewrite_master(text, len, prefix, &out_len);
	free(text);
	if (out == NULL) {
		sr_ngx_release_viewer(ctx);
		return sr_ngx_reply_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, "out of memory", 0);
	}
	ngx_int_t rc = sr_ngx_reply_body(r, route_content_type(ROUTE_FILE_PLAYLIST), CACHE_MASTER,
	                                 out, out_len);
	free(out);
	if (rc != NGX_ERROR)
		ctx->delivered = 1;
	return rc;
}

/* Who asks: the client's address and User-Agent, as streamreg-server. */
static uint64_t client_of(ngx_http_request_t *r)
{
	char ua[512] = "";
	if (r->headers_in.user_agent) {
		ngx_str_t *v = &r->headers_in.user_agent->value;
		size_t l = v->len < sizeof ua - 1 ? v->len : sizeof ua - 1;
		memcpy(ua, v->data, l);
		ua[l] = '\0';
	}
	return viewers_client_hash(r->connection->sockaddr, ua);
}

/* The viewer a master.m3u8 request is: the one its cookie names, the
 * client's own unconfirmed one, or a new one (docs/server.md, "What a
 * viewer is").  A full table or a refused lease still serves, uncounted. */
static void claim_viewer(ngx_http_request_t *r, sr_ngx_ctx *ctx, sr_registry *reg)
{
	uint32_t holder;
	struct viewer_table *vt = sr_ngx_viewers(&holder);
	if (vt == NULL) {
		sr_ref_touch(reg, ctx->ref);
		return;
	}
	int err = 0;
	enum viewer_result v = VIEWER_UNKNOWN;
	ngx_str_t name = ngx_string(VIEWER_COOKIE), val;
	if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies, &name, &val) !=
	        NGX_DECLINED &&
	    val.len == ROUTE_TOKEN_LEN) {
		char tok[ROUTE_TOKEN_LEN + 1];
		memcpy(tok, val.data, ROUTE_TOKEN_LEN);
		tok[ROUTE_TOKEN_LEN] = '\0';
		if (route_parse_token(tok, &ctx->slot, &ctx->nonce) == 0)
			v = viewers_renew_pending(vt, reg, holder, ctx->channel, ctx->slot,
			                          ctx->nonce, &err);
	}
	if (v == VIEWER_RENEWED) {
		v = VIEWER_REUSED;
	} else if (v != VIEWER_COUNTED) {
		err = 0;
		v = viewers_claim(vt, reg, holder, ctx->channel, client_of(r), &ctx->slot,
		                  &ctx->nonce, &err);
	}
	if (v == VIEWER_COUNTED || v == VIEWER_REUSED) {
		ctx->has_viewer = 1;
		ctx->reused = v == VIEWER_REUSED;
		if (v == VIEWER_REUSED)
			sr_ref_touch(reg, ctx->ref);
		return;
	}
	sr_ref_touch(reg, ctx->ref);
	/* Served uncounted: a full viewer table must not take the service
	 * down.  nginx has no log rate limit: warn at most once a second. */
	static time_t last;
	if ((v != VIEWER_FULL && v != VIEWER_ERROR) || ngx_time() == last)
		return;
	last = ngx_time();
	if (v == VIEWER_FULL) {
		ngx_log_error(
		    NGX_LOG_WARN, r->connection->log, 0,
		    "streamreg: viewer table full (%uD): serving viewers uncounted; raise "
		    "streamreg_max_viewers",
		    viewers_capacity(vt));
	} else {
		ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
		              "streamreg: viewer lease refused: %s", sr_strerror(err));
	}
}

static ngx_int_t handle_master(ngx_http_request_t *r, ngx_http_streamreg_loc_conf_t *lcf,
                               sr_registry *reg, const struct route *rt)
{
	sr_ngx_ctx *ctx = ngx_pcalloc(r->pool, sizeof *ctx);
	ngx_http_cleanup_t *cln = ngx_http_cleanup_add(r, 0);
	if (ctx == NULL || cln == NULL)
		return NGX_HTTP_INTERNAL_SERVER_ERROR;
	ctx->r = r;
	ctx->lcf = lcf;
	memcpy(ctx->channel, rt->channel, sizeof(uuid_t));
	cln->handler = ctx_cleanup;
	cln->data = ctx;
	ngx_http_set_ctx(r, ctx, ngx_http_streamreg_module);

	/* With streamreg_lineup, a lineup channel gets its session as in
	 * streamreg-server; without, the registry is the lineup (the reaper
	 * inserts every channel of its own) and a channel missing there is
	 * unknown. */
	ngx_http_streamreg_main_conf_t *mcf =
	    ngx_http_get_module_main_conf(r, ngx_http_streamreg_module);
	int rc;
	if (mcf->lineup) {
		char dir[SR_PATH_MAX + 1];
		bool fits =
		    st_chan_dir(dir, sizeof dir, (char *)lcf->hls_dir.data, rt->channel) == 0;
		rc = sr_session_find_or_insert(reg, rt->channel, fits ? dir : NULL, &ctx->ref);
	} else {
		rc = sr_session_resolve(reg, rt->channel, &ctx->ref);
	}
	if (rc == -ENOENT)
		return sr_ngx_reply_error(r, NGX_HTTP_NOT_FOUND, "unknown channel", 0);
	if (rc < 0)
		return sr_ngx_reply_error(r, NGX_HTTP_SERVICE_UNAVAILABLE, sr_strerror(rc), 5);

	/* A HEAD is a probe: it may start the channel but is not a viewer. */
	if (r->method != NGX_HTTP_HEAD)
		claim_viewer(r, ctx, reg);
	else
		sr_ref_touch(reg, ctx->ref);
	sr_state st;
	rc = sr_ref_get_state(reg, ctx->ref, &st);
	if (rc < 0) {
		sr_ngx_release_viewer(ctx);
		return sr_ngx_reply_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, sr_strerror(rc), 0);
	}
	if (st == SR_STATE_ACTIVE)
		return sr_ngx_serve_master(ctx);
	sr_ngx_start_request(reg, ctx);
	return sr_ngx_wait_begin(ctx);
}

/* The path as the client sent it, percent-decoded once, without the query:
 * nginx's own normalisation would turn "a/../b" into "b" silently. */
static int raw_path(ngx_http_request_t *r, char *out, size_t cap)
{
	u_char *p = r->unparsed_uri.data;
	size_t len = r->unparsed_uri.len;
	u_char *q = ngx_strlchr(p, p + len, '?');
	if (q)
		len = (size_t)(q - p);
	if (len >= cap)
		return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	route_unescape(out);
	return 0;
}

ngx_int_t sr_ngx_hls_handler(ngx_http_request_t *r)
{
	ngx_http_streamreg_loc_conf_t *lcf =
	    ngx_http_get_module_loc_conf(r, ngx_http_streamreg_module);
	ngx_int_t rc;
	if (sr_ngx_method_answered(r, &rc))
		return rc;
	char path[PATH_MAX_LEN];
	struct route rt;
	const char *why = "no such resource";
	int status = raw_path(r, path, sizeof path) < 0 ? 404 : route_parse(path, &rt, &why);
	if (status == 0 && rt.kind != ROUTE_MASTER && rt.kind != ROUTE_FILE &&
	    rt.kind != ROUTE_CHANNELS) {
		status = 404;
		why = "no such resource";
	}
	if (status)
		return sr_ngx_reply_error(r, (ngx_uint_t)status, why, 0);
	sr_registry *reg = sr_ngx_registry(&why);
	if (reg == NULL)
		return registry_unavailable(r, why);
	if (rt.kind == ROUTE_CHANNELS)
		return sr_ngx_channels(r, reg);
	ngx_http_streamreg_main_conf_t *mcf =
	    ngx_http_get_module_main_conf(r, ngx_http_streamreg_module);
	if (mcf->lineup && st_lineup_find(mcf->lineup, rt.channel) == NULL)
		return sr_ngx_reply_error(r, NGX_HTTP_NOT_FOUND, "unknown channel", 0);
	if (rt.kind == ROUTE_MASTER)
		return handle_master(r, lcf, reg, &rt);
	return handle_file(r, lcf, reg, &rt);
}

/* Without streamreg_lineup, the registry's sessions (the reaper inserts
 * every lineup channel) in slot order, without names. */
static int lineup_from_registry(sr_registry *reg, ngx_pool_t *pool, struct st_lineup *l)
{
	size_t n = 0;
	if (sr_session_list(reg, NULL, 0, &n) < 0)
		return -1;
	uuid_t *ids = ngx_pcalloc(pool, (n ? n : 1) * sizeof(uuid_t));
	l->ch = ngx_pcalloc(pool, (n ? n : 1) * sizeof(struct st_channel));
	l->order = ngx_pcalloc(pool, (n ? n : 1) * sizeof(size_t));
	if (ids == NULL || l->ch == NULL || l->order == NULL)
		return -1;
	size_t got = 0;
	if (sr_session_list(reg, ids, n, &got) < 0)
		return -1;
	l->n = got < n ? got : n;
	for (size_t i = 0; i < l->n; i++) {
		memcpy(l->ch[i].id, ids[i], sizeof(uuid_t));
		sr_uuid_format(ids[i], l->ch[i].id_str);
		l->order[i] = i;
	}
	return 0;
}

ngx_int_t sr_ngx_channels(ngx_http_request_t *r, sr_registry *reg)
{
	ngx_http_streamreg_main_conf_t *mcf =
	    ngx_http_get_module_main_conf(r, ngx_http_streamreg_module);
	struct st_lineup from_reg = {0};
	const struct st_lineup *l = mcf->lineup;
	if (l == NULL) {
		if (lineup_from_registry(reg, r->pool, &from_reg) < 0)
			return sr_ngx_reply_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
			                          "cannot list the sessions", 0);
		l = &from_reg;
	}
	uint32_t holder;
	size_t len;
	char *body = channels_json(reg, sr_ngx_viewers(&holder), l, &len);
	if (body == NULL)
		return sr_ngx_reply_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, "out of memory", 0);
	ngx_int_t rc = sr_ngx_reply_body(r, "application/json", "no-store", body, len);
	free(body);
	return rc;
}
