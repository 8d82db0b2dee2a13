#!/usr/bin/env python3
"""A user with only read permission on the segment can run the monitor."""
import json
import os
import pwd
import shlex
import shutil
import uuid

import montest
from montest import (SKIP, Fixture, Tmux, check, nobody_runnable, parse_prometheus, run, sample,
                     unique_name)


def as_nobody(libdir):
    setpriv = shutil.which("setpriv")
    env = ["env", "LD_LIBRARY_PATH=" + libdir]
    if setpriv:
        return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + env
    return ["runuser", "-u", "nobody", "--"] + env


def main():
    if os.geteuid() != 0:
        print("needs root to switch to user nobody")
        return SKIP
    pwd.getpwnam("nobody")
    # Every run below, root's and nobody's, uses a copy nobody can reach.
    libdir, montest.STREAMREG = nobody_runnable(montest.STREAMREG)
    prefix = as_nobody(libdir)
    ch = str(uuid.uuid4())
    name = unique_name("ro")
    fx = Fixture()
    try:
        fx.cmd("create %s 0644 8" % name)
        fx.cmd("add %s" % ch)
        fx.cmd("state %s active" % ch)
        fx.cmd("clients %s 2" % ch)
        st = os.stat("/dev/shm/" + name)
        check(st.st_uid == 0 and st.st_mode & 0o777 == 0o644, "segment mode %o" % st.st_mode)

        doc = json.loads(run(["top", name, "--once", "--json"], prefix=prefix).stdout)
        check([s["channel_id"] for s in doc["sessions"]] == [ch], "rows as nobody")
        check(doc["sessions"][0]["clients"] == 2 and doc["sessions"][0]["state"] == "active",
              "session as nobody: %r" % doc["sessions"][0])
        m = parse_prometheus(run(["stats", name, "--prometheus"], prefix=prefix).stdout)
        check(sample(m, "streamreg_sessions", state="active") == 1, "metrics as nobody")
        text = run(["top", name], prefix=prefix).stdout
        check(ch in text, "text snapshot as nobody")
        # The read-only monitor is no registered process: only the fixture counts.
        check(doc["registry"]["procs_attached"] == 1, "monitor took a process slot")

        # The live screen too, in a real terminal.
        if shutil.which("tmux"):
            tm = Tmux("%s %s top %s --interval 0.2" % (
                " ".join(prefix), shlex.quote(montest.STREAMREG), name))
            try:
                s = tm.wait_for(lambda s: ch in s and "active 1" in s, "the session as nobody")
                check("clients 2" in s, "totals as nobody")
                tm.keys("q")
                check(tm.wait_dead() == 0, "top as nobody exit status")
            finally:
                tm.close()

        # Without read permission: a clear refusal, not a crash.
        fx.cmd("unlink %s" % name)
        fx.cmd("close")
        fx.cmd("create %s 0600 8" % name)
        p = run(["top", name, "--once"], prefix=prefix, check_rc=1)
        check(name in p.stderr and ("ermission" in p.stderr or "denied" in p.stderr),
              "refusal message: %r" % p.stderr)
    finally:
        fx.cmd("unlink %s" % name, ok=False)
        fx.close()
        shutil.rmtree(libdir, True)
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
