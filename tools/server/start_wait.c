/*
 * master.m3u8 on a channel that is not active yet: the request is suspended
 * (MHD_suspend_connection, so the worker's threads keep serving others) and
 * the housekeeping thread polls the waiting channels' state every few
 * milliseconds through the registry's lock-free reads, resuming each request
 * when its channel is active, failed, or its deadline passed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "st_log.h"
#include "worker_internal.h"

/*
 * A start is asked for with the compare-and-swap idle->starting or
 * failed->starting: of many workers asking at once exactly one succeeds and
 * rings the reaper's doorbell; the others see -SR_ESTATE and just wait.
 */
void start_request(struct worker *wk, struct waiter *w)
{
	sr_state st;
	if (sr_session_get_state(wk->reg, w->channel, &st) < 0)
		return;
	if (st != SR_STATE_IDLE && st != SR_STATE_FAILED)
		return;
	int rc = sr_session_transition(wk->reg, w->channel, st, SR_STATE_STARTING);
	if (rc == 0) {
		char id[SR_UUID_STR_LEN + 1];
		sr_uuid_format(w->channel, id);
		st_info("channel %s: %s -> starting (start requested)", id, sr_state_name(st));
		w->requested = true;
	} else if (rc != -SR_ESTATE) {
		st_warn("start request: %s (%s)", sr_strerror(rc), sr_errdetail());
	}
}

static void unlink_waiter(struct worker *wk, struct waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		wk->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	wk->n_waiters--;
}

/* Called with wk->lock held. */
static void resolve(struct worker *wk, struct waiter *w, enum wait_result r)
{
	w->result = r;
	unlink_waiter(wk, w);
	MHD_resume_connection(w->conn);
}

void start_wait_begin(struct worker *wk, struct request *rq, struct MHD_Connection *conn)
{
	struct waiter *w = &rq->w;
	w->conn = conn;
	w->result = WAIT_PENDING;
	w->deadline_ns = worker_now_ns() + (uint64_t)wk->opt->start_timeout_ms * 1000000ull;
	rq->suspended = true;
	MHD_suspend_connection(conn);
	pthread_mutex_lock(&wk->lock);
	if (wk->stopping) {
		w->result = WAIT_SHUTDOWN;
		pthread_mutex_unlock(&wk->lock);
		MHD_resume_connection(conn);
		return;
	}
	w->prev = NULL;
	w->next = wk->waiters;
	if (wk->waiters)
		wk->waiters->prev = w;
	wk->waiters = w;
	wk->n_waiters++;
	pthread_cond_signal(&wk->wake);
	pthread_mutex_unlock(&wk->lock);
}

/* One look at a waiter's channel; returns WAIT_PENDING to keep waiting. */
static enum wait_result check(struct worker *wk, struct waiter *w, uint64_t now)
{
	sr_state st;
	int rc = sr_session_get_state(wk->reg, w->channel, &st);
	if (rc < 0) {
		snprintf(w->error, sizeof w->error, "registry: %s", sr_strerror(rc));
		return WAIT_ERROR;
	}
	switch (st) {
	case SR_STATE_ACTIVE:
		return WAIT_ACTIVE;
	case SR_STATE_FAILED:
		if (w->requested) {
			/* Our own start request failed (the reaper records the
			 * error with the state change). */
			rc = sr_session_last_error(wk->reg, w->channel, w->error, sizeof w->error);
			if (rc < 0 || !w->error[0])
				snprintf(w->error, sizeof w->error, "transcoder failed to start");
			return WAIT_FAILED;
		}
		start_request(wk, w);
		break;
	case SR_STATE_IDLE:
		/* Stopped by idle cleanup while we waited: ask again. */
		start_request(wk, w);
		break;
	default:
		break;
	}
	if (now >= w->deadline_ns) {
		snprintf(w->error, sizeof w->error, "channel still %s after %u ms",
		         sr_state_name(st), wk->opt->start_timeout_ms);
		return WAIT_TIMEOUT;
	}
	return WAIT_PENDING;
}

unsigned start_wait_poll(struct worker *wk)
{
	uint64_t now = worker_now_ns();
	pthread_mutex_lock(&wk->lock);
	struct waiter *next;
	for (struct waiter *w = wk->waiters; w; w = next) {
		next = w->next;
		struct request *rq = (struct request *)((char *)w - offsetof(struct request, w));
		if (rq->has_viewer)
			viewers_touch(wk->vt, rq->viewer_slot, rq->viewer_nonce);
		enum wait_result r = check(wk, w, now);
		if (r != WAIT_PENDING)
			resolve(wk, w, r);
	}
	unsigned left = wk->n_waiters;
	pthread_mutex_unlock(&wk->lock);
	return left;
}

void start_wait_cancel_all(struct worker *wk)
{
	pthread_mutex_lock(&wk->lock);
	while (wk->waiters) {
		snprintf(wk->waiters->error, sizeof wk->waiters->error, "server shutting down");
		resolve(wk, wk->waiters, WAIT_SHUTDOWN);
	}
	pthread_mutex_unlock(&wk->lock);
}
