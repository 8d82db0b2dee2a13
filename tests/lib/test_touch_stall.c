/*
 * The last access never goes back, even when a toucher stalls.
 *
 * A touch loads the last access, reads the clock, then stores.  A process
 * stalled after its clock read (preempted, SIGSTOPped, frozen by its
 * cgroup) resumes with an old time in hand; if another process touched the
 * session meanwhile, a store that overwrote the newer time would make the
 * session look idle for as long as the stall lasted, and a reaper could stop
 * a channel that was just accessed.
 *
 * The child runs with the stall_clock shim, which stops it right after each
 * clock read and hands it the pre-stop time.  While it is stopped, the parent
 * waits past a clock tick, touches every session, notes the values, lets the
 * child finish its touch, and checks that none went back.  With a plain
 * store instead of the compare-and-swap, every round goes back.
 */
#include "support/srt.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SESSIONS 8
#define ROUNDS   30
#define TAG      0x57a1

static int toucher(const char *name)
{
	sr_registry *reg = NULL;
	if (sr_registry_attach(name, 0, &reg) < 0)
		return 1;
	setenv("SRT_STALL", "1", 1);
	for (uint32_t i = 0;; i = (i + 1) % SESSIONS) {
		/* Past a tick since anyone touched it: this touch must store. */
		usleep(6000);
		uuid_t id;
		srt_uuid_n(id, TAG, i);
		if (sr_session_touch(reg, id) < 0)
			return 2;
	}
}

static void read_all(sr_registry *reg, uint64_t *la)
{
	for (uint32_t i = 0; i < SESSIONS; i++) {
		uuid_t id;
		sr_session_info info;
		srt_uuid_n(id, TAG, i);
		assert_int_equal(sr_session_snapshot(reg, id, &info), 0);
		la[i] = info.last_access_mono_ns;
	}
}

/* Until the child stops again (inside its next touch); false if it ended. */
static bool until_stopped(pid_t pid)
{
	int st = 0;
	return waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st);
}

static void test_stalled_toucher_never_moves_last_access_back(void **state)
{
	struct srt_fx *fx = *state;
	for (uint32_t i = 0; i < SESSIONS; i++) {
		uuid_t id;
		srt_uuid_n(id, TAG, i);
		assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("LD_PRELOAD", SRT_STALL_CLOCK, 1);
		execl("/proc/self/exe", "test_touch_stall", "toucher", fx->name, (char *)NULL);
		_exit(127);
	}
	unsigned back = 0, rounds = 0;
	uint64_t worst = 0, before[SESSIONS], after[SESSIONS];
	for (; rounds < ROUNDS && until_stopped(pid); rounds++) {
		srt_sleep_ms(9);
		for (uint32_t i = 0; i < SESSIONS; i++) {
			uuid_t id;
			srt_uuid_n(id, TAG, i);
			assert_int_equal(sr_session_touch(fx->reg, id), 0);
		}
		read_all(fx->reg, before);
		assert_int_equal(kill(pid, SIGCONT), 0);
		if (!until_stopped(pid))
			break;
		read_all(fx->reg, after);
		for (uint32_t i = 0; i < SESSIONS; i++) {
			if (after[i] < before[i]) {
				back++;
				if (before[i] - after[i] > worst)
					worst = before[i] - after[i];
			}
		}
		assert_int_equal(kill(pid, SIGCONT), 0);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	print_message("%u stalls of a toucher: the last access went back %u times (at most "
	              "%.1f ms)\n",
	              rounds, back, (double)worst / 1e6);
	assert_int_equal(rounds, ROUNDS);
	assert_int_equal(back, 0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "toucher") == 0)
		return toucher(argv[2]);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stalled_toucher_never_moves_last_access_back,
	                                    srt_setup_default, srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
