/* The targets of issue 5, judged from the collected results. */
#include "bench_report.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* A tri-state verdict as JSON: true, false or null (not measured). */
const char *report_tri(int v)
{
	return v == 1 ? "true" : v == 0 ? "false" : "null";
}

static int tgt(bool measured, bool ok)
{
	return measured ? ok : -1;
}

/* A capacity-scenario row of one page pass ("shm" or "huge"). */
static const struct result *find_paged(enum result_kind k, const char *scenario, const char *op,
                                       uint32_t capacity, const char *pages)
{
	for (size_t i = 0; i < report_count(); i++) {
		const struct result *r = report_get(i);
		if (r->kind == k && !strcmp(r->scenario, scenario) &&
		    !strcmp(r->backend, "streamreg") && (!op || !strcmp(r->op, op)) &&
		    r->capacity == capacity && !strcmp(r->pages, pages))
			return r;
	}
	return NULL;
}

static void page_text(char *buf, size_t len, const struct result *r)
{
	bool mib = r->page_bytes >= 1u << 20;
	snprintf(buf, len, "%u %s pages", (unsigned)(r->page_bytes >> (mib ? 20 : 10)) & 0xffffu,
	         mib ? "MiB" : "KiB");
}

/* Issue 12's targets: ratios measured side by side in this run. */
static size_t issue12_targets(struct target *t, size_t n)
{
	const struct result *a, *b, *c, *d;
	char pa[24], pb[24];

	t[n] = (struct target){"find_touch_1m_2x",
	                       "find + touch at 1,048,576 sessions within 2x of the 4,096 figure "
	                       "(huge pages)",
	                       -1, "", -1};
	a = find_paged(RK_THROUGHPUT, "capacity", "find_touch", 1048576, "huge");
	b = find_paged(RK_THROUGHPUT, "capacity", "find_touch", 4096, "huge");
	c = find_paged(RK_THROUGHPUT, "capacity", "find_touch", 1048576, "shm");
	d = find_paged(RK_THROUGHPUT, "capacity", "find_touch", 4096, "shm");
	if (a && b && b->ns_per_op > 0) {
		page_text(pa, sizeof pa, a);
		snprintf(t[n].measured, 160, "%.2fx: %.1f ns vs %.1f ns, %s",
		         a->ns_per_op / b->ns_per_op, a->ns_per_op, b->ns_per_op, pa);
		if (c && d && d->ns_per_op > 0) {
			page_text(pb, sizeof pb, c);
			size_t l = strlen(t[n].measured);
			snprintf(t[n].measured + l, 160 - l, " (%s: %.2fx)", pb,
			         c->ns_per_op / d->ns_per_op);
		}
		if (a->cpu_ns_per_op > 0 && b->cpu_ns_per_op > 0)
			t[n].met_cpu = a->cpu_ns_per_op / b->cpu_ns_per_op <= 2;
	}
	t[n].met = tgt(a && b && b->ns_per_op > 0, a && b && a->ns_per_op <= 2 * b->ns_per_op);
	n++;

	t[n] = (struct target){"scan_2x_floor",
	                       "full reaper scan of 65,536 sessions within 2x of a sequential read "
	                       "of its hot records' bytes",
	                       -1, "", -1};
	a = find_paged(RK_REAPER, "reaper_scan", NULL, 65536, "shm");
	if (a && a->floor_ms > 0) {
		snprintf(t[n].measured, 160, "%.2fx: %.3f ms vs %.3f ms (CPU time %.2fx)",
		         a->scan_ms / a->floor_ms, a->scan_ms, a->floor_ms,
		         a->floor_cpu_ms > 0 ? a->scan_cpu_ms / a->floor_cpu_ms : 0);
		t[n].met_cpu = a->floor_cpu_ms > 0 && a->scan_cpu_ms <= 2 * a->floor_cpu_ms;
	}
	t[n].met = tgt(a && a->floor_ms > 0, a && a->scan_ms <= 2 * a->floor_ms);
	n++;

	t[n] = (struct target){"foreach_5x_scan",
	                       "sr_session_foreach over 65,536 sessions within 5x of the scan", -1,
	                       "", -1};
	if (a && a->scan_ms > 0) {
		snprintf(t[n].measured, 160, "%.2fx: %.3f ms vs %.3f ms (CPU time %.2fx)",
		         a->foreach_ms / a->scan_ms, a->foreach_ms, a->scan_ms,
		         a->scan_cpu_ms > 0 ? a->foreach_cpu_ms / a->scan_cpu_ms : 0);
		t[n].met_cpu = a->scan_cpu_ms > 0 && a->foreach_cpu_ms <= 5 * a->scan_cpu_ms;
		b = find_paged(RK_REAPER, "reaper_scan", NULL, 65536, "huge");
		if (b && b->scan_ms > 0) {
			size_t l = strlen(t[n].measured);
			snprintf(t[n].measured + l, 160 - l, " (huge pages: %.2fx)",
			         b->foreach_ms / b->scan_ms);
		}
	}
	t[n].met = tgt(a && a->scan_ms > 0, a && a->foreach_ms <= 5 * a->scan_ms);
	n++;

	t[n] = (struct target){
	    "insert_delete_4x_rwlock",
	    "insert + delete, one process, within 4x of the in-process rwlock map", -1, "", -1};
	a = report_find(RK_THROUGHPUT, "insert_delete", "streamreg", NULL, "uniform", 1, 0, NULL);
	b = report_find(RK_THROUGHPUT, "insert_delete", "rwlock-inproc", NULL, "uniform", 1, 0,
	                NULL);
	if (a && b && b->ns_per_op > 0) {
		snprintf(t[n].measured, 160, "%.2fx: %.0f ns vs %.0f ns (CPU time %.2fx)",
		         a->ns_per_op / b->ns_per_op, a->ns_per_op, b->ns_per_op,
		         b->cpu_ns_per_op > 0 ? a->cpu_ns_per_op / b->cpu_ns_per_op : 0);
		t[n].met_cpu = b->cpu_ns_per_op > 0 && a->cpu_ns_per_op <= 4 * b->cpu_ns_per_op;
	}
	t[n].met = tgt(a && b && b->ns_per_op > 0, a && b && a->ns_per_op <= 4 * b->ns_per_op);
	n++;

	t[n] = (struct target){"insert_delete_2p_0.9x",
	                       "insert + delete, 2 processes together at least 0.9x one process",
	                       -1, "", -1};
	c = report_find(RK_THROUGHPUT, "insert_delete", "streamreg", NULL, "uniform", 2, 0, NULL);
	if (a && c && a->ops_per_sec > 0) {
		snprintf(t[n].measured, 160, "%.2fx: %.2f vs %.2f M/s",
		         c->ops_per_sec / a->ops_per_sec, c->ops_per_sec / 1e6,
		         a->ops_per_sec / 1e6);
		if (a->cpu_ns_per_op > 0 && c->cpu_ns_per_op > 0)
			t[n].met_cpu = 2 * a->cpu_ns_per_op / c->cpu_ns_per_op >= 0.9;
	}
	t[n].met =
	    tgt(a && c && a->ops_per_sec > 0, a && c && c->ops_per_sec >= 0.9 * a->ops_per_sec);
	n++;
	return n;
}

size_t report_targets(struct target *t, const struct run_info *ri)
{
	size_t n = 0;
	const struct result *r;
	char *m;

	t[n] = (struct target){"find_touch_50ns", "find + touch under 50 ns, single process", -1,
	                       "", -1};
	r = report_find(RK_THROUGHPUT, "find_touch", "streamreg", NULL, "uniform", 1, 0, NULL);
	m = t[n].measured;
	if (r) {
		snprintf(m, 160, "%.1f ns (CPU time %.1f ns)", r->ns_per_op, r->cpu_ns_per_op);
		t[n].met_cpu = r->cpu_ns_per_op > 0 && r->cpu_ns_per_op < 50;
	}
	t[n++].met = tgt(r, r && r->ns_per_op < 50);

	t[n] = (struct target){"add_remove_100ns",
	                       "add + remove client under 100 ns, single process", -1, "", -1};
	r = report_find(RK_THROUGHPUT, "add_remove_client", "streamreg", NULL, "uniform", 1, 0,
	                NULL);
	if (r) {
		snprintf(t[n].measured, 160, "%.1f ns (CPU time %.1f ns)", r->ns_per_op,
		         r->cpu_ns_per_op);
		t[n].met_cpu = r->cpu_ns_per_op > 0 && r->cpu_ns_per_op < 100;
	}
	t[n++].met = tgt(r, r && r->ns_per_op < 100);

	t[n] = (struct target){"vs_rwlock_2x",
	                       "at least 2x the in-process rwlock hash map on find + touch", -1, "",
	                       -1};
	r = report_find(RK_THROUGHPUT, "find_touch", "rwlock-inproc", NULL, "uniform", 1, 0, NULL);
	const struct result *sr =
	    report_find(RK_THROUGHPUT, "find_touch", "streamreg", NULL, "uniform", 1, 0, NULL);
	if (r && r->has_ratio && sr && sr->cpu_ns_per_op > 0) {
		double cr = r->cpu_ns_per_op / sr->cpu_ns_per_op;
		snprintf(t[n].measured, 160, "%.2fx (on CPU time %.2fx)", r->ratio, cr);
		t[n].met_cpu = cr >= 2;
	}
	t[n++].met = tgt(r && r->has_ratio, r && r->ratio >= 2);

	t[n] = (struct target){"vs_redis_1000x", "at least 1000x Redis round trips on find + touch",
	                       -1, "", -1};
	r = report_find(RK_THROUGHPUT, "find_touch", "redis-rt", NULL, "uniform", 1, 0, NULL);
	if (r && r->has_ratio)
		snprintf(t[n].measured, 160, "%.0fx", r->ratio);
	t[n++].met = tgt(r && r->has_ratio, r && r->ratio >= 1000);

	t[n] = (struct target){"scale_distinct_1.7x",
	                       "2 processes on distinct channels at least 1.7x one process", -1, "",
	                       -1};
	r = report_find(RK_THROUGHPUT, "scaling", "streamreg", NULL, "distinct", 2, 0, NULL);
	if (r && r->scale > 0) {
		snprintf(t[n].measured, 160, "%.2fx (CPU-time estimate %.2fx)", r->scale,
		         r->cpu_scale);
		t[n].met_cpu = r->cpu_scale > 0 ? r->cpu_scale >= 1.7 : -1;
	}
	t[n++].met = tgt(r && r->scale > 0, r && r->scale >= 1.7);

	t[n] = (struct target){"scale_hot_0.5x",
	                       "2 processes on one hot channel no worse than 0.5x one process", -1,
	                       "", -1};
	r = report_find(RK_THROUGHPUT, "scaling", "streamreg", NULL, "hot", 2, 0, NULL);
	if (r && r->scale > 0) {
		snprintf(t[n].measured, 160, "%.2fx (CPU-time estimate %.2fx)", r->scale,
		         r->cpu_scale);
		t[n].met_cpu = r->cpu_scale > 0 ? r->cpu_scale >= 0.5 : -1;
	}
	t[n++].met = tgt(r && r->scale > 0, r && r->scale >= 0.5);

	t[n] = (struct target){"p999_2us", "p99.9 of find + touch under 2 us while a writer churns",
	                       -1, "", -1};
	r = report_find(RK_LATENCY, "latency", "streamreg", NULL, NULL, 0, 0, "churn");
	if (r)
		snprintf(t[n].measured, 160, "%.0f ns (timer read of ~%llu ns included)", r->p999,
		         (unsigned long long)ri->timer_overhead_ns);
	t[n++].met = tgt(r, r && r->p999 < 2000);

	t[n] = (struct target){"reaper_65536_1ms", "full reaper scan of 65,536 sessions under 1 ms",
	                       -1, "", -1};
	r = report_find(RK_REAPER, "reaper_scan", "streamreg", NULL, NULL, 0, 65536, NULL);
	if (r) {
		snprintf(t[n].measured, 160, "%.3f ms (CPU time %.3f ms; %u sessions)", r->scan_ms,
		         r->scan_cpu_ms, r->sessions);
		t[n].met_cpu = r->scan_cpu_ms < 1 && r->sessions >= 65536;
	}
	t[n++].met = tgt(r, r && r->scan_ms < 1 && r->sessions >= 65536);

	t[n] = (struct target){"memory_reported", "memory per session slot reported", -1, "", -1};
	r = report_find(RK_MEMORY, "memory", "streamreg", NULL, NULL, 0, 0, NULL);
	if (r)
		snprintf(t[n].measured, 160, "%llu bytes per slot",
		         (unsigned long long)r->slot_bytes);
	t[n++].met = tgt(r, r != NULL);
	return issue12_targets(t, n);
}
