#!/usr/bin/env python3
"""A segment shrunk under a running monitor (SIGBUS on the mapping) does not kill it."""
import os
import shlex
import shutil
import uuid

from montest import SKIP, STREAMREG, Fixture, Tmux, check, run, unique_name


def main():
    if shutil.which("tmux") is None:
        print("tmux not installed")
        return SKIP
    name = unique_name("trunc")
    path = "/dev/shm/" + name
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    fx = Fixture()
    fx2 = None
    tm = None
    try:
        fx.cmd("create %s 0600 8" % name)
        fx.cmd("add %s" % first)
        tm = Tmux("%s top %s --interval 0.2" % (shlex.quote(STREAMREG), name))
        tm.wait_for(lambda s: first in s, "the session")

        # Same inode, no pages left: every read of the mapping now faults.
        os.truncate(path, 0)
        s = tm.wait_for(lambda s: "cannot read: its segment was truncated" in s,
                        "the read failure")
        check(first not in s, "rows shown from a truncated segment:\n" + s)
        check(not os.path.exists(tm.status_file), "top died on the truncated segment")
        # The one-shot commands refuse it at attach, with the library's reason.
        p = run(["top", name, "--once"], check_rc=3)
        check(name in p.stderr, "one-shot refusal: %r" % p.stderr)
        run(["stats", name, "--prometheus"], check_rc=3)

        # The writer holding the broken mapping would fault too: put it down.
        fx.proc.kill()
        fx.proc.wait()
        os.unlink(path)
        fx2 = Fixture()
        fx2.cmd("create %s 0600 8" % name)
        fx2.cmd("add %s" % second)
        s = tm.wait_for(lambda s: second in s and "reattached at" in s, "the new registry")
        check(first not in s, "old session after reattach")
        tm.keys("q")
        check(tm.wait_dead() == 0, "top exit status after q")
    finally:
        if tm is not None:
            tm.close()
        for f in (fx, fx2):
            if f is not None and f.proc.poll() is None:
                f.cmd("unlink %s" % name, ok=False)
                f.close()
        if os.path.exists(path):
            os.unlink(path)
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
