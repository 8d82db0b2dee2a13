#!/usr/bin/env python3
"""`streamreg top` in a real terminal (tmux): rows, sort keys, filter, pause, quit."""
import re
import shlex
import shutil
import time
import uuid

from montest import SKIP, STREAMREG, Fixture, Tmux, check, unique_name

A, B, C = (str(uuid.uuid4()) for _ in range(3))
IDS = (A, B, C)


def order(screen):
    """Channel ids in the order the screen lists them."""
    return [line[:36] for line in screen.splitlines() if line[:36] in IDS]


def wait_order(tm, want, what):
    return tm.wait_for(lambda s: order(s) == want, "%s order %r" % (what, want))


def row(screen, ch):
    for line in screen.splitlines():
        if line.startswith(ch):
            return line.split()
    return []


def main():
    if shutil.which("tmux") is None:
        print("tmux not installed")
        return SKIP
    name = unique_name("top")
    fx = Fixture()
    tm = None
    try:
        fx.cmd("create %s 0600 16" % name)
        # B is set up first and left alone, so it is the most idle.
        fx.cmd("add %s" % B)
        fx.cmd("state %s failed" % B)
        for i in range(4):
            fx.cmd("error %s transcoder crashed %d" % (B, i))
        time.sleep(1.5)
        fx.cmd("add %s" % A)
        fx.cmd("state %s active" % A)
        fx.cmd("clients %s 3" % A)
        fx.cmd("variants %s 720p,360p" % A)
        fx.cmd("add %s" % C)
        fx.cmd("clients %s 7" % C)
        fx.cmd("error %s one hiccup" % C)

        tm = Tmux("%s top %s --interval 0.2" % (shlex.quote(STREAMREG), name))
        s = wait_order(tm, [C, A, B], "default (clients)")
        check("registry " + name in s, "header names the registry")
        check("active 1" in s and "failed 1" in s and "idle 1" in s, "per-state totals")
        check("3 used, 13 free of 16" in s, "capacity used/free")
        check("processes: 2 attached" in s and "streamreg top" in s,
              "attached processes, named")
        check("q quit" in s, "help line")
        check(row(s, A)[1:3] == ["active", "3"], "row of A: %r" % row(s, A))
        check(row(s, B)[1] == "failed" and "crashed" in " ".join(row(s, B)),
              "row of B: %r" % row(s, B))
        check("720p,360p" in " ".join(row(s, A)), "variants of A")
        # Failed is drawn in red (SGR 31), active in the default colour.
        coloured = tm.tmux(["capture-pane", "-p", "-e", "-t", "t"]).stdout
        line_b = [l for l in coloured.splitlines() if B in l][0]
        check(re.search(r"\x1b\[[0-9;]*\b31[;m][^\x1b]*failed", line_b) is not None,
              "failed state not red: %r" % line_b)
        line_a = [l for l in coloured.splitlines() if A in l][0]
        check("\x1b[31m" not in line_a and ";31m" not in line_a, "active row coloured red")

        tm.keys("e")
        s = wait_order(tm, [B, C, A], "errors")
        check("sort errors" in s, "status shows the sort key")
        tm.keys("s")
        wait_order(tm, [B, A, C], "state")
        tm.keys("i")
        s = tm.wait_for(lambda x: order(x)[:1] == [B] and "sort idle" in x, "idle sort")
        tm.keys("c")
        wait_order(tm, [C, A, B], "clients again")

        tm.keys("f")  # idle only
        s = wait_order(tm, [C], "filter idle")
        check("filter idle" in s, "filter shown")
        tm.keys("f", "f")  # starting (none), then active
        s = wait_order(tm, [A], "filter active")
        tm.keys("f", "f", "f")  # stopping, failed, back to all
        wait_order(tm, [C, A, B], "filter all")

        tm.keys("p")
        tm.wait_for(lambda x: "PAUSED" in x, "PAUSED")
        fx.cmd("clients %s 10" % A)  # A now has 13 viewers
        time.sleep(1.0)  # five refresh intervals
        s = tm.screen()
        check(row(s, A)[2] == "3" and order(s) == [C, A, B], "paused screen changed:\n" + s)
        tm.keys("p")
        s = wait_order(tm, [A, C, B], "after resume")
        check(row(s, A)[2] == "13" and "PAUSED" not in s, "resumed screen: %r" % row(s, A))

        # A smaller terminal: redrawn to fit, header and help line still there.
        tm.tmux(["resize-window", "-t", "t", "-x", "90", "-y", "12"])
        s = tm.wait_for(lambda x: len(x.splitlines()) <= 12 and "q quit" not in x and
                        "c clients" in x and order(x) == [A, C, B], "the resized screen")
        check(all(len(line) <= 90 for line in s.splitlines()), "lines wider than the terminal")
        check(s.splitlines()[0].startswith("registry " + name), "header after resize")

        # Seven lines leave room for one row: the arrows and pages scroll through them.
        tm.tmux(["resize-window", "-t", "t", "-x", "120", "-y", "7"])
        tm.wait_for(lambda x: "rows 1-1 of 3" in x and order(x) == [A], "one row per page")
        tm.keys("Down")
        tm.wait_for(lambda x: "rows 2-2 of 3" in x and order(x) == [C], "scrolled down")
        tm.keys("NPage")
        tm.wait_for(lambda x: "rows 3-3 of 3" in x and order(x) == [B], "paged down")
        tm.keys("NPage")  # past the end: stays on the last row
        tm.wait_for(lambda x: "rows 3-3 of 3" in x and order(x) == [B], "clamped at the end")
        tm.keys("Up")
        tm.wait_for(lambda x: "rows 2-2 of 3" in x, "scrolled up")
        tm.keys("PPage")
        tm.wait_for(lambda x: "rows 1-1 of 3" in x and order(x) == [A], "paged up")
        tm.keys("Down", "Home")
        tm.wait_for(lambda x: "rows 1-1 of 3" in x and order(x) == [A], "home")

        tm.keys("q")
        status = tm.wait_dead()
        check(status == 0, "top exited %d after q" % status)
        tm.close()

        # A terminal that cannot address the cursor gets the one-shot text instead.
        tm = Tmux("TERM=dumb %s top %s" % (shlex.quote(STREAMREG), name))
        check(tm.wait_dead() == 0, "top on TERM=dumb exit status")
        tm.wait_for(lambda x: "cannot drive terminal type 'dumb'" in x and
                    "sessions: 3 used" in x and len(order(x)) == 3, "the TERM=dumb snapshot",
                    history=True)
    finally:
        if tm is not None:
            tm.close()
        fx.cmd("unlink %s" % name, ok=False)
        fx.close()
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
