/* One-shot outputs of the monitor: the text snapshot and the JSON document. */
#ifndef SR_TOOLS_MONITOR_OUTPUT_H
#define SR_TOOLS_MONITOR_OUTPUT_H

#include <stdio.h>

#include "monitor_snapshot.h"
#include "monitor_view.h"

/* The registry totals as one JSON object (no newline). */
int mon_json_registry(FILE *f, const char *name, const mon_snapshot *snap);

/*
 * {"registry":{...},"sessions":[...]}: the sessions are rendered by
 * sr_session_info_json(), the same objects as `streamreg ls --json`.
 */
int mon_json_document(FILE *f, const char *name, const mon_snapshot *snap, const mon_view *view);

/* The header lines and the table, as the live screen shows them, untruncated. */
int mon_text_document(FILE *f, const char *name, const mon_snapshot *snap, const mon_view *view,
                      int state_filter, mon_sort sort);

#endif
