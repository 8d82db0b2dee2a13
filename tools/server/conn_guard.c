/*
 * Slowloris defence.  libmicrohttpd's connection timeout is an inactivity
 * timeout: a client that sends one header byte every few seconds never hits
 * it.  So the worker tracks every connection and, when a request's headers
 * have not all arrived within --header-timeout of its start (or of the end
 * of the previous request on a kept-alive connection), shuts the socket
 * down; MHD then sees end-of-file and closes it.
 *
 * The fd stays valid while we hold the lock: MHD reports
 * MHD_CONNECTION_NOTIFY_CLOSED (which takes the lock) before it closes the
 * socket.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "st_log.h"
#include "worker_internal.h"

void conn_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
	struct worker *wk = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn_track *t = calloc(1, sizeof *t);
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = t;
		if (!t || !ci)
			return; /* untracked: only the inactivity timeout applies */
		t->conn = conn;
		t->fd = ci->connect_fd;
		t->since_ns = worker_now_ns();
		pthread_mutex_lock(&wk->lock);
		t->next = wk->conns;
		if (wk->conns)
			wk->conns->prev = t;
		wk->conns = t;
		pthread_mutex_unlock(&wk->lock);
		return;
	}
	struct conn_track *t = *socket_context;
	if (!t)
		return;
	pthread_mutex_lock(&wk->lock);
	if (t->conn) {
		if (t->prev)
			t->prev->next = t->next;
		else
			wk->conns = t->next;
		if (t->next)
			t->next->prev = t->prev;
	}
	pthread_mutex_unlock(&wk->lock);
	free(t);
	*socket_context = NULL;
}

static struct conn_track *track_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

void conn_guard_headers_done(struct worker *wk, struct MHD_Connection *conn)
{
	struct conn_track *t = track_of(conn);
	if (!t)
		return;
	pthread_mutex_lock(&wk->lock);
	t->headers_done = true;
	pthread_mutex_unlock(&wk->lock);
}

void conn_guard_request_done(struct worker *wk, struct MHD_Connection *conn)
{
	struct conn_track *t = track_of(conn);
	if (!t)
		return;
	pthread_mutex_lock(&wk->lock);
	t->headers_done = false;
	t->since_ns = worker_now_ns();
	pthread_mutex_unlock(&wk->lock);
}

unsigned conn_guard_sweep(struct worker *wk)
{
	uint64_t now = worker_now_ns();
	uint64_t limit = (uint64_t)wk->opt->header_timeout_ms * 1000000ull;
	unsigned cut = 0;
	pthread_mutex_lock(&wk->lock);
	for (struct conn_track *t = wk->conns; t; t = t->next) {
		if (t->headers_done || t->cut || now - t->since_ns < limit)
			continue;
		shutdown(t->fd, SHUT_RDWR);
		t->cut = true;
		cut++;
	}
	pthread_mutex_unlock(&wk->lock);
	if (cut) {
		atomic_fetch_add(&wk->header_cuts, cut);
		st_debug("closed %u connection(s) slower than the header timeout", cut);
	}
	return cut;
}
