/*
 * The master binds the listen socket, creates the shared viewer table, forks
 * the workers and supervises them.  A worker that dies is reaped, its
 * registry leases are reclaimed with sr_registry_recover() and only then is
 * its viewer-table generation bumped (so other workers adopt its viewers
 * without double counting), and it is replaced; a worker that keeps dying
 * right after start is replaced with an increasing delay instead of in a
 * hot loop.  SIGHUP re-reads the lineup and replaces the workers with ones
 * that serve the new lineup; SIGTERM/SIGINT stop everything cleanly.
 */
#include "master.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <streamreg.h>

#include "st_log.h"
#include "st_notify.h"
#include "viewers.h"
#include "worker.h"

/* A worker that dies sooner than this after its start counts as a crash
 * loop and is replaced after a growing delay. */
#define FAST_DEATH_MS  1000
#define RESPAWN_MAX_MS 5000
/* After SIGTERM, workers get this long before SIGKILL. */
#define STOP_TIMEOUT_MS 5000

struct worker_slot {
	pid_t pid; /* 0 when not running */
	uint64_t started_ms;
	uint64_t respawn_at_ms; /* when pid == 0 and not stopping */
	unsigned fast_deaths;
	bool retire; /* SIGHUP: replaced when it exits, no crash */
};

struct master {
	const struct server_options *opt;
	struct st_lineup *lineup;
	sr_registry *reg;
	bool created;
	struct viewer_table *vt;
	struct http_metrics *hm;
	int listen_fd;
	int *port_fds; /* --reuseport: one socket per worker slot, else NULL */
	int sig_fd;
	struct worker_slot *w;
	bool stopping;
	uint64_t stop_deadline_ms;
	sigset_t old_mask;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int bind_listen(const struct server_options *o, bool reuseport, uint16_t port_num)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res;
	char port[8];
	snprintf(port, sizeof port, "%u", port_num);
	int rc = getaddrinfo(o->host, port, &hints, &res);
	if (rc != 0) {
		st_error("cannot resolve %s: %s", o->host, gai_strerror(rc));
		return -1;
	}
	int fd = -1, err = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		/* Non-blocking: all workers poll the same socket and only one
		 * wins each connection; the others' accept() must not block. */
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (reuseport)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		st_error("cannot listen on %s:%u: %s", o->host, port_num, strerror(err));
	return fd;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss = {0};
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

/*
 * The listen socket(s).  By default one socket that every worker polls:
 * whichever wakes first accepts, which favours busy workers (measured:
 * 64 keep-alive connections split 48/16 over 2 workers).  With --reuseport
 * the master binds one SO_REUSEPORT socket per worker slot and the kernel
 * spreads connections by hash; the master keeps every socket open, so a
 * replaced worker inherits its slot's socket and its queued connections.
 */
static int open_listeners(struct master *m)
{
	const struct server_options *o = m->opt;
	m->listen_fd = bind_listen(o, o->reuseport, o->port);
	if (m->listen_fd < 0)
		return -1;
	if (!o->reuseport)
		return 0;
	uint16_t port = bound_port(m->listen_fd);
	m->port_fds = calloc(o->workers, sizeof *m->port_fds);
	if (!m->port_fds)
		return -1;
	m->port_fds[0] = m->listen_fd;
	for (unsigned i = 1; i < o->workers; i++) {
		m->port_fds[i] = bind_listen(o, true, port);
		if (m->port_fds[i] < 0)
			return -1;
	}
	return 0;
}

/*
 * A registry being created by the reaper right now exists before its header
 * is written: attach sees it truncated or without its magic.  Give the
 * creator a moment instead of failing a server started right after it.
 */
static int attach_patiently(const char *name, sr_registry **out)
{
	int rc = 0;
	for (int i = 0; i < 60; i++) {
		rc = sr_registry_attach(name, 0, out);
		if (rc != -SR_ETRUNCATED && rc != -SR_EBADMAGIC)
			return rc;
		nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
	}
	return rc;
}

static int open_registry(struct master *m)
{
	const struct server_options *o = m->opt;
	int rc = attach_patiently(o->registry, &m->reg);
	if (rc == -ENOENT && o->create) {
		sr_create_options co;
		sr_create_options_init(&co);
		co.capacity = o->capacity;
		rc = sr_registry_create(o->registry, &co, &m->reg);
		if (rc == 0) {
			m->created = true;
			st_info("created registry '%s' (capacity %u)", o->registry, o->capacity);
		} else if (rc == -EEXIST) {
			rc = attach_patiently(o->registry, &m->reg);
		}
	}
	if (rc < 0) {
		st_error("cannot attach registry '%s': %s (%s)%s", o->registry, sr_strerror(rc),
		         sr_errdetail(),
		         rc == -ENOENT ? "; start streamreg-reaper --create first, or pass --create"
		                       : "");
		return -1;
	}
	return 0;
}

static void spawn(struct master *m, unsigned idx)
{
	struct worker_slot *s = &m->w[idx];
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		st_error("fork: %s; retrying", strerror(errno));
		s->respawn_at_ms = now_ms() + 500;
		return;
	}
	if (pid == 0) {
		close(m->sig_fd);
		int fd = m->port_fds ? m->port_fds[idx] : m->listen_fd;
		for (unsigned i = 0; m->port_fds && i < m->opt->workers; i++)
			if (m->port_fds[i] != fd)
				close(m->port_fds[i]);
		signal(SIGCHLD, SIG_DFL);
		struct worker_config cfg = {
		    .opt = m->opt,
		    .lineup = m->lineup,
		    .vt = m->vt,
		    .hm = m->hm,
		    .index = idx,
		    .listen_fd = fd,
		    .master_pid = getppid(),
		};
		int rc = worker_run(&cfg);
		fflush(NULL);
		_exit(rc);
	}
	s->pid = pid;
	s->started_ms = now_ms();
	s->retire = false;
	st_debug("worker %u started: pid %d", idx, (int)pid);
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status %#x", status);
}

static void reap(struct master *m)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		unsigned idx;
		for (idx = 0; idx < m->opt->workers; idx++)
			if (m->w[idx].pid == pid)
				break;
		if (idx == m->opt->workers)
			continue; /* not ours (cannot happen: we fork nothing else) */
		struct worker_slot *s = &m->w[idx];
		char why[96];
		describe_status(status, why, sizeof why);
		s->pid = 0;
		/* Leases first, generation second: once the generation moves,
		 * other workers adopt this worker's viewers and take new
		 * leases, which must not coexist with the dead one's. */
		sr_recovery_report rep = {0};
		int rc = sr_registry_recover(m->reg, &rep);
		if (rc < 0)
			st_warn("registry recovery: %s (%s)", sr_strerror(rc), sr_errdetail());
		viewers_worker_died(m->vt, idx);
		bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (!m->stopping && !s->retire)
			http_metrics_count(m->hm, HM_WORKER_RESTART);
		if (m->stopping) {
			if (!clean)
				st_warn("worker %u (pid %d) %s while stopping", idx, (int)pid, why);
			continue;
		}
		uint64_t now = now_ms();
		if (s->retire) {
			s->respawn_at_ms = now;
			continue;
		}
		if (now - s->started_ms < FAST_DEATH_MS)
			s->fast_deaths++;
		else
			s->fast_deaths = 0;
		uint64_t delay = 0;
		if (s->fast_deaths) {
			delay = 100ull << (s->fast_deaths < 6 ? s->fast_deaths : 6);
			if (delay > RESPAWN_MAX_MS)
				delay = RESPAWN_MAX_MS;
		}
		s->respawn_at_ms = now + delay;
		st_warn("worker %u (pid %d) %s; reclaimed %u process(es), %llu client lease(s); "
		        "replacing it%s",
		        idx, (int)pid, why, rep.procs_reclaimed,
		        (unsigned long long)rep.leases_released,
		        delay ? " after a delay (it died right after starting)" : "");
	}
}

static void reload(struct master *m)
{
	struct st_lineup fresh;
	char err[512];
	if (st_lineup_load(m->opt->lineup_path, m->opt->lineup_flags, &fresh, err, sizeof err) <
	    0) {
		st_error("SIGHUP: keeping the old lineup: %s", err);
		return;
	}
	st_lineup_free(m->lineup);
	*m->lineup = fresh;
	st_info("SIGHUP: lineup reloaded (%zu channels); replacing the workers", fresh.n);
	for (unsigned i = 0; i < m->opt->workers; i++) {
		if (m->w[i].pid > 0) {
			m->w[i].retire = true;
			kill(m->w[i].pid, SIGTERM);
		}
	}
}

static void begin_stop(struct master *m, int sig)
{
	if (m->stopping)
		return;
	st_info("signal %d: stopping the workers", sig);
	(void)st_notify("STOPPING=1");
	m->stopping = true;
	m->stop_deadline_ms = now_ms() + STOP_TIMEOUT_MS;
	for (unsigned i = 0; i < m->opt->workers; i++)
		if (m->w[i].pid > 0)
			kill(m->w[i].pid, SIGTERM);
}

static unsigned running(const struct master *m)
{
	unsigned n = 0;
	for (unsigned i = 0; i < m->opt->workers; i++)
		n += m->w[i].pid > 0;
	return n;
}

static void supervise(struct master *m)
{
	for (;;) {
		uint64_t now = now_ms();
		int timeout = -1;
		if (m->stopping) {
			if (running(m) == 0)
				return;
			if (now >= m->stop_deadline_ms) {
				for (unsigned i = 0; i < m->opt->workers; i++) {
					if (m->w[i].pid > 0) {
						st_warn(
						    "worker %u (pid %d) ignored SIGTERM: SIGKILL",
						    i, (int)m->w[i].pid);
						kill(m->w[i].pid, SIGKILL);
					}
				}
				m->stop_deadline_ms = now + 60000;
			}
			timeout = (int)(m->stop_deadline_ms - now);
		} else {
			for (unsigned i = 0; i < m->opt->workers; i++) {
				struct worker_slot *s = &m->w[i];
				if (s->pid > 0)
					continue;
				if (now >= s->respawn_at_ms) {
					spawn(m, i);
					continue;
				}
				int t = (int)(s->respawn_at_ms - now);
				if (timeout < 0 || t < timeout)
					timeout = t;
			}
		}
		struct pollfd pfd = {.fd = m->sig_fd, .events = POLLIN};
		int rc = poll(&pfd, 1, timeout);
		if (rc < 0 && errno != EINTR) {
			st_error("poll: %s", strerror(errno));
			begin_stop(m, SIGTERM);
			continue;
		}
		if (rc <= 0)
			continue;
		struct signalfd_siginfo si;
		while (read(m->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
			switch (si.ssi_signo) {
			case SIGCHLD:
				reap(m);
				break;
			case SIGHUP:
				if (!m->stopping) {
					(void)st_notify("RELOADING=1");
					reload(m);
					(void)st_notify("READY=1");
				}
				break;
			default:
				begin_stop(m, (int)si.ssi_signo);
			}
		}
		reap(m); /* coalesced SIGCHLDs */
	}
}

int master_run(const struct server_options *opt, struct st_lineup *lineup)
{
	struct master m = {.opt = opt, .lineup = lineup, .listen_fd = -1, .sig_fd = -1};
	int status = 1;
	st_log_set_role("master");
	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &m.old_mask);
	m.sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	m.w = calloc(opt->workers, sizeof *m.w);
	if (m.sig_fd < 0 || !m.w) {
		st_error("setup: %s", strerror(errno));
		goto out;
	}
	if (open_registry(&m) < 0)
		goto out;
	m.vt = viewers_create(opt->max_viewers);
	if (!m.vt) {
		st_error("viewer table of %u: %s", opt->max_viewers, strerror(errno));
		goto out;
	}
	m.hm = http_metrics_create();
	if (!m.hm) {
		st_error("metrics block: %s", strerror(errno));
		goto out;
	}
	if (open_listeners(&m) < 0)
		goto out;
	st_info("listening on http://%s:%u/ with %u worker(s)%s; registry '%s', %zu channel(s), "
	        "output %s",
	        opt->host, bound_port(m.listen_fd), opt->workers,
	        opt->reuseport ? " (SO_REUSEPORT socket each)" : "", opt->registry, lineup->n,
	        opt->output_dir);
	/* the socket is bound: connections queue until the workers accept */
	(void)st_notify("READY=1\nSTATUS=serving");
	supervise(&m);
	status = 0;
	st_info("all workers stopped; exiting");
out:
	if (m.reg) {
		sr_registry_recover(m.reg, NULL);
		sr_registry_close(m.reg);
		if (m.created)
			sr_registry_unlink(opt->registry);
	}
	viewers_destroy(m.vt);
	http_metrics_destroy(m.hm);
	if (m.port_fds) {
		for (unsigned i = 1; i < opt->workers; i++)
			if (m.port_fds[i] > 0)
				close(m.port_fds[i]);
		free(m.port_fds);
	}
	if (m.listen_fd >= 0)
		close(m.listen_fd);
	if (m.sig_fd >= 0)
		close(m.sig_fd);
	free(m.w);
	return status;
}
