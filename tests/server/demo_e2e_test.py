#!/usr/bin/env python3
"""scripts/demo.sh --duration: it starts the reaper and the server, prints
working URLs, a viewer can watch a channel, and at the end it reports a clean
stop with no ffmpeg, no segment directory and no registry left.
SR_DEMO_ARGS adds arguments (the nginx suite runs it with --nginx)."""

import os
import re
import subprocess
import time

from srvtest import alive, check, ffmpeg_pids_for, finish, free_port, log, wait_until

src = os.environ["SR_SOURCE_DIR"]
build = os.environ["SR_BUILD_DIR"]
port = free_port()
env = dict(os.environ, BUILD_DIR=build)
extra = os.environ.get("SR_DEMO_ARGS", "").split()
log(f"demo.sh --no-setup --duration 14 --port {port} {' '.join(extra)}")
p = subprocess.Popen(["bash", os.path.join(src, "scripts/demo.sh"), "--no-setup", "--duration",
                      "14", "--port", str(port), *extra], stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True, env=env, cwd=src)
out = []
urls = []
try:
    for line in p.stdout:
        out.append(line)
        m = re.search(r"(http://127\.0\.0\.1:\d+/channels/[0-9a-f-]{36}/master\.m3u8)", line)
        if m and m.group(1) not in urls:
            urls.append(m.group(1))
        if line.startswith("Running for"):
            break
    check(len(urls) == 3, f"the demo prints 3 channel URLs ({len(urls)})")
    check(any("streamreg top streamreg_demo_" in ln for ln in out),
          "the demo prints the streamreg top command")
    page = next((m.group(1) for ln in out
                 for m in [re.match(r"Watch in a browser:\s+(http://127\.0\.0\.1:\d+/)$", ln.strip())]
                 if m), None)
    check(page is not None, f"the banner points at the player page ({page})")
    if page:
        r = subprocess.run(["curl", "-sS", "-m", "10", page], capture_output=True, timeout=30)
        check(b"/static/hls.min.js" in r.stdout, "the page it names is the player page")
    workdir = next((m.group(1) for ln in out
                    for m in [re.search(r"(/tmp/streamreg-demo\.\w+)/server\.log", ln)] if m), None)
    t0 = time.monotonic()
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name",
                        "-of", "csv=p=0", urls[0]], capture_output=True, text=True, timeout=60)
    codecs = sorted(set(r.stdout.split()))
    check(r.returncode == 0 and codecs == ["aac", "h264"],
          f"ffprobe plays the first channel in {time.monotonic() - t0:.1f}s ({codecs})")
    running = ffmpeg_pids_for(os.path.join(workdir, "hls")) if workdir else []
    check(len(running) == 1, f"one transcoder runs for the watched channel ({running})")
    rest, _ = p.communicate(timeout=60)
    out.append(rest)
    text = "".join(out)
    check(p.returncode == 0, f"the demo exits 0 (rc {p.returncode})")
    check("stopped cleanly: no ffmpeg left, no segment directory left, registry" in text,
          "the demo reports a clean stop")
    check(all(not alive(pid) for pid in running), "its transcoder is gone")
    check(workdir is not None and not os.path.exists(workdir), "its work directory is removed")
    shm = [f for f in os.listdir("/dev/shm") if f == f"streamreg_demo_{p.pid}"]
    check(not shm, "its registry is destroyed")
except Exception as e:  # noqa: BLE001
    check(False, f"exception: {e!r}")
    if p.poll() is None:
        p.terminate()
        p.wait(30)
finally:
    log("demo output:\n" + "".join(out)[-1500:])
finish()
