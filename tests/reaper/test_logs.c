/*
 * What the reaper's log says (issue 11 item 10): the argv line quotes what a
 * shell would need (a URL with a space is one argument), latency_us only on
 * doorbell starts, failure and restart counts that agree (--max-restarts 3:
 * "restart 1 of 3" in both lines), "new" only for sessions new to the
 * registry, and a leftover symlink called a symlink.
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
#include <unistd.h>

#include <cmocka.h>

#include "e2e.h"

#define A    "0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1a"
#define B    "9f8e7d6c-5b4a-4321-8fed-cba987654321"
#define LEFT "5a5a5a5a-1111-4222-8333-444444444444"

static void test_log_lines(void **state)
{
	struct e2e *f = *state;
	e2e_init(f, "logs");
	const char *ids[] = {A, B};
	const char *inputs[] = {"http://127.0.0.1:9/a b.m3u8", E2E_LAVFI};
	e2e_lineup(f, ids, inputs, 2);
	/* A's session exists before the reaper: it is not "new" */
	sr_create_options opt;
	sr_create_options_init(&opt);
	opt.capacity = 64;
	sr_registry *reg;
	assert_int_equal(sr_registry_create(f->name, &opt, &reg), 0);
	uuid_t ua;
	assert_int_equal(sr_uuid_parse(A, ua), 0);
	assert_int_equal(sr_session_insert(reg, ua, NULL), 0);
	sr_registry_close(reg);
	/* a leftover symlink named like a channel, pointing at a directory */
	assert_int_equal(mkdir(f->out, 0755), 0);
	char link[256];
	snprintf(link, sizeof link, "%s/%s", f->out, LEFT);
	assert_int_equal(symlink(f->root, link), 0);

	const char *extra[] = {"--ffmpeg",
	                       "/bin/false",
	                       "--max-restarts",
	                       "3",
	                       "--backoff-min",
	                       "0.05",
	                       "--backoff-max",
	                       "0.1",
	                       NULL};
	e2e_start_ready(f, extra);
	assert_int_equal(e2e_count_log(f, "sessions: 1 new, 1 already in the registry", NULL), 1);
	assert_int_equal(e2e_count_log(f, "2 new", NULL), 0);
	assert_int_equal(e2e_count_log(f, "leftover symlink (not followed) removed", LEFT), 1);
	assert_int_equal(e2e_count_log(f, "leftover directory", NULL), 0);
	struct stat st;
	assert_int_equal(lstat(link, &st), -1);
	assert_int_equal(stat(f->root, &st), 0); /* the target is untouched */

	/* a viewer on A: /bin/false fails at once, the reaper restarts it */
	assert_int_equal(sr_session_add_client(f->reg, ua), 0);
	assert_int_equal(e2e_transition(f, A, SR_STATE_IDLE, SR_STATE_STARTING), 0);
	assert_int_equal(e2e_wait_log(f, A, "4 consecutive failures", 20000), 0);
	for (int k = 1; k <= 3; k++) {
		char a[64], b[64];
		snprintf(a, sizeof a, "failure %d: restart %d of 3", k, k);
		snprintf(b, sizeof b, "restart %d of 3 after backoff", k);
		assert_int_equal(e2e_count_log(f, A, a), 1);
		assert_int_equal(e2e_count_log(f, A, b), 1);
	}
	assert_int_equal(e2e_count_log(f, "of 4", NULL), 0);
	/* the first start came from the doorbell, the three restarts did not */
	assert_int_equal(e2e_count_log(f, "ffmpeg spawned on doorbell latency_us=", A), 1);
	assert_int_equal(e2e_count_log(f, "ffmpeg spawned (prepare", A), 3);
	assert_int_equal(e2e_count_log(f, "latency_us=0", NULL), 0);
	/* the URL with a space is one quoted argument */
	assert_int_equal(e2e_count_log(f, "argv: /bin/false ", "'http://127.0.0.1:9/a b.m3u8'"), 4);
	assert_int_equal(sr_session_remove_client(f->reg, ua), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest all[] = {
	    cmocka_unit_test_setup_teardown(test_log_lines, e2e_fixture_setup,
	                                    e2e_fixture_teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(all, NULL, NULL);
}
