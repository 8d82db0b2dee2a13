#!/usr/bin/env python3
"""Playback through nginx with the real reaper and ffmpeg: 30 simultaneous
first requests on an idle channel start exactly one transcoder and all get
the playlist; an ffmpeg client plays 20 s through nginx; the client counts
rise with the viewers and return to 0 when they leave; the transcoder is
stopped after the reaper's grace."""

import os
import re
import threading
import time

from ngxtest import NginxEnv, Proc, http, log, srvtest, wait_until
from srvtest import CurlViewer, check, ffmpeg_pids_for, finish

VIEWER_TIMEOUT = 2.5
GRACE = 3.0

env = NginxEnv("ngxplay", n_channels=2)
players = []
try:
    env.start_reaper("--idle-grace", str(GRACE), "--stop-timeout", "2")
    env.start_nginx(workers=2, http_extra=f"streamreg_viewer_timeout {int(VIEWER_TIMEOUT * 1000)}ms; "
                    f"streamreg_lineup {env.lineup};",
                    loc_extra="streamreg_start_timeout 25s;")
    a, b = env.channels[0][0], env.channels[1][0]
    dir_a, dir_b = os.path.join(env.out, a), os.path.join(env.out, b)

    listing = srvtest.get_json(env.port, "/channels")
    check([(c["id"], c["name"]) for c in listing or []] == [(c[0], c[1]) for c in env.channels],
          "with streamreg_lineup, /channels lists the lineup in its order with names")

    # ---- 30 first requests at once on an idle channel ---------------------------
    check(env.state(1) == "idle", f"channel B starts idle ({env.state(1)})")
    go = threading.Barrier(30)
    answers = []

    # 30 players (30 User-Agents, one address), as streamreg-server's test.
    def first(i):
        go.wait()
        st, _, body = http(env.port, env.master_path(1), timeout=40,
                           headers={"User-Agent": f"player-{i}"})
        answers.append((st, body))

    threads = [threading.Thread(target=first, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    tokens = {m.group(1) for _, body in answers for m in [re.search(rb"v/([0-9a-f]{18})/", body)] if m}
    check(len(answers) == 30 and all(st == 200 for st, _ in answers),
          f"30 simultaneous first requests all answered 200 ({sorted(st for st, _ in answers)})")
    check(len(tokens) == 30, f"30 distinct viewer tokens ({len(tokens)})")
    check(len(ffmpeg_pids_for(dir_b)) == 1, f"exactly one ffmpeg for the channel ({ffmpeg_pids_for(dir_b)})")
    spawns = len(re.findall(r"ffmpeg spawned", open(env.reaper.log_path).read()))
    check(spawns == 1, f"the reaper spawned one transcoder ({spawns})")
    check(env.clients(1) == 30, f"30 clients counted ({env.clients(1)})")
    ok = wait_until(lambda: env.clients(1) == 0, VIEWER_TIMEOUT + 10, what="B's viewers expire")
    check(ok, "viewers that never come back stop counting after the timeout")
    # One client refetching without ever playing is a few viewers, not ten.
    for _ in range(10):
        http(env.port, env.master_path(1), headers={"User-Agent": "probe"})
    check(env.clients(1) == 4, f"10 refetches of one client count 4 ({env.clients(1)})")

    # ---- an ffmpeg client plays 20 s, two more players join -----------------------
    t0 = time.monotonic()
    player = Proc("ffplayer", ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning",
                               "-i", env.url(env.master_path(0)), "-t", "20", "-map", "0",
                               "-c", "copy", "-f", "null", "-"], env.dir)
    players.append(player)
    ok = wait_until(lambda: env.state(0) == "active", 30, what="A active")
    check(ok, "the player's request started channel A")
    curls = [CurlViewer(env, 0), CurlViewer(env, 0)]
    ok = wait_until(lambda: env.clients(0) == 3, 20, what="3 viewers on A")
    check(ok, f"three players count 3 ({env.clients(0)})")
    samples = []
    for _ in range(10):
        time.sleep(0.5)
        samples.append(env.clients(0))
    check(all(s == 3 for s in samples), f"the count stays 3 ({samples})")
    try:
        rc = player.p.wait(60)
    except Exception:  # noqa: BLE001
        rc = None
    took = time.monotonic() - t0
    text = player.tail(20)
    check(rc == 0 and took >= 18 and not re.search(r"HTTP error|404|Failed", text),
          f"ffmpeg played 20 s through nginx (exit {rc}, {took:.1f} s) {text.strip()[:200]}")
    ok = wait_until(lambda: env.clients(0) == 2, VIEWER_TIMEOUT + 10, what="2 viewers left")
    check(ok, f"the finished player stops counting ({env.clients(0)})")
    for c in curls:
        c.stop()
    check(all(not c.errors for c in curls) and all(c.fetches > 10 for c in curls),
          f"curl players saw no error ({[c.errors[:3] for c in curls]}, "
          f"{[c.fetches for c in curls]} fetches)")
    ok = wait_until(lambda: env.clients(0) == 0, VIEWER_TIMEOUT + 10, what="0 viewers")
    check(ok, "the count returns to 0 when the players leave")

    # ---- the transcoders stop after the grace ---------------------------------------
    ok = wait_until(lambda: env.state(0) == "idle" and env.state(1) == "idle"
                    and not ffmpeg_pids_for(dir_a) and not ffmpeg_pids_for(dir_b),
                    GRACE + 20, what="transcoders stopped")
    check(ok, f"transcoders stopped after the grace (states {env.state(0)}, {env.state(1)})")
    env.check_error_log()
finally:
    for p in players:
        p.kill_group()
    env.cleanup()
finish()
