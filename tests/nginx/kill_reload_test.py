#!/usr/bin/env python3
"""Worker death, reload and a transcoder restart during playback: kill -9 of an nginx worker (the
master starts a new one, the players continue, the dead worker's viewers
are released and adopted, never counted twice) and "nginx -s reload" (old
workers hand their viewers over by releasing them, new workers count them):
the count is sampled every 100 ms and must never exceed the players, and
must be exact again once each has made a request.  Then kill -9 of the
channel's ffmpeg: the reaper starts a new run and, through nginx, every
variant playlist reload is answered 200 with a media sequence that never
goes back and an EXT-X-DISCONTINUITY before the new run's segments."""

import os
import re
import signal
import subprocess
import threading
import time

from ngxtest import NginxEnv, Proc, log, srvtest, wait_until
from srvtest import PyPlayer, check, ffmpeg_pids_for, finish

VIEWER_TIMEOUT = 4.0
N = 3  # players: one ffmpeg, two PyPlayers

env = NginxEnv("ngxkill", n_channels=1)
player = None
pys = []
try:
    env.start_reaper("--idle-grace", "30")
    env.start_nginx(workers=2,
                    http_extra=f"streamreg_viewer_timeout {int(VIEWER_TIMEOUT * 1000)}ms;")
    cid = env.channels[0][0]
    player = Proc("ffplayer", ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning",
                               "-i", env.url(env.master_path(0)), "-t", "45", "-map", "0",
                               "-c", "copy", "-f", "null", "-"], env.dir)
    check(wait_until(lambda: env.state(0) == "active", 30, what="active"), "channel active")
    pys = [PyPlayer(env, 0, period=0.3), PyPlayer(env, 0, period=0.3)]
    check(wait_until(lambda: env.clients(0) == N, 20, what=f"{N} viewers"), f"{N} viewers count")
    transcoder = ffmpeg_pids_for(os.path.join(env.out, cid))
    check(len(transcoder) == 1, f"one transcoder ({transcoder})")

    samples = []  # (time, clients)
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            samples.append((time.monotonic(), env.clients(0)))
            time.sleep(0.1)

    st = threading.Thread(target=sampler, daemon=True)
    st.start()

    def settle(label, since):
        """Exact again: every sample from some point on equals N for 3 s."""
        ok = wait_until(lambda: env.clients(0) == N, 15, what=f"{N} again after {label}")
        t_exact = time.monotonic()
        time.sleep(3)
        after = [c for t, c in samples if t >= t_exact]
        during = [c for t, c in samples if t >= since]
        over = [c for c in during if c is not None and c > N]
        low = [c for t, c in samples if since <= t < t_exact]
        check(ok and not over and after and all(c == N for c in after),
              f"{label}: never above {N} ({len(during)} samples), exact again after "
              f"{t_exact - since:.1f} s (under-counted samples {len(low)}: {low[:12]})")

    # ---- kill -9 one worker -------------------------------------------------------
    before = env.worker_pids()
    victim = before[0]
    t_kill = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    log(f"killed worker {victim}")
    ok = wait_until(lambda: len(env.worker_pids()) == 2 and victim not in env.worker_pids(), 10,
                    what="a new worker")
    check(ok, f"the master started a new worker ({before} -> {env.worker_pids()})")
    settle("kill -9 of a worker", t_kill)
    chk = subprocess.run([srvtest.CLI, "check", env.registry], capture_output=True, text=True).stdout
    check(not re.search(rf"\b{victim}\b", chk),
          f"no process slot left for the dead worker {victim} in the registry")
    check(player.p.poll() is None, "the ffmpeg player kept playing through the kill")

    # ---- nginx -s reload --------------------------------------------------------------
    old = env.worker_pids()
    t_reload = time.monotonic()
    check(env.reload(), "nginx -s reload")
    ok = wait_until(lambda: not set(old) & set(env.worker_pids()) and len(env.worker_pids()) == 2,
                    20, what="old workers gone")
    check(ok, f"reload replaced the workers ({old} -> {env.worker_pids()})")
    settle("reload", t_reload)
    check(player.p.poll() is None, "the ffmpeg player kept playing through the reload")
    stop.set()
    st.join(5)

    # ---- kill -9 of the transcoder: continuity through nginx ----------------------------
    master = srvtest.http(env.port, env.master_path(0))[2].decode(errors="replace")
    variant = [ln for ln in master.splitlines() if ln and not ln.startswith("#")][0]
    vpath = env.master_path(0).rsplit("/", 1)[0] + "/" + variant
    polls = []  # (status, media sequence, has discontinuity)

    def poll_playlist():
        st_, _, body = srvtest.http(env.port, vpath)
        text = body.decode(errors="replace")
        m = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
        polls.append((st_, int(m.group(1)) if m else None, "#EXT-X-DISCONTINUITY\n" in text))

    for _ in range(8):
        poll_playlist()
        time.sleep(0.25)
    old_ff = ffmpeg_pids_for(os.path.join(env.out, cid))
    check(old_ff == transcoder, "the transcoder was untouched by the worker kill and the reload")
    for pid in old_ff:
        os.kill(pid, signal.SIGKILL)
    log(f"killed transcoder {old_ff}")
    t_ff = time.monotonic()
    while time.monotonic() - t_ff < 15 and not (polls and polls[-1][2]):
        poll_playlist()
        time.sleep(0.25)
    for _ in range(8):
        poll_playlist()
        time.sleep(0.25)
    seqs = [q for _, q, _ in polls if q is not None]
    check(old_ff and all(p[0] == 200 for p in polls),
          f"every playlist reload through the restart answered 200 ({sorted({p[0] for p in polls})}, "
          f"{len(polls)} reloads)")
    check(seqs == sorted(seqs), f"the media sequence never goes back ({seqs[:3]}...{seqs[-3:]})")
    check(any(p[2] for p in polls), "the new run's segments come after EXT-X-DISCONTINUITY")
    transcoder = ffmpeg_pids_for(os.path.join(env.out, cid))

    for p in pys:
        p.stop()
    for i, p in enumerate(pys):
        bad = [(round(t - t_kill, 1), k, s) for t, k, s, _ in p.results if s != 200]
        good_after = sum(1 for t, _, s, _ in p.results if s == 200 and t > t_reload + 2)
        check(len(bad) <= 4 and good_after > 5,
              f"player {i}: {len(p.results)} requests, failed {bad[:6]}, {good_after} ok after")
    rc = player.p.wait(60)
    text = player.tail(20)
    check(rc == 0, f"ffmpeg played to the end (exit {rc}) {text.strip()[-300:]}")
    check(ffmpeg_pids_for(os.path.join(env.out, cid)) == transcoder,
          "the new transcoder runs on, untouched by nginx")
    env.check_error_log()
finally:
    if player:
        player.kill_group()
    for p in pys:
        p.stop()
    env.cleanup()
finish()
