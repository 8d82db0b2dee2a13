#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"
#include "monitor_attach.h"
#include "monitor_output.h"
#include "monitor_procs.h"
#include "monitor_screen.h"
#include "monitor_top_args.h"
#include "monitor_view.h"

enum { KEY_WAIT_MAX_MS = 250 };

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int top_once(const top_args *a)
{
	sr_registry *reg = NULL;
	mon_snapshot snap = {0};
	mon_view view = {0};
	int rc = mon_snapshot_once("top", a->name, &reg, &snap);
	if (rc == 0) {
		/* JSON keeps `streamreg ls --json` order unless a sort was asked for. */
		mon_sort sort = a->json && !a->sort_given ? MON_SORT_SLOT : a->sort;
		rc = mon_view_build(&view, &snap, a->filter, sort);
		if (rc == 0)
			rc = a->json ? mon_json_document(stdout, a->name, &snap, &view)
			             : mon_text_document(stdout, a->name, &snap, &view, a->filter,
			                                 sort);
		if (rc == 0 && fflush(stdout) != 0)
			rc = -EIO;
		if (rc < 0)
			mon_report_error("top", "output", rc);
	}
	mon_view_free(&view);
	mon_snapshot_free(&snap);
	sr_registry_close(reg);
	return mon_exit_status(rc);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_status(mon_ui *ui, bool alert, const char *headline, const char *detail)
{
	snprintf(ui->status, sizeof ui->status, "%s", headline);
	snprintf(ui->detail, sizeof ui->detail, "%s", detail);
	ui->status_alert = alert;
}

static void clock_text(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	if (localtime_r(&now, &tm) == NULL || strftime(buf, len, "%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "?");
}

/* The live loop's connection to the registry, across its destruction and rebirth. */
typedef struct top_live {
	sr_registry *reg;
	bool lost;             /* the registry went away after we had it */
	uint64_t mapped_bytes; /* segment size when attached */
	mon_snapshot snap;
	mon_view view;
} top_live;

static void lose_registry(top_live *live, mon_ui *ui, const char *why)
{
	char when[16], headline[256];
	sr_registry_close(live->reg);
	live->reg = NULL;
	live->lost = true;
	ui->have_data = false;
	clock_text(when, sizeof when);
	snprintf(headline, sizeof headline, "REGISTRY %s WAS DESTROYED OR REPLACED at %s", ui->name,
	         when);
	set_status(ui, true, headline, why);
}

/* The size we mapped, to notice a truncation before touching the lost pages. */
static bool remember_size(top_live *live, sr_registry_stats *st)
{
	bool ok = sr_registry_stats_get(live->reg, st) == 0;
	live->mapped_bytes = ok ? st->segment_size : 0;
	return ok;
}

/* Follow the name to whatever registry it holds now; false while there is none. */
static bool follow_name(top_live *live, mon_ui *ui)
{
	char msg[300], text[512];
	if (live->reg != NULL) {
		int r = sr_registry_replaced(live->reg);
		if (r == 1) {
			lose_registry(live, ui,
			              "the name was unlinked or now holds a new registry");
		} else if (r < 0) {
			mon_describe_error(r, msg, sizeof msg);
			lose_registry(live, ui, msg);
		}
	}
	if (live->reg != NULL)
		return true;
	int rc = mon_attach(ui->name, &live->reg);
	if (rc < 0) {
		mon_describe_error(rc, msg, sizeof msg);
		ui->have_data = false;
		snprintf(text, sizeof text,
		         "waiting for a new registry under this name (attach: %s)", msg);
		if (live->lost) {
			snprintf(ui->detail, sizeof ui->detail, "%s", text);
		} else {
			snprintf(text, sizeof text, "registry %s: cannot attach: %s; retrying",
			         ui->name, msg);
			set_status(ui, true, text, "");
		}
		return false;
	}
	sr_registry_stats st;
	bool have_stats = remember_size(live, &st);
	if (live->lost) {
		char when[16];
		clock_text(when, sizeof when);
		uint64_t birth = have_stats ? st.birth_id : 0;
		snprintf(text, sizeof text,
		         "reattached at %s: registry %s was recreated (birth %016" PRIx64 ")", when,
		         ui->name, birth);
		set_status(ui, false, text, "");
	} else {
		set_status(ui, false, "", "");
	}
	live->lost = false;
	return true;
}

/* One refresh: follow the name to its current registry, then copy the table. */
static void tick(top_live *live, mon_ui *ui)
{
	if (!follow_name(live, ui))
		return;
	if (mon_segment_shrunk(ui->name, live->mapped_bytes)) {
		/* Reading now would fault: the guard would catch it, but say it plainly. */
		char text[400];
		ui->have_data = false;
		snprintf(text, sizeof text,
		         "registry %s: cannot read: its segment was truncated below %" PRIu64
		         " bytes; waiting for it to be replaced",
		         ui->name, live->mapped_bytes);
		set_status(ui, true, text, "");
		return;
	}
	if (ui->paused && ui->have_data)
		return;
	int rc = mon_snapshot_take(live->reg, &live->snap);
	if (rc < 0) {
		char msg[300], text[400];
		mon_describe_error(rc, msg, sizeof msg);
		ui->have_data = false;
		snprintf(text, sizeof text, "registry %s: cannot read: %s", ui->name, msg);
		set_status(ui, true, text, "");
		return;
	}
	(void)mon_procs_take(ui->name, live->reg, &live->snap);
	ui->have_data = true;
	if (ui->status_alert)
		set_status(ui, false, "", "");
}

/* Returns false when the operator asked to quit. */
static bool handle_key(int key, mon_ui *ui)
{
	size_t page = mon_screen_page_rows();
	switch (key) {
	case 'q':
	case 'Q':
		return false;
	case 'c':
		ui->sort = MON_SORT_CLIENTS;
		break;
	case 'i':
		ui->sort = MON_SORT_IDLE;
		break;
	case 'e':
		ui->sort = MON_SORT_ERRORS;
		break;
	case 's':
		ui->sort = MON_SORT_STATE;
		break;
	case 'o':
		ui->sort = MON_SORT_SLOT;
		break;
	case 'f':
		ui->filter = mon_filter_next(ui->filter);
		ui->scroll = 0;
		break;
	case 'p':
	case ' ':
		ui->paused = !ui->paused;
		break;
	case MON_KEY_UP:
		ui->scroll = ui->scroll > 0 ? ui->scroll - 1 : 0;
		break;
	case MON_KEY_DOWN:
		ui->scroll++;
		break;
	case MON_KEY_PGUP:
		ui->scroll = ui->scroll > page ? ui->scroll - page : 0;
		break;
	case MON_KEY_PGDN:
		ui->scroll += page;
		break;
	case MON_KEY_HOME:
		ui->scroll = 0;
		break;
	default:
		break;
	}
	return true;
}

static void install_stop_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the signal must wake getch() so the loop can restore the terminal. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int top_live_run(const top_args *a)
{
	top_live live = {0};
	mon_ui ui = {
	    .name = a->name, .interval_s = a->interval_s, .sort = a->sort, .filter = a->filter};
	/* Fail like the one-shot mode when the registry is not there to begin with. */
	int rc = mon_attach(a->name, &live.reg);
	if (rc < 0) {
		char what[128];
		snprintf(what, sizeof what, "registry '%s'", a->name);
		mon_report_error("top", what, rc);
		return mon_exit_status(rc);
	}
	sr_registry_stats st;
	remember_size(&live, &st);
	install_stop_handlers();
	if (mon_screen_open() < 0) {
		sr_registry_close(live.reg);
		fprintf(stderr,
		        "streamreg: top: cannot drive terminal type '%s'; printing a snapshot\n",
		        getenv("TERM") != NULL ? getenv("TERM") : "(unset)");
		return top_once(a);
	}
	uint64_t interval_ms = (uint64_t)(a->interval_s * 1000.0);
	uint64_t next = 0;
	bool running = true, dirty = true;
	while (running && !stop_requested) {
		uint64_t now = now_ms();
		if (now >= next) {
			tick(&live, &ui);
			next = now + interval_ms;
			dirty = true;
		}
		if (dirty) {
			if (ui.have_data &&
			    mon_view_build(&live.view, &live.snap, ui.filter, ui.sort) < 0) {
				ui.have_data = false;
				set_status(&ui, true, "out of memory", "");
			}
			mon_screen_draw(&ui, &live.snap, &live.view);
			dirty = false;
		}
		/* A signal landing just before getch() must not wait a whole long interval. */
		now = now_ms();
		uint64_t wait = next > now ? next - now : 0;
		int key = mon_screen_key(wait > KEY_WAIT_MAX_MS ? KEY_WAIT_MAX_MS : (int)wait);
		if (key != MON_KEY_NONE) {
			running = handle_key(key, &ui);
			dirty = true;
		}
	}
	mon_screen_close();
	mon_view_free(&live.view);
	mon_snapshot_free(&live.snap);
	sr_registry_close(live.reg);
	return MON_EXIT_OK;
}

int cli_top(int argc, char **argv)
{
	top_args a;
	int rc = parse_top_args(argc, argv, &a);
	if (rc != 0)
		return rc < 0 ? MON_EXIT_USAGE : MON_EXIT_OK;
	if (a.once || a.json || !isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO))
		return top_once(&a);
	return top_live_run(&a);
}
