#!/usr/bin/env python3
"""Bad requests against a real streamreg-server (4 workers, no reaper, no
ffmpeg): traversal plain and percent-encoded, malformed UUIDs, unknown
channels, wrong methods, huge headers and URLs, slowloris connections.
Every answer must carry the right status and a short body, and the server
must keep serving normal requests throughout."""

import json
import os
import shutil
import socket
import subprocess
import threading
import time

from srvtest import Env, alive, check, children, finish, http, log, raw, wait_until

env = Env("errors", n_channels=2)
try:
    env.start_server("--create", "--header-timeout", "1.5", "--conn-timeout", "3",
                     "--max-header-bytes", "8192", "--start-timeout", "1", workers=4)
    cid = env.channels[0][0]
    port = env.port

    def status_of(path, method="GET"):
        req = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        st, resp = raw(port, req)
        body = resp.partition(b"\r\n\r\n")[2]
        return st, body

    cases = [
        # (path, expected status)
        (f"/channels/{cid}/../../etc/passwd", 400),
        (f"/channels/{cid}/%2e%2e/%2e%2e/etc/passwd", 400),
        (f"/channels/{cid}/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", 400),
        (f"/channels/{cid}/360p/..%2f..%2f..%2fetc%2fpasswd", 400),
        (f"/channels/{cid}/..%252f..%252fetc/passwd", 400),
        (f"/channels/{cid}/360p/%2e%2e", 400),
        (f"/channels/{cid}/./master.m3u8", 400),
        (f"/channels/{cid}/180p/.hidden.ts", 400),
        (f"/channels/{cid}/180p/seg%00.ts", 400),
        ("/channels/not-a-uuid/master.m3u8", 400),
        ("/channels/12345678-1234-1234-1234-12345678901/master.m3u8", 400),
        ("/channels/12345678-1234-1234-1234-1234567890123/master.m3u8", 400),
        ("/channels/zzzzzzzz-1234-1234-1234-123456789012/master.m3u8", 400),
        ("/channels/%31%32%33/master.m3u8", 400),
        ("/channels/12345678-1234-4234-8234-123456789012/master.m3u8", 404),
        ("/channels/12345678-1234-4234-8234-123456789012/180p/index.m3u8", 404),
        (f"/channels/{cid}/180p/index.m3u8", 404),  # known channel, no file yet
        (f"/channels/{cid}/180p/passwd", 404),
        (f"/channels/{cid}/nothing", 404),
        ("/etc/passwd", 404),
        ("/api/sessions/../../x", 400),
        ("/nope", 404),
    ]
    for path, want in cases:
        st, body = status_of(path)
        check(st == want and 0 < len(body) <= 200 and body.startswith(str(want).encode()),
              f"GET {path} -> {want} with a short body (got {st}, {body[:80]!r})")

    for method in ("POST", "PUT", "DELETE", "PATCH"):
        req = (f"{method} /channels HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
               "Connection: close\r\n\r\nabc").encode()
        st, resp = raw(port, req)
        check(st == 405 and b"allow: get, head" in resp.lower(),
              f"{method} /channels -> 405 with Allow (got {st})")
    # A wrong method with a large, slow body is refused at once and closed:
    # the body is never waited for.
    t0 = time.monotonic()
    st, resp = raw(port, b"POST /channels HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nab",
                   timeout=5)
    took = time.monotonic() - t0
    check(st == 405 and b"connection: close" in resp.lower() and took < 1.0,
          f"POST with a slow 100 KB body -> 405 and close in {took:.3f}s (got {st})")
    st, hdrs, body = http(port, "/channels", method="HEAD")
    check(st == 200 and body == b"", "HEAD /channels -> 200 without body")

    # Huge headers: over --max-header-bytes the request is refused, not served.
    big = "A" * 20000
    st, resp = raw(port, f"GET /channels HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n".encode())
    check(st in (413, 431), f"20 KB header -> 431 (got {st})")
    st, resp = raw(port, f"GET /channels/{'a' * 20000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    check(st in (414, 431), f"20 KB URL -> 414/431 (got {st})")
    many = "".join(f"X-H{i}: v\r\n" for i in range(2000))
    st, resp = raw(port, f"GET /channels HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode())
    check(st in (413, 431), f"2000 header lines -> 431 (got {st})")
    st, resp = raw(port, b"GARBAGE\r\n\r\n")
    check(st == 400 or st == 0, f"garbage request line -> 400 or closed (got {st})")

    # Slowloris: connections that dribble header bytes forever must be cut
    # by the header deadline while normal requests keep being served.
    closed_after = []

    def dribbler():
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        t0 = time.monotonic()
        s.sendall(b"GET /channels HTTP/1.1\r\nHost: x\r\n")
        try:
            for i in range(60):
                s.sendall(f"X-{i}: a\r\n".encode())
                s.settimeout(0.25)
                try:
                    if s.recv(1024) == b"":
                        break
                except socket.timeout:
                    pass
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed_after.append(time.monotonic() - t0)
        s.close()

    def silent():
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        t0 = time.monotonic()
        s.sendall(b"GET /chan")
        try:
            s.settimeout(10)
            s.recv(1024)
        except (socket.timeout, ConnectionResetError):
            pass
        closed_after.append(time.monotonic() - t0)
        s.close()

    threads = [threading.Thread(target=dribbler) for _ in range(8)]
    threads += [threading.Thread(target=silent) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    slow_ok, worst = 0, 0.0
    for _ in range(20):
        t0 = time.monotonic()
        st, _, _ = http(port, "/channels", timeout=3)
        worst = max(worst, time.monotonic() - t0)
        slow_ok += st == 200
        time.sleep(0.05)
    check(slow_ok == 20 and worst < 1.0,
          f"20 normal requests served during slowloris (ok {slow_ok}, worst {worst:.3f}s)")
    for t in threads:
        t.join(15)
    check(len(closed_after) == 16 and max(closed_after) < 5.0,
          f"16 slowloris connections closed by the deadline (after "
          f"{', '.join(f'{x:.1f}' for x in sorted(closed_after))} s)")

    # Files: served only when they are regular files beneath the channel's
    # directory; symlinks out of it (file, variant dir, channel dir) are 404.
    cdir = os.path.join(env.out, cid)
    os.makedirs(os.path.join(cdir, "180p"))
    with open(os.path.join(cdir, "180p", "index.m3u8"), "w") as f:
        f.write("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nseg_00001.ts\n")
    with open(os.path.join(cdir, "180p", "seg_00001.ts"), "wb") as f:
        f.write(b"\x47" + b"\0" * 187)
    secret = os.path.join(env.dir, "secret.ts")
    with open(secret, "w") as f:
        f.write("SECRET")
    os.symlink(secret, os.path.join(cdir, "180p", "evil.ts"))
    os.symlink(os.path.join(cdir, "180p"), os.path.join(cdir, "link"))
    os.mkdir(os.path.join(cdir, "180p", "dir.ts"))
    other = env.channels[1][0]
    os.symlink(cdir, os.path.join(env.out, other))
    st, h, body = http(port, f"/channels/{cid}/180p/index.m3u8")
    check(st == 200 and h.get("content-type") == "application/vnd.apple.mpegurl"
          and h.get("cache-control") == "no-cache" and body.startswith(b"#EXTM3U"),
          f"variant playlist: 200, application/vnd.apple.mpegurl, no-cache ({st}, {h.get('content-type')})")
    st, h, body = http(port, f"/channels/{cid}/180p/seg_00001.ts")
    check(st == 200 and h.get("content-type") == "video/mp2t" and len(body) == 188
          and "max-age" in h.get("cache-control", ""),
          f"segment: 200, video/mp2t, max-age ({st}, {h.get('content-type')}, {len(body)} bytes)")
    for path in (f"/channels/{cid}/180p/evil.ts", f"/channels/{cid}/link/seg_00001.ts",
                 f"/channels/{cid}/180p/dir.ts", f"/channels/{other}/180p/seg_00001.ts"):
        st, h, body = http(port, path)
        check(st == 404 and b"SECRET" not in body and b"\x47" not in body[:1],
              f"GET {path.replace(cid, 'C').replace(other, 'D')} (symlink or not a file) -> 404 ({st})")
    http(port, env.master_path(0))  # creates the session (503: no reaper to start it)
    st, h, body = http(port, f"/channels/{cid}/v/000001000000000abc/180p/index.m3u8")
    s0 = env.session(0)
    check(st == 200 and s0 is not None and s0["clients"] == 1,
          f"an unknown token is revived as a viewer (clients {s0 and s0['clients']})")

    # A start that never completes (no reaper): 503 after --start-timeout,
    # and the wait blocks no other request of the same workers.
    results = {}

    def wait_master():
        t0 = time.monotonic()
        st, hdrs, body = http(port, env.master_path(1), timeout=10)
        results["master"] = (st, hdrs, body, time.monotonic() - t0)

    waiters = [threading.Thread(target=wait_master) for _ in range(8)]
    for t in waiters:
        t.start()
    time.sleep(0.1)
    lat = []
    for _ in range(20):
        t0 = time.monotonic()
        st, _, _ = http(port, "/healthz", timeout=3)
        lat.append((st, time.monotonic() - t0))
    for t in waiters:
        t.join(10)
    check(all(s == 200 for s, _ in lat) and max(x for _, x in lat) < 1.0,
          f"/healthz answers while 8 start waits are suspended (worst {max(x for _, x in lat):.3f}s)")
    st, hdrs, body, took = results.get("master", (0, {}, b"", 0))
    check(st == 503 and "retry-after" in hdrs and 0.9 <= took < 3.0,
          f"master.m3u8 without a reaper -> 503 Retry-After after ~1 s (got {st} in {took:.2f}s: {body[:80]!r})")
    s = env.session(1)
    check(s is not None and s["state"] == "starting" and s["clients"] == 0,
          f"the start request left the session starting, without a viewer ({s and s['state']}, {s and s['clients']})")

    st, hdrs, body = http(port, "/metrics")
    check(st == 200 and hdrs.get("content-type", "").startswith("text/plain; version=0.0.4")
          and b"streamreg_server_viewers " in body, "/metrics answers in Prometheus text format")
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        check(r.returncode == 0, f"promtool check metrics accepts /metrics "
                                 f"({(r.stdout + r.stderr)[:200]!r})")
    st, hdrs, body = http(port, "/api/sessions")
    try:
        sessions = json.loads(body)
    except ValueError:
        sessions = None
    check(st == 200 and isinstance(sessions, list) and
          {x["channel_id"] for x in sessions} >= {env.channels[1][0]},
          "/api/sessions is the registry as a JSON array")
    st, hdrs, body = http(port, "/channels")
    try:
        chans = json.loads(body)
    except ValueError:
        chans = None
    check(st == 200 and [c["id"] for c in chans] == [c[0] for c in env.channels]
          and all(c["state"] in ("idle", "starting") for c in chans),
          "/channels lists the lineup, in its order, with live states")

    st, _, _ = http(port, "/channels")
    check(st == 200, "server still serving after all of it")

    # SIGHUP: a broken lineup is refused and the old one kept; a good one
    # replaces the workers, which then know the new channel.
    import signal
    import uuid as uuidmod
    from srvtest import get_json, write_lineup
    before = children(env.server.pid)
    with open(env.lineup, "a") as f:
        f.write("#EXTINF:-1 tvg-id=\"broken\",Broken\nlavfi:testsrc\n")
    env.server.p.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    check(children(env.server.pid) == before and "keeping the old lineup" in env.server.tail(5)
          and "broken" in env.server.tail(5),
          "SIGHUP with a broken lineup: error logged with the line, workers kept")
    new_id = str(uuidmod.uuid4())
    write_lineup(env.lineup, env.channels + [(new_id, "New", "lavfi:testsrc")])
    env.server.p.send_signal(signal.SIGHUP)
    ok = wait_until(lambda: len(children(env.server.pid)) == 4
                    and not set(children(env.server.pid)) & set(before)
                    and len(get_json(port, "/channels") or []) == 3, 10,
                    what="workers with the new lineup")
    st, _, body = http(port, f"/channels/{new_id}/180p/index.m3u8")
    check(ok and st == 404 and b"no such file" in body,
          f"SIGHUP with a good lineup: 4 new workers serve the new channel ({st} {body[:40]!r})")
    rc, took = env.server.stop()
    check(rc == 0 and took < 6, f"SIGTERM -> exit 0 in {took:.2f}s (rc {rc})")
    check(not os.path.exists(f"/dev/shm/{env.registry}"),
          "the registry it created (--create) is unlinked at exit")

    # SIGKILL of the master: the workers follow it (PR_SET_PDEATHSIG), none
    # keeps serving unsupervised.
    env.start_server("--create", workers=4)
    workers = children(env.server.pid)
    env.server.p.kill()
    env.server.p.wait()
    gone = wait_until(lambda: all(not alive(p) for p in workers), 5, what="orphan workers exit")
    st, _, _ = http(port, "/healthz", timeout=1)
    check(gone and st == 0, f"kill -9 of the master: its {len(workers)} workers exit too, "
                            f"nothing answers any more (status {st})")
except Exception as e:  # noqa: BLE001 - report, then clean up
    check(False, f"exception: {e!r}")
finally:
    if env.server:
        log("server log tail:\n" + env.server.tail(15))
    env.cleanup()
finish()
