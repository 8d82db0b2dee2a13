#!/usr/bin/env python3
"""streamreg-server's documented exit statuses are the real ones (2 usage,
1 setup failure); tests/help_docs_test.py checks its options against
docs/server.md."""

import os
import subprocess
import sys
import tempfile

SERVER = os.environ["SR_SERVER"]


def run(*args, env=None):
    return subprocess.run([SERVER, *args], capture_output=True, text=True, timeout=30, env=env)


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


r = run("--bogus")
if r.returncode != 2:
    fail(f"unknown option: rc {r.returncode}")
r = run("--workers", "255", "--registry", "x", "--lineup", "x", "--output-dir", "x")
if r.returncode != 2 or "1..254" not in r.stderr:
    fail(f"--workers 255: rc {r.returncode}, {r.stderr.strip()}")

# DIR/<uuid> must fit a session path: the limit the reaper shares.
r = run("--registry", "x", "--lineup", "x", "--output-dir", "/" + "d" * 218)
if r.returncode != 2 or "218" not in r.stderr:
    fail(f"--output-dir of 219 characters: rc {r.returncode}, {r.stderr.strip()}")

with tempfile.TemporaryDirectory() as d:
    lineup = os.path.join(d, "lineup.m3u")
    with open(lineup, "w") as f:
        f.write('#EXTM3U\n#EXTINF:-1 tvg-id="123e4567-e89b-12d3-a456-426614174000",A\n'
                "lavfi:testsrc2\n")
    env = dict(os.environ, STREAMREG_DIR=d)
    # No registry and no --create: a setup failure, exit 1, before binding.
    r = run("--registry", "absent", "--lineup", lineup, "--output-dir", d,
            "--listen", "127.0.0.1:0", "--workers", "1", env=env)
    if r.returncode != 1 or "absent" not in r.stderr:
        fail(f"missing registry: rc {r.returncode}, {r.stderr.strip()}")
print("ok: exit statuses 2 (usage) and 1 (setup)")
