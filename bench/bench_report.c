/* Results: ratios to streamreg, the targets, a readable table and JSON. */
#include "bench_report.h"

#include <gnu/libc-version.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

const double lat_quantile_levels[LAT_QUANTILES] = {
    0.001, 0.01, 0.05, 0.1,  0.2,   0.3,   0.4,   0.5,    0.6,    0.7,     0.8,     0.9,
    0.95,  0.97, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999, 0.99995, 0.99999, 1.0};

static struct result *results;
static size_t n_results, cap_results;

struct result *report_add(void)
{
	if (n_results == cap_results) {
		size_t cap = cap_results ? 2 * cap_results : 64;
		struct result *r = realloc(results, cap * sizeof *r);
		if (!r)
			abort();
		results = r;
		cap_results = cap;
	}
	struct result *r = &results[n_results++];
	memset(r, 0, sizeof *r);
	return r;
}

size_t report_count(void)
{
	return n_results;
}

struct result *report_get(size_t i)
{
	return i < n_results ? &results[i] : NULL;
}

const struct result *report_find(enum result_kind k, const char *scenario, const char *backend,
                                 const char *op, const char *dist, int procs, uint32_t capacity,
                                 const char *churn)
{
	for (size_t i = 0; i < n_results; i++) {
		const struct result *r = &results[i];
		if (r->kind == k && !strcmp(r->scenario, scenario) &&
		    !strcmp(r->backend, backend) && (!op || !strcmp(r->op, op)) &&
		    (!dist || !strcmp(r->dist, dist)) && (procs <= 0 || r->procs == procs) &&
		    (!capacity || r->capacity == capacity) && (!churn || !strcmp(r->churn, churn)))
			return r;
	}
	return NULL;
}

void report_finish(void)
{
	for (size_t i = 0; i < n_results; i++) {
		struct result *r = &results[i];
		const struct result *sr = NULL;
		if (r->kind == RK_THROUGHPUT && r->pages[0]) {
			/* Capacity rows: streamreg only, one row per page pass. */
			r->ratio = 1;
			r->has_ratio = true;
		} else if (r->kind == RK_THROUGHPUT) {
			sr = report_find(RK_THROUGHPUT, r->scenario, "streamreg", r->op, r->dist,
			                 r->procs, r->capacity, NULL);
			if (sr && r->ops_per_sec > 0) {
				r->ratio = sr->ops_per_sec / r->ops_per_sec;
				r->has_ratio = true;
			}
			const struct result *one =
			    report_find(RK_THROUGHPUT, r->scenario, r->backend, r->op, r->dist, 1,
			                r->capacity, NULL);
			if (one && one->ops_per_sec > 0)
				r->scale = r->ops_per_sec / one->ops_per_sec;
		} else if (r->kind == RK_LATENCY) {
			sr = report_find(RK_LATENCY, r->scenario, "streamreg", NULL, NULL, 0, 0,
			                 r->churn);
			if (sr && sr->p999 > 0) {
				r->ratio = r->p999 / sr->p999;
				r->has_ratio = true;
			}
		} else if (r->kind == RK_REAPER || r->kind == RK_MEMORY) {
			/* Only streamreg has these rows: its ratio to itself. */
			r->ratio = 1;
			r->has_ratio = !strcmp(r->backend, "streamreg");
		}
	}
}

/* ---- machine ---- */

static void cpu_model(char *buf, size_t len)
{
	snprintf(buf, len, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof line, f)) {
		char *c = strchr(line, ':');
		if (!strncmp(line, "model name", 10) && c) {
			snprintf(buf, len, "%s", c + 2);
			buf[strcspn(buf, "\n")] = 0;
			break;
		}
	}
	fclose(f);
}

void report_loadavg(char *buf, size_t len)
{
	double a, b, c;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
		snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
	else
		snprintf(buf, len, "unknown");
	if (f)
		fclose(f);
}

/* ---- table ---- */

static const char *fmt_ratio(char *buf, size_t len, const struct result *r)
{
	if (!r->has_ratio)
		snprintf(buf, len, "n/a");
	else if (r->ratio >= 100)
		snprintf(buf, len, "%.0fx", r->ratio);
	else
		snprintf(buf, len, "%.2fx", r->ratio);
	return buf;
}

/* "4k:4KiB" style: the directory kind and the page size seen in it. */
static const char *fmt_pages(char *buf, size_t len, const struct result *r)
{
	if (!r->pages[0])
		snprintf(buf, len, "-");
	else if (r->page_bytes >= 1u << 20)
		snprintf(buf, len, "%s:%lluM", r->pages, (unsigned long long)(r->page_bytes >> 20));
	else
		snprintf(buf, len, "%s:%lluK", r->pages, (unsigned long long)(r->page_bytes >> 10));
	return buf;
}

static void print_header(FILE *f, const struct result *r)
{
	switch (r->kind) {
	case RK_LATENCY:
		fprintf(f, "%-15s %-6s %9s %9s %9s %9s %10s %9s\n", "backend", "churn", "p50 ns",
		        "p90 ns", "p99 ns", "p99.9 ns", "max ns", "ratio");
		break;
	case RK_REAPER:
		fprintf(f, "%-15s %9s %9s %10s %10s %14s %12s %11s %9s %9s\n", "backend",
		        "capacity", "sessions", "scan ms", "scan CPU", "should_clean ms",
		        "foreach ms", "foreach CPU", "floor ms", "pages");
		break;
	case RK_MEMORY:
		fprintf(f, "%-15s %9s %9s %11s %14s %14s %9s\n", "backend", "capacity", "sessions",
		        "slot bytes", "segment MiB", "resident MiB", "pages");
		break;
	default:
		fprintf(f, "%-15s %-18s %5s %-9s %9s %10s %9s %9s %17s %9s\n", "backend", "op",
		        "procs", "dist", "capacity", "ns/op", "cpu ns/op", "Mops/s",
		        "spread Mops/s", "ratio");
	}
}

static void print_row(FILE *f, const struct result *r)
{
	char rb[32];
	switch (r->kind) {
	case RK_SKIPPED:
		fprintf(f, "%-15s %s\n", r->backend, r->note);
		break;
	case RK_LATENCY:
		fprintf(f, "%-15s %-6s %9.0f %9.0f %9.0f %9.0f %10.0f %9s\n", r->backend, r->churn,
		        r->p50, r->p90, r->p99, r->p999, r->max, fmt_ratio(rb, sizeof rb, r));
		break;
	case RK_REAPER:
		fprintf(f, "%-15s %9u %9u %10.3f %10.3f %14.3f %12.2f %11.2f %9.3f %9s\n",
		        r->backend, r->capacity, r->sessions, r->scan_ms, r->scan_cpu_ms,
		        r->list_cleanup_ms, r->foreach_ms, r->foreach_cpu_ms, r->floor_ms,
		        fmt_pages(rb, sizeof rb, r));
		break;
	case RK_MEMORY:
		fprintf(f, "%-15s %9u %9u %11llu %14.1f %14.1f %9s\n", r->backend, r->capacity,
		        r->sessions, (unsigned long long)r->slot_bytes,
		        (double)r->segment_bytes / 1048576.0, (double)r->resident_bytes / 1048576.0,
		        fmt_pages(rb, sizeof rb, r));
		break;
	default: {
		char spread[40];
		snprintf(spread, sizeof spread, "%.2f..%.2f", r->ops_min / 1e6, r->ops_max / 1e6);
		fprintf(f, "%-15s %-18s %5d %-9s %9u %10.1f %9.1f %9.2f %17s %9s", r->backend,
		        r->op, r->procs, r->dist, r->capacity, r->ns_per_op, r->cpu_ns_per_op,
		        r->ops_per_sec / 1e6, spread, fmt_ratio(rb, sizeof rb, r));
		if (r->scale > 0 && r->procs > 1)
			fprintf(f, "  %.2fx of 1 proc", r->scale);
		if (r->cpu_scale > 0 && r->procs > 1)
			fprintf(f, " (CPU-time estimate %.2fx)", r->cpu_scale);
		if (r->pages[0])
			fprintf(f, "  pages %s", fmt_pages(rb, sizeof rb, r));
		fputc('\n', f);
	}
	}
}

void report_table(FILE *f, const struct run_info *ri)
{
	struct utsname u;
	char cpu[128];
	uname(&u);
	cpu_model(cpu, sizeof cpu);
	fprintf(f, "streamreg-bench (%s mode): %s, %d cpus, Linux %s, glibc %s\n", ri->mode, cpu,
	        ri->ncpus, u.release, gnu_get_libc_version());
	fprintf(f,
	        "%d repetitions of %.0f ms each, medians shown; table of %u slots holding %u "
	        "sessions; workers %s; one clock read costs %llu ns\n",
	        ri->reps, ri->duration_ms, ri->capacity, ri->sessions,
	        ri->pin ? "pinned" : "not pinned", (unsigned long long)ri->timer_overhead_ns);
	char load_end[64];
	report_loadavg(load_end, sizeof load_end);
	fprintf(f, "load average at start %s, at end %s\n", ri->load_start, load_end);
	fprintf(f, "ns/op = wall-clock time per op of one worker; cpu ns/op = its CPU time per op "
	           "(the load-independent figure; for Redis the client's share only)\n");
	fprintf(f, "ratio = the row's cost / streamreg's cost on the same work (above 1: streamreg "
	           "is faster)\n");
	/* Rows grouped by scenario, scenarios in the order they first appear. */
	for (size_t s = 0; s < n_results; s++) {
		const char *section = results[s].scenario;
		bool seen = false;
		for (size_t k = 0; k < s && !seen; k++)
			seen = !strcmp(results[k].scenario, section);
		if (seen)
			continue;
		fprintf(f, "\n== %s ==\n", section);
		print_header(f, &results[s]);
		for (size_t i = s; i < n_results; i++)
			if (!strcmp(results[i].scenario, section))
				print_row(f, &results[i]);
		for (size_t i = s; i < n_results; i++)
			if (!strcmp(results[i].scenario, section) && results[i].note[0] &&
			    results[i].kind != RK_SKIPPED)
				fprintf(f, "  note, %s%s%s%s%s: %s\n", results[i].backend,
				        results[i].op[0] ? " " : "", results[i].op,
				        results[i].churn[0] ? " " : "", results[i].churn,
				        results[i].note);
	}
	struct target t[16];
	size_t nt = report_targets(t, ri);
	fprintf(f, "\n== targets of issue 5 ==\n");
	for (size_t i = 0; i < nt; i++)
		fprintf(f, "%-8s %-62s %s\n",
		        t[i].met == 1   ? "met"
		        : t[i].met == 0 ? "MISSED"
		                        : "not run",
		        t[i].text, t[i].measured);
}

/* ---- JSON ---- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

static void json_result(FILE *f, const struct result *r)
{
	static const char *const kinds[] = {"throughput", "latency", "reaper", "memory", "skipped"};
	fprintf(f, "{\"kind\":\"%s\",\"scenario\":", kinds[r->kind]);
	json_str(f, r->scenario);
	fputs(",\"backend\":", f);
	json_str(f, r->backend);
	if (r->note[0]) {
		fputs(",\"note\":", f);
		json_str(f, r->note);
	}
	if (r->has_ratio) {
		fputs(",\"ratio\":", f);
		json_num(f, r->ratio);
	}
	switch (r->kind) {
	case RK_THROUGHPUT:
		fprintf(
		    f,
		    ",\"op\":\"%s\",\"procs\":%d,\"dist\":\"%s\",\"capacity\":%u,\"sessions\":%u",
		    r->op, r->procs, r->dist, r->capacity, r->sessions);
		fputs(",\"ns_per_op\":", f);
		json_num(f, r->ns_per_op);
		fputs(",\"cpu_ns_per_op\":", f);
		json_num(f, r->cpu_ns_per_op);
		fputs(",\"ops_per_sec\":", f);
		json_num(f, r->ops_per_sec);
		fputs(",\"ops_per_sec_min\":", f);
		json_num(f, r->ops_min);
		fputs(",\"ops_per_sec_max\":", f);
		json_num(f, r->ops_max);
		fprintf(f, ",\"reps\":%d,\"failed_ops\":%llu", r->reps,
		        (unsigned long long)r->failed);
		if (r->scale > 0) {
			fputs(",\"scale_vs_1proc\":", f);
			json_num(f, r->scale);
		}
		if (r->cpu_scale > 0) {
			fputs(",\"cpu_scale_vs_1proc\":", f);
			json_num(f, r->cpu_scale);
		}
		break;
	case RK_LATENCY:
		fprintf(f, ",\"churn\":\"%s\",\"samples\":%llu,\"capacity\":%u,\"sessions\":%u",
		        r->churn, (unsigned long long)r->samples, r->capacity, r->sessions);
		fputs(",\"p50_ns\":", f);
		json_num(f, r->p50);
		fputs(",\"p90_ns\":", f);
		json_num(f, r->p90);
		fputs(",\"p99_ns\":", f);
		json_num(f, r->p99);
		fputs(",\"p999_ns\":", f);
		json_num(f, r->p999);
		fputs(",\"max_ns\":", f);
		json_num(f, r->max);
		fputs(",\"quantiles\":[", f);
		for (int i = 0; i < LAT_QUANTILES; i++) {
			fprintf(f, "%s[%.5f,", i ? "," : "", lat_quantile_levels[i]);
			json_num(f, r->q[i]);
			fputc(']', f);
		}
		fputc(']', f);
		break;
	case RK_REAPER:
		fprintf(f, ",\"capacity\":%u,\"sessions\":%u,\"cleanup_candidates\":%u",
		        r->capacity, r->sessions, r->cleanup_candidates);
		fputs(",\"scan_ms\":", f);
		json_num(f, r->scan_ms);
		fputs(",\"scan_cpu_ms\":", f);
		json_num(f, r->scan_cpu_ms);
		fputs(",\"list_should_cleanup_ms\":", f);
		json_num(f, r->list_cleanup_ms);
		fputs(",\"foreach_ms\":", f);
		json_num(f, r->foreach_ms);
		fputs(",\"floor_ms\":", f);
		json_num(f, r->floor_ms);
		fputs(",\"foreach_cpu_ms\":", f);
		json_num(f, r->foreach_cpu_ms);
		fputs(",\"floor_cpu_ms\":", f);
		json_num(f, r->floor_cpu_ms);
		fprintf(f, ",\"reps\":%d", r->reps);
		break;
	case RK_MEMORY:
		fprintf(
		    f,
		    ",\"capacity\":%u,\"sessions\":%u,\"slot_bytes\":%llu,\"segment_bytes\":%llu,"
		    "\"resident_bytes\":%llu",
		    r->capacity, r->sessions, (unsigned long long)r->slot_bytes,
		    (unsigned long long)r->segment_bytes, (unsigned long long)r->resident_bytes);
		break;
	case RK_SKIPPED:
		break;
	}
	if (r->pages[0])
		fprintf(f, ",\"pages\":\"%s\",\"page_bytes\":%llu", r->pages,
		        (unsigned long long)r->page_bytes);
	fputc('}', f);
}

void report_json(FILE *f, const struct run_info *ri)
{
	struct utsname u;
	char cpu[128];
	uname(&u);
	cpu_model(cpu, sizeof cpu);
	fprintf(
	    f, "{\n\"tool\":\"streamreg-bench\",\"mode\":\"%s\",\n\"machine\":{\"cpu\":", ri->mode);
	json_str(f, cpu);
	fprintf(f, ",\"cpus\":%d,\"kernel\":", ri->ncpus);
	json_str(f, u.release);
	char load_end[64];
	report_loadavg(load_end, sizeof load_end);
	fprintf(f, ",\"glibc\":\"%s\",\"compiler\":", gnu_get_libc_version());
	json_str(f, __VERSION__);
	fprintf(f, ",\"loadavg_start\":\"%s\",\"loadavg_end\":\"%s\"", ri->load_start, load_end);
	fprintf(f,
	        "},\n\"config\":{\"reps\":%d,\"duration_ms\":%.0f,\"capacity\":%u,\"sessions\":%u,"
	        "\"pinned\":%s,\"timer_overhead_ns\":%llu},\n\"results\":[\n",
	        ri->reps, ri->duration_ms, ri->capacity, ri->sessions, ri->pin ? "true" : "false",
	        (unsigned long long)ri->timer_overhead_ns);
	for (size_t i = 0; i < n_results; i++) {
		json_result(f, &results[i]);
		fputs(i + 1 < n_results ? ",\n" : "\n", f);
	}
	fputs("],\n\"targets\":[\n", f);
	struct target t[16];
	size_t nt = report_targets(t, ri);
	for (size_t i = 0; i < nt; i++) {
		fprintf(f, "{\"id\":\"%s\",\"target\":", t[i].id);
		json_str(f, t[i].text);
		fprintf(f, ",\"met\":%s,\"met_on_cpu_time\":%s,\"measured\":", report_tri(t[i].met),
		        report_tri(t[i].met_cpu));
		json_str(f, t[i].measured);
		fputs(i + 1 < nt ? "},\n" : "}\n", f);
	}
	fputs("]\n}\n", f);
}
