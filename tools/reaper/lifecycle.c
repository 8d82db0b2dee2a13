/*
 * One channel's transcoder lifecycle: start on request, active once the
 * playlists exist, failure and backoff, idle stop.  Every state change is a
 * compare-and-swap from the state last seen, so a worker acting at the same
 * moment either wins cleanly or makes this step a no-op until the next scan.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ffmpeg_argv.h"
#include "paths.h"
#include "reaper.h"
#include "runs.h"
#include "st_chandir.h"
#include "st_log.h"

#define MS 1000000ull

/*
 * The session calls of one decision go through the channel's reference
 * (c->ref, from the scan's brief): an O(1) check of slot and generation
 * instead of a hash lookup per call.  A channel not scanned yet resolves it
 * here; a session replaced since (deleted, inserted again) gives
 * -SR_ESTALE, and the call is retried once with a fresh resolve.
 */
static int chan_ref(struct reaper *r, struct rp_chan *c, bool fresh)
{
	if (!fresh && (c->ref.slot || c->ref.generation))
		return 0;
	return sr_session_resolve(r->reg, c->id, &c->ref);
}

static int chan_transition(struct reaper *r, struct rp_chan *c, sr_state from, sr_state to)
{
	int rc = chan_ref(r, c, false);
	if (rc == 0)
		rc = sr_ref_transition(r->reg, c->ref, from, to, NULL);
	if (rc == -SR_ESTALE && (rc = chan_ref(r, c, true)) == 0)
		rc = sr_ref_transition(r->reg, c->ref, from, to, NULL);
	return rc;
}

static int chan_set_state(struct reaper *r, struct rp_chan *c, sr_state to, sr_state *prev)
{
	int rc = chan_ref(r, c, false);
	if (rc == 0)
		rc = sr_ref_set_state(r->reg, c->ref, to, prev);
	if (rc == -SR_ESTALE && (rc = chan_ref(r, c, true)) == 0)
		rc = sr_ref_set_state(r->reg, c->ref, to, prev);
	return rc;
}

static int chan_get_state(struct reaper *r, struct rp_chan *c, sr_state *st)
{
	int rc = chan_ref(r, c, false);
	if (rc == 0)
		rc = sr_ref_get_state(r->reg, c->ref, st);
	if (rc == -SR_ESTALE && (rc = chan_ref(r, c, true)) == 0)
		rc = sr_ref_get_state(r->reg, c->ref, st);
	return rc;
}

static int chan_touch(struct reaper *r, struct rp_chan *c)
{
	int rc = chan_ref(r, c, false);
	if (rc == 0)
		rc = sr_ref_touch(r->reg, c->ref);
	if (rc == -SR_ESTALE && (rc = chan_ref(r, c, true)) == 0)
		rc = sr_ref_touch(r->reg, c->ref);
	return rc;
}

static void set_error(struct reaper *r, struct rp_chan *c, const char *msg)
{
	char cut[SR_ERROR_MAX + 1];
	snprintf(cut, sizeof cut, "%s", msg);
	int rc = sr_session_record_error(r->reg, c->id, cut);
	if (rc)
		st_log(LOG_WARNING, "channel=%s cannot record error: %s", c->id_str,
		       sr_strerror(rc));
}

static void close_run(struct rp_chan *c)
{
	if (c->chfd >= 0) {
		close(c->chfd);
		c->chfd = -1;
	}
}

/* The whole channel directory, every run and the current pointer: the
 * channel stopped (idle, left the lineup). */
static void remove_dir(struct reaper *r, struct rp_chan *c)
{
	close_run(c);
	c->published = false;
	c->served = 0;
	c->sweep_ns = 0;
	int rc = rp_chan_dir_remove(r->outfd, c->id_str);
	if (rc)
		st_log(LOG_WARNING, "channel=%s cannot remove %s/%s: %s", c->id_str, r->outdir,
		       c->id_str, strerror(-rc));
}

/* The transcoder's run ended.  If it is the current run, it stays: players
 * keep its playlist until the next run has a first segment (docs/server.md,
 * Restarts).  If players were never served from it, it goes at once, with
 * the whole channel directory when no earlier run is served either. */
static void end_run(struct reaper *r, struct rp_chan *c)
{
	close_run(c);
	if (c->published)
		return;
	if (!c->served) {
		remove_dir(r, c);
		st_log(LOG_INFO, "channel=%s directory removed", c->id_str);
		return;
	}
	if (!c->run.id)
		return;
	char name[ST_RUN_NAME_MAX + 1];
	st_run_name(c->run.id, name);
	int rc = rp_run_remove(r->outfd, c->id_str, c->run.id);
	if (rc)
		st_log(LOG_WARNING, "channel=%s cannot remove run %s: %s", c->id_str, name,
		       strerror(-rc));
	else
		st_log(LOG_INFO, "channel=%s run %s removed: it never had a first segment",
		       c->id_str, name);
	c->run.id = 0;
}

void rp_chan_drop_runs(struct reaper *r, struct rp_chan *c, const char *why)
{
	remove_dir(r, c);
	st_log(LOG_INFO, "channel=%s directory removed (%s)", c->id_str, why);
}

uint64_t rp_retention_ms(const struct rp_config *cfg)
{
	/* a previous run's segments fill the joined playlist until the new
	 * run has a window of its own, and RFC 8216 §6.2.2 wants a segment
	 * kept for its duration plus the playlist's after it leaves */
	return (2ull * cfg->hls_list_size + 2) * cfg->hls_time * 1000ull;
}

void rp_chan_sweep_runs(struct reaper *r, struct rp_chan *c, bool now)
{
	if (!c->sweep_ns || (!now && rp_now_ns() < c->sweep_ns))
		return;
	c->sweep_ns = 0;
	int n = rp_runs_sweep(r->outfd, c->id_str, c->served, c->has_child ? c->run.id : 0);
	if (n > 0)
		st_log(LOG_INFO, "channel=%s %d earlier run(s) removed", c->id_str, n);
	else if (n < 0)
		st_log(LOG_WARNING, "channel=%s cannot sweep runs: %s", c->id_str, strerror(-n));
}

static uint64_t backoff_ms(const struct rp_config *cfg, unsigned fails)
{
	uint64_t d = cfg->backoff_min_ms;
	for (unsigned i = 1; i < fails && d < cfg->backoff_max_ms; i++)
		d *= 2;
	return d < cfg->backoff_max_ms ? d : cfg->backoff_max_ms;
}

static void reset_failures(struct reaper *r, struct rp_chan *c)
{
	if (c->fails || c->gave_up)
		(void)sr_session_set_restarts(r->reg, c->id, 0);
	c->fails = 0;
	c->gave_up = false;
	c->deferred_logged = false;
}

/* A failure counts towards --max-restarts and schedules the next attempt. */
static void count_failure(struct reaper *r, struct rp_chan *c)
{
	c->fails++;
	c->deferred_logged = false;
	(void)sr_session_set_restarts(r->reg, c->id, c->fails);
	if (c->fails > r->cfg->max_restarts) {
		c->gave_up = true;
		rp_event(c->id_str, 0, SR_STATE_FAILED, SR_STATE_FAILED,
		         "%u consecutive failures: no more automatic restarts until a client "
		         "asks again",
		         c->fails);
		return;
	}
	uint64_t d = backoff_ms(r->cfg, c->fails);
	c->next_start_ns = rp_now_ns() + d * MS;
	/* failure N is followed by restart N: one count in both lines */
	rp_event(c->id_str, 0, SR_STATE_FAILED, SR_STATE_FAILED,
	         "failure %u: restart %u of %u in %llu ms if clients remain", c->fails, c->fails,
	         r->cfg->max_restarts, (unsigned long long)d);
}

static void start_failed(struct reaper *r, struct rp_chan *c, const char *msg)
{
	set_error(r, c, msg);
	int rc = chan_transition(r, c, SR_STATE_STARTING, SR_STATE_FAILED);
	rp_event(c->id_str, 0, SR_STATE_STARTING, SR_STATE_FAILED, "%s%s%s", msg,
	         rc ? "; transition refused: " : "", rc ? sr_strerror(rc) : "");
	end_run(r, c);
	count_failure(r, c);
}

/* Paths relative to the channel directory, of the run being served. */
static void store_session_layout(struct reaper *r, struct rp_chan *c)
{
	char dir[SR_PATH_MAX + 1], run[ST_RUN_NAME_MAX + 1], pat[SR_PATH_MAX + 1];
	const struct rp_ladder *lad = &r->cfg->ladder;
	sr_quality q[SR_MAX_QUALITIES];
	st_run_name(c->run.id, run);
	for (size_t i = 0; i < lad->n; i++) {
		q[i] = lad->q[i];
		snprintf(q[i].playlist_path, sizeof q[i].playlist_path, "%s/%.*s/index.m3u8", run,
		         (int)SR_LEVEL_MAX, lad->q[i].level);
		snprintf(q[i].segment_path, sizeof q[i].segment_path, "%s/%.*s/%s-%%05d.ts", run,
		         (int)SR_LEVEL_MAX, lad->q[i].level, run);
	}
	int rc = sr_session_set_qualities(r->reg, c->id, q, lad->n);
	if (rc)
		st_log(LOG_WARNING, "channel=%s cannot store qualities: %s (%s)", c->id_str,
		       sr_strerror(rc), sr_errdetail());
	bool fits = st_chan_dir(dir, sizeof dir, r->outdir, c->id) == 0;
	snprintf(pat, sizeof pat, "%s/%%v/%s-%%05d.ts", run, run);
	/* the segment pattern is relative to the output directory, like the
	 * per-variant paths */
	rc = sr_session_set_paths(r->reg, c->id, fits ? dir : NULL, pat);
	if (rc)
		st_log(LOG_WARNING, "channel=%s cannot store paths: %s", c->id_str,
		       sr_strerror(rc));
}

bool rp_chan_spawn(struct reaper *r, struct rp_chan *c, bool from_bell, bool async,
                   struct rp_spawned *sp)
{
	char err[512];
	uint64_t now = rp_now_ns();
	sp->c = NULL;
	if (c->has_child || !c->in_lineup)
		return false;
	if (c->gave_up) {
		rp_event(c->id_str, 0, SR_STATE_STARTING, SR_STATE_STARTING,
		         "a client asked again after %u failures: failure count reset", c->fails);
		reset_failures(r, c);
	} else if (c->fails && now < c->next_start_ns) {
		if (!c->deferred_logged)
			rp_event(c->id_str, 0, SR_STATE_STARTING, SR_STATE_STARTING,
			         "start deferred by backoff for %llu ms",
			         (unsigned long long)((c->next_start_ns - now) / MS));
		c->deferred_logged = true;
		return false;
	}
	c->deferred_logged = false;
	c->published = false;
	c->run.id = 0;
	int chfd = rp_run_create(r->outfd, c->id_str, &r->cfg->ladder, r->cfg->hls_time,
	                         r->cfg->hls_list_size, &c->run);
	if (chfd < 0) {
		st_fmt(err, sizeof err, "cannot create a run in %s/%s: %s", r->outdir, c->id_str,
		       strerror(-chfd));
		start_failed(r, c, err);
		return false;
	}
	c->chfd = chfd;
	struct rp_encode enc = {
	    .ffmpeg = r->cfg->ffmpeg,
	    .hls_time = r->cfg->hls_time,
	    .list_size = r->cfg->hls_list_size,
	    .fps = r->cfg->fps,
	    .audio_kbps = r->cfg->audio_kbps,
	    .run_id = c->run.id,
	    .start = c->run.start,
	};
	struct rp_argv av;
	int rc = rp_ffmpeg_argv(&enc, c->input, &r->cfg->ladder, &av, err, sizeof err);
	if (rc) {
		start_failed(r, c, err);
		return false;
	}
	uint64_t prepared = rp_now_ns();
	char serr[256];
	rc = async ? rp_spawn_start(&c->child, av.argv, chfd, serr, sizeof serr)
	           : rp_spawn(&c->child, av.argv, chfd, serr, sizeof serr);
	uint64_t spawned = rp_now_ns();
	if (rc) {
		rp_argv_free(&av);
		st_fmt(err, sizeof err, "cannot start ffmpeg: %s", serr);
		start_failed(r, c, err);
		return false;
	}
	c->has_child = true;
	c->phase = RP_PH_STARTING;
	c->spawn_ns = spawned;
	c->kill_sent = false;
	*sp = (struct rp_spawned){.c = c,
	                          .av = av,
	                          .from_bell = from_bell,
	                          .began = now,
	                          .prepared = prepared,
	                          .spawned = spawned};
	return true;
}

void rp_chan_spawned(struct reaper *r, struct rp_spawned *sp)
{
	struct rp_chan *c = sp->c;
	if (!c)
		return;
	if (sp->pending) {
		char serr[256], err[512];
		uint64_t exec_ns = 0;
		int rc = rp_spawn_finish(&c->child, sp->av.argv, &exec_ns, serr, sizeof serr);
		if (rc) {
			c->has_child = false;
			c->phase = RP_PH_NONE;
			rp_argv_free(&sp->av);
			sp->c = NULL;
			st_fmt(err, sizeof err, "cannot start ffmpeg: %s", serr);
			start_failed(r, c, err);
			return;
		}
		/* the instant the child called execve, not when we got to it */
		sp->spawned = exec_ns;
		c->spawn_ns = exec_ns;
	}
	if (!c->served)
		store_session_layout(r, c);
	/* the start counts as an access: the grace period runs from here,
	 * not from whenever the channel was last watched before */
	(void)chan_touch(r, c);
	int rc = sr_session_set_pid(r->reg, c->id, c->child.pid, sr_pid_start_time(c->child.pid));
	if (rc)
		st_log(LOG_WARNING, "channel=%s cannot store pid: %s", c->id_str, sr_strerror(rc));
	/* the doorbell-to-exec latency exists only for a start the doorbell
	 * caused; a restart after backoff or a scan has none */
	uint64_t bell = atomic_load(&r->bell_ns);
	char latency[48] = "";
	if (sp->from_bell && bell && sp->spawned >= bell)
		st_fmt(latency, sizeof latency, " latency_us=%llu",
		       (unsigned long long)((sp->spawned - bell) / 1000u));
	rp_event(c->id_str, c->child.pid, SR_STATE_STARTING, SR_STATE_STARTING,
	         "ffmpeg spawned%s%s (prepare %llu, fork+exec %llu) mono_us=%llu "
	         "run=%llu start=%llu discontinuity=%llu",
	         sp->from_bell ? " on doorbell" : "", latency,
	         (unsigned long long)((sp->prepared - sp->began) / 1000u),
	         (unsigned long long)((sp->spawned - sp->prepared) / 1000u),
	         (unsigned long long)(sp->spawned / 1000u), (unsigned long long)c->run.id,
	         (unsigned long long)c->run.start, (unsigned long long)c->run.disc);
	char *line = rp_argv_join(&sp->av);
	if (line)
		st_log(LOG_DEBUG, "channel=%s pid=%d argv: %s", c->id_str, (int)c->child.pid, line);
	free(line);
	rp_argv_free(&sp->av);
	sp->c = NULL;
}

void rp_chan_start(struct reaper *r, struct rp_chan *c, bool from_bell)
{
	struct rp_spawned sp;
	if (rp_chan_spawn(r, c, from_bell, false, &sp))
		rp_chan_spawned(r, &sp);
}

void rp_chan_begin_stop(struct reaper *r, struct rp_chan *c, enum rp_after_stop after,
                        const char *reason)
{
	if (!c->has_child || c->phase == RP_PH_STOPPING)
		return;
	c->phase = RP_PH_STOPPING;
	c->after = after;
	c->kill_sent = false;
	c->stop_deadline_ns = rp_now_ns() + r->cfg->stop_timeout_ms * MS;
	int rc = rp_child_signal(&c->child, SIGTERM);
	st_log(LOG_INFO, "channel=%s pid=%d SIGTERM to process group (%s)%s%s", c->id_str,
	       (int)c->child.pid, reason, rc ? ": " : "", rc ? strerror(-rc) : "");
}

void rp_chan_kill_overdue(struct reaper *r, struct rp_chan *c)
{
	(void)r;
	if (!c->has_child || c->phase != RP_PH_STOPPING || c->kill_sent ||
	    rp_now_ns() < c->stop_deadline_ns)
		return;
	c->kill_sent = true;
	int rc = rp_child_signal(&c->child, SIGKILL);
	st_log(LOG_WARNING, "channel=%s pid=%d still alive %llu ms after SIGTERM: SIGKILL%s%s",
	       c->id_str, (int)c->child.pid, (unsigned long long)r->cfg->stop_timeout_ms,
	       rc ? ": " : "", rc ? strerror(-rc) : "");
}

/* stopping -> idle, once nothing runs any more */
static void finish_idle(struct reaper *r, struct rp_chan *c, const char *why)
{
	remove_dir(r, c);
	(void)sr_session_set_pid(r->reg, c->id, 0, 0);
	int rc = chan_transition(r, c, SR_STATE_STOPPING, SR_STATE_IDLE);
	rp_event(c->id_str, 0, SR_STATE_STOPPING, SR_STATE_IDLE, "%s%s%s", why,
	         rc ? "; transition refused: " : "", rc ? sr_strerror(rc) : "");
	reset_failures(r, c);
}

void rp_chan_on_exit(struct reaper *r, struct rp_chan *c)
{
	char how[128], msg[SR_ERROR_MAX + 1];
	int rc = rp_child_reap(&c->child, false);
	if (rc == 0)
		return;
	if (rc < 0) {
		st_log(LOG_ERR, "channel=%s pid=%d cannot reap: %s", c->id_str, (int)c->child.pid,
		       strerror(-rc));
		rp_child_close(&c->child);
		snprintf(how, sizeof how, "lost (%s)", strerror(-rc));
	} else {
		rp_child_describe_exit(&c->child, how, sizeof how);
	}
	pid_t pid = c->child.pid;
	enum rp_phase phase = c->phase;
	c->has_child = false;
	c->phase = RP_PH_NONE;
	if (phase == RP_PH_STOPPING) {
		/* logged before the session changes, so a reader of the log
		 * never sees the next state before the exit that caused it */
		st_log(LOG_INFO, "channel=%s pid=%d reaped: %s", c->id_str, (int)pid, how);
		if (c->after == RP_AFTER_IDLE) {
			finish_idle(r, c, "transcoder stopped and directory removed");
		} else if (c->after == RP_AFTER_FORGET) {
			remove_dir(r, c);
			sr_state st = SR_STATE_COUNT;
			(void)chan_get_state(r, c, &st);
			rc = sr_session_delete(r->reg, c->id);
			rp_event(c->id_str, (int)pid, st, st,
			         "channel left the lineup: session deleted%s%s", rc ? ": " : "",
			         rc ? sr_strerror(rc) : "");
		} else {
			/* failed (start timeout, stall) or changed by someone
			 * else: the last good run stays for the next one */
			end_run(r, c);
			(void)sr_session_set_pid(r->reg, c->id, 0, 0);
			if (c->served)
				st_log(LOG_INFO,
				       "channel=%s run %llu served until the next one is ready",
				       c->id_str, (unsigned long long)c->served);
		}
		return;
	}
	end_run(r, c);
	(void)sr_session_set_pid(r->reg, c->id, 0, 0);
	if (c->child.last_line[0])
		st_fmt(msg, sizeof msg, "ffmpeg %s: %s", how, c->child.last_line);
	else
		snprintf(msg, sizeof msg, "ffmpeg %s", how);
	set_error(r, c, msg);
	sr_state prev = SR_STATE_COUNT;
	rc = chan_set_state(r, c, SR_STATE_FAILED, &prev);
	rp_event(c->id_str, (int)pid, prev, SR_STATE_FAILED, "unexpected exit: %s%s%s", msg,
	         rc ? "; transition refused: " : "", rc ? sr_strerror(rc) : "");
	count_failure(r, c);
}

void rp_reject_unknown(struct reaper *r, const sr_session_brief *b)
{
	char id[SR_UUID_STR_LEN + 1];
	sr_uuid_format(b->channel_id, id);
	(void)sr_session_record_error(r->reg, b->channel_id, "channel is not in the lineup");
	sr_session_ref ref = {b->slot, b->generation};
	int rc = sr_ref_transition(r->reg, ref, SR_STATE_STARTING, SR_STATE_FAILED, NULL);
	if (rc == 0)
		rp_event(id, 0, SR_STATE_STARTING, SR_STATE_FAILED, "channel is not in the lineup");
}

/* A live transcoder judged failed (no output in time, output stopped):
 * record why, move the session from `from` to failed, stop the process and
 * count the failure toward the backoff. */
static void fail_running(struct reaper *r, struct rp_chan *c, sr_state from, const char *msg,
                         const char *reason)
{
	set_error(r, c, msg);
	int rc = chan_transition(r, c, from, SR_STATE_FAILED);
	rp_event(c->id_str, c->child.pid, from, SR_STATE_FAILED, "%s%s%s", msg,
	         rc ? "; transition refused: " : "", rc ? sr_strerror(rc) : "");
	rp_chan_begin_stop(r, c, RP_AFTER_NOTHING, reason);
	count_failure(r, c);
}

/* The switch: players get the run's playlists from now on.  0, or the
 * error of writing the current file. */
static int publish(struct reaper *r, struct rp_chan *c, uint64_t now)
{
	int rc = rp_run_publish(r->outfd, c->id_str, &c->run);
	if (rc)
		return rc;
	c->published = true;
	bool replaced = c->served != 0;
	c->served = c->run.id;
	store_session_layout(r, c);
	if (replaced)
		c->sweep_ns = now + rp_retention_ms(r->cfg) * MS;
	return 0;
}

static void check_started(struct reaper *r, struct rp_chan *c)
{
	uint64_t now = rp_now_ns();
	int ready = rp_chan_ready(c->chfd, &r->cfg->ladder);
	if (ready == 1 && !c->published) {
		int rc = publish(r, c, now);
		if (rc) {
			char msg[SR_ERROR_MAX + 1];
			st_fmt(msg, sizeof msg, "cannot publish run %llu: %s",
			       (unsigned long long)c->run.id, strerror(-rc));
			set_error(r, c, msg);
			rc = chan_transition(r, c, SR_STATE_STARTING, SR_STATE_FAILED);
			rp_event(c->id_str, c->child.pid, SR_STATE_STARTING, SR_STATE_FAILED,
			         "%s%s%s", msg, rc ? "; transition refused: " : "",
			         rc ? sr_strerror(rc) : "");
			rp_chan_begin_stop(r, c, RP_AFTER_NOTHING, "cannot publish");
			count_failure(r, c);
			return;
		}
	}
	if (ready == 1) {
		int rc = chan_transition(r, c, SR_STATE_STARTING, SR_STATE_ACTIVE);
		if (rc == 0) {
			c->phase = RP_PH_ACTIVE;
			c->active_ns = now;
			rp_event(c->id_str, c->child.pid, SR_STATE_STARTING, SR_STATE_ACTIVE,
			         "master playlist and first segments ready after %llu ms, run "
			         "%llu served from sequence %llu",
			         (unsigned long long)((now - c->spawn_ns) / MS),
			         (unsigned long long)c->run.id, (unsigned long long)c->run.start);
		}
		return;
	}
	if (now - c->spawn_ns < r->cfg->start_timeout_ms * MS)
		return;
	char msg[SR_ERROR_MAX + 1];
	st_fmt(msg, sizeof msg, "start timeout: no playlists after %llu ms%s%s",
	       (unsigned long long)r->cfg->start_timeout_ms, c->child.last_line[0] ? "; " : "",
	       c->child.last_line);
	/* Counted before the move to failed, so a scrape that sees failed
	 * already sees the timeout too. */
	(void)sr_session_count_start_timeout(r->reg, c->id);
	fail_running(r, c, SR_STATE_STARTING, msg, "start timeout");
}

void rp_chan_poll_start(struct reaper *r, struct rp_chan *c)
{
	sr_state st;
	if (c->has_child && c->phase == RP_PH_STARTING && chan_get_state(r, c, &st) == 0 &&
	    st == SR_STATE_STARTING)
		check_started(r, c);
}

/* A transcoder can hang with viewers watching (input stalled, encoder
 * wedged): it stays alive, the playlists stop changing, and players spin.
 * Treat that like a crash: failed, stopped, restarted after backoff. */
static void check_stalled(struct reaper *r, struct rp_chan *c)
{
	uint64_t age = 0;
	if (!r->cfg->stall_ms || rp_chan_output_age(c->chfd, &r->cfg->ladder, &age) != 0 ||
	    age <= r->cfg->stall_ms)
		return;
	char msg[SR_ERROR_MAX + 1];
	st_fmt(msg, sizeof msg, "stalled: playlists unchanged for %llu ms%s%s",
	       (unsigned long long)age, c->child.last_line[0] ? "; " : "", c->child.last_line);
	fail_running(r, c, SR_STATE_ACTIVE, msg, "stalled");
}

void rp_chan_tick(struct reaper *r, struct rp_chan *c, const sr_session_brief *b)
{
	uint64_t now = rp_now_ns();
	sr_state st = b->state;
	c->ref = (sr_session_ref){b->slot, b->generation};

	rp_chan_sweep_runs(r, c, false);
	if (c->has_child) {
		if (c->phase == RP_PH_STOPPING) {
			rp_chan_kill_overdue(r, c);
			return;
		}
		if (st == SR_STATE_STARTING && c->phase == RP_PH_STARTING) {
			check_started(r, c);
			if (c->phase == RP_PH_STOPPING)
				return;
		} else if (st == SR_STATE_ACTIVE && c->phase == RP_PH_ACTIVE) {
			if (c->fails && now - c->active_ns >= r->cfg->healthy_ms * MS) {
				st_log(LOG_INFO,
				       "channel=%s pid=%d healthy for %llu ms: failure "
				       "count reset",
				       c->id_str, (int)c->child.pid,
				       (unsigned long long)r->cfg->healthy_ms);
				reset_failures(r, c);
			}
			/* declared active by another process before its first
			 * segment: switch players to it once it has one */
			if (!c->published && rp_chan_ready(c->chfd, &r->cfg->ladder) == 1 &&
			    publish(r, c, now) != 0)
				st_log(LOG_WARNING, "channel=%s cannot publish run %llu", c->id_str,
				       (unsigned long long)c->run.id);
			check_stalled(r, c);
			if (c->phase == RP_PH_STOPPING)
				return;
		} else if (st == SR_STATE_ACTIVE && c->phase == RP_PH_STARTING) {
			/* declared active by someone else before the playlists
			 * appeared: keep the transcoder, it is what they want */
			c->phase = RP_PH_ACTIVE;
			c->active_ns = now;
			st_log(LOG_WARNING, "channel=%s pid=%d moved to active by another process",
			       c->id_str, (int)c->child.pid);
		} else {
			char why[96];
			snprintf(why, sizeof why, "state changed to %s by another process",
			         sr_state_name(st));
			rp_chan_begin_stop(
			    r, c, st == SR_STATE_STOPPING ? RP_AFTER_IDLE : RP_AFTER_NOTHING, why);
			return;
		}
	} else if (st == SR_STATE_STARTING) {
		rp_chan_start(r, c, false);
		return;
	} else if (st == SR_STATE_ACTIVE) {
		/* active with no transcoder of ours (set by hand, or left by
		 * a reconcile that could not finish): nothing serves it */
		const char *msg = "active without a transcoder";
		set_error(r, c, msg);
		if (chan_transition(r, c, SR_STATE_ACTIVE, SR_STATE_FAILED) == 0) {
			rp_event(c->id_str, 0, SR_STATE_ACTIVE, SR_STATE_FAILED, "%s", msg);
			count_failure(r, c);
		}
		return;
	}

	if (st == SR_STATE_STARTING || st == SR_STATE_ACTIVE || st == SR_STATE_FAILED) {
		int clean = sr_session_should_cleanup(r->reg, c->id, r->cfg->idle_grace_ms);
		if (clean == 1) {
			int rc = chan_transition(r, c, st, SR_STATE_STOPPING);
			if (rc)
				return; /* a worker moved it meanwhile: look again next scan */
			rp_event(c->id_str, c->has_child ? c->child.pid : 0, st, SR_STATE_STOPPING,
			         "no clients, idle %llu ms > grace %llu ms",
			         (unsigned long long)b->idle_ms,
			         (unsigned long long)r->cfg->idle_grace_ms);
			if (c->has_child)
				rp_chan_begin_stop(r, c, RP_AFTER_IDLE, "idle");
			else
				finish_idle(r, c, "nothing to stop");
			return;
		}
	}
	if (st == SR_STATE_STOPPING && !c->has_child) {
		finish_idle(r, c, "stop left unfinished");
		return;
	}
	if (st == SR_STATE_FAILED && !c->has_child && c->fails && !c->gave_up &&
	    now >= c->next_start_ns && b->clients > 0) {
		int rc = chan_transition(r, c, SR_STATE_FAILED, SR_STATE_STARTING);
		if (rc)
			return;
		rp_event(c->id_str, 0, SR_STATE_FAILED, SR_STATE_STARTING,
		         "restart %u of %u after backoff, %u clients waiting", c->fails,
		         r->cfg->max_restarts, b->clients);
		rp_chan_start(r, c, false);
	}
}
