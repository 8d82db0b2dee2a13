#!/usr/bin/env python3
"""Draw the plots of docs/benchmarks.md from `streamreg-bench --json-file` output.

usage: plot_benchmarks.py RESULTS.json OUTDIR

Writes scaling.png (find + touch throughput vs worker processes),
latency_cdf.png (distribution of find + touch latency, with and without a
churning writer) and capacity.png (find + touch cost and reaper scan time vs
table capacity) with gnuplot (Debian gnuplot-nox).  Python stdlib only.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def write_dat(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(" ".join(str(v) for v in r) + "\n")


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def quote(s):
    return '"' + s.replace('"', "'") + '"'


COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
          "#666666", "#1f78b4", "#b2182b", "#000000", "#80b1d3", "#fb8072", "#bc80bd"]


def scaling(doc, tmp, out):
    series = {}
    for r in doc["results"]:
        if r["kind"] != "throughput" or r["scenario"] != "scaling":
            continue
        # The shared rwlock map is drawn for uniform keys only, to keep the plot readable.
        if r["backend"] == "rwlock-shared" and r["dist"] != "uniform":
            continue
        label = "streamreg (%s)" % r["dist"] if r["backend"] == "streamreg" else r["backend"]
        series.setdefault(label, []).append((r["procs"], r["ops_per_sec"] / 1e6,
                                             r["ops_per_sec_min"] / 1e6, r["ops_per_sec_max"] / 1e6))
    plots = []
    ordered = sorted(series.items(), key=lambda kv: (not kv[0].startswith("streamreg"), kv[0]))
    for i, (label, pts) in enumerate(ordered):
        dat = os.path.join(tmp, "scaling%d.dat" % i)
        write_dat(dat, sorted(pts))
        width = 3 if label.startswith("streamreg") else 1.5
        plots.append("%s using 1:2:3:4 with yerrorlines lw %g lc rgb '%s' pt %d title %s"
                     % (quote(dat), width, COLORS[i % len(COLORS)], i % 13 + 1, quote(label)))
    if not plots:
        return
    gnuplot("""
set terminal pngcairo size 1100,700 font "sans,11"
set output %s
set title "find + touch: aggregate throughput vs worker processes on %s cores\\n(median of repetitions, bars = min..max; load average %s at start)"
set xlabel "worker processes"
set ylabel "million operations per second (log scale)"
set logscale y
set xtics 1
set grid
set key outside right
plot %s
""" % (quote(os.path.join(out, "scaling.png")), doc["machine"]["cpus"],
       doc["machine"].get("loadavg_start", "?").split()[0], ", ".join(plots)))


def latency(doc, tmp, out):
    body, tail = [], []
    for i, r in enumerate(x for x in doc["results"] if x["kind"] == "latency"):
        dat = os.path.join(tmp, "lat%d.dat" % i)
        # percent at or below, and percent above (the tail, on a log scale)
        write_dat(dat, [(max(v, 1), q * 100, (1 - q) * 100) for q, v in r["quantiles"] if q < 1])
        label = "%s, %s" % (r["backend"], "writer churning" if r["churn"] == "churn" else "no writer")
        style = "with linespoints lw 2 dt %d lc %d pt %d" % (1 if r["churn"] == "churn" else 2, i // 2 + 1, i + 1)
        body.append("%s using 1:2 %s title %s" % (quote(dat), style, quote(label)))
        tail.append("%s using 1:3 %s notitle" % (quote(dat), style))
    if not body:
        return
    gnuplot("""
set terminal pngcairo size 1200,560 font "sans,11"
set output %s
set multiplot layout 1,2 title "find + touch latency, each op timed alone (includes one clock read of about %d ns); all samples of all repetitions"
set logscale x
set grid
set xlabel "latency, ns (log scale)"
set ylabel "percent of operations at or below"
set yrange [0:100.5]
set key bottom right
set title "distribution (CDF)"
plot %s
set ylabel "percent of operations slower (log scale)"
set logscale y
set yrange [0.0005:60]
set ytics ("50" 50, "10" 10, "1 (p99)" 1, "0.1 (p99.9)" 0.1, "0.01" 0.01, "0.001" 0.001)
set title "tail"
plot %s
unset multiplot
""" % (quote(os.path.join(out, "latency_cdf.png")), doc["config"]["timer_overhead_ns"], ", ".join(body),
       ", ".join(tail)))


def capacity(doc, tmp, out):
    def pts(op):
        return sorted((r["capacity"], r["ns_per_op"], r.get("cpu_ns_per_op", 0)) for r in doc["results"]
                      if r["kind"] == "throughput" and r["scenario"] == "capacity" and r["op"] == op
                      and r.get("pages", "shm") == "shm")
    touch, find = pts("find_touch"), pts("find")
    scan = sorted((r["capacity"], r["scan_ms"], r["foreach_ms"], r.get("scan_cpu_ms", r["scan_ms"]))
                  for r in doc["results"] if r["kind"] == "reaper" and r.get("pages", "shm") == "shm")
    if not touch or not scan:
        return
    write_dat(os.path.join(tmp, "touch.dat"), touch)
    write_dat(os.path.join(tmp, "find.dat"), find)
    write_dat(os.path.join(tmp, "scan.dat"), scan)
    t, fd, sc = (quote(os.path.join(tmp, n)) for n in ("touch.dat", "find.dat", "scan.dat"))
    gnuplot("""
set terminal pngcairo size 1200,520 font "sans,11"
set output %s
set multiplot layout 1,2 title "streamreg vs table capacity"
set logscale x 2
set logscale y
set format x "2^{%%L}"
set grid
set key top left
set xlabel "capacity (sessions)"
set ylabel "ns per operation, 1 process (log scale)"
set title "find + touch and find, table half full, uniform keys"
plot %s using 1:2 with linespoints lw 2 lc rgb "#d95f02" title "find + touch, wall clock", \\
     %s using 1:3 with linespoints lw 2 dt 2 lc rgb "#d95f02" title "find + touch, CPU time", \\
     %s using 1:2 with linespoints lw 2 lc rgb "#1b9e77" title "find, wall clock", \\
     %s using 1:3 with linespoints lw 2 dt 2 lc rgb "#1b9e77" title "find, CPU time"
set ylabel "milliseconds (log scale)"
set title "reaper: recover + walk of a full table"
plot %s using 1:2 with linespoints lw 2 lc rgb "#7570b3" title "recover + sr\\\\_session\\\\_scan, wall clock", \\
     %s using 1:4 with linespoints lw 2 dt 2 lc rgb "#7570b3" title "recover + sr\\\\_session\\\\_scan, CPU time", \\
     %s using 1:3 with linespoints lw 2 lc rgb "#e7298a" title "recover + sr\\\\_session\\\\_foreach", \\
     1 with lines dt 3 lc rgb "gray" title "1 ms"
unset multiplot
""" % (quote(os.path.join(out, "capacity.png")), t, t, fd, fd, sc, sc, sc))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    if not shutil.which("gnuplot"):
        print("plot_benchmarks.py: gnuplot not found (Debian: apt-get install gnuplot-nox)", file=sys.stderr)
        return 1
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    os.makedirs(sys.argv[2], exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        scaling(doc, tmp, sys.argv[2])
        latency(doc, tmp, sys.argv[2])
        capacity(doc, tmp, sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
