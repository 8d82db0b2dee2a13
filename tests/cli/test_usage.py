#!/usr/bin/env python3
"""`streamreg` command-line handling: help, version, usage errors (exit 2)."""
import clitest as ct

MINE = ["create", "destroy", "check", "add", "del", "state", "error", "show", "ls"]
ALL = MINE + ["hold", "top", "stats"]
UUID = "123e4567-e89b-12d3-a456-426614174000"


class Usage(ct.CliTest):
    def test_global_help_lists_every_command_and_exit_codes(self):
        for flag in ("--help", "-h"):
            r = self.expect([flag], 0, out=r"^Usage: streamreg COMMAND")
            for cmd in ALL:
                self.assertRegex(r.out, r"\n  %s\s+\S" % cmd)
            self.assertIn("Exit status: 0 ok, 1", r.out)

    def test_version(self):
        self.expect(["--version"], 0, out=r"^streamreg \d+\.\d+ \(segment layout \d+\)\n$")

    def test_missing_and_unknown_command(self):
        self.expect([], 2, err=r"^streamreg: missing command")
        self.expect(["frobnicate"], 2, err=r"^streamreg: unknown command 'frobnicate'")
        self.expect(["--bogus"], 2, err=r"^streamreg: unknown option '--bogus'")
        self.expect(["help", "frobnicate"], 2, err=r"unknown command 'frobnicate'")

    def test_subcommand_help(self):
        for cmd in MINE:
            r = self.expect([cmd, "--help"], 0, out=r"^Usage: streamreg %s " % cmd)
            self.assertEqual(self.expect([cmd, "-h"], 0).out, r.out)
            self.assertEqual(self.expect(["help", cmd], 0).out, r.out)
            # --help wins over whatever else is on the line.
            self.assertEqual(self.expect([cmd, "x/y", "--help"], 0).out, r.out)

    def test_max_procs_counts_viewer_holders(self):
        # A read-write attach takes no process slot: only viewer holders and
        # the owner do (sr_create_options.max_procs), and the help says so.
        r = self.expect(["create", "--help"], 0)
        self.assertRegex(r.out, r"--max-procs N\s+processes counting viewers at once")
        self.assertNotIn("attached read-write", r.out)

    def test_monitor_commands_are_dispatched(self):
        for cmd in ("top", "stats"):
            r = ct.run(cmd, "--help")
            self.assertNotIn("unknown command", r.err, r)
            self.assertEqual(r.rc, 0, r)
            self.assertIn("streamreg %s NAME" % cmd, r.out)
            self.assertEqual(ct.run("help", cmd).out, r.out)

    def test_missing_and_extra_operands(self):
        # command: (operands short of one, the missing one's name, a full set)
        cases = {
            "create": ([], "registry NAME", ["reg"]),
            "destroy": ([], "registry NAME", ["reg"]),
            "check": ([], "registry NAME", ["reg"]),
            "ls": ([], "registry NAME", ["reg"]),
            "add": (["reg"], "channel UUID", ["reg", UUID]),
            "del": (["reg"], "channel UUID", ["reg", UUID]),
            "show": (["reg"], "channel UUID", ["reg", UUID]),
            "state": (["reg", UUID], "STATE", ["reg", UUID, "idle"]),
            "error": (["reg", UUID], "MESSAGE", ["reg", UUID, "m"]),
        }
        for cmd, (short, missing, full) in cases.items():
            self.expect([cmd, *short], 2,
                        err=r"^streamreg: %s: missing %s \(see 'streamreg %s --help'\)$" %
                        (cmd, missing, cmd))
            self.expect([cmd, *full, "extra"], 2,
                        err=r"^streamreg: %s: unexpected argument 'extra'" % cmd)

    def test_unknown_option_and_missing_value(self):
        for cmd in MINE:
            self.expect([cmd, "reg", "--bogus"], 2,
                        err=r"^streamreg: %s: unknown option '--bogus'" % cmd)
            self.expect([cmd, "reg", "-Z"], 2, err=r"^streamreg: %s: unknown option '-Z'" % cmd)
        self.expect(["create", "reg", "--capacity"], 2,
                    err=r"^streamreg: create: option '--capacity' needs a value")
        self.expect(["add", "reg", UUID, "--output-dir"], 2,
                    err=r"option '--output-dir' needs a value")

    def test_bad_numbers_and_modes(self):
        for bad in ("0", "-1", "abc", "12x", "", " 5", "99999999999999999999", "16777217"):
            self.expect(["create", "reg", "--capacity", bad], 2,
                        err=r"^streamreg: create: --capacity must be a number from 1 to 16777216")
        self.expect(["create", "reg", "--max-procs", "4097"], 2, err=r"--max-procs must be")
        self.expect(["create", "reg", "--leases", "65537"], 2, err=r"--leases must be")
        for bad in ("999", "08", "rw", "-644", "1777", ""):
            self.expect(["create", "reg", "--mode", bad], 2, err=r"--mode must be octal")

    def test_bad_registry_names(self):
        for bad in ("a/b", "/lead", "", "dot.ted", "x" * 65, "sp ace"):
            for args in (["create", bad], ["destroy", bad], ["check", bad], ["ls", bad],
                         ["add", bad, UUID], ["del", bad, UUID], ["show", bad, UUID],
                         ["state", bad, UUID, "starting"], ["error", bad, UUID, "m"]):
                self.expect(args, 2, err=r"^streamreg: %s: (invalid registry name|registry name too long)" % args[0])
        self.assertFalse(ct.run("create", "a/b").out)

    def test_bad_uuids(self):
        for bad in ("not-a-uuid", UUID[:-1], UUID + "0", UUID.replace("-", ""),
                    "123e4567-e89b-12d3-a456-42661417400g"):
            for args in (["add", "reg", bad], ["del", "reg", bad], ["show", "reg", bad],
                         ["state", "reg", bad, "idle"], ["error", "reg", bad, "m"]):
                self.expect(args, 2,
                            err=r"^streamreg: %s: invalid channel UUID '%s'" % (args[0], ct.re.escape(bad)))

    def test_unknown_state(self):
        self.expect(["state", "reg", UUID, "running"], 2,
                    err=r"^streamreg: state: unknown state 'running' \(one of idle, starting")

    def test_error_message_bounds_are_usage_errors(self):
        self.expect(["error", "reg", UUID, ""], 2, err=r"empty MESSAGE")
        self.expect(["error", "reg", UUID, "m" * 256], 2,
                    err=r"MESSAGE too long: 256 bytes, at most 255")
        self.expect(["add", "reg", UUID, "--output-dir", "d" * 256], 2,
                    err=r"--output-dir too long: 256 bytes, at most 255")


if __name__ == "__main__":
    ct.main()
