#!/usr/bin/env python3
"""Load run of streamreg-server with wrk on loopback (not a ctest: speed is
measured here only).  One tiny lavfi channel is started by a real viewer;
wrk then hammers its variant playlist (with the viewer's token: every
request renews the viewer and touches the session), a segment, and /healthz
(no registry call at all).  The playlist run is repeated with
STREAMREG_SERVER_NO_REGISTRY=1, which skips the registry calls of the file
endpoints, and profiled with perf to get the registry's share of the CPU
time of the workers.  Prints a markdown report.

usage: bench_wrk.py [--seconds N] [--connections N] [--workers N,N] [--no-perf]"""

import argparse
import os
import re
import subprocess
import time

from srvtest import Env, children, get_json, http, log, wait_until

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=int, default=10)
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
    sock = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": lat(50), "p99": lat(99),
            "non2xx": int(errors.group(1)) if errors else 0,
            "sockerr": sock.group(1) if sock else ""}


def perf_share(pids, seconds):
    """Fraction of the workers' samples in libstreamreg, and the top
    symbols, from perf record -p during a wrk run started by the caller."""
    data = "/tmp/srv_bench_perf.data"
    subprocess.run(["perf", "record", "-q", "-F", "2999", "-o", data, "-p",
                    ",".join(map(str, pids)), "--", "sleep", str(seconds)],
                   capture_output=True, timeout=seconds + 60)
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort",
                          "dso,symbol", "--percent-limit", "0.3"],
                         capture_output=True, text=True).stdout
    share = 0.0
    top = []
    for ln in rep.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[.\]\s+(.*)", ln)
        if not m:
            continue
        pct, dso, sym = float(m.group(1)), m.group(2), m.group(3).strip()
        if "streamreg" in dso and "server" not in dso:
            share += pct
            top.append(f"{sym} {pct:.1f}%")
        elif dso == "streamreg-server" and sym.startswith("viewers_"):
            share += pct
            top.append(f"{sym} {pct:.1f}%")
    os.unlink(data)
    return share, top


rows = []
perf_rows = []
for nworkers in [int(x) for x in args.workers.split(",")]:
    for registry_off in (False, True):
        env = Env("bench", n_channels=1)
        try:
            env.start_reaper("--idle-grace", "60")
            extra = ["--viewer-timeout", "60", "--quiet"]
            if registry_off:
                os.environ["STREAMREG_SERVER_NO_REGISTRY"] = "1"
            env.start_server(*extra, workers=nworkers)
            os.environ.pop("STREAMREG_SERVER_NO_REGISTRY", None)
            st, _, body = http(env.port, env.master_path(0), timeout=30)
            assert st == 200, st
            variant = [ln for ln in body.decode().splitlines() if ln and not ln.startswith("#")][0]
            base = env.master_path(0).rsplit("/", 1)[0]
            vpath = f"{base}/{variant}"
            st, _, pl = http(env.port, vpath)
            seg = [ln for ln in pl.decode().splitlines() if ln and not ln.startswith("#")][0]
            spath = vpath.rsplit("/", 1)[0] + "/" + seg
            seg_size = len(http(env.port, spath)[2])
            mode = "registry off" if registry_off else "registry on"
            targets = [("variant playlist (token)", vpath)]
            if not registry_off:
                targets += [("segment (%d KB, sendfile)" % (seg_size // 1024), spath),
                            ("/healthz (no registry)", "/healthz")]
            for label, path in targets:
                time.sleep(0.5)
                r = wrk(env.url(path), args.seconds, args.connections)
                log(f"{nworkers} workers, {mode}, {label}: {r}")
                rows.append((nworkers, mode, label, r))
            if not registry_off and not args.no_perf:
                pids = children(env.server.pid)
                p = subprocess.Popen(["wrk", "-t2", f"-c{args.connections}",
                                      f"-d{args.seconds + 2}s", env.url(vpath)],
                                     stdout=subprocess.DEVNULL)
                time.sleep(1)
                share, top = perf_share(pids, args.seconds - 2)
                p.wait()
                perf_rows.append((nworkers, share, top))
                log(f"perf: registry share {share:.1f}% {top}")
            s = get_json(env.port, "/api/sessions")
            log(f"clients after the run: {s[0]['clients'] if s else '?'}")
        finally:
            env.cleanup()

print()
print(f"wrk -t2 -c{args.connections} -d{args.seconds}s on 127.0.0.1, "
      f"{os.cpu_count()} CPUs shared by wrk, the server, the reaper and one ffmpeg")
print()
print("| workers | registry | endpoint | requests/s | p50 ms | p99 ms | non-2xx |")
print("|---|---|---|---|---|---|---|")
for n, mode, label, r in rows:
    print(f"| {n} | {mode} | {label} | {r['rps']:.0f} | {r['p50']:.3f} | {r['p99']:.3f} | "
          f"{r['non2xx']} |")
if perf_rows:
    print()
    print("| workers | registry share of worker CPU samples (perf) | top symbols |")
    print("|---|---|---|")
    for n, share, top in perf_rows:
        print(f"| {n} | {share:.1f}% | {', '.join(top[:6])} |")
