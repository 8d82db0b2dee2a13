#!/usr/bin/env python3
"""The systemd units as installed by `cmake --install` (issue 11 item 11).

Installs the build into a scratch prefix; `systemd-analyze verify` must
accept both units without a single warning (a missing systemd-analyze is a
failure that names the package, never a skip); the hardening the operations
manual promises must be there; and the installed reaper and server must
speak the readiness protocol the units' Type=notify relies on: READY=1 once
serving, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 and exit 0 on
SIGTERM.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

BUILD, WORK = sys.argv[1], sys.argv[2]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def unit_settings(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def notify_run(argv, env_extra, reload_ok, log):
    """Run argv with NOTIFY_SOCKET; return the datagrams seen per phase."""
    sock_path = os.path.join(WORK, "notify.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock_path)
    s.settimeout(0.2)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, **env_extra)
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    seen = []

    def wait_for(word, limit):
        end = time.monotonic() + limit
        while time.monotonic() < end:
            try:
                msg = s.recv(4096).decode()
                seen.append(msg)
                if word in msg.split("\n"):
                    return True
            except socket.timeout:
                if p.poll() is not None:
                    return False
        return False

    ready = wait_for("READY=1", 30)
    reloading = False
    ready_again = False
    if ready and reload_ok:
        p.send_signal(1)  # SIGHUP
        reloading = wait_for("RELOADING=1", 20)
        ready_again = wait_for("READY=1", 20)
    stopping = False
    if p.poll() is None:
        p.terminate()
        stopping = wait_for("STOPPING=1", 20)
    try:
        rc = p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    s.close()
    return ready, reloading, ready_again, stopping, rc, seen


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    prefix = os.path.join(WORK, "prefix")
    r = subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    check(r.returncode == 0, f"cmake --install into a scratch prefix {r.stderr[-300:]}")
    unitdir = os.path.join(prefix, "lib", "systemd", "system")
    units = ["streamreg-reaper.service", "streamreg-server.service"]
    for u in units:
        check(os.path.isfile(os.path.join(unitdir, u)), f"{u} installed in lib/systemd/system")
    check(os.path.isfile(os.path.join(prefix, "lib", "sysusers.d", "streamreg.conf")),
          "sysusers.d entry installed")
    check(os.path.isfile(os.path.join(prefix, "share", "streamreg", "streamreg.default")),
          "example /etc/default/streamreg installed")

    analyze = shutil.which("systemd-analyze")
    check(analyze is not None,
          "systemd-analyze is on PATH (Debian package 'systemd', installed by scripts/setup.sh)")
    if analyze:
        r = subprocess.run([analyze, "verify", "--man=no"] + [os.path.join(unitdir, u) for u in units],
                           capture_output=True, text=True, cwd=unitdir)
        noise = (r.stdout + r.stderr).strip()
        check(r.returncode == 0 and noise == "",
              f"systemd-analyze verify: both units clean (rc {r.returncode}) {noise[:400]}")

    for u, rw in (("streamreg-reaper.service", "/var/lib/streamreg"),
                  ("streamreg-server.service", "/dev/shm")):
        path = os.path.join(unitdir, u)
        if not os.path.isfile(path):
            continue
        st = unit_settings(path)
        exe = st.get("ExecStart", [""])[0].split()[0]
        check(exe.startswith(prefix + "/bin/") and os.access(exe, os.X_OK),
              f"{u}: ExecStart names the installed program ({exe})")
        for k, v in (("Type", "notify"), ("Restart", "on-failure"), ("ProtectSystem", "strict"),
                     ("PrivateTmp", "yes"), ("NoNewPrivileges", "yes"), ("RemoveIPC", "no"),
                     ("KillMode", "mixed")):
            check(v in st.get(k, []), f"{u}: {k}={v}")
        if u == "streamreg-reaper.service":
            check("-10" in st.get("Nice", []), f"{u}: Nice=-10 (starts ahead of the encoders)")
        rwp = " ".join(st.get("ReadWritePaths", []))
        check(rw in rwp and "/dev/shm" in rwp, f"{u}: ReadWritePaths has {rw} and /dev/shm")

    # The readiness protocol, with the installed programs.
    reg = f"sdunit_{os.getpid()}"
    lineup = os.path.join(WORK, "lineup.m3u")
    with open(lineup, "w") as f:
        f.write(f'#EXTM3U\n#EXTINF:-1 tvg-id="{uuid.uuid4()}",One\n'
                "lavfi:testsrc=size=160x90:rate=10\n")
    out = os.path.join(WORK, "out")
    reaper = [os.path.join(prefix, "bin", "streamreg-reaper"), "--registry", reg, "--lineup",
              lineup, "--output-dir", out, "--create", "--ffmpeg", "/bin/true"]
    ready, reloading, ready_again, stopping, rc, seen = notify_run(
        reaper, {}, True, os.path.join(WORK, "reaper.log"))
    check(ready and reloading and ready_again and stopping and rc == 0,
          f"installed reaper: READY, RELOADING+READY on SIGHUP, STOPPING, exit 0 "
          f"(rc {rc}, got {seen})")
    server = [os.path.join(prefix, "bin", "streamreg-server"), "--registry", reg, "--lineup",
              lineup, "--output-dir", out, "--listen", "127.0.0.1:0", "--workers", "1"]
    ready, reloading, ready_again, stopping, rc, seen = notify_run(
        server, {}, True, os.path.join(WORK, "server.log"))
    check(ready and reloading and ready_again and stopping and rc == 0,
          f"installed server: READY, RELOADING+READY on SIGHUP, STOPPING, exit 0 "
          f"(rc {rc}, got {seen})")
    try:
        os.unlink(f"/dev/shm/{reg}")
    except FileNotFoundError:
        pass
    if failures:
        print(f"{len(failures)} failure(s); logs in {WORK}")
        return 1
    shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
