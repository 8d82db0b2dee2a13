#!/usr/bin/env python3
"""examples/quickstart.c runs, does what it prints, cleans up, and is word for
word the C program the README shows."""
import os
import re
import subprocess
import sys


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    src = os.environ["SR_SOURCE_DIR"]
    name = "srtest-quickstart-%d" % os.getpid()
    p = subprocess.run([os.environ["SR_QUICKSTART"], name], capture_output=True, text=True,
                       timeout=30)
    if p.returncode != 0:
        fail("quickstart exited %d: %s" % (p.returncode, p.stderr))
    want = [
        "created registry %s" % name,
        "channel inserted",
        "viewers 1, start requested",
        "state starting, viewers 1, start requests 1",
        "viewers 0 after the viewer left",
        "removed registry %s" % name,
    ]
    got = p.stdout.splitlines()
    if got != want:
        fail("output:\n%s\nwanted:\n%s" % (p.stdout, "\n".join(want)))
    if os.path.exists("/dev/shm/" + name):
        fail("the registry was left behind")
    # An existing name is refused with a clear message and exit 1.
    open("/dev/shm/" + name, "w").close()
    try:
        p = subprocess.run([os.environ["SR_QUICKSTART"], name], capture_output=True,
                           text=True, timeout=30)
    finally:
        os.unlink("/dev/shm/" + name)
    if p.returncode != 1 or "create: EEXIST" not in p.stderr:
        fail("existing registry: exit %d, stderr %r" % (p.returncode, p.stderr))

    # The README shows this very program.
    with open(os.path.join(src, "README.md")) as f:
        readme = f.read()
    blocks = re.findall(r"```c\n(.*?)```", readme, re.S)
    with open(os.path.join(src, "examples", "quickstart.c")) as f:
        example = f.read()
    if example not in blocks:
        fail("README.md's C example differs from examples/quickstart.c")
    print("ok")


if __name__ == "__main__":
    main()
