#!/usr/bin/env python3
"""CI check of streamreg-bench: run `--quick --json`, require valid JSON that
covers every scenario of issue 5 with sane values.  The numbers themselves are
not asserted: CI machines are too noisy for that."""
import json
import math
import subprocess
import sys
import time

REQUIRED = [
    "find_touch", "find", "add_remove_client", "state_cas", "snapshot", "insert_delete",
    "mixed", "request_uuid", "request_ref", "scaling", "latency", "capacity", "reaper_scan",
    "memory",
]
TARGETS = [
    "find_touch_50ns", "add_remove_100ns", "vs_rwlock_2x", "vs_redis_1000x",
    "scale_distinct_1.7x", "scale_hot_0.5x", "p999_2us", "reaper_65536_1ms", "memory_reported",
    "find_touch_1m_2x", "scan_2x_floor", "foreach_5x_scan", "insert_delete_4x_rwlock",
    "insert_delete_2p_0.9x",
]
QUICK_LIMIT_S = 30


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def positive(row, key):
    v = row.get(key)
    if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        fail("%s/%s: %s = %r is not a positive number" % (row.get("scenario"), row.get("backend"), key, v))


def main():
    if len(sys.argv) != 2:
        fail("usage: check_bench_json.py PATH/TO/streamreg-bench")
    t0 = time.monotonic()
    proc = subprocess.run([sys.argv[1], "--quick", "--json"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=110)
    elapsed = time.monotonic() - t0
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        fail("streamreg-bench exited with %d" % proc.returncode)
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        fail("output is not JSON: %s" % e)
    if doc.get("mode") != "quick":
        fail("mode is %r, not 'quick'" % doc.get("mode"))
    for key in ("cpu", "cpus", "kernel", "glibc", "compiler"):
        if key not in doc.get("machine", {}):
            fail("machine.%s missing" % key)
    results = doc.get("results")
    if not isinstance(results, list) or not results:
        fail("no results")

    measured = {}
    for row in results:
        if row.get("kind") != "skipped":
            measured.setdefault(row["scenario"], []).append(row)
    missing = [s for s in REQUIRED if s not in measured]
    if missing:
        fail("scenarios without a streamreg measurement: %s" % ", ".join(missing))
    for s in REQUIRED:
        if not any(r["backend"] == "streamreg" for r in measured[s]):
            fail("scenario %s has no streamreg row" % s)

    for row in results:
        kind = row["kind"]
        if kind == "throughput":
            for k in ("ns_per_op", "ops_per_sec", "ratio"):
                positive(row, k)
            if row["backend"] == "streamreg" and abs(row["ratio"] - 1) > 1e-9:
                fail("streamreg row with ratio %r" % row["ratio"])
        elif kind == "latency":
            for k in ("p50_ns", "p99_ns", "p999_ns", "max_ns"):
                positive(row, k)
            if not row["p50_ns"] <= row["p99_ns"] <= row["p999_ns"] <= row["max_ns"]:
                fail("latency percentiles out of order: %r" % row)
            q = [v for _, v in row["quantiles"]]
            if q != sorted(q):
                fail("latency quantiles not monotonic for %s" % row["backend"])
        elif kind == "reaper":
            positive(row, "scan_ms")
            if row["sessions"] <= 0 or row["sessions"] > row["capacity"]:
                fail("reaper row with %r sessions" % row["sessions"])
        elif kind == "memory":
            positive(row, "slot_bytes")
            if row["segment_bytes"] < row["slot_bytes"] * row["capacity"]:
                fail("segment of %d bytes cannot hold %d slots of %d bytes"
                     % (row["segment_bytes"], row["capacity"], row["slot_bytes"]))
        elif kind == "skipped":
            if not row.get("note"):
                fail("skipped row without a reason: %r" % row)
        else:
            fail("unknown row kind %r" % kind)

    # Every comparator is either measured or says why it was skipped.
    for b in ("atomic-shared", "atomic-perproc", "rwlock-inproc", "rwlock-shared",
              "redis-rt", "redis-pipe", "lmdb", "tdb"):
        if not any(r["backend"] == b for r in results):
            fail("comparator %s neither measured nor reported as skipped" % b)

    # A target may stay unevaluated only when its comparator was compiled out.
    needs = {"vs_redis_1000x": "redis-rt", "vs_rwlock_2x": "rwlock-inproc"}
    # Measured by the full run only: 1,048,576 sessions, and 2 processes of
    # insert + delete.
    full_only = {"find_touch_1m_2x", "insert_delete_2p_0.9x"}
    skipped = {r["backend"] for r in results if r["kind"] == "skipped"}
    ids = {t["id"]: t for t in doc.get("targets", [])}
    for t in TARGETS:
        if t not in ids:
            fail("target %s missing" % t)
        if ids[t]["met"] not in (True, False) and needs.get(t) not in skipped and t not in full_only:
            fail("target %s not evaluated" % t)
    if elapsed > QUICK_LIMIT_S:
        print("warning: --quick took %.1f s (goal: under %d s)" % (elapsed, QUICK_LIMIT_S),
              file=sys.stderr)
    print("ok: %d rows, %d scenarios, %.1f s" % (len(results), len(measured), elapsed))


if __name__ == "__main__":
    main()
