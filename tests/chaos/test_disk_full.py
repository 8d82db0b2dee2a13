#!/usr/bin/env python3
"""Full disks, for real: inside a private mount namespace (unshare -m), a
tiny tmpfs is mounted over /dev/shm and over the reaper's output directory.

1. /dev/shm full at creation: `streamreg create` of a registry larger than
   the free space fails with a clear message naming the space, exits 1 and
   leaves no shm object behind; the same name then works at a size that
   fits (nothing half-made blocks it).
2. Output directory full: the reaper starts ffmpeg on a request; ffmpeg
   cannot write its playlists; the session ends `failed` with the error
   recorded, the reaper stays up, and SIGTERM still stops it cleanly with
   no transcoder left.

usage: test_disk_full.py STREAMREG REAPER LINEUP   (root; exit 77 = skipped)
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(*args, check=None):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if check is not None and p.returncode != check:
        fail("%s exited %d (wanted %d): %s%s" % (" ".join(args), p.returncode, check,
                                                 p.stdout, p.stderr))
    return p


def mount_tmpfs(path, size):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=1777" % size, "tmpfs", path],
                   check=True)


def registry_bytes(cli, capacity):
    """Size of a registry of this capacity, measured on the real /dev/shm."""
    name = "fullsize_%d" % os.getpid()
    run(cli, "create", name, "--capacity", str(capacity), check=0)
    size = os.stat("/dev/shm/" + name).st_size
    run(cli, "destroy", name, check=0)
    return size


def shm_full(cli):
    # Room for a small registry and a little more, not for 1000 sessions
    # (about 3 MB of records on top).
    room = registry_bytes(cli, 16) + 256 * 1024
    mount_tmpfs("/dev/shm", "%dk" % (room // 1024))
    name = "fullshm_%d" % os.getpid()
    p = run(cli, "create", name, "--capacity", "1000", check=1)
    msg = (p.stderr + p.stdout).lower()
    if "space" not in msg or "capacity" not in msg:
        fail("the error does not name the space and the capacity: " + p.stderr.strip())
    if os.path.exists("/dev/shm/" + name):
        fail("a failed create left /dev/shm/%s behind" % name)
    run(cli, "create", name, "--capacity", "4", check=0)
    run(cli, "check", name, check=0)
    run(cli, "destroy", name, check=0)
    print("ok: /dev/shm full at creation (%d KiB tmpfs): %s" % (room // 1024, p.stderr.strip()))


def wait_for(pred, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return None


def transcoders(outdir):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % pid) as f:
                if f.read().strip() != "ffmpeg":
                    continue
            if os.readlink("/proc/%s/cwd" % pid).startswith(outdir):
                found.append(int(pid))
        except OSError:
            pass
    return found


def output_full(cli, reaper, lineup):
    with open(lineup) as f:
        uuid = [l.split('tvg-id="')[1][:36] for l in f if 'tvg-id="' in l][0]
    name = "fullout_%d" % os.getpid()
    run(cli, "create", name, "--capacity", "16", check=0)
    outdir = tempfile.mkdtemp(prefix="streamreg-full.")
    mount_tmpfs(outdir, "8k")
    log = open(os.path.join(tempfile.gettempdir(), "reaper-full-%d.log" % os.getpid()), "w+")
    rp = subprocess.Popen([reaper, "--registry", name, "--lineup", lineup, "--output-dir", outdir,
                           "--ladder", "72p:48k", "--hls-time", "1", "--fps", "10",
                           "--idle-grace", "30", "--start-timeout", "8", "--max-restarts", "1",
                           "--backoff-min", "0.2", "--backoff-max", "0.5",
                           "--scan-interval", "0.05"], stdout=log, stderr=log)
    try:
        if not wait_for(lambda: run(cli, "show", name, uuid).returncode == 0, 10):
            fail("the reaper did not insert the lineup's session")
        run(cli, "state", name, uuid, "starting", check=0)

        def failed():
            info = json.loads(run(cli, "show", name, uuid, "--json", check=0).stdout)
            return info if info["state"] == "failed" and info["error_count"] >= 1 else None
        info = wait_for(failed, 40)
        if not info:
            log.seek(0)
            fail("no failure recorded for a full output directory; reaper log:\n" +
                 log.read()[-3000:])
        if rp.poll() is not None:
            fail("the reaper died (status %s) on a full output directory" % rp.returncode)
        if not wait_for(lambda: not transcoders(outdir), 10):
            fail("a transcoder still runs for the failed channel")
        print("ok: output directory full: state failed, last error: %s" % info["last_error"])
    finally:
        if rp.poll() is None:
            rp.send_signal(signal.SIGTERM)
            try:
                status = rp.wait(15)
            except subprocess.TimeoutExpired:
                rp.kill()
                fail("the reaper ignored SIGTERM")
            if status != 0:
                fail("the reaper exited %d after SIGTERM" % status)
        left = transcoders(outdir)
        subprocess.run(["umount", "-l", outdir])
        os.rmdir(outdir)
        run(cli, "destroy", name)
        log.close()
        os.unlink(log.name)
        if left:
            fail("transcoders left behind: %s" % left)


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    cli, reaper, lineup = sys.argv[1:]
    if os.environ.get("SR_IN_PRIVATE_NS") != "1":
        if os.geteuid() != 0:
            print("SKIP: needs root for mount namespaces")
            return SKIP
        env = dict(os.environ, SR_IN_PRIVATE_NS="1")
        probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
        if probe.returncode != 0:
            print("SKIP: no mount namespace here: %s" % probe.stderr.decode().strip())
            return SKIP
        try:
            return subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                                   os.path.abspath(__file__)] + sys.argv[1:], env=env).returncode
        except OSError as e:
            print("SKIP: unshare: %s" % e)
            return SKIP
    try:
        shm_full(cli)
    except subprocess.CalledProcessError as e:
        print("SKIP: cannot mount a tmpfs here: %s" % e)
        return SKIP
    output_full(cli, reaper, lineup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
