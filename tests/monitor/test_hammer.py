#!/usr/bin/env python3
"""Monitors attached while writer processes hammer the table never show a torn record.

The hammer helper's writers keep per-update invariants (see hammer.c); every
JSON, Prometheus and text snapshot taken meanwhile must satisfy all of them.
"""
import contextlib
import io
import json
import os
import re
import subprocess
import time

import shlex
import shutil

from montest import HAMMER, STREAMREG, Tmux, check, parse_prometheus, run, unique_name

STATES = ("idle", "starting", "active", "stopping", "failed")
WRITERS, PER_WRITER = 3, 4
SECONDS, MIN_SNAPSHOTS, MAX_SECONDS = 3, 4, 60


def check_qualities(ch, qs):
    if not qs:
        return None  # before the writer's first round
    m = re.fullmatch(r"L(\d+)", qs[0]["level"])
    check(m is not None, "%s: level %r" % (ch, qs[0]["level"]))
    r = int(m.group(1))
    check(len(qs) == 1 + r % 8, "%s: round %d with %d variants" % (ch, r, len(qs)))
    for i, q in enumerate(qs):
        want = {"level": "L%d" % r, "codec": "c%d" % r, "bitrate_kbps": r,
                "resolution": "%dx%d" % (i + 1, r % 1000), "playlist_path": "p%d/%d" % (r, i),
                "segment_path": "s%d/%d" % (r, i)}
        got = {k: q.get(k) for k in want}
        check(got == want, "%s: torn variant %d: %r (round %d)" % (ch, i, got, r))
    return r


def check_json(doc, rounds):
    reg, sessions = doc["registry"], doc["sessions"]
    check(len(sessions) + reg["skipped"] == WRITERS * PER_WRITER,
          "%d rows + %d skipped" % (len(sessions), reg["skipped"]))
    check(sum(reg["by_state"].values()) == len(sessions), "by_state totals vs rows")
    check(reg["clients"] == sum(s["clients"] for s in sessions), "clients total vs rows")
    for s in sessions:
        ch = s["channel_id"]
        check(s["state"] in STATES, "%s: state %r" % (ch, s["state"]))
        check(s["clients"] in (0, 1), "%s: clients %r" % (ch, s["clients"]))
        if s["error_count"] > 0:
            check(s["last_error"] == "err %d" % s["error_count"],
                  "%s: torn error: count %d, message %r" %
                  (ch, s["error_count"], s["last_error"]))
        else:
            check(s["last_error"] == "", "%s: message without count" % ch)
        r = check_qualities(ch, s["qualities"])
        if r is not None:
            rounds.setdefault(ch, set()).add(r)
    return reg["skipped"]


def check_prometheus(text):
    m = parse_prometheus(text)
    channels = {dict(k[1])["channel"] for k in m if k[0] == "streamreg_channel_clients"}
    total = sum(v for k, v in m.items() if k[0] == "streamreg_sessions")
    check(total == len(channels), "streamreg_sessions sum %r vs %d channels" %
          (total, len(channels)))
    skipped = m[("streamreg_records_skipped", frozenset())]
    check(total + skipped == WRITERS * PER_WRITER, "%r sessions + %r skipped" % (total, skipped))
    for ch in channels:
        hot = [st for st in STATES
               if m[("streamreg_channel_state", frozenset({"channel": ch, "state": st}.items()))]
               == 1]
        check(len(hot) == 1, "%s: states set %r" % (ch, hot))
        v = m[("streamreg_channel_variants", frozenset({"channel": ch}.items()))]
        check(0 <= v <= 8, "%s: %r variants" % (ch, v))
        c = m[("streamreg_channel_clients", frozenset({"channel": ch}.items()))]
        check(c in (0, 1), "%s: %r clients" % (ch, c))


def check_text(text):
    rows = [l.split(None, 8) for l in text.splitlines()
            if re.match(r"[0-9a-f]{8}-[0-9a-f]{4}-", l)]
    check(len(rows) > 0, "text snapshot without rows:\n" + text)
    for r in rows:
        ch, state, clients, errors, variants, last = r[0], r[1], r[2], r[5], r[7], r[8]
        check(state in STATES and clients in ("0", "1"), "text row %r" % r)
        check(last == ("err " + errors if errors != "0" else "-"),
              "text row with torn error: %r" % r)
        if variants != "-":
            levels = variants.split(",")
            n = int(levels[0][1:])
            check(levels == ["L%d" % n] * (1 + n % 8), "text row torn variants: %r" % r)


def frozen_screen(tm):
    """The live screen, paused so the capture cannot catch a half-drawn frame."""
    tm.keys("p")
    screen = tm.wait_for(lambda s: "PAUSED" in s, "PAUSED")
    while True:  # until two captures agree: the frame is complete
        again = tm.screen()
        if again == screen:
            break
        screen = again
    tm.keys("p")
    tm.wait_for(lambda s: "PAUSED" not in s, "resumed")
    return screen


def rejects(fn, *args):
    """Whether a checker fails on args (check() exits through SystemExit)."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            fn(*args)
    except SystemExit:
        return True
    return False


def selftest():
    """The checkers catch the tears they are meant to catch."""
    good = [{"level": "L9", "codec": "c9", "bitrate_kbps": 9, "resolution": "%dx9" % (i + 1),
             "playlist_path": "p9/%d" % i, "segment_path": "s9/%d" % i} for i in range(2)]
    check(check_qualities("x", good) == 9, "selftest: a whole record was rejected")
    torn = [dict(good[0]), dict(good[1], bitrate_kbps=8)]
    check(rejects(check_qualities, "x", torn), "selftest: torn variants accepted")
    check(rejects(check_qualities, "x", good[:1]), "selftest: wrong variant count accepted")
    row = ("0f6c0000-0000-4000-8000-000000000000 active 1 1.0s 1.0s 3 - L9,L9 err 2")
    check(rejects(check_text, row), "selftest: torn text row accepted")


def main():
    selftest()
    name = unique_name("hammer")
    tm = None
    hammer = subprocess.Popen([HAMMER, name, str(WRITERS), str(PER_WRITER), str(MAX_SECONDS)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        check(hammer.stdout.readline().strip() == "ready", "hammer did not start")
        rounds, snapshots, skipped, screens = {}, 0, 0, 0
        if shutil.which("tmux"):
            tm = Tmux("%s top %s --interval 0.1" % (shlex.quote(STREAMREG), name), width=250)
        # The writers run until hammer's stdin closes: SECONDS and MIN_SNAPSHOTS at least.
        start = time.time()
        while time.time() < start + SECONDS or snapshots < MIN_SNAPSHOTS:
            check(time.time() < start + MAX_SECONDS - 5, "too slow: %d snapshots" % snapshots)
            skipped += check_json(json.loads(run(["top", name, "--once", "--json"]).stdout),
                                  rounds)
            check_prometheus(run(["stats", name, "--prometheus"]).stdout)
            check_text(run(["top", name, "--once"]).stdout)
            if tm is not None:
                check_text(frozen_screen(tm))
                screens += 1
            snapshots += 1
        if tm is not None:
            tm.keys("q")
            check(tm.wait_dead() == 0, "live top exit status")
        hammer.stdin.close()  # stops the writers
        out = hammer.stdout.read()
        hammer.wait(timeout=30)
    finally:
        if tm is not None:
            tm.close()
        if hammer.poll() is None:
            hammer.kill()  # its writers stop at their deadline or when their parent goes
            hammer.wait()
        if os.path.exists("/dev/shm/" + name):
            os.unlink("/dev/shm/" + name)
    m = re.search(r"iterations (\d+) failed (\d+)", out)
    check(m is not None and hammer.returncode == 0 and m.group(2) == "0",
          "hammer writers failed: %r rc %r" % (out, hammer.returncode))
    check(int(m.group(1)) > 0, "writers made no progress")
    # The monitor saw the records move, so the checks above ran on live data.
    moving = [ch for ch, rs in rounds.items() if len(rs) > 1]
    check(len(moving) >= 1, "no record changed between snapshots: %r" % rounds)
    print("ok: %d snapshots, %d live screens, %s writer rounds, %d busy records skipped, "
          "%d channels seen moving" % (snapshots, screens, m.group(1), skipped, len(moving)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
