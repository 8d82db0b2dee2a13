#!/usr/bin/env python3
"""`streamreg top --once --json` and the text snapshot match what was written."""
import json
import uuid

from montest import Fixture, check, populate, run, top_json, unique_name

SPEC = [
    {"id": str(uuid.uuid4()), "state": "active", "clients": 5, "variants": ["720p", "360p"],
     "pid": 1, "restarts": 2},
    {"id": str(uuid.uuid4()), "state": "failed", "errors": ["ffmpeg exited 1",
                                                           "ffmpeg exited 255"]},
    {"id": str(uuid.uuid4()), "state": "idle", "clients": 1},
    {"id": str(uuid.uuid4()), "state": "stopping", "clients": 2, "errors": ["slow stop"]},
    {"id": str(uuid.uuid4()), "state": "active", "clients": 3},
]


def check_document(doc, spec):
    check(set(doc) == {"registry", "sessions"}, "top-level keys: %r" % sorted(doc))
    reg = doc["registry"]
    sessions = {s["channel_id"]: s for s in doc["sessions"]}
    check(len(doc["sessions"]) == len(spec), "sessions: %d, wanted %d" %
          (len(doc["sessions"]), len(spec)))
    for want in spec:
        got = sessions.get(want["id"])
        check(got is not None, "channel %s missing" % want["id"])
        check(got["state"] == want["state"], "%s state %r" % (want["id"], got["state"]))
        check(got["clients"] == want.get("clients", 0), "%s clients %r" %
              (want["id"], got["clients"]))
        check(got["error_count"] == len(want.get("errors", [])), "%s error_count" % want["id"])
        check(got["last_error"] == (want["errors"][-1] if want.get("errors") else ""),
              "%s last_error %r" % (want["id"], got["last_error"]))
        levels = [q["level"] for q in got["qualities"]]
        check(levels == want.get("variants", []), "%s qualities %r" % (want["id"], levels))
        check(got["pid"] == want.get("pid", 0), "%s pid %r" % (want["id"], got["pid"]))
    # The header totals agree with the rows they sit above.
    for st in ("idle", "starting", "active", "stopping", "failed"):
        rows = sum(1 for s in doc["sessions"] if s["state"] == st)
        wanted = sum(1 for s in spec if s["state"] == st)
        check(reg["by_state"][st] == rows == wanted, "by_state[%s] %r rows %d wanted %d" %
              (st, reg["by_state"][st], rows, wanted))
    clients = sum(s.get("clients", 0) for s in spec)
    check(reg["clients"] == clients, "registry clients %r, wanted %d" % (reg["clients"], clients))
    check(reg["capacity"] == 64 and reg["used"] == len(spec) and
          reg["free"] == 64 - len(spec), "capacity/used/free %r" % reg)
    check(reg["skipped"] == 0, "skipped %r on a quiet table" % reg["skipped"])
    check(reg["procs_attached"] >= 1, "the fixture is attached: %r" % reg["procs_attached"])
    check(len(reg["birth_id"]) == 16, "birth_id %r" % reg["birth_id"])
    # Counters that only rise: the fixture walked each channel to its state.
    moves_into = {st: 0 for st in ("idle", "starting", "active", "stopping", "failed")}
    path = {"idle": [], "starting": ["starting"], "active": ["starting", "active"],
            "failed": ["starting", "failed"], "stopping": ["starting", "stopping"]}
    for s in spec:
        for st in path[s["state"]]:
            moves_into[st] += 1
    check(reg["transitions"] == moves_into, "transitions %r, wanted %r" %
          (reg["transitions"], moves_into))
    check(reg["restarts_total"] == sum(s.get("restarts", 0) for s in spec),
          "restarts_total %r" % reg["restarts_total"])
    check(reg["start_latency"]["count"] == moves_into["active"],
          "start latency count %r" % reg["start_latency"])


def main():
    name = unique_name("json")
    fx = Fixture()
    try:
        populate(fx, name, SPEC)
        doc = top_json(name)
        check_document(doc, SPEC)
        check(doc["registry"]["owner"] is None, "owner %r" % doc["registry"]["owner"])
        fx.cmd("owner /var/tmp/out\"1")
        owner = top_json(name)["registry"]["owner"]
        check(owner is not None and owner["pid"] == fx.proc.pid and owner["alive"] and
              owner["info"] == "/var/tmp/out\"1" and owner["heartbeat_age_ms"] >= 0,
              "owner %r" % owner)
        check(doc["registry"]["name"] == name, "name %r" % doc["registry"]["name"])

        # Same session objects as `streamreg ls --json`, when the CLI has it.
        ls = run(["ls", name, "--json"], check_rc=None)
        if ls.returncode == 0:
            check(_same_but_idle(json.loads(ls.stdout), doc["sessions"]),
                  "ls --json and top --json disagree")

        # --state filters rows but keeps the registry totals whole.
        failed = top_json(name, "--state", "failed")
        check([s["channel_id"] for s in failed["sessions"]] == [SPEC[1]["id"]],
              "--state failed rows %r" % failed["sessions"])
        check(failed["registry"]["by_state"]["active"] == 2, "filtered totals changed")

        # --sort clients orders the JSON by viewers, most first.
        by_clients = top_json(name, "--sort", "clients")
        counts = [s["clients"] for s in by_clients["sessions"]]
        check(counts == sorted(counts, reverse=True) and counts[0] == 5,
              "--sort clients order %r" % counts)
        by_errors = top_json(name, "--sort", "errors")
        check(by_errors["sessions"][0]["channel_id"] == SPEC[1]["id"], "--sort errors order")

        # Without a terminal, plain `top` prints one text snapshot and exits.
        text = run(["top", name]).stdout
        lines = text.splitlines()
        check(lines[0].startswith("registry " + name), "text header %r" % lines[0])
        check("active 2" in lines[1] and "failed 1" in lines[1] and "clients 11" in lines[1],
              "text totals %r" % lines[1])
        rows = [l for l in lines if l[:36] in {s["id"] for s in SPEC}]
        check(len(rows) == len(SPEC), "text rows: %d" % len(rows))
        check(rows[0].startswith(SPEC[0]["id"]), "text default sort is by clients")
        row = {l[:36]: l.split() for l in rows}
        check(row[SPEC[0]["id"]][1] == "active" and row[SPEC[0]["id"]][2] == "5",
              "text row %r" % row[SPEC[0]["id"]])
        check("720p,360p" in rows[0], "variants column %r" % rows[0])
        check(rows[-1].endswith("-") or "ffmpeg exited 255" in text, "last error shown")
        check("ffmpeg exited 255" in text, "last error missing from text")

        # Plain stats: the header lines of top.
        lines = run(["stats", name]).stdout.splitlines()
        check(len(lines) == 3 and lines[0].startswith("registry " + name) and
              "5 used, 59 free of 64" in lines[1] and lines[2].startswith("processes: "),
              "stats text %r" % lines)

        # stats --json is the same registry object.
        st = json.loads(run(["stats", name, "--json"]).stdout)
        check(st["by_state"] == doc["registry"]["by_state"] and st["capacity"] == 64,
              "stats --json %r" % st)

        # A session deleted is gone from the next snapshot.
        fx.cmd("delete %s" % SPEC[2]["id"])
        after = top_json(name)
        check(SPEC[2]["id"] not in {s["channel_id"] for s in after["sessions"]} and
              after["registry"]["used"] == len(SPEC) - 1, "deleted session still listed")
    finally:
        fx.cmd("unlink %s" % name, ok=False)
        fx.close()
    print("ok")


def _same_but_idle(a, b):
    """ls and top run at different instants: only the idle time may differ (the library
    derives last_access_wall_ns from the coarse monotonic clock at each read)."""
    def strip(rows):
        return sorted(({k: v for k, v in r.items()
                        if k not in ("idle_ms", "last_access_wall_ns")} for r in rows),
                      key=lambda r: r["channel_id"])
    return strip(a) == strip(b)


if __name__ == "__main__":
    main()
