#include "monitor_snapshot.h"

#include "monitor_guard.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A writer holds a record for microseconds; a few spaced retries outlast it. */
enum { SNAPSHOT_TRIES = 5, LIST_TRIES = 4 };

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/*
 * The library promises consistent copies; these checks keep a monitor from
 * printing nonsense even if a record's invariants were broken by a bug or a
 * foreign process writing into the segment.
 */
static bool plausible(const sr_session_info *s)
{
	if ((unsigned)s->state >= SR_STATE_COUNT || s->n_qualities > SR_MAX_QUALITIES)
		return false;
	if (!terminated(s->last_error, sizeof s->last_error) ||
	    !terminated(s->output_dir, sizeof s->output_dir) ||
	    !terminated(s->segment_path, sizeof s->segment_path))
		return false;
	for (uint32_t i = 0; i < s->n_qualities; i++) {
		const sr_quality *q = &s->qualities[i];
		if (!terminated(q->level, sizeof q->level) ||
		    !terminated(q->codec, sizeof q->codec) ||
		    !terminated(q->segment_path, sizeof q->segment_path) ||
		    !terminated(q->playlist_path, sizeof q->playlist_path))
			return false;
	}
	return true;
}

static void pause_briefly(int attempt)
{
	if (attempt == 0) {
		sched_yield();
		return;
	}
	struct timespec ts = {0, 50000L * attempt};
	nanosleep(&ts, NULL);
}

/* Returns 1 when out holds the record, 0 when it is gone or unreadable. */
static int read_one(sr_registry *reg, const uuid_t id, sr_session_info *out)
{
	for (int attempt = 0; attempt < SNAPSHOT_TRIES; attempt++) {
		int rc = sr_session_snapshot(reg, id, out);
		if (rc == 0)
			return plausible(out) ? 1 : 0;
		if (rc != -SR_EBUSY)
			return rc == -ENOENT ? -ENOENT : 0;
		pause_briefly(attempt);
	}
	return 0;
}

/* The ids live in snap, so a SIGBUS escape from the middle of a take leaks nothing. */
static int list_ids(sr_registry *reg, mon_snapshot *snap, size_t hint, size_t *n_out)
{
	size_t want = hint + 16;
	for (int attempt = 0; attempt < LIST_TRIES; attempt++) {
		if (want > snap->ids_cap) {
			uuid_t *grown = realloc(snap->ids, want * sizeof *grown);
			if (grown == NULL)
				return -ENOMEM;
			snap->ids = grown;
			snap->ids_cap = want;
		}
		size_t n = 0;
		int rc = sr_session_list(reg, snap->ids, snap->ids_cap, &n);
		if (rc < 0)
			return rc;
		/* Sessions inserted between stats and list: grow and try again. */
		if (n <= snap->ids_cap || attempt == LIST_TRIES - 1) {
			*n_out = n < snap->ids_cap ? n : snap->ids_cap;
			return 0;
		}
		want = n + n / 4 + 16;
	}
	return -EAGAIN;
}

static int reserve(mon_snapshot *snap, size_t want)
{
	if (want <= snap->cap)
		return 0;
	sr_session_info *grown = realloc(snap->sessions, want * sizeof *grown);
	if (grown == NULL)
		return -ENOMEM;
	snap->sessions = grown;
	snap->cap = want;
	return 0;
}

struct take_args {
	sr_registry *reg;
	mon_snapshot *snap;
};

static int take(void *ctx)
{
	sr_registry *reg = ((struct take_args *)ctx)->reg;
	mon_snapshot *snap = ((struct take_args *)ctx)->snap;
	snap->n = 0;
	int rc = sr_registry_stats_get(reg, &snap->stats);
	if (rc < 0)
		return rc;
	if ((rc = sr_registry_counters_get(reg, &snap->counters)) < 0)
		return rc;
	snap->owner_held = sr_registry_get_owner(reg, &snap->owner) == 0;
	size_t n_ids = 0;
	rc = list_ids(reg, snap, snap->stats.sessions, &n_ids);
	if (rc < 0)
		return rc;
	rc = reserve(snap, n_ids > 0 ? n_ids : 1);
	if (rc < 0)
		return rc;
	snap->skipped = 0;
	snap->clients = 0;
	memset(snap->by_state, 0, sizeof snap->by_state);
	snap->taken_mono_ns = sr_now_mono_ns();
	for (size_t i = 0; i < n_ids; i++) {
		sr_session_info *s = &snap->sessions[snap->n];
		int got = read_one(reg, snap->ids[i], s);
		if (got == -ENOENT)
			continue; /* deleted since the listing: not a skip */
		if (got == 0) {
			snap->skipped++;
			continue;
		}
		snap->by_state[s->state]++;
		snap->clients += s->clients;
		snap->n++;
	}
	return 0;
}

int mon_snapshot_take(sr_registry *reg, mon_snapshot *snap)
{
	struct take_args args = {reg, snap};
	int rc = mon_guard_sigbus(take, &args);
	if (rc < 0)
		snap->n = 0; /* never leave half a copy behind */
	return rc;
}

void mon_snapshot_free(mon_snapshot *snap)
{
	free(snap->sessions);
	free(snap->ids);
	free(snap->procs);
	memset(snap, 0, sizeof *snap);
}
