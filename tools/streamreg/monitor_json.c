#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "json_escape.h"
#include "monitor_format.h"
#include "monitor_output.h"

static void file_sink(void *ctx, const char *p, size_t n)
{
	fwrite(p, 1, n, ctx);
}

/* The owner record (null when nobody holds it) and the counters that only rise. */
static void json_owner_counters(FILE *f, const mon_snapshot *snap)
{
	const sr_owner_info *o = &snap->owner;
	const sr_registry_counters *c = &snap->counters;
	if (snap->owner_held) {
		fprintf(f, "\"owner\":{\"pid\":%ld,\"alive\":%s,\"info\":", (long)o->pid,
		        o->alive ? "true" : "false");
		/* whatever the owner wrote: any bytes */
		sr__json_string(file_sink, f, o->info, sizeof o->info);
		fprintf(f, ",\"heartbeat_age_ms\":%" PRIu64 ",\"claimed_wall_ns\":%" PRId64 "},",
		        o->heartbeat_age_ms, o->claimed_wall_ns);
	} else {
		fputs("\"owner\":null,", f);
	}
	fputs("\"transitions\":{", f);
	for (int s = 0; s < SR_STATE_COUNT; s++)
		fprintf(f, "%s\"%s\":%" PRIu64, s > 0 ? "," : "", sr_state_name((sr_state)s),
		        c->transitions[s]);
	fprintf(f,
	        "},\"restarts_total\":%" PRIu64 ",\"start_timeouts_total\":%" PRIu64
	        ",\"owner_takeovers\":%" PRIu64 ",\"start_latency\":{\"count\":%" PRIu64
	        ",\"sum_ns\":%" PRIu64 "},",
	        c->restarts, c->start_timeouts, c->owner_takeovers, c->start_latency_count,
	        c->start_latency_sum_ns);
}

int mon_json_registry(FILE *f, const char *name, const mon_snapshot *snap)
{
	const sr_registry_stats *st = &snap->stats;
	uint32_t used = mon_used_slots(snap);
	/* The name passed sr_name_valid() when attaching: nothing in it needs escaping. */
	fprintf(f,
	        "{\"name\":\"%s\",\"birth_id\":\"%016" PRIx64 "\",\"capacity\":%" PRIu32
	        ",\"used\":%" PRIu32 ",\"free\":%" PRIu32 ",\"by_state\":{",
	        name, st->birth_id, st->capacity, used,
	        st->capacity > used ? st->capacity - used : 0);
	for (int s = 0; s < SR_STATE_COUNT; s++)
		fprintf(f, "%s\"%s\":%" PRIu32, s > 0 ? "," : "", sr_state_name((sr_state)s),
		        snap->by_state[s]);
	fprintf(f,
	        "},\"clients\":%" PRIu64 ",\"skipped\":%" PRIu32 ",\"max_procs\":%" PRIu32
	        ",\"procs_attached\":%" PRIu32 ",\"leases_per_proc\":%" PRIu32
	        ",\"procs_reclaimed\":%" PRIu64 ",\"leases_reclaimed\":%" PRIu64
	        ",\"locks_repaired\":%" PRIu64 ",\"segment_size\":%" PRIu64 ",\"age_ms\":%" PRIu64
	        ",\"created_wall_ns\":%" PRId64 ",\"creator_pid\":%ld,",
	        snap->clients, snap->skipped, st->max_procs, st->procs_attached,
	        st->leases_per_proc, st->procs_reclaimed, st->leases_reclaimed, st->locks_repaired,
	        st->segment_size, st->age_ms, st->created_wall_ns, (long)st->creator_pid);
	json_owner_counters(f, snap);
	fputs("\"processes\":[", f);
	for (size_t i = 0; i < snap->nprocs; i++) {
		const mon_proc *p = &snap->procs[i];
		fprintf(f, "%s{\"pid\":%ld,\"role\":", i ? "," : "", (long)p->pid);
		/* the role may come from a command name: any bytes */
		sr__json_string(file_sink, f, p->role, sizeof p->role);
		fprintf(f,
		        ",\"mapped\":%s,\"in_table\":%s,\"channels\":%" PRIu32
		        ",\"clients\":%" PRIu64 "}",
		        p->mapped ? "true" : "false", p->in_table ? "true" : "false", p->channels,
		        p->clients);
	}
	fputs("]}", f);
	return ferror(f) ? -EIO : 0;
}

int mon_json_document(FILE *f, const char *name, const mon_snapshot *snap, const mon_view *view)
{
	fputs("{\"registry\":", f);
	int rc = mon_json_registry(f, name, snap);
	if (rc < 0)
		return rc;
	fputs(",\"sessions\":[", f);
	for (size_t i = 0; i < view->n; i++) {
		char *obj = NULL;
		rc = sr_session_info_json(view->rows[i], &obj);
		if (rc < 0)
			return rc;
		fprintf(f, "%s%s", i > 0 ? "," : "", obj);
		free(obj);
	}
	fputs("]}\n", f);
	return ferror(f) ? -EIO : 0;
}
