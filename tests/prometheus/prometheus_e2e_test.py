#!/usr/bin/env python3
"""A real Prometheus (Debian's package) scraping a real streamreg-server and
reaper every second, with the shipped alerting rules (their `for:` durations
shortened to seconds; tests/prometheus/rules_test.yml checks the real ones).
Scenario: a channel plays, its ffmpeg is killed with SIGKILL (a failure that
lasts about a second), the reaper is killed, a second channel is requested.
Asserted through Prometheus's HTTP API: the failure shows in the transition
and restart counters, the counters never reset, the reaper-down and
stuck-in-starting alerts fire."""

import json
import os
import re
import shutil
import signal
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from srvtest import (Env, Proc, check, ffmpeg_pids_for, finish, free_port, http, log,  # noqa: E402
                     wait_until)

RULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                     "prometheus", "streamreg.rules.yml")


def prom_query(port, expr):
    """Instant query; a list of (labels, float value), or None on error."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            doc = json.load(r)
    except (OSError, ValueError):
        return None
    if doc.get("status") != "success":
        return None
    return [(s["metric"], float(s["value"][1])) for s in doc["data"]["result"]]


def firing(port, name):
    """Labels of the firing alerts called name."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5) as r:
            doc = json.load(r)
    except (OSError, ValueError):
        return []
    return [a["labels"] for a in doc.get("data", {}).get("alerts", [])
            if a["labels"].get("alertname") == name and a.get("state") == "firing"]


def value(port, expr):
    res = prom_query(port, expr)
    return res[0][1] if res else None


def state_of(env, i):
    s = env.session(i)
    return s.get("state") if s else None


promtool_missing = shutil.which("prometheus") is None
check(not promtool_missing, "prometheus is installed (Debian package prometheus)")
if promtool_missing:
    finish()

env = Env("prom", n_channels=2)
prom = None
try:
    env.start_reaper("--backoff-min", "1", "--idle-grace", "60")
    env.start_server("--start-timeout", "3", workers=2)
    cid0, cid1 = env.channels[0][0], env.channels[1][0]

    # The shipped rules with every `for:` cut to 2 s, so alerts fire within
    # the test; the expressions are the shipped ones.
    with open(RULES) as f:
        rules = re.sub(r"(\n\s+for:\s*)\S+", r"\g<1>2s", f.read())
    rules_path = os.path.join(env.dir, "rules.yml")
    with open(rules_path, "w") as f:
        f.write(rules)
    pport = free_port()
    cfg = os.path.join(env.dir, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [{rules_path}]
scrape_configs:
  - job_name: streamreg
    static_configs:
      - targets: ['127.0.0.1:{env.port}']
""")
    prom = Proc("prometheus", ["prometheus", f"--config.file={cfg}",
                               f"--storage.tsdb.path={os.path.join(env.dir, 'tsdb')}",
                               f"--web.listen-address=127.0.0.1:{pport}"], env.dir)
    env.procs.append(prom)
    ready = wait_until(lambda: value(pport, 'up{job="streamreg"}') == 1, 60, interval=0.5,
                       what="Prometheus scraping the server")
    check(bool(ready), "Prometheus is up and scrapes the server")
    if not ready:
        log(prom.tail())
        raise SystemExit

    check(wait_until(lambda: value(pport, "streamreg_reaper_up") == 1, 30,
                     what="streamreg_reaper_up 1"), "streamreg_reaper_up is 1 with a reaper")

    # Channel 0 plays.
    st, _, _ = http(env.port, env.master_path(0), timeout=60)
    check(st == 200, f"channel 0 starts (got {st})")
    active = wait_until(lambda: state_of(env, 0) == "active", 60, what="channel 0 active")
    check(bool(active), "channel 0 is active")
    sel = f'{{channel="{cid0}"}}'
    check(wait_until(lambda: value(pport, f'streamreg_channel_transitions_total{{channel="{cid0}",state="active"}}') == 1, 30,
                     what="active transition scraped"),
          "the transition into active is counted once")
    restarts0 = value(pport, f"streamreg_channel_restarts_total{sel}") or 0

    # A short failure: kill -9 of the transcoder; the reaper restarts it
    # after about a second of `failed`.
    pids = ffmpeg_pids_for(os.path.join(env.out, cid0))
    check(len(pids) == 1, f"one ffmpeg for channel 0 ({pids})")
    for p in pids:
        os.kill(p, signal.SIGKILL)
    http(env.port, env.master_path(0), timeout=30)  # a viewer keeps it wanted
    back = wait_until(lambda: state_of(env, 0) == "active" and ffmpeg_pids_for(
        os.path.join(env.out, cid0)) not in ([], pids), 60, what="channel 0 restarted")
    check(bool(back), "channel 0 is active again after the kill")
    failed = wait_until(lambda: (value(pport, f'streamreg_channel_transitions_total{{channel="{cid0}",state="failed"}}') or 0) >= 1,
                        30, what="the failure in the transition counter")
    check(bool(failed), "the ~1 s failure shows in streamreg_channel_transitions_total{state=failed}")
    check(wait_until(lambda: (value(pport, f"streamreg_channel_restarts_total{sel}") or 0) > restarts0,
                     30, what="restart counted"), "streamreg_channel_restarts_total rose")
    resets = value(pport, f"resets(streamreg_channel_restarts_total{sel}[5m])")
    check(resets == 0, f"the restart counter never reset (resets() = {resets})")
    resets = value(pport, f"max(resets(streamreg_channel_transitions_total{sel}[5m]))")
    check(resets == 0, f"no transition counter reset (resets() = {resets})")

    # The reaper dies: nobody starts channel 1 any more.
    env.reaper.kill_group()
    check(wait_until(lambda: value(pport, "streamreg_reaper_up") == 0, 30,
                     what="streamreg_reaper_up 0"), "streamreg_reaper_up drops to 0")
    st, _, _ = http(env.port, env.master_path(1), timeout=30)
    check(st == 503, f"channel 1 without a reaper: 503 (got {st})")
    check(state_of(env, 1) == "starting", "channel 1 stays starting")
    down = wait_until(lambda: firing(pport, "StreamregReaperDown"), 40, interval=0.5,
                      what="StreamregReaperDown firing")
    check(bool(down), "alert StreamregReaperDown fires")
    stuck = wait_until(lambda: [a for a in firing(pport, "StreamregChannelStuckStarting")
                                if a.get("channel") == cid1], 40, interval=0.5,
                       what="StreamregChannelStuckStarting firing")
    check(bool(stuck), "alert StreamregChannelStuckStarting fires for channel 1")
    check(wait_until(lambda: firing(pport, "StreamregStartTimeouts"), 40, interval=0.5,
                     what="StreamregStartTimeouts firing"),
          "alert StreamregStartTimeouts fires after the viewer's 503")
finally:
    env.cleanup()
finish()
