#!/usr/bin/env python3
"""Load run of streamreg-server with wrk on loopback (not a ctest: speed is
measured here only).

One tiny lavfi channel runs under the real reaper.  Four servers attach the
same registry: A as shipped, B with STREAMREG_SERVER_NO_REGISTRY=1, which
skips the registry calls of the file endpoints (viewer renewal and session
touch), C with --sendfile-playlists, D with --reuseport.  wrk hammers the variant playlist of the
channel on each, with a viewer token (so on A every request renews the
viewer and touches the session), in rotating rounds so that load from other
processes on the machine hits all alike; medians are reported.  A segment and /healthz (no
registry call) are measured on A for scale, and perf samples A's workers
during a playlist run to give the registry's share of their CPU time.

usage: bench_wrk.py [--seconds N] [--rounds N] [--connections N] [--workers N,N] [--no-perf]"""

import argparse
import os
import re
import statistics
import subprocess
import time

from srvtest import SERVER, Env, Proc, children, free_port, get_json, http, log, wait_until

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=int, default=5)
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--connections", type=int, default=64)
ap.add_argument("--workers", default="2,4")
ap.add_argument("--no-perf", action="store_true")
args = ap.parse_args()


def wrk(url, seconds, conns):
    r = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", url],
                       capture_output=True, text=True, timeout=seconds + 60)
    out = r.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def lat(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat(50), "p99": lat(99),
            "non2xx": int(errors.group(1)) if errors else 0}


def perf_share(pids, seconds):
    """Share of the workers' CPU samples spent in libstreamreg and in the
    server's viewer table, with the symbols, from perf record -p."""
    data = f"/tmp/srv_bench_perf_{os.getpid()}.data"
    subprocess.run(["perf", "record", "-q", "-F", "2999", "-o", data, "-p",
                    ",".join(map(str, pids)), "--", "sleep", str(seconds)],
                   capture_output=True, timeout=seconds + 60)
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort",
                          "dso,symbol", "-F", "overhead,dso,sym", "--percent-limit", "0"],
                         capture_output=True, text=True).stdout
    os.unlink(data)
    share, parse, top = 0.0, 0.0, []
    for ln in rep.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[.\]\s+(\S+)", ln)
        if not m:
            continue
        pct, dso, sym = float(m.group(1)), m.group(2), m.group(3)
        if dso.startswith("libstreamreg") and sym == "sr_uuid_parse":
            parse += pct  # request parsing, not a registry operation
        elif dso.startswith("libstreamreg") or (dso == "streamreg-server"
                                                and sym.startswith("viewers_")):
            share += pct
            top.append((pct, sym))
    top.sort(reverse=True)
    return share, parse, [f"{s} {p:.2f}%" for p, s in top]


def start_server(env, name, port, workers, no_registry, *extra):
    e = dict(os.environ)
    if no_registry:
        e["STREAMREG_SERVER_NO_REGISTRY"] = "1"
    argv = [SERVER, "--registry", env.registry, "--lineup", env.lineup, "--output-dir", env.out,
            "--listen", f"127.0.0.1:{port}", "--workers", str(workers), "--viewer-timeout",
            "600", "--quiet", *extra]
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(e)
    try:
        p = Proc(name, argv, env.dir)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    env.procs.append(p)
    if not wait_until(lambda: len(children(p.pid)) == workers
                      and http(port, "/healthz", timeout=1)[0] == 200, 10, what=name):
        raise RuntimeError(p.tail())
    return p


def variant_path(port, master):
    st, _, body = http(port, master, timeout=30)
    assert st == 200, st
    variant = [ln for ln in body.decode().splitlines() if ln and not ln.startswith("#")][0]
    return master.rsplit("/", 1)[0] + "/" + variant


def med(rs, key):
    return statistics.median(r[key] for r in rs)


CONFIGS = [  # label, no registry, extra options
    ("registry on", False, []),
    ("registry off", True, []),
    ("registry on, --sendfile-playlists", False, ["--sendfile-playlists"]),
    ("registry on, --reuseport", False, ["--reuseport"]),
]

report = []
for nworkers in [int(x) for x in args.workers.split(",")]:
    env = Env("bench", n_channels=1)
    try:
        # Segments must outlive the runs: a long playlist keeps them.
        env.start_reaper("--idle-grace", "600", "--hls-list-size", "200")
        servers = []
        for i, (label, off, extra) in enumerate(CONFIGS):
            port = free_port()
            start_server(env, f"server{i}", port, nworkers, off, *extra)
            servers.append((label, port, variant_path(port, env.master_path(0)), []))
        port_a, va = servers[0][1], servers[0][2]
        pl = http(port_a, va)[2].decode()
        seg = [ln for ln in pl.splitlines() if ln and not ln.startswith("#")][-1]
        spath = va.rsplit("/", 1)[0] + "/" + seg
        seg_kb = len(http(port_a, spath)[2]) // 1024
        segs, health = [], []
        for rnd in range(args.rounds):
            k = rnd % len(servers)
            for label, port, path, acc in servers[k:] + servers[:k]:
                r = wrk(f"http://127.0.0.1:{port}{path}", args.seconds, args.connections)
                acc.append(r)
                log(f"{nworkers} workers round {rnd} {label}: {r}")
            segs.append(wrk(f"http://127.0.0.1:{port_a}{spath}", args.seconds,
                            args.connections))
            health.append(wrk(f"http://127.0.0.1:{port_a}/healthz", args.seconds,
                              args.connections))
        sess = get_json(port_a, "/api/sessions") or [{}]
        clients = sess[0].get("clients")
        log(f"clients after the runs: {clients} (want {len(CONFIGS)}, one viewer per server)")
        if clients != len(CONFIGS):
            raise SystemExit(f"client count {clients} != {len(CONFIGS)}")
        share = None
        if not args.no_perf:
            pids = children(env.procs[1].pid)
            p = subprocess.Popen(["wrk", "-t2", f"-c{args.connections}",
                                  f"-d{args.seconds + 4}s", f"http://127.0.0.1:{port_a}{va}"],
                                 stdout=subprocess.DEVNULL)
            time.sleep(1)
            share = perf_share(pids, args.seconds)
            p.wait()
            log(f"perf: {share}")
        report.append((nworkers, servers, segs, health, seg_kb, share))
    finally:
        env.cleanup()

print()
print(f"wrk -t2 -c{args.connections}, {args.rounds} alternating rounds of {args.seconds} s, "
      f"127.0.0.1, {os.cpu_count()} CPUs shared by wrk, the servers, the reaper, one ffmpeg "
      f"and whatever else runs; medians (min-max of requests/s)")
print()
print("| workers | endpoint | requests/s | p50 ms | p99 ms | non-2xx |")
print("|---|---|---|---|---|---|")
for n, servers, segs, health, seg_kb, _ in report:
    rows = [(f"variant playlist, {label}", acc) for label, _, _, acc in servers]
    rows += [(f"segment {seg_kb} KB (sendfile), registry on", segs),
             ("/healthz (no registry call)", health)]
    for label, rs in rows:
        lo, hi = min(r["rps"] for r in rs), max(r["rps"] for r in rs)
        print(f"| {n} | {label} | {med(rs, 'rps'):.0f} ({lo:.0f}-{hi:.0f}) | "
              f"{med(rs, 'p50'):.2f} | {med(rs, 'p99'):.2f} | {sum(r['non2xx'] for r in rs)} |")
print()
print("| workers | requests/s per round: " + " / ".join(c[0] for c in CONFIGS) + " |")
print("|---|---|")
for n, servers, *_ in report:
    rounds = zip(*[acc for _, _, _, acc in servers])
    print(f"| {n} | " + ", ".join("/".join(f"{r['rps']:.0f}" for r in rnd) for rnd in rounds)
          + " |")
if any(r[5] for r in report):
    print()
    print("| workers | registry share of worker CPU (perf) | uuid parsing | symbols |")
    print("|---|---|---|---|")
    for n, *_, share in report:
        if share:
            print(f"| {n} | {share[0]:.2f}% | {share[1]:.2f}% | {', '.join(share[2][:6])} |")
