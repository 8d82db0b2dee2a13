/*
 * A worker process: attaches the registry, runs libmicrohttpd on the
 * listen socket inherited from the master, watch threads that resume start
 * waits when their channel's state changes (start_wait.c), and a
 * housekeeping thread that expires viewers and cuts slow-header
 * connections.
 * SIGTERM/SIGINT: stop accepting, answer waiting requests with 503, let
 * in-flight responses finish briefly, release this worker's viewers, exit 0.
 */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "http_reply.h"
#include "route.h"
#include "st_log.h"
#include "worker_internal.h"

/* Viewer and header-deadline sweeps: a tenth of the viewer timeout keeps
 * expiry within 10% of it, within bounds that keep the scan of the viewer
 * table (64 bytes per slot) cheap and the header deadline sharp. */
#define SWEEP_MIN_MS 100
#define SWEEP_MAX_MS 1000
/* How long in-flight responses may finish after SIGTERM. */
#define DRAIN_MS 1000

uint64_t worker_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* libmicrohttpd's messages are printf formats of its own. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	st_debug("libmicrohttpd: %s", msg);
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return route_unescape(s);
}

static void *housekeeper(void *arg)
{
	struct worker *wk = arg;
	uint64_t next_sweep = 0;
	uint64_t viewer_timeout = (uint64_t)wk->opt->viewer_timeout_ms * 1000000ull;
	unsigned sweep_ms = wk->opt->viewer_timeout_ms / 10;
	if (wk->opt->header_timeout_ms / 10 < sweep_ms)
		sweep_ms = wk->opt->header_timeout_ms / 10;
	if (sweep_ms < SWEEP_MIN_MS)
		sweep_ms = SWEEP_MIN_MS;
	if (sweep_ms > SWEEP_MAX_MS)
		sweep_ms = SWEEP_MAX_MS;
	pthread_mutex_lock(&wk->lock);
	while (!wk->stopping) {
		unsigned ms = sweep_ms;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&wk->wake, &wk->lock, &ts);
		if (wk->stopping)
			break;
		pthread_mutex_unlock(&wk->lock);
		uint64_t now = worker_now_ns();
		if (now >= next_sweep) {
			next_sweep = now + sweep_ms * 1000000ull;
			start_wait_touch_viewers(wk);
			conn_guard_sweep(wk);
			http_log_flush();
			unsigned n = viewers_sweep(wk->vt, wk->reg, wk->holder, viewer_timeout);
			if (n)
				st_debug("%u viewer(s) expired", n);
		}
		pthread_mutex_lock(&wk->lock);
	}
	pthread_mutex_unlock(&wk->lock);
	return NULL;
}

static struct MHD_Daemon *start_mhd(struct worker *wk, int listen_fd)
{
	const struct server_options *o = wk->opt;
	struct MHD_OptionItem opts[16];
	size_t n = 0;
#define OPT(o_, v_, p_) opts[n++] = (struct MHD_OptionItem){(o_), (intptr_t)(v_), (p_)}
	/* The logger first, or MHD prints the other options' errors itself. */
	OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, wk);
	OPT(MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, o->conn_timeout_s, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->conn_memory, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, o->max_connections, NULL);
	OPT(MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)http_uri_log, wk);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, wk);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)conn_guard_notify, wk);
	if (o->threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, o->threads, NULL);
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	/* The port argument is ignored with MHD_OPTION_LISTEN_SOCKET. */
	return MHD_start_daemon(flags, 0, NULL, NULL, http_handle, wk, MHD_OPTION_ARRAY, opts,
	                        MHD_OPTION_END);
}

static unsigned current_connections(struct worker *wk)
{
	const union MHD_DaemonInfo *di =
	    MHD_get_daemon_info(wk->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return di ? di->num_connections : 0;
}

static int attach_registry(struct worker *wk, const char *name)
{
	int rc = sr_registry_attach(name, 0, &wk->reg);
	if (rc < 0) {
		st_error("cannot attach registry '%s': %s (%s)", name, sr_strerror(rc),
		         sr_errdetail());
		return -1;
	}
	return 0;
}

int worker_run(const struct worker_config *cfg)
{
	char role[32];
	snprintf(role, sizeof role, "worker %u", cfg->index);
	st_log_set_role(role);
	/* A worker never outlives its master: an orphan would keep
	 * answering on the socket without supervision. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != cfg->master_pid)
		return 1;

	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	/* Blocked before any thread exists, so every thread inherits it and
	 * only sigwait() below receives them. */
	pthread_sigmask(SIG_SETMASK, &stop, NULL);

	static struct worker wk;
	memset(&wk, 0, sizeof wk);
	wk.opt = cfg->opt;
	wk.lineup = cfg->lineup;
	wk.vt = cfg->vt;
	wk.hm = cfg->hm;
	wk.index = cfg->index;
	wk.holder = viewers_holder(cfg->vt, cfg->index);
	const char *off = getenv("STREAMREG_SERVER_NO_REGISTRY");
	wk.registry_off = off && *off && strcmp(off, "0") != 0;
	pthread_mutex_init(&wk.lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wk.wake, &ca);
	pthread_cond_init(&wk.watches_gone, &ca);
	pthread_condattr_destroy(&ca);

	if (attach_registry(&wk, cfg->opt->registry) < 0)
		return 1;
	pthread_t hk;
	if (pthread_create(&hk, NULL, housekeeper, &wk) != 0) {
		st_error("cannot start the housekeeping thread");
		sr_registry_close(wk.reg);
		return 1;
	}
	if (http_mhd_errors_init(wk.index, cfg->opt->conn_memory, wk.hm) < 0) {
		st_error("libmicrohttpd's MHD_queue_response not found");
		wk.mhd = NULL;
	} else {
		wk.mhd = start_mhd(&wk, cfg->listen_fd);
	}
	if (!wk.mhd) {
		st_error("libmicrohttpd failed to start on the listen socket");
		pthread_mutex_lock(&wk.lock);
		wk.stopping = true;
		pthread_cond_signal(&wk.wake);
		pthread_mutex_unlock(&wk.lock);
		pthread_join(hk, NULL);
		sr_registry_close(wk.reg);
		return 1;
	}
	st_debug("serving (holder %#x%s)", wk.holder,
	         wk.registry_off ? ", registry calls off for file requests" : "");

	int sig = 0;
	for (;;) {
		if (sigwait(&stop, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break; /* the master reloads; workers are replaced */
	}
	st_debug("stopping on signal %d", sig);

	MHD_socket lfd = MHD_quiesce_daemon(wk.mhd);
	(void)lfd; /* shared with the master and siblings: stays open */
	pthread_mutex_lock(&wk.lock);
	wk.stopping = true;
	pthread_cond_signal(&wk.wake);
	pthread_mutex_unlock(&wk.lock);
	pthread_join(hk, NULL);
	start_wait_cancel_all(&wk);
	for (unsigned waited = 0; waited < DRAIN_MS && current_connections(&wk) > 0; waited += 20)
		nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
	MHD_stop_daemon(wk.mhd);
	unsigned released = viewers_release_all(wk.vt, wk.reg, wk.holder);
	if (released)
		st_debug("released %u viewer(s)", released);
	sr_registry_close(wk.reg);
	return 0;
}
