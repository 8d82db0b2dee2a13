/*
 * master.m3u8 on a channel that is not active yet.  The worker must not
 * block, so the request is parked (its count raised, NGX_DONE) and a timer
 * looks at the channel's state every POLL_MS through the registry's
 * lock-free read, then answers: the playlist once active, 503 with the
 * reaper's error if this request's start failed, 503 + Retry-After when
 * the wait is over.  A client that goes away ends the wait (the request's
 * cleanup deletes the timer).
 */
/* nginx headers first: they set _GNU_SOURCE and friends. */
#include "ngx_http_streamreg.h"

#include <stdio.h>
#include <string.h>

#define POLL_MS 10

/*
 * A start is asked with the compare-and-swap idle->starting or
 * failed->starting: of any number of workers asking at once exactly one
 * succeeds and rings the reaper's doorbell; the others see -SR_ESTATE.
 */
void sr_ngx_start_request(sr_registry *reg, sr_ngx_ctx *ctx)
{
	sr_state st;
	if (sr_ref_get_state(reg, ctx->ref, &st) < 0)
		return;
	if (st != SR_STATE_IDLE && st != SR_STATE_FAILED)
		return;
	int rc = sr_ref_transition(reg, ctx->ref, st, SR_STATE_STARTING, NULL);
	if (rc == 0) {
		char id[SR_UUID_STR_LEN + 1];
		sr_uuid_format(ctx->channel, id);
		ngx_log_error(NGX_LOG_INFO, ctx->r->connection->log, 0,
		              "streamreg: channel %s: %s -> starting (start requested)", id,
		              sr_state_name(st));
		ctx->requested = 1;
	} else if (rc != -SR_ESTATE) {
		ngx_log_error(NGX_LOG_WARN, ctx->r->connection->log, 0,
		              "streamreg: start request: %s (%s)", sr_strerror(rc), sr_errdetail());
	}
}

/* The answer once the wait is over, or NGX_AGAIN to keep waiting. */
static ngx_int_t look(sr_ngx_ctx *ctx)
{
	ngx_http_request_t *r = ctx->r;
	const char *why;
	sr_registry *reg = sr_ngx_registry(&why);
	if (reg == NULL) {
		sr_ngx_release_viewer(ctx);
		return sr_ngx_reply_error(r, NGX_HTTP_SERVICE_UNAVAILABLE, why, 5);
	}
	uint32_t holder;
	struct viewer_table *vt = sr_ngx_viewers(&holder);
	if (vt && ctx->has_viewer)
		viewers_touch(vt, ctx->slot, ctx->nonce); /* a waiting viewer is alive */
	sr_state st;
	int rc = sr_ref_get_state(reg, ctx->ref, &st);
	if (rc == -SR_ESTALE) {
		sr_ngx_release_viewer(ctx);
		return sr_ngx_reply_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
		                          "channel removed from the registry while starting", 5);
	}
	if (rc < 0) {
		sr_ngx_release_viewer(ctx);
		return sr_ngx_reply_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, sr_strerror(rc), 0);
	}
	switch (st) {
	case SR_STATE_ACTIVE:
		return sr_ngx_serve_master(ctx);
	case SR_STATE_FAILED:
		if (ctx->requested) {
			/* Our own start failed: the reaper records the error with
			 * the state change. */
			char err[SR_ERROR_MAX + 1] = "";
			char msg[SR_ERROR_MAX + 64];
			if (sr_session_last_error(reg, ctx->channel, err, sizeof err) < 0 ||
			    !err[0])
				snprintf(err, sizeof err, "transcoder failed to start");
			snprintf(msg, sizeof msg, "channel failed to start: %s", err);
			sr_ngx_release_viewer(ctx);
			return sr_ngx_reply_error(r, NGX_HTTP_SERVICE_UNAVAILABLE, msg, 5);
		}
		sr_ngx_start_request(reg, ctx);
		break;
	case SR_STATE_IDLE:
		/* Stopped by idle cleanup while we waited: ask again. */
		sr_ngx_start_request(reg, ctx);
		break;
	default:
		break;
	}
	if (ctx->waited >= ctx->lcf->start_timeout) {
		char msg[96];
		snprintf(msg, sizeof msg, "channel still %s after %u ms", sr_state_name(st),
		         (unsigned)ctx->lcf->start_timeout);
		sr_ngx_release_viewer(ctx);
		return sr_ngx_reply_error(r, NGX_HTTP_SERVICE_UNAVAILABLE, msg, 2);
	}
	return NGX_AGAIN;
}

static void wait_tick(ngx_event_t *ev)
{
	sr_ngx_ctx *ctx = ev->data;
	ngx_http_request_t *r = ctx->r;
	ngx_connection_t *c = r->connection;
	ctx->waited += POLL_MS;
	ngx_int_t rc = look(ctx);
	if (rc == NGX_AGAIN) {
		ngx_add_timer(ev, POLL_MS);
		return;
	}
	ctx->waiting = 0;
	ngx_http_finalize_request(r, rc);
	ngx_http_run_posted_requests(c);
}

ngx_int_t sr_ngx_wait_begin(sr_ngx_ctx *ctx)
{
	ngx_http_request_t *r = ctx->r;
	ctx->waiting = 1;
	ctx->wait_ev.handler = wait_tick;
	ctx->wait_ev.data = ctx;
	ctx->wait_ev.log = r->connection->log;
	/* Notice a client that closes while it waits. */
	r->read_event_handler = ngx_http_test_reading;
	r->write_event_handler = ngx_http_request_empty_handler;
	r->main->count++;
	ngx_add_timer(&ctx->wait_ev, POLL_MS);
	return NGX_DONE;
}
