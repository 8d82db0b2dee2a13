#!/usr/bin/env python3
"""examples/prefork_server.c: 4 workers share the registry; 12 viewers watch a
channel that starts on its first request; kill -9 of the worker holding the
most leaves exactly the survivors' viewers counted, the master replaces it and
recovery releases the dead one's viewers; the server stops cleanly."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

CHANNEL = str(uuid.uuid4())
BOUND_S = 30  # generous: events are waited for, never timed


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


class Master:
    def __init__(self, name):
        self.p = subprocess.Popen([os.environ["SR_PREFORK"], name], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()

    def wait_line(self, pred, what):
        deadline = time.monotonic() + BOUND_S
        with self.cv:
            while True:
                for line in self.lines:
                    if pred(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    fail("no %s in the master's output: %r" % (what, self.lines))
                self.cv.wait(left)


def ask(port, line, sock=None):
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=BOUND_S)
    s.sendall((line + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(256)
        if not chunk:
            fail("connection closed before the answer to %r" % line)
        buf += chunk
    if sock is None:
        s.close()
    return s, buf.decode().strip()


def count(port):
    _, ans = ask(port, "COUNT " + CHANNEL)
    parts = ans.split()
    if parts[:2] != ["COUNT", CHANNEL]:
        fail("COUNT answered %r" % ans)
    return int(parts[2])


def wait_count(port, want, what):
    deadline = time.monotonic() + BOUND_S
    while True:
        n = count(port)
        if n == want:
            return
        if time.monotonic() > deadline:
            fail("%s: %d viewers counted, wanted %d" % (what, n, want))
        time.sleep(0.05)


def main():
    name = "srtest-prefork-%d" % os.getpid()
    m = Master(name)
    try:
        first = m.wait_line(lambda l: l.startswith("listening on"), "listening line")
        port = int(first.split(":")[1].split()[0])

        viewers = []  # (socket, worker pid)
        for i in range(12):
            s, ans = ask(port, "WATCH " + CHANNEL,
                         socket.create_connection(("127.0.0.1", port), timeout=BOUND_S))
            parts = ans.split()
            if parts[:3] != ["OK", CHANNEL, "active"]:
                fail("viewer %d got %r" % (i, ans))
            viewers.append((s, int(parts[4].split("=")[1])))
        wait_count(port, 12, "12 viewers")
        m.wait_line(lambda l: l.startswith("master: channel slot") and l.endswith("active"),
                    "start on first request")

        per = {}
        for _, pid in viewers:
            per[pid] = per.get(pid, 0) + 1
        victim = max(per, key=per.get)
        k = per[victim]
        os.kill(victim, signal.SIGKILL)
        line = m.wait_line(lambda l: l.startswith("master: worker %d died" % victim),
                           "the death of worker %d" % victim)
        want = "recovery: ok, 1 processes reclaimed, %d viewers released" % k
        if want not in line:
            fail("master said %r, wanted %r" % (line, want))
        # Exactly the survivors' viewers.
        if count(port) != 12 - k:
            fail("after kill -9 of a worker holding %d: %d counted, wanted %d" %
                 (k, count(port), 12 - k))
        print("killed worker %d holding %d of 12 viewers; %d counted after" %
              (victim, k, 12 - k))

        survivors = [s for s, pid in viewers if pid != victim]
        dead = [s for s, pid in viewers if pid == victim]
        for s in dead:
            s.close()
        for s in survivors[:2]:
            s.close()
        left = len(survivors) - min(2, len(survivors))
        wait_count(port, left, "after two viewers left")
        # The service goes on: a new viewer is counted by whichever worker takes it.
        s, ans = ask(port, "WATCH " + CHANNEL,
                     socket.create_connection(("127.0.0.1", port), timeout=BOUND_S))
        if not ans.startswith("OK %s active viewers=" % CHANNEL):
            fail("viewer after the kill got %r" % ans)
        wait_count(port, left + 1, "a new viewer")
        s.close()
        for s in survivors[2:]:
            s.close()
        wait_count(port, 0, "everyone left")

        m.p.send_signal(signal.SIGTERM)
        try:
            rc = m.p.wait(timeout=BOUND_S)
        except subprocess.TimeoutExpired:
            fail("the master did not stop on SIGTERM")
        if rc != 0:
            fail("the master exited %d: %s" % (rc, m.p.stderr.read()))
        m.wait_line(lambda l: l == "master: stopped, registry removed", "clean stop")
        if os.path.exists("/dev/shm/" + name):
            fail("the registry was left behind")
    finally:
        if m.p.poll() is None:
            m.p.kill()
            m.p.wait()
        if os.path.exists("/dev/shm/" + name):
            os.unlink("/dev/shm/" + name)
    print("ok")


if __name__ == "__main__":
    main()
