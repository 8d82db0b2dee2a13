#!/usr/bin/env python3
"""`top` says so when its registry is destroyed and follows the name to a new one."""
import os
import re
import shlex
import shutil
import signal
import subprocess
import uuid

from montest import SKIP, STREAMREG, Fixture, Tmux, check, unique_name


def main():
    if shutil.which("tmux") is None:
        print("tmux not installed")
        return SKIP
    name = unique_name("repl")
    old, new, newer = (str(uuid.uuid4()) for _ in range(3))
    fx = Fixture()
    tm = None
    try:
        fx.cmd("create %s 0600 8" % name)
        fx.cmd("add %s" % old)
        fx.cmd("state %s active" % old)
        tm = Tmux("%s top %s --interval 0.2" % (shlex.quote(STREAMREG), name))
        tm.wait_for(lambda s: old in s, "the first registry's session")

        # Destroyed: the screen says so and drops the rows it can no longer vouch for.
        fx.cmd("unlink %s" % name)
        fx.cmd("close")
        s = tm.wait_for(lambda s: "REGISTRY %s WAS DESTROYED OR REPLACED" % name in s,
                        "the registry's destruction")
        check(old not in s, "rows of a destroyed registry still shown:\n" + s)
        s = tm.wait_for(lambda s: "waiting for a new registry under this name" in s,
                        "waiting for a new registry")
        check(old not in s, "stale rows while waiting")

        # Recreated under the same name: top reattaches by itself.
        fx.cmd("create %s 0600 8" % name)
        fx.cmd("add %s" % new)
        fx.cmd("state %s failed" % new)
        s = tm.wait_for(lambda s: new in s and "reattached at" in s and "was recreated" in s,
                        "the new registry")
        check(old not in s, "old session shown after reattach")
        check("failed 1" in s and "1 used, 7 free of 8" in s, "new registry's totals:\n" + s)

        # Replaced between two refreshes (unlink and create at once): noticed all the same.
        fx.cmd("unlink %s" % name)
        fx.cmd("close")
        fx.cmd("create %s 0600 4" % name)
        fx.cmd("add %s" % newer)
        s = tm.wait_for(lambda s: newer in s and "free of 4" in s, "the third registry")
        check(new not in s, "second registry's session still shown:\n" + s)

        # SIGTERM ends it as cleanly as q.
        top = subprocess.run(["pgrep", "-f", "^%s top %s " % (re.escape(STREAMREG), name)],
                             capture_output=True, text=True).stdout.split()
        check(len(top) == 1, "top's pid: %r" % top)
        os.kill(int(top[0]), signal.SIGTERM)
        check(tm.wait_dead() == 0, "top exit status after SIGTERM")
    finally:
        if tm is not None:
            tm.close()
        fx.cmd("unlink %s" % name, ok=False)
        fx.close()
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
