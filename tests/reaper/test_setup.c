/*
 * streamreg-reaper refuses a setup that cannot work, at once and with the
 * reason (issue 11 items 3-7): a FIFO as lineup (at start and on SIGHUP,
 * without blocking), a stall timeout shorter than the segments, an output
 * directory the transcoders cannot write, a lineup larger than the registry,
 * a lavfi graph that reads files.  Real reaper processes; the transcoder is
 * the cheap stand-in where one runs at all.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e.h"

#define A "0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1a"

/* The reaper must exit by itself with status want and log msg. */
static void expect_exit(struct e2e *f, const char *const *extra, int want, const char *msg)
{
	int before = e2e_count_log(f, msg, NULL);
	e2e_start(f, extra);
	int st = e2e_wait_exit(f, 20000);
	if (st == -1) {
		kill(f->reaper, SIGKILL);
		waitpid(f->reaper, NULL, 0);
		f->reaper = 0;
		fail_msg("the reaper did not exit (blocked?) expecting \"%s\"; log %s", msg,
		         f->log);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != want || e2e_count_log(f, msg, NULL) != before + 1)
		fail_msg("status %d (want exit %d) or no \"%s\" in %s", st, want, msg, f->log);
}

static void lineup_of(struct e2e *f, size_t n)
{
	const char **ids = calloc(n, sizeof *ids);
	const char **inputs = calloc(n, sizeof *inputs);
	char(*idtext)[40] = calloc(n, sizeof *idtext);
	assert_true(ids && inputs && idtext);
	for (size_t i = 0; i < n; i++) {
		snprintf(idtext[i], sizeof idtext[i], "%08zx-0000-4000-8000-000000000000", i + 1);
		ids[i] = idtext[i];
		inputs[i] = "http://127.0.0.1:9/none.m3u8";
	}
	e2e_lineup(f, ids, inputs, n);
	free(ids);
	free(inputs);
	free(idtext);
}

/* Item 3: a FIFO at start is refused at once, not opened and waited on. */
static void test_fifo_at_start(void **state)
{
	struct e2e *f = *state;
	e2e_init(f, "fifo");
	assert_int_equal(mkfifo(f->lineup, 0600), 0);
	expect_exit(f, NULL, 1, "not a regular file");
}

/* Item 3: a FIFO put in place before SIGHUP: the old lineup is kept and the
 * loop keeps serving start requests (a blocking open would stall both). */
static void test_fifo_on_reload(void **state)
{
	struct e2e *f = *state;
	e2e_init(f, "fiforeload");
	const char *ids[] = {A};
	const char *inputs[] = {E2E_LAVFI};
	e2e_lineup(f, ids, inputs, 1);
	const char *extra[] = {"--ffmpeg", STUB_FFMPEG, NULL};
	e2e_start_ready(f, extra);
	assert_int_equal(unlink(f->lineup), 0);
	assert_int_equal(mkfifo(f->lineup, 0600), 0);
	assert_int_equal(kill(f->reaper, SIGHUP), 0);
	assert_int_equal(e2e_wait_log(f, "keeping the old one", "not a regular file", 10000), 0);
	assert_int_equal(e2e_transition(f, A, SR_STATE_IDLE, SR_STATE_STARTING), 0);
	assert_int_equal(e2e_wait_log(f, A, "ffmpeg spawned", 10000), 0);
}

/* Item 4: a stall timeout under two segment durations. */
static void test_stall_shorter_than_segments(void **state)
{
	struct e2e *f = *state;
	e2e_init(f, "stallopt");
	const char *ids[] = {A};
	const char *inputs[] = {E2E_LAVFI};
	e2e_lineup(f, ids, inputs, 1);
	const char *extra[] = {"--hls-time", "2", "--stall-timeout", "0.5", NULL};
	expect_exit(f, extra, 2, "--stall-timeout 0.5 s is shorter than two segment durations");
}

/* Item 5: output directories the transcoders cannot write, found at setup
 * by a probe running as their user. */
static void test_unwritable_output_dir(void **state)
{
	struct e2e *f = *state;
	e2e_init(f, "rodir");
	const char *ids[] = {A};
	const char *inputs[] = {E2E_LAVFI};
	e2e_lineup(f, ids, inputs, 1);
	const char *proc[] = {"--output-dir", "/proc", NULL};
	expect_exit(f, proc, 1, "cannot create files there");
	if (geteuid() != 0) {
		/* the root-owned 0555 case needs root to set up */
		return;
	}
	char ro[160];
	snprintf(ro, sizeof ro, "%s/ro", f->root);
	assert_int_equal(mkdir(ro, 0555), 0);
	assert_int_equal(chmod(f->root, 0755), 0);
	const char *nobody[] = {"--output-dir", ro, "--user", "nobody", NULL};
	expect_exit(f, nobody, 1, "(user nobody) cannot create files there: Permission denied");
	/* no registry was created by a setup that failed before it */
	sr_registry *reg;
	assert_int_equal(sr_registry_attach(f->name, SR_ATTACH_READONLY, &reg), -ENOENT);
}

/* Item 6: a lineup larger than the registry, with the numbers; a registry
 * the reaper creates is sized for the lineup. */
static void test_lineup_over_capacity(void **state)
{
	struct e2e *f = *state;
	e2e_init(f, "capacity");
	lineup_of(f, 100);
	/* e2e_start passes --capacity 64 */
	expect_exit(f, NULL, 1, "--capacity 64 is below the lineup's 100 channels");
	lineup_of(f, 10);
	sr_create_options opt;
	sr_create_options_init(&opt);
	opt.capacity = 8;
	sr_registry *reg;
	assert_int_equal(sr_registry_create(f->name, &opt, &reg), 0);
	sr_registry_close(reg);
	expect_exit(f, NULL, 1, "the lineup lists 10 channels but registry rpt_capacity_");
	assert_int_equal(e2e_count_log(f, "holds at most 8 sessions", NULL), 1);
	assert_int_equal(sr_registry_unlink(f->name), 0);

	/* no --capacity: created for the 1,100 channels */
	lineup_of(f, 1100);
	const char *argv[] = {REAPER_BIN, "--registry",   f->name, "--lineup",
	                      f->lineup,  "--output-dir", f->out,  "--create",
	                      "--ffmpeg", STUB_FFMPEG,    NULL};
	e2e_start_argv(f, argv);
	assert_int_equal(e2e_wait_log(f, "watching registry", NULL, 20000), 0);
	assert_int_equal(sr_registry_attach(f->name, SR_ATTACH_READONLY, &reg), 0);
	sr_registry_stats st;
	assert_int_equal(sr_registry_stats_get(reg, &st), 0);
	assert_true(st.capacity >= 1100);
	assert_int_equal(st.sessions, 1100);
	sr_registry_close(reg);
}

/* Item 7: lavfi:movie=/etc/passwd would make ffmpeg open the file. */
static void test_lavfi_reading_files(void **state)
{
	struct e2e *f = *state;
	e2e_init(f, "lavfimovie");
	const char *ids[] = {A};
	const char *inputs[] = {"lavfi:movie=/etc/passwd"};
	e2e_lineup(f, ids, inputs, 1);
	expect_exit(f, NULL, 1, "line 3: lavfi graph uses a filter that is not a generator");
	/* the operator's explicit choice lifts it */
	const char *any[] = {"--lavfi-any", "--ffmpeg", STUB_FFMPEG, NULL};
	e2e_start_ready(f, any);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest all[] = {
	    cmocka_unit_test_setup_teardown(test_fifo_at_start, e2e_fixture_setup,
	                                    e2e_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_fifo_on_reload, e2e_fixture_setup,
	                                    e2e_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_stall_shorter_than_segments, e2e_fixture_setup,
	                                    e2e_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_unwritable_output_dir, e2e_fixture_setup,
	                                    e2e_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_lineup_over_capacity, e2e_fixture_setup,
	                                    e2e_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_lavfi_reading_files, e2e_fixture_setup,
	                                    e2e_fixture_teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(all, NULL, NULL);
}
