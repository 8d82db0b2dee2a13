#!/usr/bin/env python3
"""Viewers on two channels through 4 workers, with the real reaper and
ffmpeg: every channel runs exactly one transcoder whatever the number of
workers and viewers, the client counts in /api/sessions equal the viewers,
viewers that leave stop counting, the idle channel's transcoder is stopped
and its directory removed, and a new viewer starts it again."""

import os
import re
import subprocess
import time
import uuid

from srvtest import (CurlViewer, Env, alive, check, ffmpeg_pids_for, ffmpeg_viewer, finish,
                     get_json, http, killed_workers, log, wait_until, write_lineup)

VIEWER_TIMEOUT = 2.5
GRACE = 2.0

env = Env("viewers", n_channels=2)
# A third channel whose input never works.
bad_id = str(uuid.uuid4())
env.channels.append((bad_id, "Broken", "/nonexistent/streamreg-input.ts"))
write_lineup(env.lineup, env.channels)
viewers = []
curls = []
try:
    env.start_reaper("--idle-grace", str(GRACE), "--stop-timeout", "2")
    env.start_server("--viewer-timeout", str(VIEWER_TIMEOUT), "--start-timeout", "20",
                     workers=4)
    a, b = env.channels[0][0], env.channels[1][0]

    # Everyone arrives at once: the start requests race across 4 workers.
    viewers = [ffmpeg_viewer(env, 0, env.dir, "viewer_a1"),
               ffmpeg_viewer(env, 0, env.dir, "viewer_a2"),
               ffmpeg_viewer(env, 1, env.dir, "viewer_b1")]
    curls = [CurlViewer(env, 0), CurlViewer(env, 1)]
    want = {a: 3, b: 2}
    bad_index = 2

    def counts():
        return {s["channel_id"]: s["clients"] for s in get_json(env.port, "/api/sessions") or []}

    def states():
        return {s["channel_id"]: s["state"] for s in get_json(env.port, "/api/sessions") or []}

    ok = wait_until(lambda: all(states().get(c) == "active" for c in want), 30,
                    what="both channels active")
    check(ok, "both channels become active")
    ok = wait_until(lambda: all(counts().get(c) == n for c, n in want.items()), 20,
                    what="client counts 3 and 2")
    check(ok, f"client counts reach 3 and 2 (now {counts()})")
    samples = []
    for _ in range(8):
        time.sleep(0.5)
        samples.append(counts())
    check(all(s.get(a) == 3 and s.get(b) == 2 for s in samples),
          f"client counts stay 3 and 2 over 4 s ({[(s.get(a), s.get(b)) for s in samples]})")

    # One more viewer whose requests hop between workers: counted once.
    st, _, body = http(env.port, env.master_path(0))
    variant = [ln for ln in body.decode().splitlines() if ln and not ln.startswith("#")]
    vpath = env.master_path(0).rsplit("/", 1)[0] + "/" + (variant[0] if variant else "x")
    served_by, seen_counts, statuses = set(), [], set()
    for i in range(40):
        st, hdrs, _ = http(env.port, vpath)  # a new connection each time
        statuses.add(st)
        served_by.add(hdrs.get("x-streamreg-worker"))
        if i % 5 == 0:
            seen_counts.append(counts().get(a))
    check(st == 200 and statuses == {200} and len(served_by) >= 2 and
          set(seen_counts) == {4},
          f"a viewer served by workers {sorted(served_by)} counts once (counts {seen_counts})")

    old_pid = {}
    for i, c in enumerate((a, b)):
        s = env.session(i)
        pid = s["pid"] if s else 0
        found = ffmpeg_pids_for(os.path.join(env.out, c))
        old_pid[c] = pid
        check(pid > 0 and alive(pid) and found == [pid],
              f"channel {i}: exactly one ffmpeg, the registry's (pid {pid}, found {found})")
    all_tc = ffmpeg_pids_for(env.out)
    check(len(all_tc) == 2, f"two transcoders in total ({all_tc})")
    want_v = dict(want)
    want_v[bad_id] = 0
    chans = get_json(env.port, "/channels")
    want_v[a] += 1  # the hopping viewer
    check(chans and {c["id"]: c["viewers"] for c in chans} == want_v,
          f"/channels shows the same viewers ({[(c['id'][:8], c['viewers']) for c in chans or []]})")

    # Everyone leaves.
    for v in viewers:
        v.stop()
    for cv in curls:
        cv.stop()
    t_leave = time.monotonic()
    check(all(not cv.errors for cv in curls) and all(cv.fetches > 3 for cv in curls),
          f"curl viewers fetched playlists and segments without errors "
          f"({[cv.fetches for cv in curls]}, {[cv.errors[:2] for cv in curls]})")
    # Not before the viewer timeout: one more viewer per channel, whose
    # request starts at a known instant, then the first poll that sees 0,
    # read after the answer.  Both instants bound the events themselves,
    # however long stopping the others took on a loaded machine.
    asked = {}
    for i, c in enumerate((a, b)):
        asked[c] = time.monotonic()
        st, _, _ = http(env.port, env.master_path(i), timeout=20)
        check(st == 200, f"a last viewer's master playlist of channel {i} -> 200 (got {st})")
    zero_seen = {}

    def all_zero():
        cs = counts()
        now = time.monotonic()
        for c in want:
            if cs.get(c) == 0:
                zero_seen.setdefault(c, now)
        return len(zero_seen) == len(want)

    ok = wait_until(all_zero, VIEWER_TIMEOUT + 30, interval=0.05, what="counts back to 0")
    t_zero = time.monotonic() - t_leave
    gaps = {c: zero_seen[c] - asked[c] for c in want} if ok else {0: 0.0}
    check(ok and min(gaps.values()) >= VIEWER_TIMEOUT,
          f"counts drop to 0 after the viewer timeout (last request to 0: "
          f"{', '.join(f'{g:.2f}s' for g in gaps.values())}; timeout {VIEWER_TIMEOUT}s; "
          f"{t_zero:.1f}s after the viewers were stopped)")

    def stopped():
        ss = states()
        return all(ss.get(c) == "idle" for c in want) and not ffmpeg_pids_for(env.out) and \
            not any(os.path.exists(os.path.join(env.out, c)) for c in want)

    ok = wait_until(stopped, GRACE + 30, what="transcoders stopped and directories removed")
    t_idle = time.monotonic() - t_leave
    check(ok, f"after the grace period both transcoders stopped and their directories are gone "
              f"({t_idle:.1f}s after the viewers left)")
    check(all(not alive(p) for p in old_pid.values()), "old transcoder pids are gone")

    # A new viewer restarts a channel.
    t0 = time.monotonic()
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name",
                        "-of", "csv=p=0", env.url(env.master_path(0))],
                       capture_output=True, text=True, timeout=60)
    took = time.monotonic() - t0
    codecs = sorted(set(r.stdout.split()))
    check(r.returncode == 0 and codecs == ["aac", "h264"],
          f"ffprobe of a stopped channel restarts it and reads h264+aac in {took:.1f}s ({codecs})")
    s = env.session(0)
    check(s and s["state"] == "active" and s["pid"] not in (0, old_pid[a]) and
          ffmpeg_pids_for(os.path.join(env.out, a)) == [s["pid"]],
          f"a new transcoder runs (pid {s and s['pid']}, old {old_pid[a]})")
    check(s and s["clients"] == 1, f"ffprobe counts as one viewer ({s and s['clients']})")

    # 30 players (30 User-Agents: one address) arrive at once on the other
    # (stopped) channel through the 4 workers: one start, one ffmpeg, 30 viewers.
    import threading
    burst = []

    def burst_one(i):
        st, h, body = http(env.port, env.master_path(1), timeout=40,
                           headers={"User-Agent": f"player-{i}"})
        burst.append((st, h.get("x-streamreg-worker"), body))

    threads = [threading.Thread(target=burst_one, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    sb = env.session(1)
    tokens = {m.group(1) for b in burst if b[0] == 200
              for m in [re.search(rb"^v/([0-9a-f]{18})/", b[2], re.M)] if m}
    check(len(burst) == 30 and all(b[0] == 200 for b in burst) and len(tokens) == 30,
          f"30 simultaneous master.m3u8 on a stopped channel: all 200, 30 distinct tokens, "
          f"answered by workers {sorted({b[1] for b in burst})}")
    check(sb and sb["state"] == "active" and ffmpeg_pids_for(os.path.join(env.out, b)) ==
          [sb["pid"]], f"...and exactly one ffmpeg for it (pid {sb and sb['pid']}, found "
                       f"{ffmpeg_pids_for(os.path.join(env.out, b))})")
    check(sb and sb["clients"] == 30, f"...and 30 clients ({sb and sb['clients']})")

    # A start that fails: 503 with the reaper's last error, and a Retry-After.
    t0 = time.monotonic()
    st, hdrs, body = http(env.port, env.master_path(bad_index), timeout=30)
    took = time.monotonic() - t0
    s = env.session(bad_index)
    check(st == 503 and b"failed to start" in body and "retry-after" in hdrs and
          s is not None and s["error_count"] >= 1 and s["last_error"] and
          s["last_error"].encode()[:40] in body,
          f"a channel whose input fails: 503 with the last error in {took:.1f}s "
          f"({st}, {body[:160]!r})")
    check(s is not None and s["clients"] == 0, "the failed request left no viewer counted")

    rc, took = env.server.stop()
    check(rc == 0 and not killed_workers(env.server),
          f"server SIGTERM -> exit 0, no worker needed SIGKILL ({took:.2f}s, rc {rc})")
    rc, took = env.reaper.stop()
    check(rc == 0 and not ffmpeg_pids_for(env.out),
          f"reaper SIGTERM -> exit 0, no ffmpeg left (rc {rc}, {took:.2f}s)")
except Exception as e:  # noqa: BLE001
    check(False, f"exception: {e!r}")
finally:
    for cv in curls:
        cv.stop()
    for v in viewers:
        v.kill_group()
    for p in (env.server, env.reaper):
        if p:
            log(f"{p.name} log tail:\n" + p.tail(12))
    env.cleanup()
finish()
