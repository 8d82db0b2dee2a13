#!/usr/bin/env python3
"""The module without transcoders: "nginx -t" refuses every bad directive
value with a clear message; hostile paths get the same 400/404 as
streamreg-server; files go out through nginx's static path (ranges, ETag,
cache headers); a start nobody answers is a bounded 503 + Retry-After while
the same workers keep serving; a registry removed at run time gives 503
with the reason in the error log, and a new one under the same name is
picked up; no worker ever crashes."""

import os
import re
import subprocess
import threading
import time

from ngxtest import NginxEnv, http, nginx_conf, srvtest, wait_until
from srvtest import check, finish, raw

env = NginxEnv("ngxconf", n_channels=2)
CLI = srvtest.CLI
a, b = env.channels[0][0], env.channels[1][0]
try:
    subprocess.run([CLI, "create", env.registry], check=True, capture_output=True)
    for cid, _, _ in env.channels:
        subprocess.run([CLI, "add", env.registry, cid], check=True, capture_output=True)

    # ---- nginx -t ----------------------------------------------------------
    def conf_test(**kw):
        path = os.path.join(env.ngx_dir, "t.conf")
        with open(path, "w") as f:
            f.write(nginx_conf(env.ngx_dir, env.port, kw.pop("registry", env.registry), env.out,
                               **kw))
        r = env.nginx_cmd("-t", conf=path)
        return r.returncode, r.stderr

    rc, err = conf_test()
    check(rc == 0, f"nginx -t accepts a good configuration ({err.strip()[-200:]})")
    cases = [
        ({"registry": '"bad name!"'}, 'invalid registry name "bad name!"'),
        ({"registry": "x" * 65}, "invalid registry name"),
        ({"registry": "no_such_registry_here"},
         'streamreg registry "no_such_registry_here" cannot be attached'),
        ({"hls_dir": env.out + "/missing"}, "streamreg_hls directory"),
        ({"with_registry": False}, 'needs "streamreg_registry NAME;" in the http block'),
        ({"loc_extra": "streamreg_start_timeout soon;"}, "streamreg_start_timeout"),
        ({"http_extra": "streamreg_max_viewers 0;"}, "value must be between 1 and"),
    ]
    broken = os.path.join(env.dir, "broken.m3u")
    with open(broken, "w") as f:
        f.write("#EXTM3U\n#EXTINF:-1 tvg-id=\"nope\",X\nlavfi:testsrc\n")
    cases.append(({"http_extra": f"streamreg_lineup {broken};"}, "streamreg_lineup refused:"))
    for kw, want in cases:
        rc, err = conf_test(**kw)
        check(rc != 0 and want in err, f"nginx -t refuses {kw}: {err.strip().splitlines()[0:1]}")
    # streamreg_status with a bad value, placed by hand.
    path = os.path.join(env.ngx_dir, "t.conf")
    text = nginx_conf(env.ngx_dir, env.port, env.registry, env.out).replace(
        "streamreg_status json;", "streamreg_status xml;")
    with open(path, "w") as f:
        f.write(text)
    r = env.nginx_cmd("-t", conf=path)
    check(r.returncode != 0 and 'invalid value "xml" of "streamreg_status"' in r.stderr,
          f"nginx -t refuses streamreg_status xml: {r.stderr.strip()[:160]}")

    env.start_nginx(workers=2, loc_extra="streamreg_start_timeout 3s;")
    port = env.port

    # ---- hostile and malformed paths ---------------------------------------
    base = f"/channels/{a}"
    # Inside the location the module judges the raw path with the server's
    # own parser, so the answers are streamreg-server's; a traversal that
    # nginx itself resolves to outside the location never reaches the module
    # and gets nginx's 404 (or 400 above the root).
    hostile = [
        (f"{base}/%2e%2e/%2e%2e/etc/passwd", {400, 404}),
        (f"{base}/%2E%2E/x.ts", {400}),
        (f"{base}/v/%2e%2e/90p/index.m3u8", {400}),
        (f"{base}/90p/%2e%2e", {400}),
        (f"{base}/90p/seg%00.ts", {400}),
        (f"{base}/90p/.hidden.ts", {400}),
        (f"{base}/90p/a%2fb.ts", {404}),  # decoded: a path too deep, as the server
        (f"{base}/90p/%252e%252e.ts", {400}),
        (f"{base}/../../etc/passwd", {400, 404}),  # nginx resolves it out of the location
        ("/channels/not-a-uuid/master.m3u8", {400}),
        ("/channels/5E7A0000-0000-4000-8000-00000000000G/master.m3u8", {400}),
        ("/channels/5e7a0000-0000-4000-8000-0000000000ff/master.m3u8", {404}),
        ("/channels/5e7a0000-0000-4000-8000-0000000000ff/90p/index.m3u8", {404}),
        (f"{base}/90p/none.ts", {404}),
        (f"{base}/90p/index.txt", {404}),
        (f"{base}/v/nottoken/90p/index.m3u8", {400}),
        (f"{base}/whatever", {404}),
    ]
    for path, want in hostile:
        st, out = raw(port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        body = out.partition(b"\r\n\r\n")[2]
        check(st in want and b"root:" not in body,
              f"{path} -> {st} (want {sorted(want)}) {body[:60]!r}")
    st, hdrs, body = http(port, f"{base}/master.m3u8", method="POST", body=b"x")
    check(st == 405 and hdrs.get("allow") == "GET, HEAD, OPTIONS",
          f"POST -> {st} Allow {hdrs.get('allow')}")
    # CORS preflight, as streamreg-server answers it.
    st, hdrs, _ = http(port, f"{base}/master.m3u8", method="OPTIONS",
                       headers={"Origin": "http://elsewhere.example",
                                "Access-Control-Request-Method": "GET",
                                "Access-Control-Request-Headers": "x-token, authorization"})
    check(st == 204 and hdrs.get("access-control-allow-methods") == "GET, HEAD, OPTIONS"
          and hdrs.get("access-control-allow-headers") == "x-token, authorization"
          and hdrs.get("access-control-max-age") == "7200" and "vary" in hdrs
          and hdrs.get("access-control-allow-origin") == "*",
          f"preflight -> {st} {[(k, v) for k, v in hdrs.items() if k.startswith('access')]}")
    st, _, _ = http(port, f"{base}/master.m3u8", method="OPTIONS",
                    headers={"Access-Control-Request-Method": "GET",
                             "Access-Control-Request-Headers": "x(token)"})
    check(st == 400, f"preflight with a malformed header list -> {st}")
    st, hdrs, _ = http(port, "/api/sessions", method="OPTIONS")
    check(st == 204 and hdrs.get("allow") == "GET, HEAD, OPTIONS"
          and "access-control-allow-methods" not in hdrs, f"plain OPTIONS -> {st} Allow")

    # ---- files through nginx's static path ---------------------------------
    # the run layout of tools/common/st_run.h (docs/server.md, Restarts)
    rdir = os.path.join(env.out, a, "1000")
    os.makedirs(os.path.join(rdir, "90p"))
    with open(os.path.join(env.out, a, "current"), "w") as f:
        f.write("run 1000\nstart 1\ndiscontinuity 0\nprevious 0\nprevious-start 0\n"
                "target 1\nwindow 6\n")
    seg = os.urandom(40000)
    with open(os.path.join(rdir, "90p", "1000-00001.ts"), "wb") as f:
        f.write(seg)
    with open(os.path.join(rdir, "90p", "index.m3u8"), "w") as f:
        f.write("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:1\n"
                "#EXTINF:1,\n1000-00001.ts\n")
    st, hdrs, body = http(port, f"{base}/90p/1000-00001.ts")
    check(st == 200 and body == seg and hdrs.get("content-type") == "video/mp2t"
          and hdrs.get("cache-control") == "max-age=86400, immutable" and "etag" in hdrs
          and hdrs.get("access-control-allow-origin") == "*"
          and "Content-Range" in hdrs.get("access-control-expose-headers", ""),
          f"segment: {st}, {len(body)} bytes, {hdrs.get('content-type')}, "
          f"{hdrs.get('cache-control')}, etag {hdrs.get('etag')}")
    st, hdrs, body = http(port, f"{base}/90p/1000-00001.ts", headers={"Range": "bytes=100-199"})
    check(st == 206 and body == seg[100:200], f"range request -> {st}, {len(body)} bytes")
    st, hdrs, body = http(port, f"{base}/90p/index.m3u8")
    check(st == 200 and hdrs.get("content-type") == "application/vnd.apple.mpegurl"
          and hdrs.get("cache-control") == "no-cache" and b"1000-00001.ts" in body,
          f"variant playlist: {st} {hdrs}")
    link = os.path.join(rdir, "90p", "1000-00002.ts")
    os.symlink(os.path.join(rdir, "90p", "1000-00001.ts"), link)
    st, _, _ = http(port, f"{base}/90p/1000-00002.ts")
    check(st == 404, f"a symlink in the channel directory -> {st}")
    os.symlink(os.path.join(rdir, "90p"), os.path.join(rdir, "lnk"))
    st, _, _ = http(port, f"{base}/lnk/1000-00001.ts")
    check(st == 404, f"a symlinked variant directory -> {st}")

    # ---- status locations ----------------------------------------------------
    sessions = srvtest.get_json(port, "/api/sessions")
    check(isinstance(sessions, list) and {s["channel_id"] for s in sessions} == {a, b},
          "streamreg_status json lists the registry's sessions")
    st, hdrs, body = http(port, "/metrics")
    cli = subprocess.run([CLI, "stats", env.registry, "--prometheus"], capture_output=True,
                         text=True).stdout
    names = lambda t: sorted(set(re.findall(r"^# TYPE (\S+)", t, re.M)))  # noqa: E731
    check(st == 200 and names(body.decode()) == names(cli) and names(cli),
          f"streamreg_status prometheus has the monitor's metrics ({len(names(cli))})")

    # ---- /channels for the player page ------------------------------------------
    listing = srvtest.get_json(port, "/channels")
    check(isinstance(listing, list) and {c["id"] for c in listing} == {a, b}
          and all(c["master"] == f"/channels/{c['id']}/master.m3u8" for c in listing),
          "without streamreg_lineup, /channels lists the registry's sessions")

    # ---- a start nobody answers: bounded, and the workers keep serving ------
    results = []

    def first():
        t0 = time.monotonic()
        st, hdrs, body = http(port, f"/channels/{b}/master.m3u8", timeout=20)
        results.append((st, hdrs.get("retry-after"), body, time.monotonic() - t0))

    waiters = [threading.Thread(target=first) for _ in range(6)]
    for t in waiters:
        t.start()
    time.sleep(0.3)
    served = []
    for _ in range(20):
        t0 = time.monotonic()
        st, _, _ = http(port, f"{base}/90p/index.m3u8")
        served.append((st, time.monotonic() - t0))
    for t in waiters:
        t.join(30)
    check(all(s == 200 for s, _ in served) and max(d for _, d in served) < 1.5,
          f"20 requests served while 6 wait for a start (slowest {max(d for _, d in served):.3f}s)")
    check(len(results) == 6 and all(r[0] == 503 and r[1] == "2" and b"still starting" in r[2]
                                     for r in results),
          f"a start nobody answers: 503 + Retry-After after the timeout "
          f"({[(r[0], r[1], round(r[3], 1)) for r in results]})")
    check(env.clients(1) == 0, f"a refused viewer is not counted ({env.clients(1)})")
    check(env.state(1) == "starting", "the start was requested (state starting)")

    # ---- the registry vanishes and comes back ---------------------------------
    subprocess.run([CLI, "destroy", env.registry], capture_output=True)
    got = wait_until(lambda: http(port, f"{base}/90p/index.m3u8")[0] == 503, 10,
                     what="503 without registry")
    st, hdrs, body = http(port, f"{base}/90p/index.m3u8")
    check(got and st == 503 and hdrs.get("retry-after") and b"registry" in body,
          f"registry removed: {st} {body.strip()[:100]!r}")
    check(wait_until(lambda: "was removed or replaced" in env.error_log(), 5,
                     what="the reason in the error log") is not None,
          "the reason is in the error log")
    subprocess.run([CLI, "create", env.registry], check=True, capture_output=True)
    subprocess.run([CLI, "add", env.registry, a], check=True, capture_output=True)
    ok = wait_until(lambda: http(port, f"{base}/90p/index.m3u8")[0] == 200, 10,
                    what="served again")
    check(ok, "a new registry under the same name is attached and served")
    check(len(env.worker_pids()) == 2, "both workers still there")
    env.check_error_log()
finally:
    env.cleanup()
finish()
