#!/usr/bin/env python3
"""`streamreg check [--recover]`: healthy and corrupted segments, and the
leases of SIGKILLed processes reclaimed."""
import os
import select
import signal
import subprocess

import clitest as ct


class Holder:
    """A lease_holder process: attached read-write, counting `clients`
    viewers on channel `ch`, then sleeping until killed."""

    def __init__(self, test, name, ch, clients, *levels):
        self.proc = subprocess.Popen([ct.HOLDER, name, ch, str(clients), *levels],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        test.addCleanup(self.kill)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline() if ready else ""
        test.assertEqual(line, "ready\n", "lease_holder did not start: " +
                         (self.proc.stderr.read() if self.proc.poll() is not None else "timeout"))
        self.pid = self.proc.pid

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)
        self.proc.stdout.close()
        self.proc.stderr.close()


class Check(ct.CliTest):
    def test_healthy_registry(self):
        name = self.registry("--capacity", "8")
        for state in ("idle", "starting"):
            ch = ct.new_uuid()
            self.expect(["add", name, ch], 0)
            if state == "starting":
                self.expect(["state", name, ch, "starting"], 0)
        out = self.expect(["check", name], 0).out
        self.assertRegex(out, r"^registry '%s'\n" % name)
        self.assertRegex(out, r"sessions\s+2 of 8 in use \(idle 1, starting 1, active 0, "
                              r"stopping 0, failed 0\)")
        self.assertRegex(out, r"processes\s+0 of 128 in the process table")
        self.assertRegex(out, r"records\s+0 bad")
        self.assertRegex(out, r"created\s+\d{4}-\d\d-\d\d .* by pid \d+")
        self.assertTrue(out.endswith("  status      ok\n"), out)
        out = self.expect(["check", name, "--recover"], 0).out
        self.assertRegex(out, r"recovered\s+0 dead processes reclaimed, 0 client leases released")

    def corrupt(self, name, offset, data):
        with open(ct.shm_path(name), "r+b") as f:
            f.seek(offset)
            f.write(data)

    def test_corrupted_magic(self):
        name = self.registry()
        ch = ct.new_uuid()
        self.expect(["add", name, ch], 0)
        self.corrupt(name, 0, b"\xde\xad\xbe\xef" * 2)
        r = self.expect(["check", name], 3,
                        err=r"^streamreg: check: registry '%s' is not usable: \S" % name)
        self.assertEqual(r.out, "")
        self.expect(["check", name, "--recover"], 3, err=r"is not usable")
        self.expect(["ls", name], 3, err=r"^streamreg: ls: registry '%s' is not usable" % name)
        self.expect(["show", name, ch, "--json"], 3, err=r"is not usable")
        self.expect(["add", name, ct.new_uuid()], 3, err=r"is not usable")
        self.expect(["destroy", name], 3, err=r"use --force")
        self.assertTrue(os.path.exists(ct.shm_path(name)))
        self.expect(["destroy", name, "--force"], 0)
        self.assertFalse(os.path.exists(ct.shm_path(name)))

    def test_truncated_and_garbage_segments(self):
        name = self.registry()
        os.truncate(ct.shm_path(name), 100)
        self.expect(["check", name], 3, err=r"^streamreg: check: registry '%s' is not usable" % name)
        other = self.registry()
        size = os.path.getsize(ct.shm_path(other))
        self.corrupt(other, 0, os.urandom(min(size, 4096)))
        self.expect(["check", other], 3, err=r"is not usable")

    def test_bad_records(self):
        name = self.registry("--capacity", "4")
        for _ in range(2):
            self.expect(["add", name, ct.new_uuid()], 0)
        # The header lives in the first page; everything after it (records,
        # index, process table) becomes 0xff, which no valid record holds.
        size = os.path.getsize(ct.shm_path(name))
        self.corrupt(name, 4096, b"\xff" * (size - 4096))
        r = self.expect(["check", name], 3,
                        err=r"^streamreg: check: registry '%s' has [1-9]\d* bad records?; "
                        r"try 'streamreg check %s --recover'$" % (name, name))
        self.assertRegex(r.out, r"records\s+[1-9]\d* bad\n")
        self.assertNotIn("status      ok", r.out)
        r = self.expect(["check", name, "--recover"], 3,
                        err=r"^streamreg: check: registry '%s' has [1-9]\d* bad records?$" % name)
        self.assertRegex(r.out, r"recovered\s+\d+ dead process")

    def test_destroy_while_a_process_is_attached(self):
        if not ct.HOLDER:
            self.skipTest("needs the lease_holder helper")
        name = self.registry()
        ch = ct.new_uuid()
        self.expect(["add", name, ch], 0)
        holder = Holder(self, name, ch, 1)
        self.expect(["destroy", name], 0,
                    out=r"^destroyed registry '%s' \(1 session; 1 attached process keeps it "
                    r"until detaching\)\n$" % name)
        self.assertFalse(os.path.exists(ct.shm_path(name)))
        self.assertIsNone(holder.proc.poll())
        # The name is free for a new registry while the old one is still mapped.
        self.registry_named(name)
        self.assertEqual(self.ls_json(name), [])

    def registry_named(self, name):
        self.addCleanup(self._destroy, name)
        self.expect(["create", name], 0)

    def test_recover_releases_the_leases_of_a_killed_process(self):
        if not ct.HOLDER:
            self.skipTest("needs the lease_holder helper")
        name = self.registry("--capacity", "4")
        ch = ct.new_uuid()
        self.expect(["add", name, ch], 0)
        keeper = Holder(self, name, ch, 2)
        victim = Holder(self, name, ch, 3, "720p", "360p")

        s = self.session_json(name, ch)
        self.assertEqual(s["clients"], 5)
        self.assertEqual(s["pid"], victim.pid)
        self.assertEqual([q["level"] for q in s["qualities"]], ["720p", "360p"])
        self.assertRegex(self.expect(["show", name, ch], 0).out,
                         r"(?m)^pid\s+%d \(running\)$" % victim.pid)
        self.assertRegex(self.expect(["ls", name], 0).out, r"%s\s+idle\s+5\s.*720p,360p" % ch)
        out = self.expect(["check", name], 0).out
        self.assertRegex(out, r"processes\s+2 of 128 in the process table")
        self.assertRegex(out, r"clients\s+5\n")

        victim.kill()
        # Read-only commands change nothing: the dead process is still there.
        self.expect(["ls", name], 0)
        out = self.expect(["check", name], 0).out
        self.assertRegex(out, r"reclaimed\s+0 dead processes, 0 client leases")
        self.assertNotIn("recovered", out)
        out = self.expect(["check", name, "--recover"], 0).out
        self.assertRegex(out, r"recovered\s+1 dead process reclaimed, 3 client leases released")
        self.assertRegex(out, r"processes\s+1 of 128 in the process table")
        self.assertRegex(out, r"reclaimed\s+1 dead processes, 3 client leases")
        self.assertEqual(self.session_json(name, ch)["clients"], 2)
        self.assertRegex(self.expect(["show", name, ch], 0).out,
                         r"(?m)^pid\s+%d \(not running\)$" % victim.pid)
        out = self.expect(["check", name, "--recover"], 0).out
        self.assertRegex(out, r"recovered\s+0 dead processes reclaimed, 0 client leases released")

        keeper.kill()
        out = self.expect(["check", name, "--recover"], 0).out
        self.assertRegex(out, r"recovered\s+1 dead process reclaimed, 2 client leases released")
        self.assertEqual(self.session_json(name, ch)["clients"], 0)
        self.assertRegex(out, r"processes\s+0 of 128 in the process table")


if __name__ == "__main__":
    ct.main()
