/*
 * master.m3u8 on a channel that is not active yet: the request is suspended
 * (MHD_suspend_connection, so the worker's threads keep serving others) and
 * a watch thread of this worker, one per channel with waiting requests,
 * sleeps in sr_ref_wait_state() on that channel's state.  A state change
 * wakes it within microseconds; it then resumes the requests it settles
 * (MHD_resume_connection is thread-safe: the daemon runs its own polling
 * threads with their inter-thread channel).  Nothing polls the registry:
 * a watch wakes for a change, for the nearest deadline of its requests, and
 * once per WATCH_SLICE_MS to notice the worker's shutdown (the futex wait
 * cannot be interrupted from outside).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_metrics.h"
#include "st_log.h"
#include "worker_internal.h"

/* The bound of one sleep: how late a watch notices that the worker stops. */
#define WATCH_SLICE_MS 1000
/* Watches a worker runs at most: each is a thread with a small stack, and
 * a worker rarely waits for more than a few channels at once. */
#define WATCH_MAX   256
#define WATCH_STACK ((size_t)64 * 1024)

struct watch {
	struct watch *prev, *next; /* wk->watches */
	struct worker *wk;
	sr_session_ref ref;
	struct waiter *waiters; /* the requests waiting for this channel */
};

/*
 * A start is asked for with the compare-and-swap idle->starting or
 * failed->starting: of many workers asking at once exactly one succeeds and
 * rings the reaper's doorbell; the others get -SR_ESTATE with the state
 * they found, and just wait.
 */
sr_state start_request(struct worker *wk, struct waiter *w, sr_state st)
{
	if (st != SR_STATE_IDLE && st != SR_STATE_FAILED)
		return st;
	sr_state found = st;
	int rc = sr_ref_transition(wk->reg, w->ref, st, SR_STATE_STARTING, &found);
	if (rc == 0) {
		char id[SR_UUID_STR_LEN + 1];
		sr_uuid_format(w->channel, id);
		st_info("channel %s: %s -> starting (start requested)", id, sr_state_name(st));
		w->requested = true;
		return SR_STATE_STARTING;
	}
	if (rc != -SR_ESTATE)
		st_warn("start request: %s (%s)", sr_strerror(rc), sr_errdetail());
	return found;
}

static bool same_ref(sr_session_ref a, sr_session_ref b)
{
	return a.slot == b.slot && a.generation == b.generation;
}

/* Called with wk->lock held. */
static void resolve(struct worker *wk, struct waiter *w, enum wait_result r)
{
	struct watch *wt = w->watch;
	w->result = r;
	if (w->prev)
		w->prev->next = w->next;
	else if (wt) /* always set while listed: the head of its watch's list */
		wt->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	w->watch = NULL;
	wk->n_waiters--;
	MHD_resume_connection(w->conn);
}

/* What state st means for one waiter; returns WAIT_PENDING to keep waiting.
 * Called with wk->lock held; *st follows a start this call asks for. */
static enum wait_result settle(struct worker *wk, struct waiter *w, sr_state *st, uint64_t now)
{
	switch (*st) {
	case SR_STATE_ACTIVE:
		return WAIT_ACTIVE;
	case SR_STATE_FAILED:
		if (w->requested) {
			/* Our own start request failed (the reaper records the
			 * error with the state change). */
			int rc =
			    sr_session_last_error(wk->reg, w->channel, w->error, sizeof w->error);
			if (rc < 0 || !w->error[0])
				snprintf(w->error, sizeof w->error, "transcoder failed to start");
			return WAIT_FAILED;
		}
		*st = start_request(wk, w, *st);
		break;
	case SR_STATE_IDLE:
		/* Stopped by idle cleanup while we waited: ask again. */
		*st = start_request(wk, w, *st);
		break;
	default:
		break;
	}
	if (now >= w->deadline_ns) {
		snprintf(w->error, sizeof w->error, "channel still %s after %u ms",
		         sr_state_name(*st), wk->opt->start_timeout_ms);
		/* One count per start this worker asked for: the requests that
		 * merely joined someone else's start would count it again. */
		if (w->requested)
			sr_session_count_start_timeout(wk->reg, w->channel);
		return WAIT_TIMEOUT;
	}
	return WAIT_PENDING;
}

/* Settle every waiter of wt against st; returns the nearest deadline of
 * those left (UINT64_MAX if none).  Called with wk->lock held. */
static uint64_t settle_all(struct worker *wk, struct watch *wt, sr_state *st, uint64_t now)
{
	uint64_t nearest = UINT64_MAX;
	struct waiter *next;
	for (struct waiter *w = wt->waiters; w; w = next) {
		next = w->next;
		enum wait_result r = settle(wk, w, st, now);
		if (r != WAIT_PENDING)
			resolve(wk, w, r);
		else if (w->deadline_ns < nearest)
			nearest = w->deadline_ns;
	}
	return nearest;
}

static void fail_all(struct worker *wk, struct watch *wt, const char *why)
{
	while (wt->waiters) {
		snprintf(wt->waiters->error, sizeof wt->waiters->error, "%s", why);
		resolve(wk, wt->waiters, WAIT_ERROR);
	}
}

static void *watch_main(void *arg)
{
	struct watch *wt = arg;
	struct worker *wk = wt->wk;
	sr_state st;
	int rc = sr_ref_get_state(wk->reg, wt->ref, &st);
	pthread_mutex_lock(&wk->lock);
	while (wt->waiters) {
		if (rc < 0) {
			char why[96];
			snprintf(why, sizeof why, "registry: %s", sr_strerror(rc));
			fail_all(wk, wt, why);
			break;
		}
		uint64_t now = worker_now_ns();
		sr_state before = st;
		uint64_t nearest = settle_all(wk, wt, &st, now);
		if (!wt->waiters)
			break;
		/* A start request found another state than the one read (active
		 * already, or idle again): the requests settled before it must
		 * see that state too, and waiting for it to change would sleep
		 * through it. */
		if (st != before)
			continue;
		uint64_t left_ms = (nearest - now + 999999) / 1000000;
		int ms = left_ms < WATCH_SLICE_MS ? (int)left_ms : WATCH_SLICE_MS;
		pthread_mutex_unlock(&wk->lock);
		sr_state seen = st;
		rc = sr_ref_wait_state(wk->reg, wt->ref, seen, ms, &st);
		http_metrics_count(wk->hm, HM_START_WAKEUP);
		if (rc > 0)
			rc = 0;
		pthread_mutex_lock(&wk->lock);
	}
	if (wt->prev)
		wt->prev->next = wt->next;
	else
		wk->watches = wt->next;
	if (wt->next)
		wt->next->prev = wt->prev;
	if (--wk->n_watches == 0)
		pthread_cond_broadcast(&wk->watches_gone);
	pthread_mutex_unlock(&wk->lock);
	free(wt);
	return NULL;
}

/* The watch of ref, started if there is none.  Called with wk->lock held. */
static struct watch *watch_of(struct worker *wk, sr_session_ref ref)
{
	for (struct watch *wt = wk->watches; wt; wt = wt->next)
		if (same_ref(wt->ref, ref))
			return wt;
	if (wk->n_watches >= WATCH_MAX)
		return NULL;
	struct watch *wt = calloc(1, sizeof *wt);
	if (!wt)
		return NULL;
	wt->wk = wk;
	wt->ref = ref;
	pthread_attr_t a;
	pthread_t th;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, WATCH_STACK);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int e = pthread_create(&th, &a, watch_main, wt);
	pthread_attr_destroy(&a);
	if (e != 0) {
		free(wt);
		return NULL;
	}
	/* The thread takes the lock before it looks at the list: it finds
	 * itself linked and the first waiter in place. */
	wt->next = wk->watches;
	if (wk->watches)
		wk->watches->prev = wt;
	wk->watches = wt;
	wk->n_watches++;
	return wt;
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
	struct watch *wt = wk->stopping ? NULL : watch_of(wk, w->ref);
	if (!wt) {
		w->result = wk->stopping ? WAIT_SHUTDOWN : WAIT_BUSY;
		snprintf(w->error, sizeof w->error, "%s",
		         wk->stopping ? "server shutting down" : "too many channels starting");
		pthread_mutex_unlock(&wk->lock);
		MHD_resume_connection(conn);
		return;
	}
	w->watch = wt;
	w->prev = NULL;
	w->next = wt->waiters;
	if (wt->waiters)
		wt->waiters->prev = w;
	wt->waiters = w;
	wk->n_waiters++;
	pthread_mutex_unlock(&wk->lock);
}

unsigned start_wait_touch_viewers(struct worker *wk)
{
	pthread_mutex_lock(&wk->lock);
	for (struct watch *wt = wk->watches; wt; wt = wt->next)
		for (struct waiter *w = wt->waiters; w; w = w->next) {
			struct request *rq =
			    (struct request *)((char *)w - offsetof(struct request, w));
			if (rq->has_viewer)
				viewers_touch(wk->vt, rq->viewer_slot, rq->viewer_nonce);
		}
	unsigned n = wk->n_waiters;
	pthread_mutex_unlock(&wk->lock);
	return n;
}

void start_wait_cancel_all(struct worker *wk)
{
	pthread_mutex_lock(&wk->lock);
	for (struct watch *wt = wk->watches; wt; wt = wt->next)
		while (wt->waiters) {
			snprintf(wt->waiters->error, sizeof wt->waiters->error,
			         "server shutting down");
			resolve(wk, wt->waiters, WAIT_SHUTDOWN);
		}
	/* Each watch wakes within its slice, finds no waiter and ends; the
	 * registry must stay attached until then. */
	while (wk->n_watches)
		pthread_cond_wait(&wk->watches_gone, &wk->lock);
	pthread_mutex_unlock(&wk->lock);
}
