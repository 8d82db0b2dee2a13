/* Text pieces shared by the live screen and the one-shot snapshot. */
#ifndef SR_TOOLS_MONITOR_FORMAT_H
#define SR_TOOLS_MONITOR_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "monitor_snapshot.h"

/* Where the state column sits in a row, so the screen can colour it. */
#define MON_COL_STATE       37
#define MON_COL_STATE_WIDTH 8

/* "850ms", "4.2s", "42s", "12m05s", "3h04m", "2d03h". */
/* Room for the longest, UINT64_MAX ms: a smaller buffer cuts it. */
#define MON_DURATION_SIZE sizeof("213503982334d14h")
void mon_format_duration(uint64_t ms, char *buf, size_t len);

/* The column titles, aligned with mon_format_row(). */
void mon_format_columns(char *buf, size_t len);

/* One session as a table row; control characters in strings become '?'. */
void mon_format_row(const sr_session_info *s, uint64_t now_mono_ns, char *buf, size_t len);

/* Sessions used/free and the totals per state, plus a hint when the table is full. */
void mon_format_sessions_line(const mon_snapshot *snap, char *buf, size_t len);

/* Attached and reclaimed processes, plus a hint when the process table is full. */
void mon_format_procs_line(const mon_snapshot *snap, char *buf, size_t len);

/* Name, age, birth id and creator of the registry. */
void mon_format_registry_line(const char *name, const mon_snapshot *snap, char *buf, size_t len);

/* Slots in use as the monitor counts them: the rows plus the records it skipped. */
uint32_t mon_used_slots(const mon_snapshot *snap);

#endif
