#!/usr/bin/env python3
"""Bad requests against a real streamreg-server (4 workers, no reaper, no
ffmpeg): traversal plain and percent-encoded, malformed UUIDs, unknown
channels, wrong methods, huge headers and URLs, slowloris connections.
Every answer must carry the right status and a short body, and the server
must keep serving normal requests throughout."""

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

from srvtest import (Env, alive, check, children, finish, http, killed_workers, log, raw,
                     wait_until)

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
        # a known channel with no run yet: players retry a 503, a 404 ends hls.js
        (f"/channels/{cid}/180p/index.m3u8", 503),
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
    # the body is never waited for.  A server that waited would answer, if
    # at all, when --conn-timeout (3 s) cut the connection; the bound is
    # that, not a guess at how fast a loaded machine answers.
    t0 = time.monotonic()
    st, resp = raw(port, b"POST /channels HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nab",
                   timeout=10)
    took = time.monotonic() - t0
    check(st == 405 and b"connection: close" in resp.lower() and took < 3.0,
          f"POST with a slow 100 KB body -> 405 and close in {took:.3f}s (got {st})")
    st, hdrs, body = http(port, "/channels", method="HEAD")
    check(st == 200 and body == b"", "HEAD /channels -> 200 without body")

    def parse(resp):
        """(status, lower-case header dict, body) of a raw response."""
        head, _, body = resp.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        return (int(m.group(1)) if m else 0), hdrs, body

    def ours(resp, want, what):
        """An answer with the server's headers and a plain, one-line body
        that starts with its status, whoever made it (libmicrohttpd's own
        answers included)."""
        st, h, body = parse(resp)
        check(st == want and h.get("access-control-allow-origin") == "*"
              and h.get("x-streamreg-worker", "").isdigit()
              and h.get("content-type", "").startswith("text/plain")
              and body.startswith(f"{want} ".encode()) and b"<html" not in body.lower()
              and body.count(b"\n") == 1,
              f"{what} -> {want} with CORS, worker id and a plain message "
              f"(got {st}, {body[:100]!r})")
        return body

    # Huge headers: over --max-header-bytes the request is refused, not served.
    big = "A" * 20000
    st, resp = raw(port, f"GET /channels HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n".encode())
    body = ours(resp, 431, "20 KB header")
    check(b"--max-header-bytes" in body, f"431 names the option ({body!r})")
    st, resp = raw(port, f"GET /channels/{'a' * 20000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    body = ours(resp, 414, "20 KB URL")
    check(b"request line" in body and b"header was too big" not in body,
          f"414 says the request line is too long ({body!r})")
    many = "".join(f"X-H{i}: v\r\n" for i in range(2000))
    st, resp = raw(port, f"GET /channels HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode())
    ours(resp, 431, "2000 header lines")
    st, resp = raw(port, b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n")
    ours(resp, 505, "HTTP/2.0 request line")
    st, resp = raw(port, b"GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n")
    ours(resp, 505, "HTTP/0.9 request line")
    st, resp = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nbroken header line\r\n\r\n")
    ours(resp, 400, "a header line without a colon")
    st, resp = raw(port, b"GARBAGE\r\n\r\n")
    check(st == 400 or st == 0, f"garbage request line -> 400 or closed (got {st})")
    # RFC 9112 §3.2: HTTP/1.1 needs exactly one Host; HTTP/1.0 may omit it.
    st, resp = raw(port, b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
    body = ours(resp, 400, "HTTP/1.1 without Host")
    check(b"Host" in body, f"the 400 says Host is missing ({body!r})")
    st, resp = raw(port, b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n")
    ours(resp, 400, "two Host headers")
    st, resp = raw(port, b"GET /healthz HTTP/1.0\r\n\r\n")
    check(st == 200, f"HTTP/1.0 without Host -> 200 (got {st})")
    # A raw NUL in the target must not cut the path short (the playlist
    # would be served under a .ts name); an encoded one is refused too.
    for target in (f"/channels/{cid}/180p/index.m3u8\0.ts".encode(),
                   b"/healthz\0", b"/\0/../etc/passwd", b"/healthz?a=\0b"):
        st, resp = raw(port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        body = ours(resp, 400, f"raw NUL in {target!r}")
        check(b"NUL" in body, f"the 400 names the NUL ({body!r})")
    st, resp = raw(port, b"GET /healthz?a=b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(st == 200, f"a query string is still fine (got {st})")

    # CORS: a preflight (a player adding an auth header) gets 204 with what
    # it may do; a plain OPTIONS gets Allow.
    st, h, body = http(port, env.master_path(0), method="OPTIONS", headers={
        "Origin": "http://player.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, x-token"})
    check(st == 204 and body == b"" and h.get("access-control-allow-origin") == "*"
          and "GET" in h.get("access-control-allow-methods", "")
          and h.get("access-control-allow-headers") == "authorization, x-token"
          and int(h.get("access-control-max-age", "0")) > 0
          and "content-length" not in h and h.get("x-streamreg-worker", "").isdigit(),
          f"CORS preflight -> 204 with Allow-Methods/Headers/Max-Age ({st}, {h})")
    st, h, body = http(port, "/static/hls.min.js", method="OPTIONS", headers={
        "Origin": "http://x", "Access-Control-Request-Method": "GET"})
    check(st == 204 and "access-control-allow-headers" not in h,
          f"preflight without headers -> 204, no Allow-Headers ({st})")
    st, resp = raw(port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    st, h, body = parse(resp)
    check(st == 204 and h.get("allow") == "GET, HEAD, OPTIONS", f"OPTIONS * -> 204 with Allow ({st}, {h.get('allow')})")
    st, h, body = http(port, f"/channels/{cid}/../x", method="OPTIONS",
                       headers={"Origin": "http://x", "Access-Control-Request-Method": "GET"})
    check(st == 400, f"preflight of a traversal path -> 400 ({st})")
    st, h, body = http(port, "/", method="OPTIONS", headers={
        "Origin": "http://x", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x\"y"})
    check(st == 400, f"preflight with a malformed header list -> 400 ({st})")

    # The player page: served by the server itself, hls.js and its license
    # from the npm package installed by scripts/setup.sh; hostile names refused.
    st, h, body = http(port, "/")
    check(st == 200 and h.get("content-type", "").startswith("text/html")
          and b"/static/hls.min.js" in body and b"/static/player.js" in body,
          f"/ is the player page ({st}, {h.get('content-type')})")
    st, h, body = http(port, "/static/hls.min.js")
    check(st == 200 and h.get("content-type", "").startswith("text/javascript")
          and len(body) > 100000 and b"Hls" in body[:200000],
          f"/static/hls.min.js is hls.js ({st}, {len(body)} bytes)")
    etag = h.get("etag")
    st, h2, body = http(port, "/static/hls.min.js", headers={"If-None-Match": etag or "x"})
    check(st == 304 and body == b"", f"hls.js revalidated with its ETag -> 304 ({st})")
    st, h, body = http(port, "/static/hls.js-LICENSE.txt")
    check(st == 200 and b"Apache License" in body, f"hls.js's license is served ({st})")
    for path, want in (("/static/style.css", 200), ("/static/player.js", 200),
                       ("/static/../../etc/passwd", 400), ("/static/%2e%2e%2fCMakeLists.txt", 400),
                       ("/static/..%2f..%2fREADME.md", 400), ("/static/.gitignore", 400),
                       ("/static/nothing.js", 404), ("/static/README.md", 404),
                       ("/static/page", 404), ("/static/index.html/x", 404)):
        st, h, body = http(port, path)
        check(st == want, f"GET {path} -> {want} (got {st})")

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
    # The layout of tools/common/st_run.h: a run directory and the
    # "current" file naming it; a segment is found through its name's run.
    cdir = os.path.join(env.out, cid)
    rdir = os.path.join(cdir, "1000")
    os.makedirs(os.path.join(rdir, "180p"))
    with open(os.path.join(cdir, "current"), "w") as f:
        f.write("run 1000\nstart 1\ndiscontinuity 0\nprevious 0\nprevious-start 0\n"
                "target 1\nwindow 6\n")
    with open(os.path.join(rdir, "180p", "index.m3u8"), "w") as f:
        f.write("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:1\n"
                "#EXTINF:1.0,\n1000-00001.ts\n")
    with open(os.path.join(rdir, "180p", "1000-00001.ts"), "wb") as f:
        f.write(b"\x47" + b"\0" * 187)
    secret = os.path.join(env.dir, "secret.ts")
    with open(secret, "w") as f:
        f.write("SECRET")
    os.symlink(secret, os.path.join(rdir, "180p", "1000-00009.ts"))
    os.symlink(os.path.join(rdir, "180p"), os.path.join(rdir, "link"))
    os.mkdir(os.path.join(rdir, "180p", "1000-00003.ts"))
    other = env.channels[1][0]
    os.symlink(cdir, os.path.join(env.out, other))
    st, h, body = http(port, f"/channels/{cid}/180p/index.m3u8")
    check(st == 200 and h.get("content-type") == "application/vnd.apple.mpegurl"
          and h.get("cache-control") == "no-cache" and body.startswith(b"#EXTM3U")
          and b"1000-00001.ts" in body,
          f"variant playlist: 200, application/vnd.apple.mpegurl, no-cache ({st}, {h.get('content-type')})")
    st, h, body = http(port, f"/channels/{cid}/180p/1000-00001.ts")
    check(st == 200 and h.get("content-type") == "video/mp2t" and len(body) == 188
          and "max-age" in h.get("cache-control", ""),
          f"segment: 200, video/mp2t, max-age ({st}, {h.get('content-type')}, {len(body)} bytes)")
    # Byte ranges (RFC 9110 §14): 206 with Content-Range, 416 past the end,
    # the whole file for what a server may ignore.
    seg = f"/channels/{cid}/180p/1000-00001.ts"
    with open(os.path.join(rdir, "180p", "1000-00001.ts"), "rb") as f:
        whole = f.read()
    for rng, want_st, want_body, want_cr in (
            ("bytes=0-99", 206, whole[0:100], "bytes 0-99/188"),
            ("bytes=100-", 206, whole[100:], "bytes 100-187/188"),
            ("bytes=-8", 206, whole[-8:], "bytes 180-187/188"),
            ("bytes=150-999", 206, whole[150:], "bytes 150-187/188"),
            ("bytes=188-", 416, None, "bytes */188"),
            ("bytes=-0", 416, None, "bytes */188"),
            ("bytes=0-1,5-6", 200, whole, None),
            ("bytes=9-2", 200, whole, None),
            ("lines=1-2", 200, whole, None)):
        st, h, body = http(port, seg, headers={"Range": rng})
        ok = st == want_st and h.get("accept-ranges") == "bytes" \
            and h.get("content-range") == want_cr
        if want_body is not None:
            ok = ok and body == want_body and int(h.get("content-length", -1)) == len(want_body)
        else:
            ok = ok and body.startswith(b"416 ")
        check(ok, f"segment with Range: {rng} -> {want_st} {want_cr or ''} "
                  f"(got {st}, {h.get('content-range')}, {len(body)} bytes)")
    st, h, body = http(port, seg)
    etag = h.get("etag", "")
    check(st == 200 and h.get("accept-ranges") == "bytes" and etag.startswith('"'),
          f"a segment advertises Accept-Ranges and a strong ETag ({h.get('etag')})")
    st, h, body = http(port, seg, headers={"Range": "bytes=0-9", "If-Range": etag})
    check(st == 206 and body == whole[:10], f"If-Range with the current ETag -> 206 ({st})")
    st, h, body = http(port, seg, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    check(st == 200 and body == whole, f"If-Range with another ETag -> 200 whole ({st})")
    st, h, body = http(port, seg, method="HEAD", headers={"Range": "bytes=0-9"})
    check(st == 200, f"HEAD ignores Range (RFC 9110 §14.2) ({st})")
    st, h, body = http(port, f"/channels/{cid}/180p/index.m3u8", headers={"Range": "bytes=0-6"})
    check(st == 206 and body == b"#EXTM3U", f"a playlist from memory honours Range too ({st}, {body!r})")
    for path in (f"/channels/{cid}/180p/1000-00009.ts", f"/channels/{cid}/link/1000-00001.ts",
                 f"/channels/{cid}/180p/1000-00003.ts", f"/channels/{other}/180p/1000-00001.ts",
                 f"/channels/{cid}/180p/seg_00001.ts", f"/channels/{cid}/180p/2000-00001.ts"):
        st, h, body = http(port, path)
        check(st == 404 and b"SECRET" not in body and b"\x47" not in body[:1],
              f"GET {path.replace(cid, 'C').replace(other, 'D')} (symlink, not a file, "
              f"no such run) -> 404 ({st})")
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
    # At --start-timeout (1 s), not before; the upper bound only tells an
    # answer at the start timeout from none (the client gives up at 10 s).
    check(st == 503 and "retry-after" in hdrs and 0.9 <= took < 8.0,
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

    def refusal():
        tail = env.server.tail(5)
        return tail if "keeping the old lineup" in tail else None

    # Waited for, not slept on: a loaded machine may take longer than a second.
    refused = wait_until(refusal, 30, what="the refused reload in the log")
    check(refused is not None and children(env.server.pid) == before and "broken" in refused,
          "SIGHUP with a broken lineup: error logged with the line, workers kept")
    new_id = str(uuidmod.uuid4())
    write_lineup(env.lineup, env.channels + [(new_id, "New", "lavfi:testsrc")])
    env.server.p.send_signal(signal.SIGHUP)
    ok = wait_until(lambda: len(children(env.server.pid)) == 4
                    and not set(children(env.server.pid)) & set(before)
                    and len(get_json(port, "/channels") or []) == 3, 10,
                    what="workers with the new lineup")
    st, _, body = http(port, f"/channels/{new_id}/180p/index.m3u8")
    check(ok and st == 503 and b"channel is starting" in body,
          f"SIGHUP with a good lineup: 4 new workers serve the new channel ({st} {body[:40]!r})")
    rc, took = env.server.stop()
    check(rc == 0 and not killed_workers(env.server),
          f"SIGTERM -> exit 0, no worker needed SIGKILL ({took:.2f}s, rc {rc})")
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
