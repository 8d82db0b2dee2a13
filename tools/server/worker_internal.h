/* State shared by the pieces of a worker process (worker.c, http_*.c,
 * start_wait.c, conn_guard.c).  One worker per process, many threads. */
#ifndef SRV_WORKER_INTERNAL_H
#define SRV_WORKER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <streamreg.h>

#include "server_options.h"
#include "st_lineup.h"
#include "viewers.h"

/* Outcome of a master.m3u8 request that waited for its channel. */
enum wait_result {
	WAIT_PENDING,
	WAIT_ACTIVE,   /* the channel is active: serve the playlist */
	WAIT_FAILED,   /* the start failed: 503 with the last error */
	WAIT_TIMEOUT,  /* not active within --start-timeout: 503 */
	WAIT_SHUTDOWN, /* the worker is stopping: 503 */
	WAIT_BUSY,     /* no thread to wait with (too many channels starting): 503 */
	WAIT_ERROR,    /* the registry refused: 500 */
};

struct watch;

/* A master.m3u8 request suspended while its channel starts. */
struct waiter {
	struct waiter *prev, *next;
	struct watch *watch; /* the thread that sleeps on its channel's state */
	struct MHD_Connection *conn;
	uuid_t channel;
	sr_session_ref ref; /* resolved once by the request */
	uint64_t deadline_ns;
	bool requested; /* this request moved the channel to starting */
	enum wait_result result;
	char error[SR_ERROR_MAX + 1];
};

/* Per-request context (MHD's *con_cls), made by http_uri_log(). */
struct request {
	const char *raw_uri; /* the target as received, NUL-terminated by MHD */
	size_t raw_uri_len;  /* its strlen() before MHD touched it */
	bool seen;           /* the access handler was called */
	const char *defect;  /* why the request gets 400, or NULL */
	bool suspended;
	bool options; /* OPTIONS: CORS preflight or capability query */
	bool head;    /* HEAD: a probe, not a viewer */
	struct waiter w;
	uint64_t t0_ns;     /* headers complete: the latency metric starts here */
	bool has_viewer;    /* a token to deliver (viewer_slot, viewer_nonce) */
	bool viewer_reused; /* ... of a viewer that existed before: not ours to release */
	bool delivered;     /* the master playlist with the token was queued */
	uint32_t viewer_slot;
	uint64_t viewer_nonce;
};

/* A tracked connection, for the request-header deadline. */
struct conn_track {
	struct conn_track *prev, *next;
	struct MHD_Connection *conn;
	int fd;
	uint64_t since_ns; /* start of the current request's headers */
	bool headers_done; /* the handler saw the request */
	bool cut;          /* already shut down */
};

struct worker {
	const struct server_options *opt;
	const struct st_lineup *lineup;
	struct viewer_table *vt;
	struct http_metrics *hm;
	unsigned index;
	uint32_t holder;
	sr_registry *reg;
	/* Benchmark baseline: the file endpoints skip touch and viewers. */
	bool registry_off;
	struct MHD_Daemon *mhd;

	pthread_mutex_t lock; /* watches, their waiters, and conns */
	pthread_cond_t wake;
	struct watch *watches; /* one per channel that has waiting requests */
	unsigned n_watches;    /* watch threads still running */
	pthread_cond_t watches_gone;
	unsigned n_waiters;
	struct conn_track *conns;
	bool stopping;

	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t header_cuts;
};

uint64_t worker_now_ns(void);

/* http_handlers.c: MHD's access handler and completion callback. */
enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url,
                            const char *method, const char *version, const char *upload_data,
                            size_t *upload_data_size, void **con_cls);
void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe);
/* Write the count of rate-limited warnings once their interval is over
 * (the housekeeping thread calls it). */
void http_log_flush(void);
/* MHD_OPTION_URI_LOG_CALLBACK: makes the request's context. */
void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn);

/* start_wait.c */
/* Ask for a start if the channel is in state st (idle or failed): sets
 * w->requested if this call moved it, and returns the state the channel is
 * in now as far as the transition saw. */
sr_state start_request(struct worker *wk, struct waiter *w, sr_state st);
/* Suspend conn until its channel is active or the wait ends (at once,
 * WAIT_BUSY, if no watch thread can be had). */
void start_wait_begin(struct worker *wk, struct request *rq, struct MHD_Connection *conn);
/* Housekeeping tick: mark the viewers of waiting requests seen (a viewer
 * whose request waits is alive); returns how many requests wait. */
unsigned start_wait_touch_viewers(struct worker *wk);
/* Resolve every waiter with WAIT_SHUTDOWN and wait for the watch threads
 * to end (they notice within WATCH_SLICE_MS). */
void start_wait_cancel_all(struct worker *wk);

/* conn_guard.c: MHD_OPTION_NOTIFY_CONNECTION callback and the sweep. */
void conn_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe);
void conn_guard_headers_done(struct worker *wk, struct MHD_Connection *conn);
void conn_guard_request_done(struct worker *wk, struct MHD_Connection *conn);
unsigned conn_guard_sweep(struct worker *wk);

#endif
