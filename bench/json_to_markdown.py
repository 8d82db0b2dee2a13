#!/usr/bin/env python3
"""Render `streamreg-bench --json-file` output as the Markdown tables of
docs/benchmarks.md, so the document quotes the run instead of retyping it.

usage: json_to_markdown.py RESULTS.json > tables.md
"""
import json
import sys

OP_SCENARIOS = ["find_touch", "find", "add_remove_client", "state_cas", "snapshot",
                "insert_delete", "mixed", "request_uuid", "request_ref",
                "add_remove_client_512ch", "mixed_512ch"]


def ratio(r):
    v = r.get("ratio")
    if v is None:
        return "n/a"
    return "%.0fx" % v if v >= 100 else "%.2fx" % v


def ns(v):
    if v >= 100000:
        return "%.0f" % v
    if v >= 100:
        return "%.0f" % v
    return "%.1f" % v


def throughput_table(rows, with_scale=False):
    out = ["| backend | procs | dist | ns/op (median) | CPU ns/op | Mops/s aggregate | min..max Mops/s | cost vs streamreg |" +
           (" vs 1 proc | CPU-time estimate |" if with_scale else ""),
           "|---|---:|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if with_scale else "")]
    for r in rows:
        if r["kind"] == "skipped":
            out.append("| %s | | | %s | | | | |%s" % (r["backend"], r["note"], " | |" if with_scale else ""))
            continue
        line = "| %s | %d | %s | %s | %s | %.2f | %.2f..%.2f | %s |" % (
            r["backend"], r["procs"], r["dist"], ns(r["ns_per_op"]), ns(r.get("cpu_ns_per_op", 0)),
            r["ops_per_sec"] / 1e6,
            r["ops_per_sec_min"] / 1e6, r["ops_per_sec_max"] / 1e6, ratio(r))
        if with_scale:
            line += " %s |" % ("%.2fx" % r["scale_vs_1proc"] if r["procs"] > 1 and "scale_vs_1proc" in r else "")
            line += " %s |" % ("%.2fx" % r["cpu_scale_vs_1proc"] if r["procs"] > 1 and "cpu_scale_vs_1proc" in r else "")
        out.append(line)
    return "\n".join(out)


def page_label(r):
    """The pass ("shm": /dev/shm, "huge": a huge=within_size tmpfs) and the page size seen."""
    b = r.get("page_bytes", 0)
    size = "%d MiB" % (b >> 20) if b >= 1 << 20 else "%d KiB" % (b >> 10) if b else "?"
    return "%s, %s" % (r.get("pages", "shm"), size)


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    res = doc["results"]
    by = {}
    for r in res:
        by.setdefault(r["scenario"], []).append(r)
    m = doc["machine"]
    c = doc["config"]
    print("Run: %s mode, %d repetitions of %d ms per cell, medians; %s, %d cpus, Linux %s, glibc %s, %s; "
          "load average %s at start, %s at end; one clock read %d ns.\n"
          % (doc["mode"], c["reps"], c["duration_ms"], m["cpu"], m["cpus"], m["kernel"], m["glibc"],
             m["compiler"], m.get("loadavg_start", "?"), m.get("loadavg_end", "?"), c["timer_overhead_ns"]))
    for s in OP_SCENARIOS:
        if s in by:
            print("#### %s\n" % s)
            print(throughput_table(by[s]) + "\n")
    if "scaling" in by:
        print("#### scaling (find + touch)\n")
        print(throughput_table(by["scaling"], with_scale=True) + "\n")
    if "latency" in by:
        print("#### latency (find + touch, ns)\n")
        print("| backend | writer | p50 | p90 | p99 | p99.9 | max (median of runs) | highest seen | p99.9 vs streamreg |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in by["latency"]:
            if r["kind"] != "latency":
                print("| %s | | %s | | | | | | |" % (r["backend"], r.get("note", "")))
                continue
            print("| %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %s |" % (
                r["backend"], "churning" if r["churn"] == "churn" else "none", r["p50_ns"], r["p90_ns"],
                r["p99_ns"], r["p999_ns"], r["max_ns"], r["quantiles"][-1][1], ratio(r)))
        print()
    if "capacity" in by:
        print("#### capacity (1 process, table half full)\n")
        print("| capacity | pages | sessions | find + touch ns | its CPU ns | find ns | its CPU ns |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        keys = sorted({(r.get("pages", "shm"), r["capacity"]) for r in by["capacity"] if "capacity" in r},
                      key=lambda k: (k[0] != "shm", k[1]))
        for pages, cap in keys:
            rows = [r for r in by["capacity"] if r.get("capacity") == cap and r.get("pages", "shm") == pages
                    and r["kind"] == "throughput"]
            t = [r for r in rows if r.get("op") == "find_touch"]
            f = [r for r in rows if r.get("op") == "find"]
            print("| %d | %s | %s | %s | %s | %s | %s |" % (
                cap, page_label(t[0] if t else {"pages": pages}), t[0]["sessions"] if t else "",
                ns(t[0]["ns_per_op"]) if t else "failed",
                ns(t[0]["cpu_ns_per_op"]) if t else "", ns(f[0]["ns_per_op"]) if f else "failed",
                ns(f[0]["cpu_ns_per_op"]) if f else ""))
        for r in by["capacity"]:
            if r["kind"] == "skipped":
                print("\n%s" % r.get("note", ""))
        print()
    if "reaper_scan" in by or "memory" in by:
        print("#### reaper scan (full table) and memory\n")
        print("| capacity | pages | sessions | recover + scan ms | its CPU ms | floor: sequential read ms | recover + list + should_cleanup ms | recover + foreach ms | its CPU ms | slot bytes | segment MiB | resident MiB, half full |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        mem = {(r.get("pages", "shm"), r["capacity"]): r for r in by.get("memory", []) if r["kind"] == "memory"}
        for r in by.get("reaper_scan", []):
            if r["kind"] != "reaper":
                print("| %s | %s | | %s | | | | | | | | |" % (r.get("capacity", ""), r.get("pages", ""), r.get("note", "")))
                continue
            mr = mem.get((r.get("pages", "shm"), r["capacity"]))
            print("| %d | %s | %d | %.3f | %.3f | %s | %s | %.2f | %s | %s | %s | %s |" % (
                r["capacity"], page_label(r), r["sessions"], r["scan_ms"], r.get("scan_cpu_ms", 0),
                "%.3f" % r["floor_ms"] if "floor_ms" in r else "",
                "%.2f" % r["list_should_cleanup_ms"] if "list_should_cleanup_ms" in r else "", r["foreach_ms"],
                "%.2f" % r["foreach_cpu_ms"] if "foreach_cpu_ms" in r else "",
                mr["slot_bytes"] if mr else "", "%.1f" % (mr["segment_bytes"] / 1048576) if mr else "",
                "%.1f" % (mr.get("resident_bytes", 0) / 1048576) if mr else ""))
        print()
    print("#### targets\n")
    print("| target | measured | verdict (wall clock) | on CPU time |")
    print("|---|---|---|---|")
    names = {True: "met", False: "**missed**", None: "not run"}
    for t in doc["targets"]:
        cpu = {True: "met", False: "missed", None: "n/a"}[t.get("met_on_cpu_time")]
        print("| %s | %s | %s | %s |" % (t["target"], t["measured"], names[t["met"]], cpu))
    return 0


if __name__ == "__main__":
    sys.exit(main())
