#!/usr/bin/env python3
"""A hung transcoder, for real: the reaper starts ffmpeg on a request, the
channel goes active, then the ffmpeg is SIGSTOPped, so it can no longer act
on anything but SIGKILL.  With no clients (the grace, 6 s, only covers the start), the reaper must
stop it anyway: SIGTERM after the idle grace, SIGKILL after --stop-timeout, and the session
back to idle with no pid, the process gone, the channel directory removed
and the reaper still running.

usage: test_ffmpeg_hang.py STREAMREG REAPER LINEUP
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(*args, check=None):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if check is not None and p.returncode != check:
        fail("%s exited %d: %s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def wait_for(pred, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


def proc_state(pid):
    """The state letter of pid, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    cli, reaper, lineup = sys.argv[1:]
    with open(lineup) as f:
        uuid = [l.split('tvg-id="')[1][:36] for l in f if 'tvg-id="' in l][0]
    name = "hang_%d" % os.getpid()
    run(cli, "create", name, "--capacity", "16", check=0)
    outdir = tempfile.mkdtemp(prefix="streamreg-hang.")
    log = tempfile.TemporaryFile("w+")
    rp = subprocess.Popen([reaper, "--registry", name, "--lineup", lineup, "--output-dir", outdir,
                           "--ladder", "72p:48k", "--hls-time", "1", "--fps", "10",
                           "--idle-grace", "6", "--stop-timeout", "1", "--start-timeout", "15",
                           "--scan-interval", "0.05"], stdout=log, stderr=log)
    pid = 0
    try:
        if not wait_for(lambda: run(cli, "show", name, uuid).returncode == 0, 10):
            fail("the reaper did not insert the session")
        run(cli, "state", name, uuid, "starting", check=0)

        def show():
            return json.loads(run(cli, "show", name, uuid, "--json", check=0).stdout)
        info = wait_for(lambda: (lambda i: i if i["state"] == "active" and i["pid"] else None)(
            show()), 30)
        if not info:
            log.seek(0)
            fail("the channel never went active; reaper log:\n" + log.read()[-3000:])
        pid = info["pid"]
        os.kill(pid, signal.SIGSTOP)
        if not wait_for(lambda: proc_state(pid) == "T", 5):
            fail("ffmpeg %d did not stop" % pid)
        t0 = time.monotonic()
        # What is left of the 6 s grace + stop timeout 1 s + scans: within 12 s.
        info = wait_for(lambda: (lambda i: i if i["state"] == "idle" else None)(show()), 12)
        took = time.monotonic() - t0
        if not info:
            fail("the hung channel was not stopped: still %s" % show()["state"])
        if info["pid"] != 0:
            fail("the idle session still names pid %d" % info["pid"])
        if proc_state(pid) not in (None,):
            fail("the hung ffmpeg %d still exists (state %s)" % (pid, proc_state(pid)))
        if os.path.exists(os.path.join(outdir, uuid)):
            fail("the channel directory was left behind")
        if rp.poll() is not None:
            fail("the reaper exited (%s)" % rp.returncode)
        log.seek(0)
        text = log.read()
        print("ok: hung ffmpeg %d stopped %.1f s after it hung; reaper said: %s" % (
            pid, took, " | ".join(l.split(" reason=")[-1] for l in text.splitlines()
                                 if "pid=%d" % pid in l and "->" in l)[-300:]))
    finally:
        if pid and proc_state(pid) is not None:
            os.kill(pid, signal.SIGKILL)
        if rp.poll() is None:
            rp.send_signal(signal.SIGTERM)
            try:
                rp.wait(15)
            except subprocess.TimeoutExpired:
                rp.kill()
                fail("the reaper ignored SIGTERM")
        run(cli, "destroy", name)
        subprocess.run(["rm", "-rf", outdir])
    return 0


if __name__ == "__main__":
    sys.exit(main())
