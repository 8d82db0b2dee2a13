/* The targets of issue 5, judged from the collected results. */
#include "bench_report.h"

#include <stdio.h>

/* A tri-state verdict as JSON: true, false or null (not measured). */
const char *report_tri(int v)
{
	return v == 1 ? "true" : v == 0 ? "false" : "null";
}

static int tgt(bool measured, bool ok)
{
	return measured ? ok : -1;
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
	return n;
}
