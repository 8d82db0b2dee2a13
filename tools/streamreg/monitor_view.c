#include "monitor_view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const sort_names[MON_SORT_COUNT] = {
    [MON_SORT_SLOT] = "slot",     [MON_SORT_CLIENTS] = "clients", [MON_SORT_IDLE] = "idle",
    [MON_SORT_ERRORS] = "errors", [MON_SORT_STATE] = "state",
};

int mon_sort_parse(const char *name, mon_sort *out)
{
	for (int i = 0; i < MON_SORT_COUNT; i++) {
		if (strcmp(name, sort_names[i]) == 0) {
			*out = (mon_sort)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *mon_sort_name(mon_sort sort)
{
	return (unsigned)sort < MON_SORT_COUNT ? sort_names[sort] : "?";
}

const char *mon_filter_name(int state_filter)
{
	return state_filter == MON_FILTER_ALL ? "all" : sr_state_name((sr_state)state_filter);
}

int mon_filter_next(int state_filter)
{
	if (state_filter == MON_FILTER_ALL)
		return 0;
	return state_filter + 1 < SR_STATE_COUNT ? state_filter + 1 : MON_FILTER_ALL;
}

/* Trouble first: an operator sorting by state wants failures at the top. */
static int state_rank(sr_state s)
{
	switch (s) {
	case SR_STATE_FAILED:
		return 0;
	case SR_STATE_STOPPING:
		return 1;
	case SR_STATE_STARTING:
		return 2;
	case SR_STATE_ACTIVE:
		return 3;
	default:
		return 4;
	}
}

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
	return a > b ? -1 : a < b ? 1 : 0;
}

static int cmp_slot(const sr_session_info *a, const sr_session_info *b)
{
	return a->slot < b->slot ? -1 : a->slot > b->slot ? 1 : 0;
}

/* qsort has no context argument, so the key travels in a thread-local. */
static _Thread_local mon_sort current_sort;

static int cmp_rows(const void *pa, const void *pb)
{
	const sr_session_info *a = *(const sr_session_info *const *)pa;
	const sr_session_info *b = *(const sr_session_info *const *)pb;
	int c = 0;
	switch (current_sort) {
	case MON_SORT_CLIENTS:
		c = cmp_u64_desc(a->clients, b->clients);
		break;
	case MON_SORT_IDLE:
		c = cmp_u64_desc(a->idle_ms, b->idle_ms);
		break;
	case MON_SORT_ERRORS:
		c = cmp_u64_desc(a->error_count, b->error_count);
		break;
	case MON_SORT_STATE:
		c = state_rank(a->state) - state_rank(b->state);
		break;
	default:
		break;
	}
	return c != 0 ? c : cmp_slot(a, b);
}

int mon_view_build(mon_view *v, const mon_snapshot *snap, int state_filter, mon_sort sort)
{
	if (snap->n > v->cap) {
		/* An array of pointers: sizeof a pointer is meant. */
		const sr_session_info **grown =
		    realloc(v->rows, snap->n * sizeof *grown); // NOLINT(bugprone-sizeof-expression)
		if (grown == NULL)
			return -ENOMEM;
		v->rows = grown;
		v->cap = snap->n;
	}
	v->n = 0;
	for (size_t i = 0; i < snap->n; i++) {
		const sr_session_info *s = &snap->sessions[i];
		if (state_filter == MON_FILTER_ALL || (int)s->state == state_filter)
			v->rows[v->n++] = s;
	}
	current_sort = sort;
	if (v->n > 1)
		// NOLINTNEXTLINE(bugprone-sizeof-expression): rows are pointers, as above
		qsort(v->rows, v->n, sizeof *v->rows, cmp_rows);
	return 0;
}

void mon_view_free(mon_view *v)
{
	free(v->rows);
	memset(v, 0, sizeof *v);
}
