"""Helpers of the streamreg-server end-to-end tests: real processes on
loopback (server, reaper, ffmpeg, curl, ffprobe), raw HTTP, polling with
deadlines, and cleanup that leaves no process, segment or registry behind.

Binaries come from the environment set by ctest: SR_SERVER, SR_REAPER,
SR_CLI.  Every wait has a deadline, so a broken server fails a test
instead of hanging it."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

SERVER = os.environ.get("SR_SERVER", "streamreg-server")
REAPER = os.environ.get("SR_REAPER", "streamreg-reaper")
CLI = os.environ.get("SR_CLI", "streamreg")

failures = []


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def check(cond, msg):
    """Record a failed expectation without stopping the test."""
    if cond:
        log(f"ok: {msg}")
    else:
        log(f"FAIL: {msg}")
        failures.append(msg)
    return cond


def finish():
    if failures:
        log(f"{len(failures)} failure(s):")
        for f in failures:
            log(f"  - {f}")
        sys.exit(1)
    log("all checks passed")
    sys.exit(0)


def wait_until(fn, timeout, interval=0.1, what="condition"):
    """Poll fn() until it returns a truthy value; that value, or None."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            log(f"timed out after {timeout}s waiting for {what}")
            return None
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_names = [0]


def unique_name(tag):
    _names[0] += 1
    return f"srv_{tag}_{os.getpid()}_{_names[0]}"


def http(port, path, method="GET", headers=None, timeout=5.0, body=None):
    """One request on a fresh connection (so requests spread over the
    workers).  Returns (status, headers dict with lower-case keys, body
    bytes), or (0, {}, b"") when the connection failed."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    except (OSError, http.client.HTTPException) as e:
        return 0, {"error": repr(e)}, b""
    finally:
        conn.close()


def raw(port, data, timeout=5.0):
    """Send raw bytes, read until the server closes or timeout.  Returns
    (status or 0, whole response bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out and b"connection: close" not in out.lower():
                    head, _, rest = out.partition(b"\r\n\r\n")
                    m = re.search(rb"content-length:\s*(\d+)", head, re.I)
                    if m and len(rest) >= int(m.group(1)):
                        break
        except (socket.timeout, ConnectionResetError):
            pass
    m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
    return (int(m.group(1)) if m else 0), out


def get_json(port, path):
    st, _, body = http(port, path)
    if st != 200:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def write_lineup(path, channels):
    """channels: list of (uuid string, name, input)."""
    with open(path, "w") as f:
        f.write("#EXTM3U\n")
        for cid, name, inp in channels:
            f.write(f'#EXTINF:-1 tvg-id="{cid}" tvg-name="{name}",{name}\n{inp}\n')


def lavfi_channel(i):
    cid = str(uuid.uuid4())
    src = ["testsrc", "smptebars", "rgbtestsrc"][i % 3]
    return cid, f"Test {i + 1}", f"lavfi:{src}=size=160x90:rate=10"


def children(pid):
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        return sorted(int(x) for x in out.split())
    except OSError:
        return []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def ffmpeg_pids_for(path_fragment):
    """Pids of ffmpeg processes whose command line mentions path_fragment
    (the reaper runs them with cwd or output under DIR/<uuid>)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            cwd = os.readlink(f"/proc/{d}/cwd")
        except OSError:
            continue
        if not argv or not argv[0].endswith(b"ffmpeg"):
            continue
        if not alive(int(d)):
            continue
        if path_fragment in cwd or any(path_fragment.encode() in a for a in argv):
            pids.append(int(d))
    return sorted(pids)


def killed_workers(server):
    """Whether the master had to SIGKILL a worker that outlived its SIGTERM
    deadline: a clean stop needs none, however long a loaded machine took."""
    with open(server.log_path, errors="replace") as f:
        return "ignored SIGTERM: SIGKILL" in f.read()


class Proc:
    """A child process with its stderr in a log file."""

    def __init__(self, name, argv, workdir):
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.logf = open(self.log_path, "w")
        log(f"start {name}: {' '.join(argv)}")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                  stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal and wait; returns (exit code, seconds taken) or (None, t)
        if it had to be killed."""
        if self.p.poll() is not None:
            return self.p.returncode, 0.0
        t0 = time.monotonic()
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = None
        return rc, time.monotonic() - t0

    def kill_group(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except OSError:
                pass
            self.p.wait()

    def tail(self, n=30):
        self.logf.flush()
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])


class Env:
    """A working directory, a lineup, and the processes of one test."""

    def __init__(self, tag, n_channels=2):
        self.dir = tempfile.mkdtemp(prefix=f"srv_{tag}_")
        self.out = os.path.join(self.dir, "out")
        self.registry = unique_name(tag)
        self.channels = [lavfi_channel(i) for i in range(n_channels)]
        self.lineup = os.path.join(self.dir, "lineup.m3u")
        write_lineup(self.lineup, self.channels)
        self.port = free_port()
        self.procs = []
        self.server = None
        self.reaper = None

    def start_reaper(self, *extra):
        argv = [REAPER, "--registry", self.registry, "--lineup", self.lineup, "--output-dir",
                self.out, "--create", "--capacity", "64", "--ladder", "90p:100k",
                "--hls-time", "1", "--hls-list-size", "4", "--fps", "10",
                "--audio-bitrate", "32", *extra]
        self.reaper = Proc("reaper", argv, self.dir)
        self.procs.append(self.reaper)
        shm = f"/dev/shm/{self.registry}"
        if not wait_until(lambda: os.path.exists(shm) and os.path.getsize(shm) > 0, 10,
                          what="the reaper's registry"):
            raise RuntimeError("reaper did not create the registry:\n" + self.reaper.tail())
        return self.reaper

    def start_server(self, *extra, workers=4, create=False):
        argv = [SERVER, "--registry", self.registry, "--lineup", self.lineup, "--output-dir",
                self.out, "--listen", f"127.0.0.1:{self.port}", "--workers", str(workers),
                *extra]
        if create:
            argv.append("--create")
        self.server = Proc("server", argv, self.dir)
        self.procs.append(self.server)
        ok = wait_until(lambda: len(children(self.server.pid)) == workers
                        and http(self.port, "/healthz", timeout=1)[0] == 200,
                        10, what="the server's workers")
        if not ok:
            raise RuntimeError("server did not start:\n" + self.server.tail())
        return self.server

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def master_path(self, i):
        return f"/channels/{self.channels[i][0]}/master.m3u8"

    def session(self, i):
        for s in get_json(self.port, "/api/sessions") or []:
            if s.get("channel_id") == self.channels[i][0]:
                return s
        return None

    def cleanup(self):
        for p in reversed(self.procs):
            if p.p.poll() is None:
                p.stop(signal.SIGTERM, 10)
            p.kill_group()
        # Sanitizer builds: a report from any process (a worker the master
        # quietly replaced included) fails the test.
        for p in self.procs:
            p.logf.flush()
            with open(p.log_path, errors="replace") as f:
                text = f.read()
            for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                           "WARNING: ThreadSanitizer"):
                if marker in text:
                    i = text.index(marker)
                    check(False, f"{p.name}: sanitizer report:\n{text[max(0, i - 200):i + 1500]}")
                    break
        if os.path.exists(f"/dev/shm/{self.registry}"):
            try:
                subprocess.run([CLI, "destroy", self.registry], capture_output=True, timeout=30)
            except (OSError, subprocess.SubprocessError):
                pass  # no CLI built: unlink it directly below
            try:
                os.unlink(f"/dev/shm/{self.registry}")
            except OSError:
                pass
        for pid in ffmpeg_pids_for(self.out):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if failures:
            self.dump_logs()
        if not os.environ.get("SR_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def dump_logs(self, lines=40):
        """A failed run's evidence goes with its directory: print the end of
        every log in it (servers, reapers, clients) before it is removed."""
        for root, _, names in os.walk(self.dir):
            for name in sorted(names):
                if not name.endswith(".log"):
                    continue
                path = os.path.join(root, name)
                try:
                    with open(path, errors="replace") as f:
                        tail = f.readlines()[-lines:]
                except OSError:
                    continue
                log(f"--- last {len(tail)} lines of {os.path.relpath(path, self.dir)}")
                for line in tail:
                    print("    " + line.rstrip("\n"), flush=True)


class CurlViewer:
    """A player made of curl calls: master playlist once, then the variant
    playlist and its newest segment every `period` seconds, each call a new
    connection (so it hops between workers)."""

    def __init__(self, env, channel_index, period=0.8):
        import threading

        self.env = env
        self.path = env.master_path(channel_index)
        self.period = period
        self.stop_flag = threading.Event()
        self.errors = []
        self.fetches = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def curl(self, path):
        r = subprocess.run(["curl", "-sS", "-m", "20", "-w", "\n%{http_code}",
                            self.env.url(path)], capture_output=True)
        body, _, code = r.stdout.rpartition(b"\n")
        return int(code or 0), body

    def run(self):
        code, body = 0, b""
        while not self.stop_flag.is_set():
            code, body = self.curl(self.path)
            if code == 200:
                break
            time.sleep(0.5)
        if code != 200:
            return
        base = self.path.rsplit("/", 1)[0]
        variant = [ln for ln in body.decode().splitlines() if ln and not ln.startswith("#")][0]
        vpath = f"{base}/{variant}"
        vbase = vpath.rsplit("/", 1)[0]
        while not self.stop_flag.wait(self.period):
            code, body = self.curl(vpath)
            if code != 200:
                self.errors.append(f"{vpath}: {code}")
                continue
            segs = [ln for ln in body.decode().splitlines() if ln and not ln.startswith("#")]
            if segs:
                code, data = self.curl(f"{vbase}/{segs[-1]}")
                if code != 200 or not data.startswith(b"\x47"):
                    self.errors.append(f"segment {segs[-1]}: {code}")
            self.fetches += 1

    def stop(self):
        self.stop_flag.set()
        self.t.join(30)


def ffmpeg_viewer(env, channel_index, workdir, name):
    """A real HLS client: ffmpeg reading the live stream, discarding it."""
    return Proc(name, ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning",
                       "-i", env.url(env.master_path(channel_index)), "-map", "0",
                       "-c", "copy", "-f", "null", "-"], workdir)


def cli_session(registry, cid):
    """The session as the streamreg command sees it (works without the
    server), or None."""
    r = subprocess.run([CLI, "show", registry, cid, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    try:
        return json.loads(r.stdout)
    except ValueError:
        return None


class PyPlayer:
    """An HLS player in a thread: master playlist once, then the variant
    playlist and its newest segment every `period` seconds, each request on
    a new connection.  Records every request's outcome and latency."""

    def __init__(self, env, channel_index, period=0.3, timeout=5.0):
        import threading

        self.env = env
        self.path = env.master_path(channel_index)
        self.period = period
        self.timeout = timeout
        self.stop_flag = threading.Event()
        self.results = []  # (time, path kind, status, seconds)
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def get(self, path, kind):
        t0 = time.monotonic()
        st, _, body = http(self.env.port, path, timeout=self.timeout)
        self.results.append((t0, kind, st, time.monotonic() - t0))
        return st, body

    def run(self):
        body = b""
        while not self.stop_flag.is_set():
            st, body = self.get(self.path, "master")
            if st == 200:
                break
            time.sleep(0.3)
        lines = [ln for ln in body.decode(errors="replace").splitlines()
                 if ln and not ln.startswith("#")]
        if not lines:
            return
        vpath = self.path.rsplit("/", 1)[0] + "/" + lines[0]
        vbase = vpath.rsplit("/", 1)[0]
        while not self.stop_flag.wait(self.period):
            st, body = self.get(vpath, "variant")
            if st != 200:
                continue
            segs = [ln for ln in body.decode(errors="replace").splitlines()
                    if ln and not ln.startswith("#")]
            if segs:
                self.get(f"{vbase}/{segs[-1]}", "segment")

    def stop(self):
        self.stop_flag.set()
        self.t.join(30)
