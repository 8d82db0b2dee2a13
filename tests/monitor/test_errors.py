#!/usr/bin/env python3
"""Bad input to `top` and `stats` gets a clear message and exit code, never a crash."""
import os

from montest import Fixture, check, run, unique_name


def expect(args, rc, words):
    """Exit status rc and one line on stderr, in the form every streamreg command uses."""
    p = run(args, check_rc=rc)
    for w in words:
        check(w in p.stderr, "%s: stderr %r lacks %r" % (" ".join(args), p.stderr, w))
    check(p.stdout == "", "%s printed to stdout: %r" % (" ".join(args), p.stdout))
    check(p.stderr.count("\n") == 1 and p.stderr.startswith("streamreg: %s: " % args[0]),
          "%s: not one 'streamreg: %s: ...' line: %r" % (" ".join(args), args[0], p.stderr))
    if rc == 2:
        check("(see 'streamreg %s --help')" % args[0] in p.stderr, "usage hint missing")


def main():
    missing = unique_name("none")
    expect(["top"], 2, ["missing registry NAME"])
    expect(["stats"], 2, ["missing registry NAME"])
    expect(["top", "bad/name", "--once"], 2, ["bad registry name"])
    expect(["top", missing, "--interval", "0"], 2, ["bad --interval"])
    expect(["top", missing, "--interval", "abc"], 2, ["bad --interval"])
    expect(["top", missing, "--interval"], 2, ["--interval needs a value"])
    expect(["top", missing, "--state", "sleeping"], 2, ["bad --state"])
    expect(["top", missing, "--sort", "size"], 2, ["bad --sort"])
    expect(["top", missing, "--bogus"], 2, ["unknown option"])
    expect(["stats", missing, "--bogus"], 2, ["unknown option"])
    # The synopsis offers one format; two are refused, not silently dropped.
    expect(["stats", missing, "--json", "--prometheus"], 2, ["exclude each other"])
    expect(["stats", missing, "--prometheus", "--json"], 2, ["exclude each other"])
    # A missing registry is exit 3, as for the other streamreg commands.
    expect(["top", missing, "--once"], 3, ["registry '%s'" % missing])
    expect(["top", missing, "--once", "--json"], 3, [missing])
    expect(["stats", missing, "--prometheus"], 3, [missing])
    expect(["stats", missing], 3, [missing])
    expect(["top", missing, "--sort"], 2, ["--sort needs a value"])
    expect(["top", missing, "--state=failed", "extra"], 2, ["unexpected argument 'extra'"])
    check(run(["top", "--help"]).stdout.startswith("usage: streamreg top"), "top --help")
    # --help wins over everything else on the line, as for the other commands.
    check(run(["top", "--bogus", "-h"]).stdout.startswith("usage: streamreg top"),
          "top --bogus -h")
    check(run(["stats", missing, "--prometheus", "--help"]).stdout.startswith(
        "usage: streamreg stats"), "stats --help")

    # A shm object that is not a registry is refused by name, not shown.
    name = unique_name("junk")
    with open("/dev/shm/" + name, "wb") as f:
        f.write(b"not a registry" * 512)
    try:
        expect(["top", name, "--once"], 3, [name, "not a streamreg registry"])
        expect(["stats", name, "--prometheus"], 3, [name])
    finally:
        os.unlink("/dev/shm/" + name)

    # Empty registry: valid outputs with zero rows.
    name = unique_name("empty")
    fx = Fixture()
    try:
        fx.cmd("create %s 0600 16" % name)
        p = run(["top", name, "--once"])
        check("sessions: 0 used, 16 free of 16" in p.stdout, "empty text %r" % p.stdout)
    finally:
        fx.cmd("unlink %s" % name, ok=False)
        fx.close()
    print("ok")


if __name__ == "__main__":
    main()
