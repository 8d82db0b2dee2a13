/* Which rows the monitor shows and in what order: filter by state, sort by a key. */
#ifndef SR_TOOLS_MONITOR_VIEW_H
#define SR_TOOLS_MONITOR_VIEW_H

#include <stddef.h>

#include "monitor_snapshot.h"

typedef enum mon_sort {
	MON_SORT_SLOT,    /* table order, as `streamreg ls` prints */
	MON_SORT_CLIENTS, /* most viewers first */
	MON_SORT_IDLE,    /* longest idle first */
	MON_SORT_ERRORS,  /* most errors first */
	MON_SORT_STATE,   /* failed, stopping, starting, active, idle */
	MON_SORT_COUNT
} mon_sort;

/* State filter value that lets every row through. */
#define MON_FILTER_ALL (-1)

typedef struct mon_view {
	const sr_session_info **rows; /* Point into the snapshot: rebuild after each take. */
	size_t n;
	size_t cap;
} mon_view;

/* Parse "clients", "idle", "errors", "state" or "slot"; -EINVAL otherwise. */
int mon_sort_parse(const char *name, mon_sort *out);
const char *mon_sort_name(mon_sort sort);

/* Name of a filter value: a state name or "all". */
const char *mon_filter_name(int state_filter);

/* The next filter in the cycle all, idle, starting, active, stopping, failed, all. */
int mon_filter_next(int state_filter);

/* Fill v with the rows of snap in state_filter (or all), ordered by sort. */
int mon_view_build(mon_view *v, const mon_snapshot *snap, int state_filter, mon_sort sort);
void mon_view_free(mon_view *v);

#endif
