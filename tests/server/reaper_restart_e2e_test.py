#!/usr/bin/env python3
"""A viewer across a restart of the reaper (issue 11 item 2).

A real HLS client (ffmpeg reading master.m3u8 through streamreg-server,
copying to null, reporting its progress every 0.2 s) plays a channel; the
reaper is stopped with SIGTERM, as `systemctl restart` does, and a new one
started.  The old reaper leaves the watched channel and its current run for
the new one, which restarts it at once; the server bridges the gap (last
good playlist, then EXT-X-DISCONTINUITY).  Asserted: the old reaper exits 0,
the client never fails and keeps receiving frames after the restart, one
transcoder for the channel, the viewer still counted.  Printed as a figure:
the longest time the client received no frame, across the restart and, for
comparison, before it.
"""
import os
import re
import signal
import subprocess
import threading
import time

from srvtest import Env, check, ffmpeg_pids_for, finish, log, wait_until

env = Env("rrestart", n_channels=1)
client = None
progress = []  # (monotonic time, frames received)


def read_progress(proc):
    for line in proc.stdout:
        m = re.match(r"frame=(\d+)", line.strip())
        if m:
            progress.append((time.monotonic(), int(m.group(1))))


def frames():
    return progress[-1][1] if progress else 0


def longest_gap(t0, t1):
    """Longest interval in [t0, t1] in which no new frame arrived."""
    changes = [t for (t, f), (_, pf) in zip(progress[1:], progress) if f > pf]
    points = [t0] + [t for t in changes if t0 < t <= t1] + [t1]
    return max(b - a for a, b in zip(points, points[1:]))


try:
    env.start_reaper("--idle-grace", "10")
    env.start_server("--viewer-timeout", "10", "--start-timeout", "20", workers=2)
    cid = env.channels[0][0]
    client = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning", "-stats_period", "0.2",
         "-progress", "pipe:1", "-i", env.url(env.master_path(0)), "-map", "0", "-c", "copy",
         "-f", "null", "-"],
        stdout=subprocess.PIPE, stderr=open(os.path.join(env.dir, "client.log"), "w"),
        text=True)
    threading.Thread(target=read_progress, args=(client,), daemon=True).start()
    ok = wait_until(lambda: frames() >= 40, 60, what="the client playing (40 frames)")
    check(ok, f"the client plays ({frames()} frames)")
    s = env.session(0)
    check(s and s["state"] == "active" and s["clients"] >= 1, f"channel active, viewer counted {s}")
    old_pid = s["pid"] if s else 0
    time.sleep(4)  # a few seconds of steady playback for the comparison
    t_before = time.monotonic()

    # systemctl restart: SIGTERM, wait for the exit, start again
    t_restart = time.monotonic()
    rc, took = env.reaper.stop(signal.SIGTERM, 30)
    check(rc == 0, f"old reaper exits 0 on SIGTERM ({rc}, {took:.2f} s)")
    s = env.session(0)
    check(s and s["state"] in ("active", "starting"),
          f"channel with a viewer left for the next reaper, not idled ({s and s['state']})")
    env.start_reaper("--idle-grace", "10")
    t_up = time.monotonic()
    f_restart = frames()
    ok = wait_until(lambda: frames() >= f_restart + 60 and client.poll() is None, 60,
                    what="frames after the restart")
    check(ok, f"the client goes on after the restart ({frames() - f_restart} new frames)")
    check(client.poll() is None, "the client did not give up")
    time.sleep(1)
    t_end = time.monotonic()
    s = env.session(0)
    check(s and s["state"] == "active" and s["pid"] > 0 and s["pid"] != old_pid,
          f"a new transcoder serves the channel ({s})")
    check(s and s["clients"] >= 1, "the viewer is still counted")
    tcs = [p for p in ffmpeg_pids_for(cid) if p != client.pid]
    check(len(tcs) == 1, f"one transcoder for the channel ({tcs})")
    stall = longest_gap(t_restart, t_end)
    steady = longest_gap(t_before - 4, t_before)
    log(f"FIGURE viewer across a reaper restart (SIGTERM, new reaper): longest time without "
        f"a frame {stall:.2f} s (steady playback before: {steady:.2f} s); reaper down "
        f"{t_up - t_restart:.2f} s")
    print(f"FIGURE reaper restart stall {stall:.2f} s, steady {steady:.2f} s", flush=True)
finally:
    if client and client.poll() is None:
        client.terminate()
        try:
            client.wait(10)
        except subprocess.TimeoutExpired:
            client.kill()
    env.cleanup()
finish()
