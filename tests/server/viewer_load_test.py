#!/usr/bin/env python3
"""Viewer accounting under load (real reaper and ffmpeg, 4 workers, loopback
only, bounded in time): wrk hammers master.m3u8 with 50 connections.

1. One client refetching the master playlist is a few viewers, not one per
   request: the count stays at most VIEWERS_PENDING_MAX (plus what the
   workers could claim at the same instant), every request is answered 200,
   and the server's log stays a few lines.
2. A flood of distinct clients fills a small viewer table: requests are
   still all answered 200, the overflow shows in
   streamreg_server_viewers_uncounted_total, and the "table full" warning is
   written once per interval per worker, then once more with its count.
3. A registry too small for the lineup: every request for the channel that
   does not fit gets 503, and the warning is rate-limited the same way."""

import os
import re
import shutil
import subprocess
import time

from srvtest import Env, check, finish, get_json, http, log, wait_until

PENDING_MAX = 4  # VIEWERS_PENDING_MAX in tools/server/viewers.h
WORKERS = 4
DURATION_S = 3


def wrk(env, path, *extra):
    """wrk -c50 for DURATION_S on loopback; (requests, non-2xx, errors text)."""
    r = subprocess.run(["wrk", "-t2", "-c50", f"-d{DURATION_S}s", "--timeout", "5s", *extra,
                        env.url(path)], capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    log("wrk:\n" + out.strip())
    m = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors:.*", out)
    return (int(m.group(1)) if m else 0), (int(bad.group(1)) if bad else 0), \
        (errs.group(0) if errs else "")


def viewers_of(env, i):
    for c in get_json(env.port, "/channels") or []:
        if c["id"] == env.channels[i][0]:
            return c["viewers"]
    return None


def metric(env, name):
    st, _, body = http(env.port, "/metrics")
    m = re.search(rf"^{name} (\d+)", body.decode(errors="replace"), re.M)
    return int(m.group(1)) if m else None


env = Env("load", n_channels=1)
try:
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (scripts/setup.sh installs it)")
    env.start_reaper("--idle-grace", "30")
    env.start_server("--viewer-timeout", "30", workers=WORKERS)
    path = env.master_path(0)
    st, _, _ = http(env.port, path, timeout=30)
    check(st == 200, f"the channel starts ({st})")
    base = viewers_of(env, 0)

    # 1. One client, refetching.
    size0 = os.path.getsize(env.server.log_path)
    n, bad, errs = wrk(env, path)
    grown = os.path.getsize(env.server.log_path) - size0
    v = viewers_of(env, 0)
    s = env.session(0)
    log(f"figure: {n} master.m3u8 requests in {DURATION_S} s from one client -> "
        f"{v} viewer(s), {s and s['clients']} registry client(s), server log +{grown} bytes")
    check(n > 100 and bad == 0 and "timeout" not in errs,
          f"wrk: every one of {n} requests answered 2xx ({bad} not, {errs or 'no socket errors'})")
    limit = base + PENDING_MAX + WORKERS - 1
    check(v is not None and v <= limit,
          f"one client refetching master.m3u8 is at most {limit} viewers, not {n} ({v})")
    check(s is not None and s["clients"] == v,
          f"the registry counts the same ({s and s['clients']} clients)")
    check(grown < 4096, f"the server's log grew by {grown} bytes (< 4 KiB)")
    env.server.stop()

    # 2. Many clients, a table of 8: serve uncounted, count the overflow,
    # and say so once per interval.
    lua = os.path.join(env.dir, "agents.lua")
    with open(lua, "w") as f:
        f.write('n = 0\nrequest = function()\n  n = n + 1\n'
                '  return wrk.format("GET", nil, {["User-Agent"] = "load-" .. n})\nend\n')
    env.start_server("--viewer-timeout", "30", "--max-viewers", "8", workers=WORKERS)
    n, bad, errs = wrk(env, path, "-s", lua)
    v = viewers_of(env, 0)
    uncounted = metric(env, "streamreg_server_viewers_uncounted_total")
    log(f"figure: {n} requests from distinct clients, table of 8: {v} viewers, "
        f"{uncounted} served uncounted")
    check(n > 100 and bad == 0 and "timeout" not in errs,
          f"full table: every one of {n} requests still answered 2xx ({bad} not)")
    check(v == 8, f"the table is full: 8 viewers ({v})")
    check(uncounted is not None and uncounted >= n - 8 - 100,
          f"the overflow is counted: streamreg_server_viewers_uncounted_total {uncounted}")

    def full_lines():
        with open(env.server.log_path, errors="replace") as f:
            return [ln for ln in f if "viewer table full" in ln]
    # The limiter holds the rest of each 10 s interval back, then one line
    # per worker reports how many it folded.  Each worker flushes on its own
    # tick, so wait for every worker that warned to have reported.
    def workers_in(lines):
        return {m.group(1) for ln in lines for m in [re.search(r"(worker \d+):", ln)] if m}

    def all_reported():
        lines = full_lines()
        counted = [ln for ln in lines if "more like this" in ln]
        if counted and workers_in(counted) >= workers_in(lines):
            return counted
        return None
    counted = (wait_until(all_reported, 25, interval=0.5, what="every worker's folded count")
               or [ln for ln in full_lines() if "more like this" in ln])
    lines = full_lines()
    folded = sum(int(m.group(1)) for ln in lines
                 for m in [re.search(r"(\d+) more like this", ln)] if m)
    log("warnings:\n" + "".join(lines).strip())
    check(0 < len(lines) <= 2 * WORKERS,
          f"{len(lines)} 'viewer table full' line(s) for {n} uncounted requests (<= 2 per worker)")
    check(counted and folded + len(lines) - len(counted) >= (uncounted or 0) * 0.9,
          f"their counts add up to the uncounted requests ({folded} folded)")
except Exception as e:  # noqa: BLE001
    check(False, f"exception: {e!r}")
finally:
    if env.server:
        log("server log tail:\n" + env.server.tail(10))
    env.cleanup()

# 3. No reaper: a registry of one session, a lineup of two.
small = Env("full", n_channels=2)
try:
    small.start_server("--create", "--capacity", "1", "--start-timeout", "0.2", workers=WORKERS)
    http(small.port, small.master_path(0), timeout=10)  # takes the only session
    size0 = os.path.getsize(small.server.log_path)
    n, bad, errs = wrk(small, small.master_path(1))
    with open(small.server.log_path, errors="replace") as f:
        f.seek(size0)
        lines = [ln for ln in f if "session insert" in ln]
    log(f"figure: {n} requests on a full registry -> {len(lines)} warning line(s)")
    check(n > 100 and bad == n, f"a channel that does not fit: all {n} requests 503 ({bad} non-2xx)")
    check(0 < len(lines) <= WORKERS,
          f"{len(lines)} 'session insert' line(s) for {n} refusals (<= 1 per worker in "
          f"{DURATION_S} s)")
except Exception as e:  # noqa: BLE001
    check(False, f"exception: {e!r}")
finally:
    small.cleanup()
finish()
