#!/usr/bin/env python3
"""`streamreg add` / `del` / `state` / `error` and what `show --json` reports after them."""
import os
import shutil
import subprocess
import time

import clitest as ct

STATES = ["idle", "starting", "active", "stopping", "failed"]
# The state machine of issue 2, written out independently of the library.
ALLOWED = {
    ("idle", "starting"),
    ("starting", "active"), ("starting", "failed"), ("starting", "stopping"),
    ("active", "stopping"), ("active", "failed"),
    ("stopping", "idle"), ("stopping", "failed"),
    ("failed", "starting"), ("failed", "stopping"), ("failed", "idle"),
}
# A valid path from idle to each state.
PATH = {
    "idle": [],
    "starting": ["starting"],
    "active": ["starting", "active"],
    "stopping": ["starting", "stopping"],
    "failed": ["starting", "failed"],
}


class Session(ct.CliTest):
    def test_add_show_del(self):
        name = self.registry()
        ch = ct.new_uuid()
        self.expect(["add", name, ch, "--output-dir", "/srv/hls/one"], 0,
                    out=r"^added session %s to '%s'\n$" % (ch, name))
        s = self.session_json(name, ch)
        self.assertEqual(s["state"], "idle")
        self.assertEqual(s["clients"], 0)
        self.assertEqual(s["error_count"], 0)
        self.assertEqual(s["last_error"], "")
        self.assertEqual(s["qualities"], [])
        self.assertIn(s["pid"], (0, None))
        self.assertIsInstance(s["idle_ms"], int)
        self.assertRegex(self.expect(["show", name, ch], 0).out,
                         r"(?m)^output_dir\s+/srv/hls/one$")
        self.expect(["add", name, ch], 1,
                    err=r"^streamreg: add: session %s: .*exists" % ch)
        self.expect(["del", name, ch], 0, out=r"^deleted session %s from '%s'\n$" % (ch, name))
        self.expect(["show", name, ch], 1,
                    err=r"^streamreg: show: no session %s in registry '%s'$" % (ch, name))
        self.expect(["del", name, ch], 1, err=r"^streamreg: del: no session %s" % ch)
        self.assertEqual(self.ls_json(name), [])

    def test_uuid_is_case_insensitive_and_printed_lower_case(self):
        name = self.registry()
        ch = ct.new_uuid()
        self.expect(["add", name, ch.upper()], 0, out=ch)
        self.assertEqual(self.session_json(name, ch)["state"], "idle")
        self.expect(["state", name, ch.upper(), "STARTING"], 0)
        self.assertEqual(self.session_json(name, ch)["state"], "starting")

    def test_every_transition(self):
        name = self.registry()
        for frm in STATES:
            for to in STATES:
                with self.subTest(frm=frm, to=to):
                    ch = ct.new_uuid()
                    self.expect(["add", name, ch], 0)
                    prev = "idle"
                    for step in PATH[frm]:
                        self.expect(["state", name, ch, step], 0,
                                    out=r"^%s: %s -> %s\n$" % (ch, prev, step))
                        prev = step
                    self.assertEqual(self.session_json(name, ch)["state"], frm)
                    if (frm, to) in ALLOWED:
                        self.expect(["state", name, ch, to], 0,
                                    out=r"^%s: %s -> %s\n$" % (ch, frm, to))
                        self.assertEqual(self.session_json(name, ch)["state"], to)
                    else:
                        allowed = ", ".join(t for t in STATES if (frm, t) in ALLOWED)
                        self.expect(["state", name, ch, to], 1,
                                    err=r"^streamreg: state: %s -> %s refused for %s: .*; "
                                    r"from %s it can go to: %s$" % (frm, to, ch, frm, allowed))
                        self.assertEqual(self.session_json(name, ch)["state"], frm)
                    self.expect(["del", name, ch], 0)

    def test_idle_to_active_is_refused_and_changes_nothing(self):
        name = self.registry()
        ch = ct.new_uuid()
        self.expect(["add", name, ch], 0)
        before = self.session_json(name, ch)
        r = self.expect(["state", name, ch, "active"], 1)
        self.assertIn("idle -> active refused", r.err)
        after = self.session_json(name, ch)
        self.assertEqual(after["state"], "idle")

        def stable(d):
            return {k: v for k, v in d.items() if "idle" not in k and "access" not in k}
        self.assertEqual(stable(after), stable(before))

    def test_state_and_error_on_a_missing_session(self):
        name = self.registry()
        ch = ct.new_uuid()
        self.expect(["state", name, ch, "starting"], 1,
                    err=r"^streamreg: state: no session %s in registry '%s'$" % (ch, name))
        self.expect(["error", name, ch, "boom"], 1,
                    err=r"^streamreg: error: no session %s in registry '%s'$" % (ch, name))

    def test_errors_are_counted_and_the_last_is_kept(self):
        name = self.registry()
        ch = ct.new_uuid()
        other = ct.new_uuid()
        self.expect(["add", name, ch], 0)
        self.expect(["add", name, other], 0)
        self.expect(["error", name, ch, "ffmpeg exited with status 1"], 0,
                    out=r"^recorded error on %s \(1 so far\)" % ch)
        self.expect(["error", name, ch, "--", "-re: input/output error"], 0,
                    out=r"\(2 so far\)")
        s = self.session_json(name, ch)
        self.assertEqual(s["error_count"], 2)
        self.assertEqual(s["last_error"], "-re: input/output error")
        self.assertEqual(self.session_json(name, other)["error_count"], 0)

        longest = "e" * 255
        self.expect(["error", name, ch, longest], 0, out=r"\(3 so far\)")
        self.assertEqual(self.session_json(name, ch)["last_error"], longest)
        self.expect(["error", name, ch, longest + "e"], 2,
                    err=r"^streamreg: error: MESSAGE too long: 256 bytes, at most 255")
        s = self.session_json(name, ch)
        self.assertEqual(s["error_count"], 3)
        self.assertEqual(s["last_error"], longest)

        quoted = 'bad "quote" \\ back\tslash'
        self.expect(["error", name, ch, quoted], 0)
        self.assertEqual(self.session_json(name, ch)["last_error"], quoted)

    def test_state_changes_and_errors_show_together(self):
        name = self.registry()
        ch = ct.new_uuid()
        self.expect(["add", name, ch], 0)
        self.expect(["state", name, ch, "starting"], 0)
        self.expect(["state", name, ch, "failed"], 0)
        self.expect(["error", name, ch, "no input"], 0)
        s = self.session_json(name, ch)
        self.assertEqual((s["state"], s["error_count"], s["last_error"]),
                         ("failed", 1, "no input"))
        r = self.expect(["show", name, ch], 0)
        self.assertRegex(r.out, r"(?m)^state\s+failed$")
        self.assertRegex(r.out, r"(?m)^error_count\s+1$")
        self.assertRegex(r.out, r"(?m)^last_error\s+no input$")

    def test_any_owner(self):
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv to create a registry as another user")
        name = ct.unique_name("owner")
        self.addCleanup(self._destroy, name)
        libdir, cli = ct.nobody_runnable(ct.CLI)
        self.addCleanup(shutil.rmtree, libdir, True)
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            "env", "LD_LIBRARY_PATH=" + libdir, cli, "create", name, "--mode",
                            "0666"],
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0 and name not in r.stderr:
            self.skipTest("nobody cannot run the binary here: " + r.stderr)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(os.stat(ct.shm_path(name)).st_uid, 0)
        ch = ct.new_uuid()
        for args in (["add", name, ch], ["check", name, "--recover"]):
            self.expect(args, 1, err=r"^streamreg: %s: cannot attach registry '%s': .*; run as "
                        r"its owner, or pass --any-owner to write anyway$" % (args[0], name))
        self.assertEqual(self.ls_json(name), [])
        self.expect(["add", name, ch, "--any-owner"], 0)
        self.expect(["state", name, ch, "starting", "-a"], 0)
        self.expect(["error", name, ch, "--any-owner", "--", "-boom"], 0)
        s = self.session_json(name, ch)
        self.assertEqual((s["state"], s["error_count"], s["last_error"]),
                         ("starting", 1, "-boom"))
        self.expect(["check", name, "--recover", "--any-owner"], 0, out=r"recovered\s+0 dead")
        self.expect(["del", "-a", name, ch], 0)
        self.assertEqual(self.ls_json(name), [])
        self.expect(["del", name, ch, "--output-dir", "x"], 2,
                    err=r"unknown option '--output-dir'")

    def test_idle_ms_grows(self):
        name = self.registry()
        ch = ct.new_uuid()
        self.expect(["add", name, ch], 0)
        time.sleep(0.3)
        self.assertGreaterEqual(self.session_json(name, ch)["idle_ms"], 250)


if __name__ == "__main__":
    ct.main()
