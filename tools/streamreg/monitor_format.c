#include "monitor_format.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mon_format_duration(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;
	if (ms < 1000)
		snprintf(buf, len, "%" PRIu64 "ms", ms);
	else if (ms < 10000)
		snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "s", s, (ms % 1000) / 100);
	else if (s < 60)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, (s % 86400) / 3600);
}

/* A terminal interprets control bytes: a hostile error message must not. */
static void copy_printable(char *dst, size_t len, const char *src)
{
	size_t i = 0;
	for (; src[i] != '\0' && i + 1 < len; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
}

static void format_variants(const sr_session_info *s, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < s->n_qualities && used + 1 < len; i++) {
		char level[SR_LEVEL_MAX + 1];
		copy_printable(level, sizeof level, s->qualities[i].level);
		int w = snprintf(buf + used, len - used, "%s%s", i > 0 ? "," : "", level);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (s->n_qualities == 0)
		snprintf(buf, len, "-");
}

void mon_format_columns(char *buf, size_t len)
{
	snprintf(buf, len, "%-36s %-8s %7s %8s %8s %6s %7s %-20s %s", "CHANNEL", "STATE", "CLIENTS",
	         "IDLE", "UPTIME", "ERRORS", "PID", "VARIANTS", "LAST ERROR");
}

void mon_format_row(const sr_session_info *s, uint64_t now_mono_ns, char *buf, size_t len)
{
	char id[SR_UUID_STR_LEN + 1], idle[MON_DURATION_SIZE], uptime[MON_DURATION_SIZE], pid[16],
	    variants[SR_MAX_QUALITIES * 17];
	char last_error[SR_ERROR_MAX + 1];
	sr_uuid_format(s->channel_id, id);
	mon_format_duration(s->idle_ms, idle, sizeof idle);
	/* started_mono_ns keeps its value after a stop: uptime only means something while active.
	 */
	if (s->state == SR_STATE_ACTIVE && s->started_mono_ns != 0 &&
	    now_mono_ns >= s->started_mono_ns)
		mon_format_duration((now_mono_ns - s->started_mono_ns) / 1000000, uptime,
		                    sizeof uptime);
	else
		snprintf(uptime, sizeof uptime, "-");
	if (s->pid > 0)
		snprintf(pid, sizeof pid, "%ld", (long)s->pid);
	else
		snprintf(pid, sizeof pid, "-");
	format_variants(s, variants, sizeof variants);
	copy_printable(last_error, sizeof last_error, s->last_error);
	snprintf(buf, len, "%-36s %-8s %7" PRIu32 " %8s %8s %6" PRIu32 " %7s %-20s %s", id,
	         sr_state_name(s->state), s->clients, idle, uptime, s->error_count, pid, variants,
	         last_error[0] != '\0' ? last_error : "-");
}

uint32_t mon_used_slots(const mon_snapshot *snap)
{
	uint64_t used = (uint64_t)snap->n + snap->skipped;
	return used > UINT32_MAX ? UINT32_MAX : (uint32_t)used;
}

void mon_format_sessions_line(const mon_snapshot *snap, char *buf, size_t len)
{
	uint32_t used = mon_used_slots(snap);
	uint32_t cap = snap->stats.capacity;
	uint32_t free_slots = cap > used ? cap - used : 0;
	int w = snprintf(buf, len, "sessions: %" PRIu32 " used, %" PRIu32 " free of %" PRIu32 " |",
	                 used, free_slots, cap);
	for (int st = 0; st < SR_STATE_COUNT && w > 0 && (size_t)w < len; st++)
		w += snprintf(buf + w, len - (size_t)w, " %s %" PRIu32, sr_state_name((sr_state)st),
		              snap->by_state[st]);
	if (w > 0 && (size_t)w < len)
		w += snprintf(buf + w, len - (size_t)w, " | clients %" PRIu64, snap->clients);
	if (w > 0 && (size_t)w < len && free_slots == 0 && cap > 0)
		snprintf(buf + w, len - (size_t)w,
		         " | TABLE FULL: recreate with a larger --capacity");
}

/* "reaper 1234", "4 server workers (5 viewers on 2 channels)": the attached
 * processes grouped by role, in order of first appearance. */
static int format_roles(const mon_snapshot *snap, char *buf, size_t len)
{
	int w = 0;
	bool *done = calloc(snap->nprocs ? snap->nprocs : 1, sizeof *done);
	if (!done)
		return 0;
	for (size_t i = 0; i < snap->nprocs && w >= 0 && (size_t)w < len; i++) {
		if (done[i])
			continue;
		const mon_proc *p = &snap->procs[i];
		unsigned n = 0;
		uint64_t clients = 0, channels = 0;
		for (size_t j = i; j < snap->nprocs; j++) {
			if (done[j] || strcmp(snap->procs[j].role, p->role) != 0)
				continue;
			done[j] = true;
			n++;
			clients += snap->procs[j].clients;
			channels += snap->procs[j].channels;
		}
		if (n == 1)
			w += snprintf(buf + w, len - (size_t)w, "%s%s %ld", i ? ", " : "", p->role,
			              (long)p->pid);
		else
			w += snprintf(buf + w, len - (size_t)w, "%s%u %ss", i ? ", " : "", n,
			              p->role);
		if (w >= 0 && (size_t)w < len && clients)
			w += snprintf(buf + w, len - (size_t)w,
			              " (holding %" PRIu64 " viewer%s on %" PRIu64 " channel%s)",
			              clients, clients == 1 ? "" : "s", channels,
			              channels == 1 ? "" : "s");
	}
	free(done);
	return w;
}

void mon_format_procs_line(const mon_snapshot *snap, char *buf, size_t len)
{
	const sr_registry_stats *st = &snap->stats;
	int w;
	if (snap->nprocs) {
		w = snprintf(buf, len, "processes: %zu attached: ", snap->nprocs);
		if (w > 0 && (size_t)w < len)
			w += format_roles(snap, buf + w, len - (size_t)w);
		if (w > 0 && (size_t)w < len)
			w += snprintf(buf + w, len - (size_t)w, " | ");
	} else {
		w = snprintf(buf, len, "processes: ");
	}
	if (w > 0 && (size_t)w < len)
		w += snprintf(buf + w, len - (size_t)w,
		              "table %" PRIu32 " of %" PRIu32 " | dead reclaimed %" PRIu64
		              " (client leases %" PRIu64 ", locks %" PRIu64 ")",
		              st->procs_attached, st->max_procs, st->procs_reclaimed,
		              st->leases_reclaimed, st->locks_repaired);
	if (w > 0 && (size_t)w < len && snap->skipped > 0)
		w += snprintf(buf + w, len - (size_t)w, " | %" PRIu32 " busy records skipped",
		              snap->skipped);
	if (w > 0 && (size_t)w < len && st->max_procs > 0 && st->procs_attached >= st->max_procs)
		snprintf(buf + w, len - (size_t)w,
		         " | PROCESS TABLE FULL: recreate with a larger --max-procs");
}

void mon_format_registry_line(const char *name, const mon_snapshot *snap, char *buf, size_t len)
{
	char age[MON_DURATION_SIZE];
	mon_format_duration(snap->stats.age_ms, age, sizeof age);
	snprintf(buf, len, "registry %s | age %s | birth %016" PRIx64 " | created by pid %ld", name,
	         age, snap->stats.birth_id, (long)snap->stats.creator_pid);
}
