"""A headless Chromium driven over the DevTools protocol, with the standard
library only: the browser is Debian's /usr/bin/chromium, the protocol runs
over a WebSocket (RFC 6455) that this module speaks itself.

    with Browser(workdir) as b:
        b.navigate("http://127.0.0.1:8080/")
        b.evaluate("document.title")
        b.screenshot("page.png")

Browser() raises BrowserError with the reason (and Chromium's last output)
when Chromium cannot start: a test must fail then, never skip."""

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.request


class BrowserError(RuntimeError):
    pass


class WebSocket:
    """The client side of RFC 6455: text frames, masked; pings answered."""

    def __init__(self, url, timeout=30.0):
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise BrowserError("DevTools closed the WebSocket handshake")
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise BrowserError(f"DevTools refused the WebSocket: {head[:200]!r}")

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BrowserError("DevTools closed the WebSocket")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self):
        """The next text message (fragments joined)."""
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 0x9:  # ping
                self._send_frame(0xA, data)
                continue
            if opcode == 0x8:
                raise BrowserError("DevTools closed the WebSocket")
            if opcode in (0x0, 0x1, 0x2):
                message += data
                if b0 & 0x80:
                    return message.decode()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Browser:
    def __init__(self, workdir, width=1280, height=900, start_timeout=60.0):
        self.workdir = workdir
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise BrowserError("chromium is not installed (scripts/setup.sh installs Debian's "
                               "chromium package)")
        self.profile = os.path.join(workdir, "chromium-profile")
        os.makedirs(self.profile, exist_ok=True)
        self.log_path = os.path.join(workdir, "chromium.log")
        self.logf = open(self.log_path, "w")
        # --no-sandbox: the tests run as root, where Chromium's sandbox
        # refuses to start.  Port 0: Chromium picks one and writes it to
        # DevToolsActivePort.
        argv = [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update",
                "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows",
                "--autoplay-policy=no-user-gesture-required", "--mute-audio",
                f"--window-size={width},{height}", "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1", f"--user-data-dir={self.profile}",
                "about:blank"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.ws = None
        self.next_id = 0
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + start_timeout
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if self.proc.poll() is not None:
                raise BrowserError(f"chromium exited with {self.proc.returncode} before "
                                   f"listening:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.close()
                raise BrowserError(f"chromium did not open its DevTools port within "
                                   f"{start_timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.1)
        with open(port_file) as f:
            self.port = int(f.readline())
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list",
                                                   timeout=30))
        page = next((t for t in targets if t.get("type") == "page"), None)
        if not page:
            raise BrowserError(f"chromium has no page target: {targets}")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.call("Page.enable")
        self.call("Runtime.enable")

    def tail(self, n=20):
        self.logf.flush()
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def call(self, method, **params):
        """One DevTools command; its result, or BrowserError."""
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") != my:
                continue  # an event
            if "error" in msg:
                raise BrowserError(f"{method}: {msg['error']}")
            return msg.get("result", {})

    def navigate(self, url):
        r = self.call("Page.navigate", url=url)
        if r.get("errorText"):
            raise BrowserError(f"navigate {url}: {r['errorText']}")

    def evaluate(self, expr):
        """The value of a JavaScript expression (JSON-serialisable)."""
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise BrowserError(f"{expr}: {r['exceptionDetails'].get('text')} "
                               f"{r['exceptionDetails'].get('exception', {}).get('description')}")
        return r.get("result", {}).get("value")

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", format="png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def close(self):
        if self.ws:
            self.ws.close()
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.proc.wait()
        self.logf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_player(workdir, url, check):
    """Start Chromium and load the player page at url.  A browser that cannot
    start fails the test through check() with its reason (never a skip) and
    raises."""
    try:
        browser = Browser(workdir)
    except BrowserError as e:
        check(False, f"Chromium must start: {e}")
        raise
    browser.navigate(url)
    return browser
