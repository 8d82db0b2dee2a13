/*
 * The registry in Prometheus text exposition format 0.0.4, built from what
 * a read-only handle can read: `streamreg stats --prometheus` and the HTTP
 * server's /metrics print the same text.
 * docs/monitor.md lists every metric.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_internal.h"

/* Per-channel figures copied out of the walk, so each family can be printed whole. */
/* All figures are uint64_t so one table (chan_families) can print them;
 * wall-clock times are kept only when positive. */
struct prom_channel {
	char id[SR_UUID_STR_LEN + 1];
	sr_state state;
	uint64_t clients;
	uint64_t error_count;
	uint64_t restart_count;
	uint64_t n_qualities;
	uint64_t idle_ms;
	uint64_t uptime_ms;
	uint64_t transitions[SR_STATE_COUNT];
	uint64_t restarts_total;
	uint64_t start_timeouts_total;
	uint64_t last_change_wall_ns;
	uint64_t last_failure_wall_ns;
	uint64_t last_start_wall_ns;
	uint64_t start_latency_ns;
};

static uint64_t positive(int64_t v)
{
	return v > 0 ? (uint64_t)v : 0;
}

struct prom_walk {
	struct prom_channel *ch;
	size_t n;
	size_t cap;
	uint64_t now_mono_ns;
	uint32_t by_state[SR_STATE_COUNT];
	uint64_t clients;
	uint32_t skipped; /* records that kept changing, or stuck mid-update */
};

static int collect(const sr_session_info *info, struct prom_walk *w)
{
	if ((unsigned)info->state >= SR_STATE_COUNT) {
		w->skipped++;
		return 0;
	}
	if (w->n == w->cap) {
		size_t cap = w->cap > 0 ? w->cap * 2 : 64;
		struct prom_channel *grown = realloc(w->ch, cap * sizeof *grown);
		if (grown == NULL)
			return -ENOMEM;
		w->ch = grown;
		w->cap = cap;
	}
	struct prom_channel *c = &w->ch[w->n++];
	sr_uuid_format(info->channel_id, c->id);
	c->state = info->state;
	c->clients = info->clients;
	c->error_count = info->error_count;
	c->restart_count = info->restart_count;
	c->n_qualities = info->n_qualities;
	c->idle_ms = info->idle_ms;
	memcpy(c->transitions, info->transitions, sizeof(c->transitions));
	c->restarts_total = info->restarts_total;
	c->start_timeouts_total = info->start_timeouts_total;
	c->last_change_wall_ns = positive(info->last_state_change_wall_ns);
	c->last_failure_wall_ns = positive(info->last_failure_wall_ns);
	c->last_start_wall_ns = positive(info->started_wall_ns);
	c->start_latency_ns = info->start_latency_ns;
	/* started_mono_ns survives a stop, so uptime is only meaningful while active. */
	c->uptime_ms = info->state == SR_STATE_ACTIVE && info->started_mono_ns != 0 &&
	                       w->now_mono_ns > info->started_mono_ns
	                   ? (w->now_mono_ns - info->started_mono_ns) / 1000000
	                   : 0;
	w->by_state[info->state]++;
	w->clients += info->clients;
	return 0;
}

/*
 * The same walk as sr_session_foreach(), with its patience budget: a record
 * stuck mid-update costs the first one full patience and the rest a few
 * tries, so a scrape of a table full of stuck records (a writer died inside
 * a call) still answers in milliseconds, counting what it left out in
 * streamreg_records_skipped; that is when the metrics matter most.
 */
static int collect_cb(const sr_session_info *info, void *ctx)
{
	return collect(info, ctx);
}

static int walk(sr_registry *reg, struct prom_walk *w)
{
	uint32_t busy = 0;
	int rc = sr__walk(reg, collect_cb, w, &busy);
	w->skipped += busy;
	return rc;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled integer sample. */
static void sample(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	family(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/* Integer arithmetic keeps the decimal point a '.' whatever the caller's locale. */
static void print_ms_as_seconds(FILE *f, uint64_t ms)
{
	fprintf(f, "%" PRIu64 ".%03" PRIu64 "\n", ms / 1000, ms % 1000);
}

static void print_ns_as_seconds(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%06" PRIu64 "\n", ns / 1000000000u, ns / 1000u % 1000000u);
}

/* "0.25" for 250 ms: the bucket bounds as Prometheus clients print them. */
static void format_le(char *buf, size_t n, uint64_t ms)
{
	if (ms == UINT64_MAX) {
		snprintf(buf, n, "+Inf");
		return;
	}
	if (ms % 1000 == 0) {
		snprintf(buf, n, "%" PRIu64, ms / 1000);
		return;
	}
	snprintf(buf, n, "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
	size_t len = strlen(buf);
	while (len > 0 && buf[len - 1] == '0')
		buf[--len] = '\0';
}

static void print_owner(FILE *f, sr_registry *reg)
{
	sr_owner_info o;
	bool held = sr_registry_get_owner(reg, &o) == 0;
	family(f, "streamreg_reaper_up", "gauge",
	       "1 while a live process (the reaper) holds the registry's owner record, else 0.");
	fprintf(f, "streamreg_reaper_up %d\n", held && o.alive);
	family(f, "streamreg_reaper_heartbeat_age_seconds", "gauge",
	       "Time since the owner record's holder last signalled it was working; absent "
	       "when nobody holds the record.");
	if (held) {
		fprintf(f, "streamreg_reaper_heartbeat_age_seconds ");
		print_ms_as_seconds(f, o.heartbeat_age_ms);
	}
}

static void print_counters(FILE *f, const sr_registry_counters *c)
{
	family(f, "streamreg_state_transitions_total", "counter",
	       "State changes of all sessions, by the state moved into (starting counts start "
	       "requests).");
	for (int s = 0; s < SR_STATE_COUNT; s++)
		fprintf(f, "streamreg_state_transitions_total{state=\"%s\"} %" PRIu64 "\n",
		        sr_state_name((sr_state)s), c->transitions[s]);
	sample(f, "streamreg_restarts_total", "counter", "Transcoder restarts by the reaper.",
	       c->restarts);
	sample(f, "streamreg_start_timeouts_total", "counter",
	       "Starts that did not reach active in time.", c->start_timeouts);
	sample(f, "streamreg_reaper_takeovers_total", "counter",
	       "Owner records taken over from a holder that had died.", c->owner_takeovers);
	family(f, "streamreg_start_latency_seconds", "histogram",
	       "Time from a start request (move to starting) to active.");
	for (int b = 0; b < SR_LATENCY_BUCKETS; b++) {
		char le[32];
		format_le(le, sizeof(le), c->start_latency_bound_ms[b]);
		fprintf(f, "streamreg_start_latency_seconds_bucket{le=\"%s\"} %" PRIu64 "\n", le,
		        c->start_latency_le[b]);
	}
	fprintf(f, "streamreg_start_latency_seconds_sum ");
	print_ns_as_seconds(f, c->start_latency_sum_ns);
	fprintf(f, "streamreg_start_latency_seconds_count %" PRIu64 "\n", c->start_latency_count);
}

static void print_registry(FILE *f, const sr_registry_stats *st, const struct prom_walk *w)
{
	family(f, "streamreg_registry_info", "gauge",
	       "Always 1; birth_id changes when the registry is destroyed and recreated.");
	fprintf(f, "streamreg_registry_info{birth_id=\"%016" PRIx64 "\"} 1\n", st->birth_id);
	family(f, "streamreg_registry_age_seconds", "gauge",
	       "Time since the registry was created.");
	fprintf(f, "streamreg_registry_age_seconds ");
	print_ms_as_seconds(f, st->age_ms);
	family(f, "streamreg_registry_created_timestamp_seconds", "gauge",
	       "Creation time of the registry, seconds since the Unix epoch.");
	fprintf(f, "streamreg_registry_created_timestamp_seconds ");
	print_ms_as_seconds(f,
	                    st->created_wall_ns > 0 ? (uint64_t)st->created_wall_ns / 1000000 : 0);
	sample(f, "streamreg_segment_size_bytes", "gauge", "Size of the shared memory segment.",
	       st->segment_size);

	sample(f, "streamreg_session_slots", "gauge", "Session capacity of the table.",
	       st->capacity);
	sample(f, "streamreg_session_slots_free", "gauge",
	       "Session slots not in use; 0 means inserts fail until the registry is recreated "
	       "with a larger capacity.",
	       st->capacity > st->sessions ? st->capacity - st->sessions : 0);
	family(f, "streamreg_sessions", "gauge", "Sessions in the table, by state.");
	for (int s = 0; s < SR_STATE_COUNT; s++)
		fprintf(f, "streamreg_sessions{state=\"%s\"} %" PRIu32 "\n",
		        sr_state_name((sr_state)s), w->by_state[s]);
	sample(f, "streamreg_clients", "gauge",
	       "Viewers counted on all sessions by live processes.", w->clients);
	sample(f, "streamreg_records_skipped", "gauge",
	       "Sessions left out of this output: they kept changing, or a writer died inside "
	       "a call and left them mid-update (a read-write attach repairs them).",
	       w->skipped);

	sample(f, "streamreg_processes_attached", "gauge",
	       "Processes registered in the process table: those that counted a viewer, and the "
	       "reaper (owner record holder); read-only monitors are not counted.",
	       st->procs_attached);
	sample(f, "streamreg_processes_max", "gauge",
	       "Size of the process table: processes that may count viewers at once, the reaper "
	       "included.",
	       st->max_procs);
	sample(f, "streamreg_processes_reclaimed_total", "counter",
	       "Slots of dead processes reclaimed since the registry was created.",
	       st->procs_reclaimed);
	sample(f, "streamreg_client_leases_reclaimed_total", "counter",
	       "Viewer counts released because the process holding them died.",
	       st->leases_reclaimed);
	sample(f, "streamreg_lock_repairs_total", "counter",
	       "Writer locks repaired: taken over from a process that died holding them, or "
	       "rebuilt from garbled bytes.",
	       st->locks_repaired);
}

/* How a per-channel figure is printed. */
enum chan_unit {
	CU_COUNT,   /* integer as is */
	CU_MS,      /* milliseconds, printed as seconds */
	CU_NS,      /* nanoseconds, printed as seconds */
	CU_WALL_NS, /* CLOCK_REALTIME ns, printed as Unix seconds */
};

/* A family with one sample per channel, labelled by channel only. */
struct chan_family {
	const char *name, *type, *help;
	size_t field; /* offsetof a uint64_t in struct prom_channel */
	enum chan_unit unit;
	bool omit_zero; /* a 0 means "never": leave the sample out */
};

#define CF(field) offsetof(struct prom_channel, field)
static const struct chan_family chan_families[] = {
    {"streamreg_channel_clients", "gauge", "Viewers of the channel.", CF(clients), CU_COUNT, false},
    {"streamreg_channel_idle_seconds", "gauge",
     "Time since the channel was last requested or changed viewers.", CF(idle_ms), CU_MS, false},
    {"streamreg_channel_uptime_seconds", "gauge",
     "Time since the channel's transcoder became active; 0 unless active.", CF(uptime_ms), CU_MS,
     false},
    {"streamreg_channel_errors_total", "counter", "Errors recorded on the channel.",
     CF(error_count), CU_COUNT, false},
    {"streamreg_channel_restarts_total", "counter",
     "Transcoder restarts of the channel by the reaper since it was registered.",
     CF(restarts_total), CU_COUNT, false},
    {"streamreg_channel_consecutive_failures", "gauge",
     "Current run of failed transcoder starts; back to 0 after a healthy run.", CF(restart_count),
     CU_COUNT, false},
    {"streamreg_channel_start_timeouts_total", "counter",
     "Starts of the channel that did not reach active in time.", CF(start_timeouts_total), CU_COUNT,
     false},
    {"streamreg_channel_last_state_change_timestamp_seconds", "gauge",
     "When the channel last changed state (or was registered), seconds since the Unix epoch.",
     CF(last_change_wall_ns), CU_WALL_NS, true},
    {"streamreg_channel_last_failure_timestamp_seconds", "gauge",
     "When the channel last moved to failed, seconds since the Unix epoch; absent if never.",
     CF(last_failure_wall_ns), CU_WALL_NS, true},
    {"streamreg_channel_last_start_timestamp_seconds", "gauge",
     "When the channel's transcoder last became active, seconds since the Unix epoch; absent if "
     "never.",
     CF(last_start_wall_ns), CU_WALL_NS, true},
    {"streamreg_channel_last_start_latency_seconds", "gauge",
     "Start request to active of the channel's last start; absent if never.", CF(start_latency_ns),
     CU_NS, true},
    {"streamreg_channel_variants", "gauge", "HLS quality variants of the channel.", CF(n_qualities),
     CU_COUNT, false},
};
#undef CF

static void print_chan_family(FILE *f, const struct chan_family *cf, const struct prom_walk *w)
{
	family(f, cf->name, cf->type, cf->help);
	for (size_t i = 0; i < w->n; i++) {
		uint64_t v;
		memcpy(&v, (const char *)&w->ch[i] + cf->field, sizeof v);
		if (cf->omit_zero && v == 0)
			continue;
		fprintf(f, "%s{channel=\"%s\"} ", cf->name, w->ch[i].id);
		switch (cf->unit) {
		case CU_COUNT:
			fprintf(f, "%" PRIu64 "\n", v);
			break;
		case CU_MS:
			print_ms_as_seconds(f, v);
			break;
		case CU_NS:
			print_ns_as_seconds(f, v);
			break;
		case CU_WALL_NS:
			print_ms_as_seconds(f, v / 1000000u);
			break;
		}
	}
}

static void print_channels(FILE *f, const struct prom_walk *w)
{
	family(f, "streamreg_channel_state", "gauge",
	       "1 for the state the channel is in, 0 for the others.");
	for (size_t i = 0; i < w->n; i++)
		for (int s = 0; s < SR_STATE_COUNT; s++)
			fprintf(f, "streamreg_channel_state{channel=\"%s\",state=\"%s\"} %d\n",
			        w->ch[i].id, sr_state_name((sr_state)s), (int)w->ch[i].state == s);
	family(f, "streamreg_channel_transitions_total", "counter",
	       "State changes of the channel by the state moved into (starting counts start "
	       "requests).");
	for (size_t i = 0; i < w->n; i++)
		for (int s = 0; s < SR_STATE_COUNT; s++)
			fprintf(f,
			        "streamreg_channel_transitions_total{channel=\"%s\",state=\"%s\"} "
			        "%" PRIu64 "\n",
			        w->ch[i].id, sr_state_name((sr_state)s), w->ch[i].transitions[s]);
	for (size_t k = 0; k < sizeof chan_families / sizeof chan_families[0]; k++)
		print_chan_family(f, &chan_families[k], w);
}

int sr_registry_prometheus(sr_registry *reg, char **out)
{
	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	/* Also refuses a NULL reg, with the library's detail message. */
	sr_registry_stats st;
	int rc = sr_registry_stats_get(reg, &st);
	if (rc < 0)
		return rc;
	sr_registry_counters counters;
	if ((rc = sr_registry_counters_get(reg, &counters)) < 0)
		return rc;
	struct prom_walk w = {.now_mono_ns = sr_now_mono_ns()};
	rc = walk(reg, &w);
	if (rc < 0) {
		free(w.ch);
		return rc;
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f == NULL) {
		free(w.ch);
		return -ENOMEM;
	}
	print_registry(f, &st, &w);
	print_owner(f, reg);
	print_counters(f, &counters);
	print_channels(f, &w);
	bool failed = ferror(f) != 0;
	if (fclose(f) != 0)
		failed = true;
	free(w.ch);
	if (failed) {
		free(text);
		return -ENOMEM;
	}
	*out = text;
	return 0;
}
