/*
 * Reconciling the table when the reaper starts: whatever the previous reaper
 * was running is gone (its transcoders died with it through
 * PR_SET_PDEATHSIG), so sessions that still name a transcoder are restarted
 * if viewers wait for them and put back to idle otherwise.  The channel
 * directories of those restarting keep their current run (players are
 * served it until the new run is ready); every other one is removed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "paths.h"
#include "reaper.h"
#include "runs.h"
#include "st_log.h"

struct infos {
	sr_session_info *v;
	size_t n, cap;
	bool oom;
};

static int collect(const sr_session_info *info, void *ctx)
{
	struct infos *s = ctx;
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		sr_session_info *nv = realloc(s->v, ncap * sizeof *nv);
		if (!nv) {
			s->oom = true;
			return 1;
		}
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = *info;
	return 0;
}

/* A recorded transcoder still alive was not started by this process: the
 * previous reaper died in a way PR_SET_PDEATHSIG did not cover.  Kill it,
 * through a pidfd taken after the start time matched, so a reused pid is
 * never hit. */
/* A transcoder killed with its reaper may stay a zombie until init reaps
 * it; that one needs no signal. */
static bool is_zombie(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *fp = fopen(path, "re");
	if (!fp)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static void kill_orphan(const char *id, pid_t pid, uint64_t start)
{
	if (is_zombie(pid))
		return;
	int fd = pidfd_open(pid, 0);
	if (fd < 0)
		return;
	if (sr_pid_start_time(pid) == start) {
		int rc = pidfd_send_signal(fd, SIGKILL, NULL, 0);
		st_log(LOG_WARNING, "channel=%s pid=%d orphaned transcoder killed%s%s", id,
		       (int)pid, rc ? ": " : "", rc ? strerror(errno) : "");
	}
	close(fd);
}

static void to_idle(struct reaper *r, const sr_session_info *s, const char *id, const char *why)
{
	sr_state st = s->state;
	if (st == SR_STATE_STARTING || st == SR_STATE_ACTIVE) {
		if (sr_session_transition(r->reg, s->channel_id, st, SR_STATE_STOPPING) != 0)
			return;
		rp_event(id, (int)s->pid, st, SR_STATE_STOPPING, "%s", why);
		st = SR_STATE_STOPPING;
	}
	if (sr_session_transition(r->reg, s->channel_id, st, SR_STATE_IDLE) == 0)
		rp_event(id, (int)s->pid, st, SR_STATE_IDLE, "%s", why);
}

static void reconcile_one(struct reaper *r, const sr_session_info *s)
{
	char id[SR_UUID_STR_LEN + 1];
	char why[160];
	sr_uuid_format(s->channel_id, id);
	struct rp_chan *c = rp_find_chan(r, s->channel_id);
	bool ours = c && c->in_lineup;
	if (s->pid > 0 && s->pid_start && sr_pid_start_time(s->pid) == s->pid_start)
		kill_orphan(id, s->pid, s->pid_start);
	if (s->pid)
		(void)sr_session_set_pid(r->reg, s->channel_id, 0, 0);

	bool lost = s->state == SR_STATE_ACTIVE || (s->state == SR_STATE_STARTING && s->pid);
	if (s->state == SR_STATE_STOPPING) {
		to_idle(r, s, id, "stop interrupted by a reaper restart");
		return;
	}
	if (!lost)
		return; /* idle, failed, or a start request not served yet */
	if (s->clients > 0 && ours) {
		snprintf(why, sizeof why,
		         "transcoder pid %d gone after a reaper restart; %u "
		         "clients: restarting",
		         (int)s->pid, s->clients);
		if (s->state == SR_STATE_ACTIVE) {
			/* active -> starting is not a transition: go through failed */
			if (sr_session_transition(r->reg, s->channel_id, SR_STATE_ACTIVE,
			                          SR_STATE_FAILED) != 0)
				return;
			if (sr_session_transition(r->reg, s->channel_id, SR_STATE_FAILED,
			                          SR_STATE_STARTING) != 0)
				return;
		}
		rp_event(id, (int)s->pid, s->state, SR_STATE_STARTING, "%s", why);
		return;
	}
	snprintf(why, sizeof why, "transcoder pid %d gone after a reaper restart; %s", (int)s->pid,
	         ours ? "no clients" : "not in the lineup");
	to_idle(r, s, id, why);
}

static bool keep_served(const char *name, void *ctx)
{
	struct reaper *r = ctx;
	uuid_t id;
	sr_state st;
	struct st_run run;
	if (sr_uuid_parse(name, id) != 0)
		return false;
	struct rp_chan *c = rp_find_chan(r, id);
	if (!c || !c->in_lineup || sr_session_get_state(r->reg, id, &st) != 0 ||
	    (st != SR_STATE_STARTING && st != SR_STATE_FAILED) ||
	    rp_run_current(r->outfd, name, &run) != 0)
		return false;
	c->served = run.id;
	c->sweep_ns = rp_now_ns() + rp_retention_ms(r->cfg) * 1000000ull;
	st_log(LOG_INFO, "channel=%s run %llu kept: served until the next run is ready", name,
	       (unsigned long long)run.id);
	return true;
}

static void on_removed(const char *name, bool symlink, int rc, void *ctx)
{
	(void)ctx;
	const char *what = symlink ? "symlink (not followed)" : "directory";
	if (rc)
		st_log(LOG_WARNING, "leftover %s %s not removed: %s", what, name, strerror(-rc));
	else
		st_log(LOG_INFO, "channel=%s leftover %s removed", name, what);
}

int rp_reconcile(struct reaper *r)
{
	struct infos s = {0};
	int rc = sr_session_foreach(r->reg, collect, &s);
	if (s.oom || rc < 0) {
		free(s.v);
		st_log(LOG_ERR, "reconcile: cannot read the table: %s",
		       s.oom ? "out of memory" : sr_strerror(rc));
		return s.oom ? -ENOMEM : rc;
	}
	for (size_t i = 0; i < s.n; i++)
		reconcile_one(r, &s.v[i]);
	free(s.v);
	/* nothing runs yet: a channel directory is kept only for the players
	 * of a channel that will start again, whose last good run they keep
	 * being served until the new one is ready */
	rc = rp_outdir_sweep(r->outfd, keep_served, on_removed, r);
	if (rc < 0)
		st_log(LOG_WARNING, "cannot sweep %s: %s", r->outdir, strerror(-rc));
	return 0;
}
