#!/usr/bin/env python3
"""The player page works against nginx: headless Chromium (Debian's
chromium, driven by the server suite's cdp.py) loads the page served by
nginx, which lists the channels from the module's /channels and plays one
with hls.js through the module; currentTime advances, no fatal hls.js
error, and the viewer counts once in the module's /api/sessions."""

import time

from ngxtest import NginxEnv, http, log, srvtest, wait_until  # first: puts cdp on the path
from cdp import BrowserError, open_player  # noqa: E402
from srvtest import check, finish

PLAY_S = 15.0

env = NginxEnv("ngxbrowser", n_channels=1)
browser = None
try:
    env.start_reaper()
    env.start_nginx(workers=2, http_extra=f"streamreg_lineup {env.lineup};")
    cid = env.channels[0][0]
    st, _, body = http(env.port, "/")
    check(st == 200 and b"/static/hls.min.js" in body, "nginx serves the player page")
    st, _, body = http(env.port, "/static/hls.min.js")
    check(st == 200 and len(body) > 100000, f"and hls.js ({st}, {len(body)} bytes)")
    browser = open_player(env.dir, env.url(f"/#play={cid}"), check)
    b = browser
    started = wait_until(lambda: (b.evaluate("window.srPlayer") or {}).get("firstFrameMs")
                         is not None, 45, interval=0.5, what="the first frame")
    s = b.evaluate("window.srPlayer")
    check(started, f"the page plays the channel through nginx (first frame after "
                   f"{s.get('firstFrameMs')} ms)")
    names = b.evaluate("Array.from(document.querySelectorAll('button')).map(x => x.textContent)")
    check(env.channels[0][1] in (names or []),
          f"the channel list comes from the module's /channels ({names})")
    t0 = s["currentTime"]
    time.sleep(PLAY_S)
    s = b.evaluate("window.srPlayer")
    played = s["currentTime"] - t0
    log(f"played {played:.1f} s in {PLAY_S:.0f} s; longest stall {s['maxStallMs']} ms, "
        f"{len(s['fatal'])} fatal, {s['errors']} other hls.js errors")
    check(played >= PLAY_S - 6, f"currentTime advances ({played:.1f} s in {PLAY_S:.0f} s)")
    check(not s["fatal"], f"no fatal hls.js error ({s['fatal']})")
    check(env.clients(0) == 1, f"the browser counts as one viewer ({env.clients(0)})")
    b.screenshot(f"{env.dir}/page.png")
    env.check_error_log()
except BrowserError:
    pass
except Exception as e:  # noqa: BLE001
    check(False, f"exception: {e!r}")
finally:
    if browser:
        browser.close()
    env.cleanup()
finish()
