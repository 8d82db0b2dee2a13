"""Shared helpers for the monitor tests: the fixture driver, the CLI, tmux."""
import json
import os
import shlex
import subprocess
import sys
import time
import uuid

STREAMREG = os.environ["STREAMREG"]
FIXTURE = os.environ.get("SR_FIXTURE", "")
HAMMER = os.environ.get("SR_HAMMER", "")

SKIP = 77  # ctest SKIP_RETURN_CODE
WATCHDOG_SECONDS = 600


def unique_name(tag):
    return "mon-%s-%d-%s" % (tag, os.getpid(), uuid.uuid4().hex[:8])


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class Fixture:
    """A process holding a registry open read-write, driven by commands."""

    def __init__(self):
        self.proc = subprocess.Popen([FIXTURE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def cmd(self, line, ok=True):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().strip()
        if ok and reply != "ok":
            fail("fixture %r: %r" % (line, reply))
        return reply

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=10)


def populate(fx, name, spec, mode="0600", capacity=64):
    """spec: list of dicts with id, state, clients, errors (list), variants, pid."""
    fx.cmd("create %s %s %d" % (name, mode, capacity))
    for s in spec:
        fx.cmd("add %s /tmp/out/%s" % (s["id"], s["id"]))
        fx.cmd("state %s %s" % (s["id"], s.get("state", "idle")))
        if s.get("clients"):
            fx.cmd("clients %s %d" % (s["id"], s["clients"]))
        for e in s.get("errors", []):
            fx.cmd("error %s %s" % (s["id"], e))
        if s.get("variants"):
            fx.cmd("variants %s %s" % (s["id"], ",".join(s["variants"])))
        if s.get("pid"):
            fx.cmd("pid %s %d" % (s["id"], s["pid"]))
        if s.get("restarts"):
            fx.cmd("restarts %s %d" % (s["id"], s["restarts"]))


def run(args, check_rc=0, prefix=(), timeout=30):
    p = subprocess.run(list(prefix) + [STREAMREG] + list(args), capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check_rc is not None and p.returncode != check_rc:
        fail("%s exited %d (wanted %d): %s" % (" ".join(args), p.returncode, check_rc,
                                               p.stderr.strip()))
    return p


def top_json(name, *extra, prefix=()):
    p = run(["top", name, "--once", "--json"] + list(extra), prefix=prefix)
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        fail("top --json output is not JSON (%s): %r" % (e, p.stdout[:500]))


def parse_prometheus(text):
    """{(name, frozenset(labels.items())): value} for every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        labels = {}
        if "{" in head:
            name, rest = head.split("{", 1)
            for part in rest.rstrip("}").split(","):
                k, v = part.split("=", 1)
                labels[k] = v.strip('"')
        else:
            name = head
        samples[(name, frozenset(labels.items()))] = float(value)
    return samples


def sample(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    if key not in samples:
        fail("metric %s%r missing" % (name, labels))
    return samples[key]


class Tmux:
    """A private tmux server (own socket) with one fixed-size window."""

    def __init__(self, command, width=200, height=40):
        self.sock = "/tmp/mon-tmux-%d-%s" % (os.getpid(), uuid.uuid4().hex[:6])
        # tmux 3.3a sometimes marks a pane dead without ever reaping its process, so the
        # exit status comes from a shell wrapper instead of #{pane_dead_status}.
        self.status_file = self.sock + ".status"
        # The tmux server outlives a test killed by ctest: a watchdog ends the program.
        wrapped = "timeout --foreground %d sh -c %s; echo $? > %s.tmp && mv %s.tmp %s" % (
            WATCHDOG_SECONDS, shlex.quote(command), self.status_file, self.status_file,
            self.status_file)
        # Keep the pane after the program exits, so its last screen can be read; set in
        # the server's config, since a quick program could exit before a set-option.
        self.conf = self.sock + ".conf"
        with open(self.conf, "w") as f:
            f.write("set-option -g remain-on-exit on\n")
        self.tmux(["new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                   "-e", "TERM=xterm-256color", wrapped])

    def tmux(self, args):
        return subprocess.run(["tmux", "-S", self.sock, "-f", self.conf] + args,
                              capture_output=True, text=True, timeout=30)

    def screen(self, history=False):
        start = ["-S", "-1000"] if history else []
        return self.tmux(["capture-pane", "-p", "-t", "t"] + start).stdout

    def keys(self, *keys):
        self.tmux(["send-keys", "-t", "t"] + list(keys))

    def wait_for(self, pred, what, timeout=30.0, history=False):
        deadline = time.time() + timeout
        last = ""
        while time.time() < deadline:
            last = self.screen(history)
            if pred(last):
                # tmux may have parsed only part of a frame: insist on a second look.
                time.sleep(0.05)
                again = self.screen(history)
                if pred(again):
                    return again
            time.sleep(0.1)
        fail("screen never showed %s; last screen:\n%s" % (what, last))

    def pane(self, fmt):
        return self.tmux(["display-message", "-p", "-t", "t", fmt]).stdout.strip()

    def wait_dead(self, timeout=30.0):
        """Exit status of the program once it has exited."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with open(self.status_file) as f:
                    return int(f.read().strip())
            except FileNotFoundError:
                time.sleep(0.1)
        pid = self.pane("#{pane_pid}")
        ps = subprocess.run(["ps", "-o", "pid,stat,wchan:20,cmd", "--ppid", pid, "-p", pid],
                            capture_output=True, text=True).stdout
        fail("the program in tmux did not exit; processes:\n%s\nscreen:\n%s" %
             (ps, self.screen()))

    def close(self):
        self.tmux(["kill-server"])
        for path in (self.sock, self.conf, self.status_file, self.status_file + ".tmp"):
            if os.path.exists(path):
                os.unlink(path)

# Shared with the other suites that run the command as user nobody.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from runas import nobody_runnable  # noqa: E402,F401
