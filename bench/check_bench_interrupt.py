#!/usr/bin/env python3
"""Interrupt streamreg-bench mid-run, as Ctrl-C and `kill` do, and require that
it dies of the signal leaving nothing behind: no registry or scratch file or
directory (STREAMREG_DIR, /dev/shm, the huge-page mount point under /tmp), no
process of its session (workers, redis-server), no mount.

Each case starts the harness in a session of its own, waits for a line of its
stderr and then for one of its forked workers to be running (so the signal
lands in the middle of a measurement), sends the signal to the harness or, as
a terminal does, to its whole process group, and waits for it to exit.
usage: check_bench_interrupt.py PATH/TO/streamreg-bench
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

EXIT_BOUND_S = 60  # generous: a loaded 2-core box, redis-server's shutdown
WORKER_WAIT_S = 20  # for a worker after the line: each repetition forks some

CASES = [
    # (name, arguments, stderr line to wait for, signal, to the whole group,
    #  a stderr line that makes the case impossible, or None)
    ("SIGINT while the capacity scenario measures",
     ["--only", "capacity", "--backends", "streamreg", "--duration-ms", "200", "--reps", "5"],
     re.compile(r"^  capacity "), signal.SIGINT, False, None),
    # Not as a user, nor as root without CAP_SYS_ADMIN or under a [deny] policy.
    ("SIGTERM in the huge-page pass, its private tmpfs mounted",
     ["--only", "capacity", "--backends", "streamreg", "--duration-ms", "200", "--reps", "5"],
     re.compile(r"huge pages: mounted"), signal.SIGTERM, False,
     re.compile(r"huge-page pass skipped")),
    ("Ctrl-C (SIGINT to the process group) among forked workers, threads, "
     "LMDB, TDB and redis-server",
     ["--only", "ops", "--backends", "streamreg,rwlock-inproc,lmdb,tdb,redis-rt",
      "--duration-ms", "100"],
     re.compile(r"^  repetition 1 of"), signal.SIGINT, True, None),
    ("SIGTERM while a reader and a churner process measure latency",
     ["--only", "latency", "--backends", "streamreg", "--latency-samples", "3000000"],
     re.compile(r"^  latency "), signal.SIGTERM, False, None),
]


def session_members(sid):
    """Processes of session sid: (pid, comm, state)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: the fields follow the last ')'.
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == sid or int(fields[3]) == sid:  # pgrp, session
            found.append((int(d), comm, fields[0]))
    return found


def wait_for_worker(pid):
    """Until a forked worker of pid runs (bounded: the signal goes anyway)."""
    deadline = time.monotonic() + WORKER_WAIT_S
    while time.monotonic() < deadline:
        members = [(p, comm) for p, comm, state in session_members(pid) if state != "Z"]
        if any(p != pid and comm == "streamreg-bench" for p, comm in members):
            return True
        if not any(p == pid for p, _ in members):
            return False  # it has ended
        time.sleep(0.002)
    return False


def leftovers(pid, regdir, mount_points):
    """Files, directories and mounts of run pid that still exist."""
    left = ["%s/%s" % (regdir, n) for n in os.listdir(regdir)]
    tag = re.compile(r"^srbench-(?:[a-z]+-)?%d-" % pid)
    for top in ("/dev/shm", "/tmp"):
        left += ["%s/%s" % (top, n) for n in os.listdir(top) if tag.match(n)]
    left += [p for p in mount_points if os.path.lexists(p) and p not in left]
    with open("/proc/self/mountinfo") as f:
        left += ["mount: " + line.strip() for line in f if "srbench" in line]
    return left


def run_case(bench, name, args, trigger, sig, group, impossible):
    regdir = tempfile.mkdtemp(prefix="srbench-interrupt-")
    env = dict(os.environ, STREAMREG_DIR=regdir)
    p = subprocess.Popen([bench, "--quick"] + args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    lines, mount_points, sent, why_not = [], [], threading.Event(), []

    def read():
        for line in p.stderr:
            lines.append(line)
            if impossible and impossible.search(line):
                why_not.append(line.strip())
            m = re.search(r"mounted a private tmpfs .* on (\S+)", line)
            if m:
                mount_points.append(m.group(1))
            if not sent.is_set() and trigger.search(line):
                if not wait_for_worker(p.pid):
                    lines.append("check_bench_interrupt: no worker seen; signalling anyway\n")
                try:
                    if group:
                        os.killpg(p.pid, sig)
                    else:
                        os.kill(p.pid, sig)
                    sent.set()
                except ProcessLookupError:
                    pass  # it ended first: reported below

    reader = threading.Thread(target=read)
    reader.start()
    problems = []
    try:
        rc = p.wait(timeout=EXIT_BOUND_S + 60)
    except subprocess.TimeoutExpired:
        rc = None
        problems.append("still running %d s after it started" % (EXIT_BOUND_S + 60))
    reader.join(timeout=10)
    if rc == 0 and not sent.is_set() and why_not:
        print("skip: %s: %s" % (name, why_not[0]))
    elif rc is not None and not sent.is_set():
        problems.append("it ended (status %s) before the line %r appeared"
                        % (rc, trigger.pattern))
    elif rc is not None and rc != -sig:
        problems.append("exit status %s, not death by %s" % (rc, sig.name))
    procs = session_members(p.pid)
    if procs:
        problems.append("processes of its session outlived it: %s"
                        % ", ".join("%d %s (%s)" % t for t in procs))
    left = leftovers(p.pid, regdir, mount_points)
    if left:
        problems.append("left behind: %s" % ", ".join(left))

    # Whatever happened, leave the machine as it was.
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for path in left:
        if os.path.isdir(path) and not path.startswith("mount: "):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.unlink(path)
    shutil.rmtree(regdir, ignore_errors=True)

    if problems:
        sys.stderr.write("".join(lines))
        for pr in problems:
            print("FAIL: %s: %s" % (name, pr), file=sys.stderr)
        return False
    if sent.is_set():
        print("ok: %s: died of %s, nothing left" % (name, sig.name))
    return True


def main():
    if len(sys.argv) != 2:
        print("usage: check_bench_interrupt.py PATH/TO/streamreg-bench", file=sys.stderr)
        return 2
    ok = True
    for case in CASES:
        ok = run_case(sys.argv[1], *case) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
