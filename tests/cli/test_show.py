#!/usr/bin/env python3
"""`streamreg ls` / `show`: JSON checked against what was added, the aligned
table, and read-only use by a user who may only read the segment."""
import os
import shutil
import subprocess

import clitest as ct


class Show(ct.CliTest):
    def populate(self, name):
        """Three sessions in different states with different errors."""
        chans = {ct.new_uuid(): ("idle", 0), ct.new_uuid(): ("active", 1),
                 ct.new_uuid(): ("failed", 2)}
        for ch, (state, errors) in chans.items():
            self.expect(["add", name, ch], 0)
            path = {"idle": [], "active": ["starting", "active"],
                    "failed": ["starting", "failed"]}[state]
            for step in path:
                self.expect(["state", name, ch, step], 0)
            for i in range(errors):
                self.expect(["error", name, ch, "error %d of %s" % (i + 1, ch[:8])], 0)
        return chans

    def test_ls_json_matches_what_was_added(self):
        name = self.registry("--capacity", "16")
        self.assertEqual(self.ls_json(name), [])
        chans = self.populate(name)
        listed = self.ls_json(name)
        self.assertEqual(len(listed), len(chans))
        for s in listed:
            for key in ("channel_id", "state", "clients", "idle_ms", "error_count",
                        "last_error", "qualities", "pid"):
                self.assertIn(key, s)
            state, errors = chans[s["channel_id"]]
            self.assertEqual(s["state"], state)
            self.assertEqual(s["error_count"], errors)
            self.assertEqual(s["last_error"],
                             "error %d of %s" % (errors, s["channel_id"][:8]) if errors else "")
            self.assertEqual(s["clients"], 0)
            # show --json describes the same session the same way.
            one = self.session_json(name, s["channel_id"])
            for key in ("state", "clients", "error_count", "last_error", "qualities", "pid"):
                self.assertEqual(one[key], s[key])
        self.assertEqual({s["channel_id"] for s in listed}, set(chans))

    def test_ls_table_is_aligned(self):
        name = self.registry("--capacity", "16")
        chans = self.populate(name)
        first = next(iter(chans))
        self.expect(["error", name, first, "two\nlines\x1b[31m red"], 0)
        chans[first] = (chans[first][0], chans[first][1] + 1)
        out = self.expect(["ls", name], 0).out
        lines = out.splitlines()
        self.assertEqual(len(lines), 1 + len(chans) + 1, out)
        header = lines[0]
        self.assertRegex(header, r"^CHANNEL\s+STATE\s+CLIENTS\s+IDLE\s+ERRORS\s+PID\s+"
                                 r"QUALITIES\s+LAST ERROR$")
        col_state = header.index("STATE")
        col_errors_end = header.index("ERRORS") + len("ERRORS")
        col_last = header.index("LAST ERROR")
        for row in lines[1:-1]:
            ch = row[:36]
            state, errors = chans[ch]
            self.assertEqual(row[col_state:].split()[0], state, row)
            self.assertEqual(row[:col_errors_end].split()[-1], str(errors), row)
            self.assertNotEqual(row[col_last], " ", row)
            self.assertNotIn("\x1b", row)
        self.assertEqual(lines[-1], "3 sessions, capacity 16")

    def test_show_plain(self):
        name = self.registry()
        ch = ct.new_uuid()
        self.expect(["add", name, ch], 0)
        self.expect(["state", name, ch, "starting"], 0)
        self.expect(["state", name, ch, "active"], 0)
        out = self.expect(["show", name, ch], 0).out
        self.assertRegex(out, r"^channel_id\s+%s\n" % ch)
        self.assertRegex(out, r"(?m)^state\s+active$")
        self.assertRegex(out, r"(?m)^clients\s+0$")
        self.assertRegex(out, r"(?m)^started\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(up ")
        self.assertRegex(out, r"(?m)^qualities\s+none$")
        self.assertRegex(out, r"(?m)^pid\s+-$")

    def test_lost_output_is_a_failure(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        name = self.registry()
        self.expect(["add", name, ct.new_uuid()], 0)
        for args in (["ls", name], ["ls", name, "--json"], ["check", name], ["--help"]):
            with open("/dev/full", "w") as full:
                r = subprocess.run([ct.CLI, *args], stdout=full, stderr=subprocess.PIPE,
                                   text=True, timeout=20)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertRegex(r.stderr, r"^streamreg: writing output: No space left on device\n$")

    def test_read_only_commands_need_only_read_permission(self):
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv to run as another user")
        name = self.registry("--mode", "0644")
        ch = ct.new_uuid()
        self.expect(["add", name, ch], 0)
        self.expect(["error", name, ch, "seen by nobody"], 0)
        libdir, cli = ct.nobody_runnable(ct.CLI)
        self.addCleanup(shutil.rmtree, libdir, True)
        as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env",
                     "LD_LIBRARY_PATH=" + libdir, cli]

        def run(*args):
            return subprocess.run(as_nobody + list(args), capture_output=True, text=True,
                                  timeout=20)
        r = run("ls", name, "--json")
        if r.returncode != 0 and "ermission denied" in r.stderr and name not in r.stderr:
            self.skipTest("nobody cannot run the binary here: " + r.stderr)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([s["last_error"] for s in ct.json.loads(r.stdout)], ["seen by nobody"])
        r = run("show", name, ch)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("check", name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("status      ok", r.stdout)
        # Writing needs write permission: a clear failure, not a crash.
        r = run("add", name, ct.new_uuid())
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"^streamreg: add: cannot attach registry '%s': " % name)
        r = run("check", name, "--recover")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(len(self.ls_json(name)), 1)


if __name__ == "__main__":
    ct.main()
