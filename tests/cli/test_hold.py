#!/usr/bin/env python3
"""`streamreg hold`: a viewer held from the command line (issue 11 item 10).

With a real reaper and real ffmpeg (tiny lavfi channel, 1 s segments, idle
grace 1 s): the hold asks for the start and prints idle -> starting ->
active; the channel stays up while held, well past the grace; on SIGINT the
viewer is released and the reaper stops the channel; a hold killed with
SIGKILL leaves no viewer behind either.  `streamreg stats` names the attached processes (reaper, server master
and workers, the hold with its viewer).  Refusals: a missing session (exit
1), bad operands (exit 2), a missing registry (exit 3).
"""
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

import clitest as ct

REAPER = os.environ.get("SR_REAPER")
SERVER = os.environ.get("SR_SERVER")


def wait_for(pred, limit, step=0.05):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Hold(ct.CliTest):
    def state(self, name, ch):
        r = ct.run("show", name, ch, "--json")
        return json.loads(r.out) if r.rc == 0 else None

    def read_until(self, proc, lines, needle, limit):
        """Read proc's stdout lines into lines until one contains needle."""
        end = time.monotonic() + limit
        fd = proc.stdout.fileno()
        buf = getattr(proc, "_pending", b"")
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                lines.append(line.decode())
                if needle in lines[-1]:
                    proc._pending = buf
                    return lines[-1]
            left = end - time.monotonic()
            if left <= 0:
                proc._pending = buf
                return None
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    proc._pending = buf
                    return None
                buf += chunk

    def test_refusals(self):
        name = self.registry()
        ch = ct.new_uuid()
        self.expect(["hold", name, ch, "--for", "1"], 1, err=r"no session %s" % ch)
        self.expect(["hold", name], 2, err=r"channel UUID")
        self.expect(["hold", name, ch, "--for", " 5"], 2, err=r"--for")
        self.expect(["hold", ct.unique_name("missing"), ch], 3)
        r = self.expect(["hold", "--help"], 0, out=r"Usage: streamreg hold NAME UUID")
        self.assertIn("--no-start", r.out)

    def test_no_start_holds_and_releases(self):
        name = self.registry()
        ch = ct.new_uuid()
        self.expect(["add", name, ch], 0)
        r = self.expect(["hold", name, ch, "--for", "0.5", "--no-start"], 0,
                        out=r"holding a viewer on %s" % ch)
        self.assertIn("released the viewer", r.out)
        self.assertEqual(self.state(name, ch)["state"], "idle")
        self.assertEqual(self.state(name, ch)["clients"], 0)

    def test_keeps_a_channel_warm(self):
        if not REAPER:
            self.fail("SR_REAPER is not set: the test needs streamreg-reaper")
        name = self.registry("--capacity", "8")
        ch = ct.new_uuid()
        work = tempfile.mkdtemp(prefix="clihold_")
        self.addCleanup(shutil.rmtree, work, True)
        lineup = os.path.join(work, "lineup.m3u")
        with open(lineup, "w") as f:
            f.write(f'#EXTM3U\n#EXTINF:-1 tvg-id="{ch}",Held\n'
                    "lavfi:testsrc=size=160x90:rate=10[out0];sine=frequency=440[out1]\n")
        log = open(os.path.join(work, "reaper.log"), "w")
        reaper = subprocess.Popen(
            [REAPER, "--registry", name, "--lineup", lineup, "--output-dir",
             os.path.join(work, "out"), "--ladder", "90p:100k", "--hls-time", "1",
             "--hls-list-size", "3", "--fps", "10", "--audio-bitrate", "32",
             "--idle-grace", "1", "--scan-interval", "0.05"],
            stdout=subprocess.DEVNULL, stderr=log)
        self.addCleanup(lambda: (reaper.poll() is None and reaper.terminate(), reaper.wait(30)))
        self.assertTrue(wait_for(lambda: "watching registry" in open(log.name).read(), 20),
                        "the reaper serves")

        hold = subprocess.Popen([ct.CLI, "hold", name, ch], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.addCleanup(lambda: hold.poll() is None and hold.kill())
        lines = []
        self.assertIsNotNone(self.read_until(hold, lines, "idle -> starting", 10), lines)
        active = self.read_until(hold, lines, "starting -> active", 30)
        self.assertIsNotNone(active, lines)
        self.assertRegex(active, r"pid=[1-9]\d*")
        # streamreg top/stats name what is attached and what holds viewers
        server = None
        if SERVER:
            server = subprocess.Popen(
                [SERVER, "--registry", name, "--lineup", lineup, "--output-dir",
                 os.path.join(work, "out"), "--listen", "127.0.0.1:0", "--workers", "2"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.addCleanup(lambda: (server.poll() is None and server.terminate(),
                                     server.wait(30)))
        want = [f"reaper {reaper.pid}",
                f"streamreg hold {hold.pid} (holding 1 viewer on 1 channel)"]
        if server:
            want += [f"server master {server.pid}", "2 server workers"]
        line = wait_for(lambda: next((l for l in ct.run("stats", name).out.splitlines()
                                      if l.startswith("processes:")
                                      and all(w in l for w in want)), None), 20)
        self.assertIsNotNone(line, (want, ct.run("stats", name).out))
        procs = json.loads(ct.run("stats", name, "--json").out)["processes"]
        roles = {p["pid"]: p["role"] for p in procs}
        self.assertEqual(roles.get(reaper.pid), "reaper", procs)
        self.assertEqual(roles.get(hold.pid), "streamreg hold", procs)
        # three idle graces later the channel still plays: the hold counts
        time.sleep(3.0)
        s = self.state(name, ch)
        self.assertEqual((s["state"], s["clients"]), ("active", 1), s)
        hold.send_signal(signal.SIGINT)
        self.assertIsNotNone(self.read_until(hold, lines, "released the viewer", 10), lines)
        self.assertEqual(hold.wait(10), 0)
        self.assertEqual(hold.stderr.read(), b"")
        self.assertTrue(wait_for(lambda: self.state(name, ch)["state"] == "idle", 20),
                        "released: the reaper stops the channel after the grace")

        # SIGKILL of a hold: the registry reclaims its viewer
        hold2 = subprocess.Popen([ct.CLI, "hold", name, ch], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        lines2 = []
        self.assertIsNotNone(self.read_until(hold2, lines2, "starting -> active", 30), lines2)
        hold2.kill()
        hold2.wait()
        self.assertTrue(wait_for(lambda: self.state(name, ch)["state"] == "idle", 20),
                        "killed hold: viewer reclaimed, channel stopped")
        self.assertEqual(self.state(name, ch)["clients"], 0)
        reaper.terminate()
        self.assertEqual(reaper.wait(30), 0)


if __name__ == "__main__":
    ct.main()
