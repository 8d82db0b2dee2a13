#include "monitor_snapshot.h"

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

static int list_ids(sr_registry *reg, size_t hint, uuid_t **ids_out, size_t *n_out)
{
	size_t cap = hint + 16;
	for (int attempt = 0; attempt < LIST_TRIES; attempt++) {
		uuid_t *ids = malloc(cap * sizeof *ids);
		if (ids == NULL)
			return -ENOMEM;
		size_t n = 0;
		int rc = sr_session_list(reg, ids, cap, &n);
		if (rc < 0) {
			free(ids);
			return rc;
		}
		/* Sessions inserted between stats and list: grow and try again. */
		if (n <= cap || attempt == LIST_TRIES - 1) {
			*ids_out = ids;
			*n_out = n < cap ? n : cap;
			return 0;
		}
		free(ids);
		cap = n + n / 4 + 16;
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

int mon_snapshot_take(sr_registry *reg, mon_snapshot *snap)
{
	int rc = sr_registry_stats_get(reg, &snap->stats);
	if (rc < 0)
		return rc;
	uuid_t *ids = NULL;
	size_t n_ids = 0;
	rc = list_ids(reg, snap->stats.sessions, &ids, &n_ids);
	if (rc < 0)
		return rc;
	rc = reserve(snap, n_ids > 0 ? n_ids : 1);
	if (rc < 0) {
		free(ids);
		return rc;
	}
	snap->n = 0;
	snap->skipped = 0;
	snap->clients = 0;
	memset(snap->by_state, 0, sizeof snap->by_state);
	snap->taken_mono_ns = sr_now_mono_ns();
	for (size_t i = 0; i < n_ids; i++) {
		sr_session_info *s = &snap->sessions[snap->n];
		int got = read_one(reg, ids[i], s);
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
	free(ids);
	return 0;
}

void mon_snapshot_free(mon_snapshot *snap)
{
	free(snap->sessions);
	memset(snap, 0, sizeof *snap);
}
