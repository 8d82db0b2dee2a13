/*
 * One reaper per registry (issue 11 item 1), with real reaper processes: a
 * second reaper on the same registry exits 1 naming the first one's pid and
 * output directory and touches nothing; after kill -9 of the owner a new
 * reaper takes over at once (the time is printed); 20 reapers started
 * together leave exactly one serving, and one transcoder per channel.  The
 * transcoder is the cheap stand-in (exec sleep).
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

#define A     "0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1a"
#define B     "9f8e7d6c-5b4a-4321-8fed-cba987654321"
#define C     "5a5a5a5a-1111-4222-8333-444444444444"
#define CROWD 20

static const char *const stub[] = {"--ffmpeg", STUB_FFMPEG, NULL};

static void three_channels(struct e2e *f, const char *tag)
{
	e2e_init(f, tag);
	const char *ids[] = {A, B, C};
	const char *inputs[] = {E2E_LAVFI, E2E_LAVFI, E2E_LAVFI};
	e2e_lineup(f, ids, inputs, 3);
}

static pid_t owner_pid(const char *name)
{
	sr_registry *reg;
	if (sr_registry_attach(name, SR_ATTACH_READONLY, &reg) != 0)
		return 0;
	sr_owner_info o;
	pid_t pid = sr_registry_get_owner(reg, &o) == 0 && o.alive ? o.pid : 0;
	sr_registry_close(reg);
	return pid;
}

/* A second reaper, on another output directory, is refused and breaks
 * nothing: the first one's transcoder lives on. */
static void test_second_refused(void **state)
{
	struct e2e *f = *state;
	three_channels(f, "own2");
	e2e_start_ready(f, stub);
	assert_int_equal(e2e_transition(f, A, SR_STATE_IDLE, SR_STATE_STARTING), 0);
	assert_int_equal(e2e_wait_log(f, A, "ffmpeg spawned", 10000), 0);
	sr_session_info s;
	e2e_snapshot(f, A, &s);
	assert_true(s.pid > 0);

	struct e2e g;
	e2e_init(&g, "own2b");
	snprintf(g.name, sizeof g.name, "%s", f->name);
	snprintf(g.lineup, sizeof g.lineup, "%s", f->lineup);
	e2e_start(&g, stub);
	int st = e2e_wait_exit(&g, 20000);
	assert_true(st != -1);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	char want[64];
	snprintf(want, sizeof want, "pid %ld, output directory", (long)f->reaper);
	assert_int_equal(e2e_count_log(&g, "already served by another reaper", want), 1);
	assert_int_equal(e2e_count_log(&g, "already served by another reaper", "/out "), 1);
	assert_int_equal(e2e_count_log(&g, "orphan", NULL), 0);
	assert_int_equal(e2e_count_log(&g, "ffmpeg spawned", NULL), 0);
	/* the first reaper's transcoder and record are untouched */
	assert_true(e2e_alive(s.pid, s.pid_start));
	sr_session_info now;
	e2e_snapshot(f, A, &now);
	assert_int_equal(now.pid, s.pid);
	assert_int_equal(owner_pid(f->name), f->reaper);
	g.name[0] = '\0'; /* the registry is f's to remove */
	assert_int_equal(e2e_cleanup(&g), 0);
}

/* kill -9 of the owner: the next reaper takes the record over at once. */
static void test_takeover_after_kill9(void **state)
{
	struct e2e *f = *state;
	three_channels(f, "own9");
	e2e_start_ready(f, stub);
	pid_t old = f->reaper;
	assert_int_equal(owner_pid(f->name), old);
	assert_int_equal(kill(old, SIGKILL), 0);
	assert_int_equal(waitpid(old, NULL, 0), old);
	f->reaper = 0;
	uint64_t t0 = e2e_now_us();
	e2e_start(f, stub);
	uint64_t t_owner = 0;
	uint64_t end = t0 + 20000000u;
	while (e2e_now_us() < end) {
		if (!t_owner && owner_pid(f->name) == f->reaper)
			t_owner = e2e_now_us();
		if (t_owner && e2e_count_log(f, "watching registry", NULL) == 2)
			break;
		e2e_sleep_ms(2);
	}
	uint64_t t_serving = e2e_now_us();
	assert_true(t_owner != 0);
	assert_int_equal(e2e_count_log(f, "watching registry", NULL), 2);
	printf("FIGURE owner takeover after kill -9: new reaper owns the registry %.1f ms after "
	       "its exec, serves (watching) %.1f ms after (bound 1000 ms)\n",
	       (double)(t_owner - t0) / 1000.0, (double)(t_serving - t0) / 1000.0);
	/* it serves: a start request gets a transcoder */
	assert_int_equal(e2e_transition(f, A, SR_STATE_IDLE, SR_STATE_STARTING), 0);
	assert_int_equal(e2e_wait_log(f, A, "ffmpeg spawned", 10000), 0);
	assert_int_equal(e2e_children(f->reaper), 1);
}

static struct e2e crowd[CROWD];

/* Whatever an assertion left running is stopped; the registry is f's. */
static int crowd_teardown(void **state)
{
	for (int i = 0; i < CROWD; i++) {
		if (crowd[i].root[0] == '\0')
			continue;
		crowd[i].name[0] = '\0';
		(void)e2e_cleanup(&crowd[i]);
	}
	memset(crowd, 0, sizeof crowd);
	return e2e_fixture_teardown(state);
}

/* 20 reapers at once, each on its own directory: one serves, 19 exit 1;
 * one transcoder per requested channel. */
static void test_twenty_at_once(void **state)
{
	struct e2e *f = *state;
	three_channels(f, "own20");
	for (int i = 0; i < CROWD; i++) {
		char tag[16];
		snprintf(tag, sizeof tag, "own20_%d", i);
		e2e_init(&crowd[i], tag);
		snprintf(crowd[i].name, sizeof crowd[i].name, "%s", f->name);
		snprintf(crowd[i].lineup, sizeof crowd[i].lineup, "%s", f->lineup);
	}
	for (int i = 0; i < CROWD; i++)
		e2e_start(&crowd[i], stub);
	int exited = 0, serving = -1;
	uint64_t end = e2e_now_us() + 60000000u;
	while (e2e_now_us() < end && exited < CROWD - 1) {
		exited = 0;
		for (int i = 0; i < CROWD; i++) {
			if (crowd[i].reaper > 0) {
				int st = e2e_wait_exit(&crowd[i], 0);
				if (st != -1) {
					assert_true(WIFEXITED(st));
					assert_int_equal(WEXITSTATUS(st), 1);
					assert_int_equal(
					    e2e_count_log(&crowd[i], "already served", NULL), 1);
				}
			}
			exited += crowd[i].reaper == 0;
		}
		e2e_sleep_ms(10);
	}
	assert_int_equal(exited, CROWD - 1);
	for (int i = 0; i < CROWD; i++)
		if (crowd[i].reaper > 0)
			serving = i;
	assert_true(serving >= 0);
	struct e2e *s = &crowd[serving];
	assert_int_equal(owner_pid(f->name), s->reaper);
	assert_int_equal(e2e_wait_log(s, "watching registry", NULL, 20000), 0);
	assert_int_equal(sr_registry_attach(f->name, 0, &s->reg), 0);
	const char *ids[] = {A, B, C};
	for (int k = 0; k < 3; k++)
		assert_int_equal(e2e_transition(s, ids[k], SR_STATE_IDLE, SR_STATE_STARTING), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(e2e_wait_log(s, ids[k], "ffmpeg spawned", 10000), 0);
	int spawned = 0;
	for (int i = 0; i < CROWD; i++)
		spawned += e2e_count_log(&crowd[i], "ffmpeg spawned", NULL);
	assert_int_equal(spawned, 3);
	assert_int_equal(e2e_children(s->reaper), 3);
	printf("FIGURE %d reapers started together: 1 serving (pid %ld), %d refused\n", CROWD,
	       (long)s->reaper, exited);
	/* the serving one must still stop cleanly (exit 0) */
	crowd[serving].name[0] = '\0';
	assert_int_equal(e2e_cleanup(&crowd[serving]), 0);
	crowd[serving].root[0] = '\0';
}

int main(int argc, char **argv)
{
	const struct CMUnitTest all[] = {
	    cmocka_unit_test_setup_teardown(test_second_refused, e2e_fixture_setup,
	                                    e2e_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_takeover_after_kill9, e2e_fixture_setup,
	                                    e2e_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_twenty_at_once, e2e_fixture_setup, crowd_teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(all, NULL, NULL);
}
