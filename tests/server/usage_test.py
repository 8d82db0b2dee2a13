#!/usr/bin/env python3
"""streamreg-server's --help against docs/server.md: every option of the
docs' table is in --help and accepted by the parser, and the documented exit
statuses are the real ones (2 usage, 1 setup failure)."""

import os
import re
import subprocess
import sys
import tempfile

SERVER = os.environ["SR_SERVER"]
DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "server.md")


def run(*args, env=None):
    return subprocess.run([SERVER, *args], capture_output=True, text=True, timeout=30, env=env)


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


helptext = run("--help")
if helptext.returncode != 0 or not helptext.stdout.startswith("Usage: streamreg-server"):
    fail(f"--help: rc {helptext.returncode}, {helptext.stdout[:80]!r}")

with open(DOCS, encoding="utf-8") as f:
    documented = sorted(set(re.findall(r"^\| `(--[a-z-]+)", f.read(), re.M)))
if len(documented) < 15:
    fail(f"docs/server.md option table not found: {documented}")
for opt in documented:
    if not re.search(r"^\s+(-\w, )?%s\b" % re.escape(opt), helptext.stdout, re.M):
        fail(f"{opt} is in docs/server.md but not in --help")
    r = run(opt)
    if "unknown option" in r.stderr:
        fail(f"{opt}: {r.stderr.strip()}")

r = run("--bogus")
if r.returncode != 2:
    fail(f"unknown option: rc {r.returncode}")
r = run("--workers", "255", "--registry", "x", "--lineup", "x", "--output-dir", "x")
if r.returncode != 2 or "1..254" not in r.stderr:
    fail(f"--workers 255: rc {r.returncode}, {r.stderr.strip()}")

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
print("ok: %d documented options in --help and accepted; exit statuses 2 and 1" % len(documented))
