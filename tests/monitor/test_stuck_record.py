#!/usr/bin/env python3
"""A record left mid-update by a dead writer is left out, counted, and the rest shown."""
import json
import os
import shlex
import shutil
import subprocess

from montest import STREAMREG, Tmux, check, parse_prometheus, run, sample, unique_name


def main():
    name = unique_name("stuck")
    helper = subprocess.Popen([os.environ["SR_STUCK"], name, "3", "1"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    tm = None
    try:
        words = helper.stdout.readline().split()
        check(len(words) == 4 and words[0] == "ready", "helper: %r" % words)
        ids = words[1:]
        stuck, fine = ids[1], [ids[0], ids[2]]

        doc = json.loads(run(["top", name, "--once", "--json"]).stdout)
        shown = [s["channel_id"] for s in doc["sessions"]]
        check(shown == fine, "rows %r, wanted %r without %s" % (shown, fine, stuck))
        reg = doc["registry"]
        check(reg["skipped"] == 1 and reg["used"] == 3 and reg["by_state"]["idle"] == 2,
              "totals %r" % reg)

        text = run(["top", name]).stdout
        check(stuck not in text and all(i in text for i in fine), "text rows")
        check("1 busy records skipped" in text, "text header lacks the skip:\n" + text)

        prom = run(["stats", name, "--prometheus"]).stdout
        p = subprocess.run(["promtool", "check", "metrics"], input=prom, capture_output=True,
                           text=True)
        check(p.returncode == 0, "promtool: %s%s" % (p.stdout, p.stderr))
        m = parse_prometheus(prom)
        check(sample(m, "streamreg_records_skipped") == 1, "streamreg_records_skipped")
        check(sample(m, "streamreg_sessions", state="idle") == 2, "idle sessions")
        check(stuck not in prom and all(i in prom for i in fine), "per-channel series")

        if shutil.which("tmux"):
            tm = Tmux("%s top %s --interval 0.2" % (shlex.quote(STREAMREG), name))
            s = tm.wait_for(lambda s: all(i in s for i in fine), "the readable sessions")
            check(stuck not in s and "1 busy records skipped" in s, "screen:\n" + s)
            tm.keys("q")
            check(tm.wait_dead() == 0, "top exit status")
    finally:
        if tm is not None:
            tm.close()
        helper.stdin.close()
        helper.wait(timeout=30)
        if os.path.exists("/dev/shm/" + name):
            os.unlink("/dev/shm/" + name)
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
