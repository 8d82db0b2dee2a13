#!/usr/bin/env python3
"""A first request waits for its channel's start without polling the
registry (no reaper runs, so nothing starts the channel):

- an idle wait of the whole --start-timeout wakes the waiting worker a few
  times (a state change, the deadline, a once-a-second shutdown check), not
  once per 10 ms as a poll would (~1000 times in 10 s); the request gets
  503 + Retry-After, and the timeout reaches the registry's counters
  (streamreg_channel_start_timeouts_total, streamreg_start_timeouts_total);
- a waiting request is resumed by the state change itself: moving the
  channel to failed from outside (the streamreg command) answers it at
  once with the failure, long before its deadline."""

import re
import subprocess
import threading

from srvtest import CLI, Env, check, finish, http, log, wait_until, cli_session

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')
WAKEUPS = "streamreg_server_start_wait_wakeups_total"
TIMEOUT_S = 10


def scrape(port):
    st, _, body = http(port, "/metrics", timeout=10)
    vals = {}
    if st == 200:
        for line in body.decode().splitlines():
            m = SERIES.match(line)
            if m:
                vals[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return vals


def channel_series(vals, name, cid):
    for k, v in vals.items():
        if k.startswith(name + "{") and f'"{cid}"' in k:
            return v
    return None


env = Env("startwait", n_channels=2)
try:
    env.start_server("--create", "--start-timeout", str(TIMEOUT_S), workers=2)
    port = env.port
    idle_cid = env.channels[0][0]
    fail_cid = env.channels[1][0]
    base = scrape(port)
    check(WAKEUPS in base, f"{WAKEUPS} is exported")

    # 1. The whole wait idle: 503 after the deadline, few wake-ups.
    st, hdrs, _ = http(port, f"/channels/{idle_cid}/master.m3u8", timeout=TIMEOUT_S + 60)
    check(st == 503 and "retry-after" in hdrs, f"an idle start wait ends in 503 + Retry-After "
          f"(got {st})")
    after = scrape(port)
    woke = after.get(WAKEUPS, 0) - base.get(WAKEUPS, 0)
    log(f"wake-ups during a {TIMEOUT_S} s idle wait: {woke:.0f} "
        f"(a 10 ms poll would make ~{TIMEOUT_S * 100})")
    check(1 <= woke <= 3 * TIMEOUT_S,
          f"the idle wait woke at most {3 * TIMEOUT_S} times (got {woke:.0f})")
    check(after.get("streamreg_server_start_timeouts_total", 0) == 1,
          "the server counted the start timeout")
    check(channel_series(after, "streamreg_channel_start_timeouts_total", idle_cid) == 1,
          "streamreg_channel_start_timeouts_total of the channel is 1")
    check(after.get("streamreg_start_timeouts_total", 0) == 1,
          "the registry-wide streamreg_start_timeouts_total is 1")

    # 2. Resumed by the state change: the request moved the channel to
    # starting; an outside move to failed answers it with the failure.
    result = {}

    def first_request():
        result["answer"] = http(port, f"/channels/{fail_cid}/master.m3u8",
                                timeout=TIMEOUT_S + 60)

    t = threading.Thread(target=first_request)
    t.start()
    starting = wait_until(lambda: (cli_session(env.registry, fail_cid) or {}).get("state")
                          == "starting", 30, what="the first request's start")
    check(bool(starting), "the first request moved its channel to starting")
    r = subprocess.run([CLI, "state", env.registry, fail_cid, "failed"], capture_output=True,
                       text=True)
    check(r.returncode == 0, f"streamreg state ... failed: {r.stderr.strip()}")
    t.join(TIMEOUT_S + 90)
    st, hdrs, body = result.get("answer", (None, {}, b""))
    check(st == 503 and b"failed to start" in body,
          f"the waiting request was answered with the failure (got {st} {body[:80]!r})")
    final = scrape(port)
    check(final.get("streamreg_server_start_failures_total", 0) == 1,
          "the server counted one start failure")
    check(final.get("streamreg_server_start_timeouts_total", 0) == 1,
          "and no second start timeout: the state change, not the deadline, ended the wait")
finally:
    env.cleanup()
finish()
