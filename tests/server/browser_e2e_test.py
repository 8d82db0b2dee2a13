#!/usr/bin/env python3
"""A real browser watches a channel: headless Chromium (Debian's chromium)
loads the server's player page, which plays the channel with the hls.js the
server serves, through kill -9 of the channel's ffmpeg and kill -9 and
restart of the reaper.  The page records what the viewer saw
(window.srPlayer); this test reads it over the DevTools protocol and asserts
that currentTime keeps advancing, that no fatal hls.js error fired, and that
the longest stall stays within restart backoff + time to first segment + one
segment duration, plus a margin for a loaded 2-core machine.  If Chromium
cannot start, the test fails with the reason."""

import os
import re
import signal
import time

from cdp import open_player
from srvtest import (Env, check, failures, ffmpeg_pids_for, finish, get_json, http, log,
                     wait_until)

SEGMENT_S = 1.0     # the reaper's --hls-time in Env.start_reaper
BACKOFF_S = 1.0     # --backoff-min below
STEADY_S = 20.0     # fault-free playback before the faults
AFTER_FAULT_S = 20.0
# Load on a shared 2-core box stretches every step; the bound stays an
# order of magnitude under "the player froze for good".
MARGIN_S = 6.0


def sample(b):
    return b.evaluate("window.srPlayer")


class Watch:
    """currentTime as the test sees it, sampled every 0.5 s."""

    def __init__(self, b):
        self.b = b
        self.samples = []  # (monotonic, currentTime)

    def run(self, seconds, what):
        t_end = time.monotonic() + seconds
        start = sample(self.b)
        while time.monotonic() < t_end:
            s = sample(self.b)
            self.samples.append((time.monotonic(), s["currentTime"]))
            time.sleep(0.5)
        end = sample(self.b)
        played = end["currentTime"] - start["currentTime"]
        log(f"{what}: currentTime {start['currentTime']:.1f} -> {end['currentTime']:.1f} s "
            f"in {seconds:.0f} s, page's longest stall {end['maxStallMs']} ms, "
            f"{len(end['fatal'])} fatal, {end['errors']} other hls.js errors")
        return played, end

    def longest_stall(self):
        worst, last_t, last_v = 0.0, None, None
        for t, v in self.samples:
            if last_v is None or abs(v - last_v) > 0.01:
                last_t, last_v = t, v
            worst = max(worst, t - last_t)
        return worst


env = Env("browser", n_channels=1)
browser = None
try:
    env.start_reaper("--backoff-min", str(BACKOFF_S))
    env.start_server(workers=4)
    cid = env.channels[0][0]
    t0 = time.monotonic()
    st, _, _ = http(env.port, env.master_path(0), timeout=30)
    first_playlist = time.monotonic() - t0
    check(st == 200, f"the channel starts: first playlist after {first_playlist:.2f} s")
    # Stall bound: the target, with the first playlist as measured
    # here standing in for the time to the first segment.
    target = BACKOFF_S + first_playlist + SEGMENT_S
    limit = target + MARGIN_S
    log(f"figure: stall target {target:.1f} s (backoff {BACKOFF_S} + first playlist "
        f"{first_playlist:.1f} + segment {SEGMENT_S}), asserted with margin: {limit:.1f} s")

    browser = open_player(env.dir, env.url(f"/#play={cid}"), check)
    b = browser
    started = wait_until(lambda: (sample(b) or {}).get("firstFrameMs") is not None, 45,
                         interval=0.5, what="the first frame in the browser")
    s = sample(b)
    check(started, f"the page plays the channel with the served hls.js "
                   f"(first frame after {s.get('firstFrameMs')} ms, {s.get('levels')} level(s))")
    hls_version = b.evaluate("typeof Hls === 'undefined' ? null : Hls.version")
    check(hls_version is not None, f"hls.js {hls_version} loaded from the server")
    watch = Watch(b)

    played, s = watch.run(STEADY_S, "steady playback")
    check(played >= STEADY_S - limit,
          f"currentTime advances through {STEADY_S:.0f} s of steady playback ({played:.1f} s)")

    # kill -9 of the channel's ffmpeg: the reaper restarts it; the player
    # must carry on by itself.
    pids = ffmpeg_pids_for(os.path.join(env.out, cid))
    check(len(pids) == 1, f"one ffmpeg for the channel ({pids})")
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    log(f"kill -9 ffmpeg {pids}")
    played, s = watch.run(AFTER_FAULT_S, "after kill -9 of ffmpeg")
    now = ffmpeg_pids_for(os.path.join(env.out, cid))
    check(len(now) == 1 and now != pids, f"the reaper replaced it ({pids} -> {now})")
    check(played >= AFTER_FAULT_S - limit,
          f"currentTime keeps advancing after kill -9 of ffmpeg ({played:.1f} s in "
          f"{AFTER_FAULT_S:.0f} s)")

    # kill -9 of the reaper, then a new one.
    old = env.reaper
    os.kill(old.pid, signal.SIGKILL)
    old.p.wait()
    log(f"kill -9 reaper {old.pid}; starting a new one")
    env.start_reaper("--backoff-min", str(BACKOFF_S))
    played, s = watch.run(AFTER_FAULT_S, "after kill -9 and restart of the reaper")
    after = ffmpeg_pids_for(os.path.join(env.out, cid))
    check(len(after) == 1 and env.reaper.p.poll() is None,
          f"the new reaper {env.reaper.pid} runs the channel's one transcoder ({after})")
    check(played >= AFTER_FAULT_S - limit,
          f"currentTime keeps advancing after the reaper's restart ({played:.1f} s in "
          f"{AFTER_FAULT_S:.0f} s)")

    s = sample(b)
    check(not s["fatal"], f"no fatal hls.js error ({s['fatal']})")
    page_stall = s["maxStallMs"] / 1000.0
    own_stall = watch.longest_stall()
    log(f"figure: longest stall {page_stall:.2f} s (page), {own_stall:.2f} s (test's samples); "
        f"{s['stalls']} stall(s) over 1 s; first frame {s['firstFrameMs']} ms")
    check(page_stall <= limit and own_stall <= limit + 1.0,
          f"longest stall {page_stall:.1f} s (page) / {own_stall:.1f} s (samples) "
          f"<= {limit:.1f} s")
    table = b.evaluate("document.getElementById('sessions').innerText")
    check("active" in table, f"the page's sessions table shows the channel active:\n{table}")
    b.screenshot(os.path.join(env.dir, "page.png"))

    # A reload fetches master.m3u8 again with the viewer's cookie: still one
    # viewer (without it, two until the first expired).
    b.call("Page.reload")
    replay = wait_until(lambda: (sample(b) or {}).get("firstFrameMs") is not None, 45,
                        interval=0.5, what="the first frame after a reload")
    chans = get_json(env.port, "/channels") or []
    viewers = [c["viewers"] for c in chans if c["id"] == cid]
    s0 = env.session(0)
    check(replay and viewers == [1] and s0 and s0["clients"] == 1,
          f"after a reload the browser is still one viewer (viewers {viewers}, "
          f"clients {s0 and s0['clients']})")

    # Cross-origin with a header of its own (an auth token, say): the page
    # at http://localhost:PORT plays http://127.0.0.1:PORT with hls.js adding
    # X-Player-Token, so Chromium sends a CORS preflight first and plays only
    # if the server answers it.
    b.navigate(env.url("/").replace("127.0.0.1", "localhost"))
    wait_until(lambda: b.evaluate("typeof Hls !== 'undefined'"), 30, interval=0.5,
               what="hls.js on the localhost page")
    b.evaluate(f"""(() => {{
      const v = document.createElement('video');
      v.muted = true; document.body.append(v);
      window.xo = {{fatal: [], video: v}};
      const h = new Hls({{xhrSetup: (xhr, url) => {{
        xhr.open('GET', url, true);
        xhr.setRequestHeader('X-Player-Token', 'secret');
      }}}});
      h.on(Hls.Events.ERROR, (e, d) => {{ if (d.fatal) window.xo.fatal.push(d.details); }});
      h.loadSource({env.url(env.master_path(0))!r});
      h.attachMedia(v);
      v.play().catch(() => {{}});
      return true;
    }})()""")
    xo = wait_until(lambda: b.evaluate("window.xo.video.currentTime > 2 || window.xo.fatal.length"
                                       " ? {t: window.xo.video.currentTime, fatal: window.xo.fatal}"
                                       " : null"), 45, interval=0.5,
                    what="cross-origin playback with a custom header")
    check(xo and xo["t"] > 2 and not xo["fatal"],
          f"cross-origin hls.js with X-Player-Token plays through the preflight ({xo})")
    _, _, metrics = http(env.port, "/metrics")
    preflights = sum(int(m.group(1)) for m in re.finditer(
        rb'^streamreg_http_requests_total\{route="(?:master|playlist|segment)",code="204"\} (\d+)',
        metrics, re.M))
    check(preflights > 0, f"...after {preflights} preflight(s) answered 204")
except Exception as e:  # noqa: BLE001 - report, then clean up
    check(False, f"exception: {e!r}")
finally:
    if browser:
        if failures:  # Chromium's own log is noise otherwise (no D-Bus here)
            log("chromium log tail:\n" + browser.tail(8))
        browser.close()
    if env.reaper and failures:
        log("reaper log tail:\n" + env.reaper.tail(8))
    env.cleanup()
finish()
