"""Shared helpers of the `streamreg` command tests.

Every test script is run by ctest as `python3 test_X.py STREAMREG LEASE_HOLDER`.
Registries get unique names and are destroyed at the end, even when a test
fails or the script is interrupted.
"""
import atexit
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import unittest
import uuid

CLI = None
HOLDER = None
_names = []
_counter = itertools.count()
SHM = "/dev/shm"


class Result:
    def __init__(self, args, proc):
        self.args = args
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return "streamreg %s -> rc %d\n--- stdout\n%s--- stderr\n%s" % (
            " ".join(self.args), self.rc, self.out, self.err)


def run(*args, timeout=20, **kw):
    args = [str(a) for a in args]
    proc = subprocess.run([CLI] + args, capture_output=True, text=True, timeout=timeout, **kw)
    return Result(args, proc)


def unique_name(tag):
    name = "clitest-%s-%d-%d" % (tag, os.getpid(), next(_counter))
    _names.append(name)
    return name


def new_uuid():
    return str(uuid.uuid4())


def shm_path(name):
    return os.path.join(SHM, name)


def _remove_all():
    for name in _names:
        if os.path.exists(shm_path(name)):
            subprocess.run([CLI, "destroy", "--force", name], capture_output=True)
        if os.path.exists(shm_path(name)):
            os.unlink(shm_path(name))


def _on_sigterm(*_):
    _remove_all()
    os._exit(1)


class CliTest(unittest.TestCase):
    maxDiff = None

    def registry(self, *create_args, tag="r"):
        """Create a fresh registry, destroyed when the test ends."""
        name = unique_name(tag)
        self.addCleanup(self._destroy, name)
        self.expect(["create", name, *create_args], 0, out=r"created registry '%s'" % name)
        return name

    def _destroy(self, name):
        if os.path.exists(shm_path(name)):
            subprocess.run([CLI, "destroy", "--force", name], capture_output=True)

    def expect(self, args, rc, out=None, err=None, **kw):
        """Run streamreg with args; assert the exit status and regexes on the
        outputs.  A non-zero exit must come with exactly one stderr line
        starting with "streamreg:"; a zero exit with an empty stderr."""
        r = run(*args, **kw)
        self.assertEqual(r.rc, rc, r)
        if out is not None:
            self.assertRegex(r.out, out, r)
        if err is not None:
            self.assertRegex(r.err, err, r)
        if rc != 0:
            lines = r.err.splitlines()
            self.assertEqual(len(lines), 1, r)
            self.assertTrue(lines[0].startswith("streamreg: "), r)
        else:
            self.assertEqual(r.err, "", r)
        return r

    def session_json(self, name, ch):
        r = self.expect(["show", name, ch, "--json"], 0)
        obj = json.loads(r.out)
        self.assertIsInstance(obj, dict)
        self.assertEqual(obj["channel_id"], ch)
        return obj

    def ls_json(self, name):
        r = self.expect(["ls", name, "--json"], 0)
        arr = json.loads(r.out)
        self.assertIsInstance(arr, list)
        return arr


def main():
    global CLI, HOLDER
    if len(sys.argv) < 2:
        sys.exit("usage: %s STREAMREG [LEASE_HOLDER] [unittest args]" % sys.argv[0])
    CLI = os.path.abspath(sys.argv[1])
    rest = sys.argv[2:]
    if rest and not rest[0].startswith("-"):
        HOLDER = os.path.abspath(rest.pop(0))
    atexit.register(_remove_all)
    # ctest's timeout sends SIGTERM.  unittest would catch a SystemExit raised
    # inside a test and go on, so clean up and leave at once.
    signal.signal(signal.SIGTERM, _on_sigterm)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


__all__ = ["CliTest", "run", "unique_name", "new_uuid", "shm_path", "main", "json", "re"]

# Shared with the other suites that run the command as user nobody.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from runas import nobody_runnable  # noqa: E402,F401
