#!/usr/bin/env python3
"""The server's own Prometheus figures, against a real streamreg-server
(4 workers, no reaper): requests by route and status, the latency
histogram, start timeouts and worker restarts.  Requests spread over the
workers, so every scrape must show the same totals whichever worker
answers, and counters never go back, not even when a worker is killed."""

import os
import re
import shutil
import signal
import subprocess

from srvtest import Env, check, children, finish, http, log, wait_until

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def scrape(port):
    st, _, body = http(port, "/metrics")
    if st != 200:
        return None, ""
    text = body.decode()
    vals = {}
    for line in text.splitlines():
        m = SERIES.match(line)
        if m:
            vals[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return vals, text


def req(route, code):
    return f'streamreg_http_requests_total{{route="{route}",code="{code}"}}'


env = Env("metrics", n_channels=1)
try:
    env.start_server("--create", "--start-timeout", "1", workers=4)
    port = env.port
    cid = env.channels[0][0]
    base, _ = scrape(port)
    check(base is not None, "/metrics answers 200")

    for _ in range(8):
        http(port, "/")
    for _ in range(5):
        http(port, "/channels/12345678-1234-4234-8234-123456789012/master.m3u8")
    for _ in range(3):
        http(port, f"/channels/{cid}/../../etc/passwd")
    for _ in range(2):
        http(port, "/healthz", method="POST")
    # No reaper: the first request for the channel waits --start-timeout
    # and gets 503.
    st, hdrs, _ = http(port, f"/channels/{cid}/master.m3u8", timeout=30)
    check(st == 503 and "retry-after" in hdrs, f"first request without a reaper: 503 (got {st})")

    # Whichever worker answers, the totals are the same shared figures.
    seen = []
    for _ in range(6):
        v, text = scrape(port)
        seen.append(v)
    last = seen[-1]
    check(all(s[req("index", 200)] == last[req("index", 200)] for s in seen),
          "every worker reports the same request totals")
    check(last.get(req("index", 200), 0) - base.get(req("index", 200), 0) == 8,
          f"8 index requests counted (got {last.get(req('index', 200))})")
    check(last.get(req("master", 404), 0) == 5, "5 unknown-channel requests counted as 404")
    check(last.get(req("invalid", 400), 0) == 3, "3 traversal attempts counted as invalid 400")
    check(last.get(req("invalid", 405), 0) == 2, "2 wrong methods counted as invalid 405")
    check(last.get(req("master", 503), 0) == 1, "the start timeout counted as master 503")
    check(last.get("streamreg_server_start_timeouts_total", 0) == 1,
          "streamreg_server_start_timeouts_total is 1")
    cnt = last.get('streamreg_http_request_duration_seconds_count{route="index"}', 0)
    inf = last.get('streamreg_http_request_duration_seconds_bucket{route="index",le="+Inf"}', 0)
    check(cnt == last.get(req("index", 200)) and inf == cnt,
          f"index latency histogram counts every index request (count {cnt}, +Inf {inf})")
    slow = last.get('streamreg_http_request_duration_seconds_bucket{route="master",le="0.5"}')
    check(slow is not None and slow < last.get(
        'streamreg_http_request_duration_seconds_count{route="master"}', 0),
        "the 1 s start wait lands above the 0.5 s bucket")
    check(any(k.startswith("streamreg_server_build_info{") and v == 1 for k, v in last.items()),
          "build info present")

    # A killed worker: the master replaces it, the counter says so, and
    # no counter went back.
    before = last
    victim = children(env.server.pid)[0]
    os.kill(victim, signal.SIGKILL)
    ok = wait_until(lambda: (scrape(port)[0] or {}).get(
        "streamreg_server_worker_restarts_total", 0) >= 1, 20, what="the restart counter")
    check(bool(ok), "streamreg_server_worker_restarts_total counts the killed worker")
    after, text = scrape(port)
    back = [k for k, v in before.items() if k.endswith("_total") or "_total{" in k
            if after.get(k, 0) < v]
    check(not back, f"no counter went back after the worker's death {back}")

    promtool = shutil.which("promtool")
    check(promtool is not None, "promtool is installed (Debian package prometheus)")
    if promtool:
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True)
        check(r.returncode == 0, f"promtool check metrics is clean: {r.stdout}{r.stderr}")
finally:
    env.cleanup()
finish()
