#!/usr/bin/env python3
"""kill -9 of workers in the middle of requests: each is replaced, no
request hangs, the channel's client count never exceeds the players and
comes back to it (the dead worker's leases are reclaimed and its viewers
adopted by the survivors), the transcoder is untouched; then SIGTERM to the
master stops everything cleanly and leaves no lease behind."""

import os
import signal
import threading
import time

from srvtest import (Env, PyPlayer, alive, check, children, cli_session, ffmpeg_pids_for, finish,
                     get_json, http, killed_workers, log, wait_until)

PLAYERS = 3
env = Env("wkill", n_channels=1)
players = []
try:
    env.start_reaper("--idle-grace", "5")
    # SRV_SERVER_ARGS runs the same test with e.g. --reuseport, where each
    # replaced worker must inherit its slot's own listen socket.
    extra = os.environ.get("SRV_SERVER_ARGS", "").split()
    env.start_server("--viewer-timeout", "3", "--start-timeout", "20", *extra, workers=4)
    cid = env.channels[0][0]
    players = [PyPlayer(env, 0) for _ in range(PLAYERS)]

    def clients():
        s = env.session(0)
        return s["clients"] if s else -1

    def playing():
        s = env.session(0)
        return s and s["state"] == "active" and s["pid"] > 0 and s["clients"] == PLAYERS

    # Viewers count from their master.m3u8 request on, while the channel is
    # still starting: wait for the transcoder as well.
    ok = wait_until(playing, 30, what="channel active and all players counted")
    check(ok, f"{PLAYERS} players counted once each ({clients()})")
    tc_pid = env.session(0)["pid"]

    # A background hammer of plain requests, to catch any that hang.
    stop_hammer = threading.Event()
    hammer = []

    def hammer_run():
        while not stop_hammer.is_set():
            t0 = time.monotonic()
            st, _, _ = http(env.port, "/channels", timeout=5)
            hammer.append((st, time.monotonic() - t0))

    hthreads = [threading.Thread(target=hammer_run) for _ in range(2)]
    for t in hthreads:
        t.start()

    samples = []
    stop_sampler = threading.Event()

    def sampler():
        while not stop_sampler.is_set():
            s = get_json(env.port, "/api/sessions")
            if s:
                samples.append((time.monotonic(), s[0]["clients"]))
            time.sleep(0.1)

    st = threading.Thread(target=sampler)
    st.start()

    killed = []
    original = children(env.server.pid)
    for pid in original:
        os.kill(pid, signal.SIGKILL)
        killed.append((time.monotonic(), pid))
        log(f"SIGKILL worker {pid}")
        time.sleep(1.5)
    ok = wait_until(lambda: len(children(env.server.pid)) == 4, 10, what="4 workers again")
    now = children(env.server.pid)
    check(ok and not set(now) & set(original) and all(not alive(p) for p in original),
          f"all 4 killed workers replaced ({original} -> {now})")
    ok = wait_until(lambda: clients() == PLAYERS, 10, what="count back to the players")
    time.sleep(2)
    stop_sampler.set()
    st.join()
    stop_hammer.set()
    for t in hthreads:
        t.join(10)

    over = [c for _, c in samples if c > PLAYERS]
    check(not over, f"the count never exceeded {PLAYERS} ({len(samples)} samples, max "
                    f"{max(c for _, c in samples)})")
    t_last_kill = killed[-1][0]
    tail = [c for t, c in samples if t > t_last_kill + 3.0]
    check(tail and all(c == PLAYERS for c in tail),
          f"the count is {PLAYERS} again within 3 s of the last kill (tail {tail[:10]}...)")
    dips = [c for _, c in samples if c < PLAYERS]
    log(f"samples below {PLAYERS} (dead leases reclaimed, not yet adopted): {len(dips)} of "
        f"{len(samples)}")

    reqs = [r for p in players for r in p.results]
    hung = [r for r in reqs if r[3] >= 4.5] + [h for h in hammer if h[1] >= 4.5]
    errors = [r for r in reqs if r[2] != 200] + [h for h in hammer if h[0] != 200]
    check(not hung, f"no request hung ({len(reqs)} player requests, {len(hammer)} hammer "
                    f"requests, worst {max(r[3] for r in reqs):.3f}s / "
                    f"{max(h[1] for h in hammer):.3f}s)")
    log(f"requests cut by the kills (connection reset, retried): {len(errors)}")
    check(len(errors) <= 4 * 6, f"few requests failed, only those in flight on killed workers "
                                f"({len(errors)})")
    after = [r for r in reqs if r[0] > t_last_kill + 0.5]
    check(after and all(r[2] == 200 for r in after),
          f"every player request after the last kill succeeded ({len(after)})")
    check(env.session(0)["pid"] == tc_pid and ffmpeg_pids_for(env.out) == [tc_pid],
          f"the transcoder was untouched (pid {tc_pid})")
    log(env.server.tail(8))

    for p in players:
        p.stop()
    workers = children(env.server.pid)
    rc, took = env.server.stop()
    check(rc == 0 and not killed_workers(env.server),
          f"SIGTERM to the master -> exit 0, no worker needed SIGKILL ({took:.2f}s, rc {rc})")
    check(all(not alive(p) for p in workers), "no worker left behind")
    s = cli_session(env.registry, cid)
    check(s is not None and s["clients"] == 0,
          f"no client lease left in the registry ({s and s['clients']})")
    rc, _ = env.reaper.stop()
    check(rc == 0 and not ffmpeg_pids_for(env.out), "reaper stopped, no ffmpeg left")
except Exception as e:  # noqa: BLE001
    check(False, f"exception: {e!r}")
finally:
    for p in players:
        p.stop()
    if env.server:
        log("server log tail:\n" + env.server.tail(10))
    env.cleanup()
finish()
