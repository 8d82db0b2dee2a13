/* The ncurses screen of `streamreg top`. */
#ifndef SR_TOOLS_MONITOR_SCREEN_H
#define SR_TOOLS_MONITOR_SCREEN_H

#include <stdbool.h>
#include <stddef.h>

#include "monitor_snapshot.h"
#include "monitor_view.h"

/* What the screen shows besides the data: the operator's choices and the status. */
typedef struct mon_ui {
	const char *name;
	double interval_s;
	mon_sort sort;
	int filter; /* a state, or MON_FILTER_ALL */
	bool paused;
	size_t scroll;     /* first row shown */
	bool have_data;    /* false while the registry is gone: never show stale rows */
	char status[512];  /* why there is no data, or what just happened */
	char detail[512];  /* more about it, shown while there is no data */
	bool status_alert; /* show the status as an alarm */
} mon_ui;

/* Take over the terminal; -ENOTTY if it cannot be used (unknown TERM, no tty). */
int mon_screen_open(void);
void mon_screen_close(void);

void mon_screen_draw(mon_ui *ui, const mon_snapshot *snap, const mon_view *view);

/* Keys besides plain characters, so callers need not include curses.h. */
enum {
	MON_KEY_NONE = -1, /* timeout or a signal */
	MON_KEY_UP = 0x10000,
	MON_KEY_DOWN,
	MON_KEY_PGUP,
	MON_KEY_PGDN,
	MON_KEY_HOME,
	MON_KEY_OTHER, /* resize or a key without a meaning here: just redraw */
};

/* Next key within timeout_ms: a character, a MON_KEY_* code, or MON_KEY_NONE. */
int mon_screen_key(int timeout_ms);

/* Rows of the table area, for paging. */
size_t mon_screen_page_rows(void);

#endif
