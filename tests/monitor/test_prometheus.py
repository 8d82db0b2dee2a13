#!/usr/bin/env python3
"""`streamreg stats --prometheus` passes promtool and reports what was written."""
import os
import shutil
import subprocess
import uuid

from montest import (SKIP, Fixture, check, parse_prometheus, populate, run, sample,
                     unique_name)

SPEC = [
    {"id": str(uuid.uuid4()), "state": "active", "clients": 4, "variants": ["720p", "480p",
                                                                            "360p"],
     "restarts": 3},
    {"id": str(uuid.uuid4()), "state": "active", "clients": 1},
    {"id": str(uuid.uuid4()), "state": "failed", "errors": ["a", "b", "c"]},
    {"id": str(uuid.uuid4()), "state": "starting"},
]
STATES = ("idle", "starting", "active", "stopping", "failed")


def promtool_check(text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0, "promtool check metrics failed:\n%s%s" % (p.stdout, p.stderr))
    # promtool exits 0 on lint warnings only when there are none to print.
    check(p.stdout.strip() == "" and p.stderr.strip() == "",
          "promtool complained:\n%s%s" % (p.stdout, p.stderr))


def main():
    if shutil.which("promtool") is None:
        print("promtool not installed (Debian package prometheus)")
        return SKIP
    name = unique_name("prom")
    fx = Fixture()
    try:
        fx.cmd("create %s 0600 32" % name)
        empty = run(["stats", name, "--prometheus"]).stdout
        promtool_check(empty)
        m = parse_prometheus(empty)
        check(all(sample(m, "streamreg_sessions", state=s) == 0 for s in STATES),
              "empty registry has sessions")
        fx.cmd("unlink %s" % name)
        fx.cmd("close")

        populate(fx, name, SPEC, capacity=32)
        text = run(["stats", name, "--prometheus"]).stdout
        promtool_check(text)
        m = parse_prometheus(text)
        want = {s: sum(1 for x in SPEC if x["state"] == s) for s in STATES}
        for s in STATES:
            check(sample(m, "streamreg_sessions", state=s) == want[s],
                  "streamreg_sessions{state=%s} %r, wanted %d" %
                  (s, sample(m, "streamreg_sessions", state=s), want[s]))
        check(sample(m, "streamreg_session_slots") == 32, "capacity")
        check(sample(m, "streamreg_session_slots_free") == 32 - len(SPEC), "free slots")
        check(sample(m, "streamreg_clients") == 5, "total clients")
        check(sample(m, "streamreg_records_skipped") == 0, "records skipped on a quiet table")
        check(sample(m, "streamreg_processes_attached") >= 1, "fixture attached")
        check(sample(m, "streamreg_processes_max") >= 1, "process table size")
        check(sample(m, "streamreg_reaper_up") == 0, "no reaper holds the registry")
        check(sample(m, "streamreg_state_transitions_total", state="failed") ==
              sum(1 for x in SPEC if x["state"] == "failed"), "transitions into failed")
        check(sample(m, "streamreg_registry_age_seconds") >= 0, "age")
        for s in SPEC:
            ch = s["id"]
            check(sample(m, "streamreg_channel_clients", channel=ch) == s.get("clients", 0),
                  "clients of %s" % ch)
            check(sample(m, "streamreg_channel_errors_total", channel=ch) ==
                  len(s.get("errors", [])), "errors of %s" % ch)
            check(sample(m, "streamreg_channel_restarts_total", channel=ch) ==
                  s.get("restarts", 0), "restarts of %s" % ch)
            check(sample(m, "streamreg_channel_consecutive_failures", channel=ch) ==
                  s.get("restarts", 0), "consecutive failures of %s" % ch)
            # The fixture walks each channel to its state: one move into starting at most.
            check(sample(m, "streamreg_channel_transitions_total", channel=ch,
                         state="starting") == (0 if s["state"] == "idle" else 1),
                  "start requests of %s" % ch)
            check(sample(m, "streamreg_channel_last_state_change_timestamp_seconds",
                         channel=ch) > 1e9, "last state change of %s" % ch)
            check(sample(m, "streamreg_channel_variants", channel=ch) ==
                  len(s.get("variants", [])), "variants of %s" % ch)
            for st in STATES:
                check(sample(m, "streamreg_channel_state", channel=ch, state=st) ==
                      (1 if st == s["state"] else 0), "state %s of %s" % (st, ch))
            idle = sample(m, "streamreg_channel_idle_seconds", channel=ch)
            check(0 <= idle < 60, "idle seconds of %s: %r" % (ch, idle))
            up = sample(m, "streamreg_channel_uptime_seconds", channel=ch)
            check(up == 0 if s["state"] != "active" else 0 <= up < 60,
                  "uptime of %s: %r" % (ch, up))
        # Every family is documented.
        with open(os.path.join(os.environ["SR_SOURCE_DIR"], "docs", "monitor.md")) as f:
            doc = f.read()
        families = {k[0] for k in m}
        missing = sorted(f for f in families if "`%s`" % f not in doc)
        check(not missing, "docs/monitor.md lacks %r" % missing)

        # Viewers vanish from the metrics when their process detaches.
        fx.cmd("close")
        m = parse_prometheus(run(["stats", name, "--prometheus"]).stdout)
        check(sample(m, "streamreg_clients") == 0, "clients after the holder left")
        check(sample(m, "streamreg_channel_clients", channel=SPEC[0]["id"]) == 0,
              "channel clients after the holder left")
    finally:
        fx.cmd("unlink %s" % name, ok=False)
        fx.close()
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
