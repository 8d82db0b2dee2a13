#!/usr/bin/env python3
"""A program's --help against its manual: every option in the manual's
option table (rows starting "| `--name") is listed by --help and accepted by
the parser, and --help exits 0.  Usage: help_docs_test.py PROGRAM DOCS.md"""

import re
import subprocess
import sys


def main():
    prog, docs = sys.argv[1], sys.argv[2]
    helptext = subprocess.run([prog, "--help"], capture_output=True, text=True, timeout=30)
    if helptext.returncode != 0 or not helptext.stdout.startswith("Usage: "):
        sys.exit(f"FAIL: --help: rc {helptext.returncode}, {helptext.stdout[:80]!r}")
    with open(docs, encoding="utf-8") as f:
        documented = sorted(set(re.findall(r"^\| `(--[a-z-]+)", f.read(), re.M)))
    if len(documented) < 10:
        sys.exit(f"FAIL: no option table in {docs}: {documented}")
    for opt in documented:
        if not re.search(r"^\s+(-\w, )?%s\b" % re.escape(opt), helptext.stdout, re.M):
            sys.exit(f"FAIL: {opt} is in {docs} but not in --help")
        # Alone, a known option fails for another reason than being unknown.
        r = subprocess.run([prog, opt], capture_output=True, text=True, timeout=30)
        if "unknown option" in r.stderr or "unrecognized option" in r.stderr:
            sys.exit(f"FAIL: {opt}: {r.stderr.strip()}")
    print(f"ok: {len(documented)} options of {docs} in --help and accepted")


main()
