#include "monitor_screen.h"

#include <curses.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "monitor_format.h"

enum { PAIR_FAILED = 1, PAIR_STOPPING, PAIR_ALERT };
enum { HEADER_ROWS = 5, FOOTER_ROWS = 1, LINE_BYTES = 1024 };

static SCREEN *screen;

int mon_screen_open(void)
{
	screen = newterm(NULL, stdout, stdin);
	if (screen == NULL)
		return -ENOTTY;
	/* A terminal that cannot move the cursor (TERM=dumb) would show a smear.
	 * "cup" names a string capability, so tigetstr answers NULL when the
	 * terminal lacks it, never (char *)-1. */
	const char *cup = tigetstr("cup");
	if (cup == NULL) {
		endwin();
		delscreen(screen);
		screen = NULL;
		return -ENOTTY;
	}
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(PAIR_FAILED, COLOR_RED, -1);
		init_pair(PAIR_STOPPING, COLOR_YELLOW, -1);
		init_pair(PAIR_ALERT, COLOR_WHITE, COLOR_RED);
	}
	return 0;
}

void mon_screen_close(void)
{
	if (screen == NULL)
		return;
	endwin();
	delscreen(screen);
	screen = NULL;
}

int mon_screen_key(int timeout_ms)
{
	timeout(timeout_ms);
	int key = getch();
	switch (key) {
	case ERR:
		return MON_KEY_NONE;
	case KEY_UP:
		return MON_KEY_UP;
	case KEY_DOWN:
		return MON_KEY_DOWN;
	case KEY_PPAGE:
		return MON_KEY_PGUP;
	case KEY_NPAGE:
		return MON_KEY_PGDN;
	case KEY_HOME:
		return MON_KEY_HOME;
	default:
		return key >= 0 && key < 0x100 ? key : MON_KEY_OTHER;
	}
}

size_t mon_screen_page_rows(void)
{
	int rows = LINES - HEADER_ROWS - FOOTER_ROWS;
	return rows > 1 ? (size_t)rows : 1;
}

static void put_line(int y, const char *text, attr_t attr)
{
	if (y < 0 || y >= LINES)
		return;
	attron(attr);
	mvaddnstr(y, 0, text, COLS);
	attroff(attr);
}

static void draw_row(int y, const sr_session_info *s, uint64_t now_mono_ns)
{
	char line[LINE_BYTES];
	mon_format_row(s, now_mono_ns, line, sizeof line);
	put_line(y, line, A_NORMAL);
	short pair = s->state == SR_STATE_FAILED     ? PAIR_FAILED
	             : s->state == SR_STATE_STOPPING ? PAIR_STOPPING
	                                             : 0;
	if (pair != 0 && COLS > MON_COL_STATE)
		mvchgat(y, MON_COL_STATE, MON_COL_STATE_WIDTH, A_BOLD, has_colors() ? pair : 0,
		        NULL);
}

static void draw_help(const mon_ui *ui)
{
	char line[LINE_BYTES];
	snprintf(line, sizeof line,
	         "c clients  i idle  e errors  s state  o slot  f filter (%s)  p %s  "
	         "up/down/pgup/pgdn scroll  q quit",
	         mon_filter_name(ui->filter), ui->paused ? "resume" : "pause");
	put_line(LINES - 1, line, A_REVERSE);
}

void mon_screen_draw(mon_ui *ui, const mon_snapshot *snap, const mon_view *view)
{
	char line[LINE_BYTES];
	attr_t alert = has_colors() ? (attr_t)(COLOR_PAIR(PAIR_ALERT) | A_BOLD) : A_REVERSE;
	erase();
	if (!ui->have_data) {
		snprintf(line, sizeof line, "registry %s", ui->name);
		put_line(0, line, A_BOLD);
		put_line(2, ui->status, alert);
		put_line(3, ui->detail, A_NORMAL);
		draw_help(ui);
		refresh();
		return;
	}
	mon_format_registry_line(ui->name, snap, line, sizeof line);
	put_line(0, line, A_BOLD);
	mon_format_sessions_line(snap, line, sizeof line);
	put_line(1, line, A_NORMAL);
	mon_format_procs_line(snap, line, sizeof line);
	put_line(2, line, A_NORMAL);
	size_t page = mon_screen_page_rows();
	if (ui->scroll + page > view->n)
		ui->scroll = view->n > page ? view->n - page : 0;
	int w = snprintf(
	    line, sizeof line, "sort %s | filter %s | rows %zu-%zu of %zu | every %.1fs%s",
	    mon_sort_name(ui->sort), mon_filter_name(ui->filter), view->n > 0 ? ui->scroll + 1 : 0,
	    ui->scroll + page < view->n ? ui->scroll + page : view->n, view->n, ui->interval_s,
	    ui->paused ? " | PAUSED" : "");
	put_line(3, line, A_NORMAL);
	if (ui->status[0] != '\0' && w > 0 && w + 3 < COLS) {
		attron(ui->status_alert ? alert : A_BOLD);
		mvaddnstr(3, w + 3, ui->status, COLS - w - 3);
		attroff(ui->status_alert ? alert : A_BOLD);
	}
	mon_format_columns(line, sizeof line);
	put_line(4, line, A_REVERSE);
	for (size_t i = 0; i < page && ui->scroll + i < view->n; i++)
		draw_row(HEADER_ROWS + (int)i, view->rows[ui->scroll + i], snap->taken_mono_ns);
	draw_help(ui);
	refresh();
}
