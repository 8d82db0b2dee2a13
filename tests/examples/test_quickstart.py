#!/usr/bin/env python3
"""examples/quickstart.c runs, does what it prints, cleans up, and is word for
word the C program the README shows."""
import os
import re
import shlex
import subprocess
import sys
import tempfile


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

    # The build command it gives for this tree works: run it with this
    # build's library directory in place of build/src, then the program.
    # A sanitizer build's library needs its runtime, which a plain cc
    # command does not link: that build skips this part.
    libdir = os.environ.get("SR_LIBDIR", "")
    m = re.search(r"^ \*   (cc -Iinclude .*\\\n \*\s+.*)$", example, re.M)
    if not m:
        fail("examples/quickstart.c no longer gives the build command for this tree")
    if libdir and not os.environ.get("SR_SANITIZED"):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = re.sub(r"\\\n \*\s+", " ", m.group(1))
            cmd = cmd.replace('"$PWD/build/src"', shlex.quote(libdir))
            argv = shlex.split(cmd.replace("-Lbuild/src", "-L" + shlex.quote(libdir)))
            argv[argv.index("-o") + 1] = os.path.join(tmp, "quickstart")
            p = subprocess.run(argv, cwd=src, capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                fail("the documented build failed: %s\n%s" % (" ".join(argv), p.stderr))
            p = subprocess.run([os.path.join(tmp, "quickstart"), name + "-built"],
                               capture_output=True, text=True, timeout=30)
            if p.returncode != 0 or "removed registry" not in p.stdout:
                fail("the program built by the documented command: exit %d, %s"
                     % (p.returncode, p.stderr))
    print("ok")


if __name__ == "__main__":
    main()
