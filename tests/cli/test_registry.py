#!/usr/bin/env python3
"""`streamreg create` / `destroy` and the missing-registry errors (exit 3)."""
import os
import stat

import clitest as ct


class Registry(ct.CliTest):
    def test_create_default_mode_and_figures(self):
        name = self.registry()
        st = os.stat(ct.shm_path(name))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_uid, os.geteuid())
        r = self.expect(["check", name], 0)
        self.assertRegex(r.out, r"sessions\s+0 of 1024 in use")
        self.assertRegex(r.out, r"processes\s+0 of 128 in the process table \(viewer holders, the owner\), 1024 leases each")

    def test_create_options_reach_the_segment(self):
        name = self.registry("--capacity", "7", "--max-procs", "5", "--leases", "64",
                             "--mode", "0640")
        self.assertEqual(stat.S_IMODE(os.stat(ct.shm_path(name)).st_mode), 0o640)
        r = self.expect(["check", name], 0)
        self.assertRegex(r.out, r"sessions\s+0 of 7 in use")
        self.assertRegex(r.out, r"processes\s+0 of 5 in the process table \(viewer holders, the owner\), 64 leases each")
        # Short options and --opt=value work as well.
        other = self.registry("-c", "3", "--mode=0604")
        self.assertEqual(stat.S_IMODE(os.stat(ct.shm_path(other)).st_mode), 0o604)
        self.assertRegex(self.expect(["check", other], 0).out, r"sessions\s+0 of 3 in use")

    def test_create_refuses_an_existing_registry_and_leaves_it_alone(self):
        name = self.registry("--capacity", "4")
        ch = ct.new_uuid()
        self.expect(["add", name, ch], 0)
        self.expect(["create", name, "--capacity", "9"], 1,
                    err=r"^streamreg: create: registry '%s': .*exists.*; remove it first" % name)
        self.assertEqual([s["channel_id"] for s in self.ls_json(name)], [ch])
        self.assertRegex(self.expect(["check", name], 0).out, r"sessions\s+1 of 4 in use")

    def test_destroy(self):
        name = self.registry()
        self.expect(["add", name, ct.new_uuid()], 0)
        self.expect(["destroy", name], 0, out=r"^destroyed registry '%s' \(1 sessions?" % name)
        self.assertFalse(os.path.exists(ct.shm_path(name)))
        self.expect(["destroy", name], 3,
                    err=r"^streamreg: destroy: registry '%s' does not exist" % name)
        # The name is free again.
        self.registry_named(name)

    def registry_named(self, name):
        self.addCleanup(self._destroy, name)
        self.expect(["create", name], 0)

    def test_missing_registry_exits_3_everywhere(self):
        name = ct.unique_name("missing")
        ch = ct.new_uuid()
        for args in (["add", name, ch], ["del", name, ch], ["state", name, ch, "starting"],
                     ["error", name, ch, "boom"], ["show", name, ch], ["ls", name],
                     ["check", name], ["check", name, "--recover"], ["destroy", name],
                     ["show", name, ch, "--json"], ["ls", name, "--json"]):
            r = self.expect(args, 3,
                            err=r"^streamreg: %s: registry '%s' does not exist" % (args[0], name))
            self.assertEqual(r.out, "")
        self.assertFalse(os.path.exists(ct.shm_path(name)))

    def test_destroy_refuses_a_foreign_shm_object_without_force(self):
        name = ct.unique_name("foreign")
        path = ct.shm_path(name)
        with open(path, "wb") as f:
            f.write(b"not a registry, somebody else's data\n" * 100)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        self.expect(["destroy", name], 3,
                    err=r"^streamreg: destroy: registry '%s' is not usable: .*; use --force to remove "
                        r"it anyway$" % name)
        self.assertTrue(os.path.exists(path))
        self.expect(["ls", name], 3, err=r"^streamreg: ls: registry '%s' is not usable: " % name)
        self.expect(["destroy", "--force", name], 0, out=r"removed '%s'" % name)
        self.assertFalse(os.path.exists(path))

    def test_table_full(self):
        name = self.registry("--capacity", "2")
        chans = [ct.new_uuid() for _ in range(3)]
        self.expect(["add", name, chans[0]], 0)
        self.expect(["add", name, chans[1]], 0)
        r = self.expect(["add", name, chans[2]], 1, err=r"^streamreg: add: ")
        self.assertIn("full", r.err.lower())
        self.assertEqual(sorted(s["channel_id"] for s in self.ls_json(name)), sorted(chans[:2]))
        # Deleting one makes room again.
        self.expect(["del", name, chans[0]], 0)
        self.expect(["add", name, chans[2]], 0)
        self.assertEqual(sorted(s["channel_id"] for s in self.ls_json(name)), sorted(chans[1:]))


if __name__ == "__main__":
    ct.main()
