/*
 * The event loop: one thread polls the signalfd, the doorbell eventfd, the
 * scan timer and every transcoder's pidfd and stderr pipe; a second thread
 * only sleeps on the registry's doorbell futex and pokes the eventfd, so a
 * start request reaches the loop within microseconds.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "owner.h"
#include "paths.h"
#include "reaper.h"
#include "setup_checks.h"
#include "st_chandir.h"
#include "st_log.h"
#include "st_notify.h"

#define MS 1000000ull
/* how often a starting run's playlists are looked at */
#define START_POLL_MS 20

uint64_t rp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *state_or_none(sr_state s)
{
	return s < SR_STATE_COUNT ? sr_state_name(s) : "?";
}

void rp_event(const char *id_str, pid_t pid, sr_state from, sr_state to, const char *fmt, ...)
{
	char reason[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	st_log(LOG_INFO, "channel=%s pid=%d state=%s->%s reason=\"%s\"", id_str, (int)pid,
	       state_or_none(from), state_or_none(to), reason);
}

static int cmp_chan(const void *a, const void *b)
{
	const struct rp_chan *x = a, *y = b;
	return uuid_compare(x->id, y->id);
}

/* bsearch's key is the bare id; the order is cmp_chan's. */
static int cmp_id_chan(const void *key, const void *elem)
{
	const struct rp_chan *c = elem;
	return uuid_compare(key, c->id);
}

struct rp_chan *rp_find_chan(struct reaper *r, const uuid_t id)
{
	return r->nch ? bsearch(id, r->ch, r->nch, sizeof *r->ch, cmp_id_chan) : NULL;
}

int rp_chans_sync(struct reaper *r, struct st_lineup *fresh)
{
	bool first = r->ch == NULL;
	size_t cap = fresh->n + r->nch;
	struct rp_chan *nc = calloc(cap ? cap : 1, sizeof *nc);
	if (!nc)
		return -ENOMEM;
	size_t n = 0, added = 0, removed = 0;
	for (size_t i = 0; i < fresh->n; i++) {
		const struct st_channel *lc = &fresh->ch[i];
		char *input = strdup(lc->input);
		if (!input) {
			for (size_t k = 0; k < n; k++)
				if (!rp_find_chan(r, nc[k].id))
					free(nc[k].input);
			free(nc);
			return -ENOMEM;
		}
		struct rp_chan *old = rp_find_chan(r, lc->id);
		if (old) {
			nc[n] = *old;
			free(old->input);
			old->input = NULL;
		} else {
			memset(&nc[n], 0, sizeof nc[n]);
			uuid_copy(nc[n].id, lc->id);
			memcpy(nc[n].id_str, lc->id_str, sizeof nc[n].id_str);
			nc[n].chfd = -1;
			added++;
		}
		nc[n].input = input;
		nc[n].in_lineup = true;
		n++;
	}
	for (size_t i = 0; r->ch && i < r->nch; i++) {
		if (st_lineup_find(fresh, r->ch[i].id))
			continue;
		nc[n] = r->ch[i];
		if (nc[n].in_lineup)
			removed++;
		nc[n].in_lineup = false;
		n++;
	}
	qsort(nc, n, sizeof *nc, cmp_chan);
	free(r->ch);
	r->ch = nc;
	r->nch = n;
	st_lineup_free(&r->lineup);
	r->lineup = *fresh;
	memset(fresh, 0, sizeof *fresh);
	/* "added" is relative to the previous lineup; whether a session is new
	 * to the registry is rp_insert_sessions()'s to say */
	if (first)
		st_log(LOG_INFO, "lineup: %zu channels", r->lineup.n);
	else
		st_log(LOG_INFO, "lineup: %zu channels (%zu added, %zu removed since the last one)",
		       r->lineup.n, added, removed);
	return 0;
}

void rp_insert_sessions(struct reaper *r)
{
	char dir[SR_PATH_MAX + 1];
	size_t inserted = 0, kept = 0;
	for (size_t i = 0; i < r->nch; i++) {
		struct rp_chan *c = &r->ch[i];
		if (!c->in_lineup)
			continue;
		bool fits = st_chan_dir(dir, sizeof dir, r->outdir, c->id) == 0;
		int rc = sr_session_insert(r->reg, c->id, fits ? dir : NULL);
		if (rc == 0) {
			inserted++;
			rp_event(c->id_str, 0, SR_STATE_IDLE, SR_STATE_IDLE, "session inserted");
		} else if (rc == -EEXIST) {
			kept++;
		} else {
			st_log(LOG_ERR, "channel=%s cannot insert session: %s (%s)", c->id_str,
			       sr_strerror(rc), sr_errdetail());
		}
	}
	st_log(LOG_INFO, "sessions: %zu new, %zu already in the registry", inserted, kept);
}

int rp_attach(const struct rp_config *cfg, sr_registry **reg)
{
	int rc = sr_registry_attach(cfg->registry, 0, reg);
	if (rc == -ENOENT && cfg->create) {
		sr_create_options opt;
		sr_create_options_init(&opt);
		opt.capacity = cfg->capacity;
		opt.mode = cfg->mode;
		rc = sr_registry_create(cfg->registry, &opt, reg);
		if (rc == 0) {
			st_log(LOG_INFO, "registry %s created with capacity %u", cfg->registry,
			       cfg->capacity);
			return 0;
		}
		if (rc == -EEXIST) /* created by someone else meanwhile */
			rc = sr_registry_attach(cfg->registry, 0, reg);
	}
	if (rc) {
		const char *d = sr_errdetail();
		st_log(LOG_ERR, "registry %s: %s%s%s%s", cfg->registry, sr_strerror(rc),
		       d[0] ? " (" : "", d, d[0] ? ")" : "");
		if (rc == -ENOENT && !cfg->create)
			st_log(LOG_ERR, "use --create to create it");
	}
	return rc;
}

/* ---- doorbell thread ----------------------------------------------------- */

static void *bell_main(void *arg)
{
	struct reaper *r = arg;
	uint32_t seen = r->bell_seen;
	bool warned = false;
	while (!atomic_load(&r->bell_stop)) {
		int rc = sr_registry_wait(r->reg, &seen, 200);
		if (rc == 1) {
			atomic_store(&r->bell_ns, rp_now_ns());
			uint64_t one = 1;
			ssize_t w = write(r->evfd, &one, sizeof one);
			(void)w;
		} else if (rc < 0) {
			if (!warned)
				st_log(LOG_ERR, "doorbell wait failed: %s; relying on scans",
				       sr_strerror(rc));
			warned = true;
			struct timespec ts = {0, 100 * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* ---- scans -------------------------------------------------------------- */

struct briefs {
	sr_session_brief *b;
	size_t n, cap;
	bool oom;
};

static int collect(const sr_session_brief *b, void *ctx)
{
	struct briefs *v = ctx;
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 64;
		sr_session_brief *nb = realloc(v->b, ncap * sizeof *nb);
		if (!nb) {
			v->oom = true;
			return 1;
		}
		v->b = nb;
		v->cap = ncap;
	}
	v->b[v->n++] = *b;
	return 0;
}

static int get_briefs(struct reaper *r, struct briefs *v)
{
	v->n = 0;
	v->oom = false;
	int rc = sr_session_scan(r->reg, collect, v);
	if (v->oom)
		return -ENOMEM;
	return rc < 0 ? rc : 0;
}

static struct briefs scratch;

/* On the doorbell only starts matter, and they must be quick: every
 * transcoder of the burst is spawned first, the bookkeeping done after. */
static struct rp_spawned *burst;
static size_t burst_cap;

static void bell_scan(struct reaper *r)
{
	if (get_briefs(r, &scratch) != 0)
		return;
	if (burst_cap < scratch.n) {
		struct rp_spawned *nb = realloc(burst, scratch.n * sizeof *nb);
		if (nb) {
			burst = nb;
			burst_cap = scratch.n;
		}
	}
	size_t n = 0;
	for (size_t i = 0; i < scratch.n; i++) {
		const sr_session_brief *b = &scratch.b[i];
		if (b->state != SR_STATE_STARTING)
			continue;
		struct rp_chan *c = rp_find_chan(r, b->channel_id);
		if (!c || !c->in_lineup)
			rp_reject_unknown(r, b);
		else if (!c->has_child && n < burst_cap)
			n += rp_chan_spawn(r, c, true, true, &burst[n]);
		else if (!c->has_child)
			rp_chan_start(r, c, true); /* no room to defer: one at a time */
	}
	for (size_t i = 0; i < n; i++)
		rp_chan_spawned(r, &burst[i]);
}

static void drop_chan(struct reaper *r, size_t i)
{
	free(r->ch[i].input);
	memmove(&r->ch[i], &r->ch[i + 1], (r->nch - i - 1) * sizeof r->ch[0]);
	r->nch--;
}

static void full_scan(struct reaper *r)
{
	/* destroyed and maybe re-created under us: workers now use another
	 * table, so this one's requests will never come */
	if (sr_registry_replaced(r->reg) == 1) {
		r->replaced = true;
		return;
	}
	if (rp_owner_heartbeat(r->reg, r->cfg->registry) != 0) {
		r->term = true;
		r->lost_owner = true;
		return;
	}
	sr_recovery_report rep;
	int rc = sr_registry_recover(r->reg, &rep);
	if (rc < 0)
		st_log(LOG_WARNING, "recovery failed: %s (%s)", sr_strerror(rc), sr_errdetail());
	else if (rep.procs_reclaimed || rep.lock_repaired || rep.records_repaired)
		st_log(LOG_INFO,
		       "recovery: %u dead processes reclaimed, %llu client counts released, "
		       "lock repaired %u, records repaired %u",
		       rep.procs_reclaimed, (unsigned long long)rep.leases_released,
		       rep.lock_repaired, rep.records_repaired);
	rc = get_briefs(r, &scratch);
	if (rc) {
		st_log(LOG_WARNING, "scan failed: %s", sr_strerror(rc));
		return;
	}
	for (size_t i = 0; i < r->nch; i++)
		r->ch[i].seen = false;
	for (size_t i = 0; i < scratch.n; i++) {
		const sr_session_brief *b = &scratch.b[i];
		struct rp_chan *c = rp_find_chan(r, b->channel_id);
		if (!c) {
			if (b->state == SR_STATE_STARTING)
				rp_reject_unknown(r, b);
			continue;
		}
		c->seen = true;
		if (c->in_lineup)
			rp_chan_tick(r, c, b);
	}
	for (size_t i = 0; r->ch && i < r->nch;) {
		struct rp_chan *c = &r->ch[i];
		if (c->has_child) {
			if (c->phase == RP_PH_STOPPING)
				rp_chan_kill_overdue(r, c);
			else if (!c->in_lineup)
				rp_chan_begin_stop(r, c, RP_AFTER_FORGET,
				                   "channel left the lineup");
			else if (!c->seen)
				rp_chan_begin_stop(r, c, RP_AFTER_NOTHING, "session deleted");
		} else if (!c->in_lineup) {
			rc = sr_session_delete(r->reg, c->id);
			(void)rp_chan_dir_remove(r->outfd, c->id_str);
			if (rc == 0)
				rp_event(c->id_str, 0, SR_STATE_IDLE, SR_STATE_IDLE,
				         "channel left the lineup: session deleted");
			drop_chan(r, i);
			continue;
		}
		i++;
	}
}

static void reload(struct reaper *r)
{
	struct st_lineup fresh = {0};
	char err[512];
	int rc = st_lineup_load(r->cfg->lineup_path, r->cfg->lineup_flags, &fresh, err, sizeof err);
	if (rc) {
		st_log(LOG_ERR, "SIGHUP: lineup not reloaded, keeping the old one: %s", err);
		return;
	}
	if (rp_check_capacity(r->reg, r->cfg->registry, fresh.n, err, sizeof err) != 0) {
		st_lineup_free(&fresh);
		st_log(LOG_ERR, "SIGHUP: lineup not reloaded, keeping the old one: %s", err);
		return;
	}
	rc = rp_chans_sync(r, &fresh);
	if (rc) {
		st_lineup_free(&fresh);
		st_log(LOG_ERR, "SIGHUP: lineup not reloaded: %s", strerror(-rc));
		return;
	}
	rp_insert_sessions(r);
}

/* ---- the loop ------------------------------------------------------------- */

enum { FIXED_FDS = 3 };

static size_t children(const struct reaper *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nch; i++)
		n += r->ch[i].has_child;
	return n;
}

/* Poll once; returns false on a fatal poll error. */
static bool poll_once(struct reaper *r, int timeout_ms)
{
	size_t cap = FIXED_FDS + 2 * r->nch;
	struct pollfd *p = calloc(cap, sizeof *p);
	size_t *owner = calloc(cap, sizeof *owner);
	if (!p || !owner) {
		free(p);
		free(owner);
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
		return true;
	}
	p[0] = (struct pollfd){.fd = r->sigfd, .events = POLLIN};
	p[1] = (struct pollfd){.fd = r->evfd, .events = POLLIN};
	p[2] = (struct pollfd){.fd = r->tfd, .events = POLLIN};
	size_t n = FIXED_FDS;
	for (size_t i = 0; i < r->nch; i++) {
		struct rp_chan *c = &r->ch[i];
		if (!c->has_child)
			continue;
		if (c->child.errfd >= 0) {
			owner[n] = i;
			p[n++] = (struct pollfd){.fd = c->child.errfd, .events = POLLIN};
		}
		owner[n] = i;
		p[n++] = (struct pollfd){.fd = c->child.pidfd, .events = POLLIN};
	}
	int rc = poll(p, n, timeout_ms);
	if (rc < 0) {
		int e = errno;
		free(p);
		free(owner);
		if (e == EINTR)
			return true;
		st_log(LOG_ERR, "poll: %s", strerror(e));
		return false;
	}
	/* stderr first, so an exit is reported with the child's last words */
	for (size_t k = FIXED_FDS; k < n; k++) {
		struct rp_chan *c = &r->ch[owner[k]];
		if (p[k].fd == c->child.errfd && (p[k].revents & (POLLIN | POLLHUP | POLLERR)))
			rp_child_read_stderr(&c->child);
	}
	for (size_t k = FIXED_FDS; k < n; k++) {
		struct rp_chan *c = &r->ch[owner[k]];
		if (c->has_child && p[k].fd == c->child.pidfd && (p[k].revents & POLLIN))
			rp_chan_on_exit(r, c);
	}
	if (p[0].revents & POLLIN) {
		struct signalfd_siginfo si;
		while (read(r->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
				if (!r->term)
					st_log(LOG_INFO, "%s: stopping every transcoder",
					       strsignal((int)si.ssi_signo));
				r->term = true;
			} else if (si.ssi_signo == SIGHUP) {
				r->hup = true;
			}
			/* SIGCHLD needs nothing: every child has a pidfd */
		}
	}
	bool bell = false, tick = false;
	uint64_t v;
	if ((p[1].revents & POLLIN) && read(r->evfd, &v, sizeof v) == (ssize_t)sizeof v)
		bell = true;
	if ((p[2].revents & POLLIN) && read(r->tfd, &v, sizeof v) == (ssize_t)sizeof v)
		tick = true;
	free(p);
	free(owner);
	/* while stopping, no new start and no scan */
	if (!r->term && !r->quiesce) {
		if (bell)
			bell_scan(r);
		if (tick)
			full_scan(r);
		else
			for (size_t i = 0; i < r->nch; i++)
				rp_chan_poll_start(r, &r->ch[i]);
	}
	return true;
}

/* Stop every transcoder.  With handover (SIGTERM, SIGINT: a restart or an
 * upgrade as often as a stop), a channel that has viewers keeps its state
 * and its current run: the players go on being served its last playlist,
 * and the next reaper restarts it at once (reconcile, as after a SIGKILL);
 * the others go to idle and their directories are removed. */
static void shutdown_all(struct reaper *r, const char *why, bool handover)
{
	for (size_t i = 0; i < r->nch; i++) {
		struct rp_chan *c = &r->ch[i];
		if (!c->has_child)
			continue;
		sr_state st;
		uint32_t clients = 0;
		enum rp_after_stop after = RP_AFTER_NOTHING;
		if (handover && c->phase != RP_PH_STOPPING &&
		    sr_session_get_state(r->reg, c->id, &st) == 0 &&
		    (st == SR_STATE_STARTING || st == SR_STATE_ACTIVE) &&
		    sr_session_get_clients(r->reg, c->id, &clients) == 0 && clients > 0) {
			rp_event(c->id_str, c->child.pid, st, st,
			         "%s: %u viewers, left %s with its current run for the next reaper",
			         why, clients, sr_state_name(st));
			c->handed_over = true;
			rp_chan_begin_stop(r, c, RP_AFTER_NOTHING, why);
			continue;
		}
		if (sr_session_get_state(r->reg, c->id, &st) == 0 &&
		    (st == SR_STATE_STARTING || st == SR_STATE_ACTIVE) &&
		    sr_session_transition(r->reg, c->id, st, SR_STATE_STOPPING) == 0) {
			rp_event(c->id_str, c->child.pid, st, SR_STATE_STOPPING, "%s", why);
			after = RP_AFTER_IDLE;
		} else if (c->phase == RP_PH_STOPPING) {
			continue;
		}
		rp_chan_begin_stop(r, c, after, why);
	}
	r->quiesce = true;
	while (children(r)) {
		for (size_t i = 0; i < r->nch; i++)
			rp_chan_kill_overdue(r, &r->ch[i]);
		if (!poll_once(r, 50))
			break;
	}
	/* a failed channel's last good run was kept for its players and the
	 * next run; nothing continues it once the reaper is gone.  A channel
	 * handed over keeps its run: the next reaper continues it. */
	for (size_t i = 0; i < r->nch; i++)
		if (!r->ch[i].has_child && r->ch[i].served && !r->ch[i].handed_over)
			rp_chan_drop_runs(r, &r->ch[i], why);
	r->quiesce = false;
}

static int bell_start(struct reaper *r)
{
	/* read here, not in the thread: a request made from now on changes
	 * the value, so the thread's first wait returns at once */
	r->bell_seen = sr_registry_doorbell(r->reg);
	atomic_store(&r->bell_stop, false);
	int rc = pthread_create(&r->bell, NULL, bell_main, r);
	if (rc) {
		st_log(LOG_ERR, "cannot start the doorbell thread: %s", strerror(rc));
		return -1;
	}
	r->bell_running = true;
	return 0;
}

static void bell_join(struct reaper *r)
{
	if (!r->bell_running)
		return;
	atomic_store(&r->bell_stop, true);
	pthread_join(r->bell, NULL);
	r->bell_running = false;
}

static void log_watching(struct reaper *r, const char *again)
{
	st_log(LOG_INFO,
	       "watching registry %s%s, output %s, ffmpeg %s, %zu variants, grace %llu ms",
	       r->cfg->registry, again, r->outdir, r->cfg->ffmpeg, r->cfg->ladder.n,
	       (unsigned long long)r->cfg->idle_grace_ms);
}

/* The registry name now names another table (or none): stop everything
 * started for the old one and serve the new one, created if --create. */
static int reattach(struct reaper *r)
{
	st_log(LOG_WARNING,
	       "registry %s was destroyed or replaced: stopping every transcoder "
	       "and attaching again",
	       r->cfg->registry);
	shutdown_all(r, "registry replaced", false);
	bell_join(r);
	sr_registry_close(r->reg);
	r->reg = NULL;
	if (rp_attach(r->cfg, &r->reg) != 0 ||
	    rp_claim_owner(r->reg, r->cfg->registry, r->outdir) != 0)
		return -1;
	r->replaced = false;
	for (size_t i = 0; i < r->nch; i++) {
		r->ch[i].fails = 0;
		r->ch[i].gave_up = false;
	}
	rp_insert_sessions(r);
	rp_reconcile(r);
	if (bell_start(r) != 0)
		return -1;
	full_scan(r);
	log_watching(r, " again");
	return 0;
}

int rp_run(struct reaper *r)
{
	if (bell_start(r) != 0)
		return 1;
	uint64_t iv = r->cfg->scan_interval_ms * MS;
	struct timespec period = {(time_t)(iv / 1000000000ull), (long)(iv % 1000000000ull)};
	struct itimerspec its = {.it_interval = period, .it_value = period};
	if (timerfd_settime(r->tfd, 0, &its, NULL) < 0) {
		st_log(LOG_ERR, "timerfd_settime: %s", strerror(errno));
		bell_join(r);
		return 1;
	}
	/* requests made before the doorbell was read */
	full_scan(r);
	log_watching(r, "");
	(void)st_notify("READY=1\nSTATUS=serving");
	int status = 0;
	while (!r->term) {
		/* a starting run is looked at every few ms rather than every
		 * scan: its first segment is the player's first playlist */
		bool starting = false;
		for (size_t i = 0; i < r->nch && !starting; i++)
			starting = r->ch[i].has_child && r->ch[i].phase == RP_PH_STARTING;
		if (!poll_once(r, starting ? START_POLL_MS : -1)) {
			status = 1;
			break;
		}
		if (r->hup && !r->term) {
			r->hup = false;
			(void)st_notify("RELOADING=1");
			reload(r);
			(void)st_notify("READY=1");
			full_scan(r);
		}
		if (r->replaced && !r->term && reattach(r) != 0) {
			status = 1;
			break;
		}
	}
	(void)st_notify("STOPPING=1");
	shutdown_all(r, "reaper shutdown", true);
	bell_join(r);
	if (r->lost_owner)
		status = 1;
	free(scratch.b);
	memset(&scratch, 0, sizeof scratch);
	free(burst);
	burst = NULL;
	burst_cap = 0;
	st_log(LOG_INFO, "exiting");
	return status;
}
