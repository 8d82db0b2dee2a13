/* The owner record: one holder at a time, a dead one (SIGKILLed, zombie)
 * taken over at once, and exactly one winner among racing claimers. */
#include "support/srt.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_claim_heartbeat_release(void **state)
{
	struct srt_fx *fx = *state;
	sr_owner_info o;

	assert_int_equal(sr_registry_get_owner(fx->reg, &o), -ENOENT);
	assert_int_equal(sr_registry_owner_heartbeat(fx->reg), -SR_ENOTOWNER);
	assert_int_equal(sr_registry_release_owner(fx->reg), -SR_ENOTOWNER);
	assert_int_equal(sr_registry_claim_owner(fx->reg, "/var/tmp/out1", NULL), 0);
	assert_int_equal(sr_registry_get_owner(fx->reg, &o), 0);
	assert_int_equal(o.pid, getpid());
	assert_true(o.alive);
	assert_string_equal(o.info, "/var/tmp/out1");
	assert_true(o.start_time == sr_pid_start_time(getpid()));
	assert_true(o.claimed_wall_ns > 0 && o.heartbeat_wall_ns >= o.claimed_wall_ns);
	assert_int_equal(sr_registry_owner_heartbeat(fx->reg), 0);

	/* The owner counts among attached processes. */
	sr_registry_stats st;
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_int_equal(st.procs_attached, 1);

	/* A second claim by the holder replaces the info. */
	assert_int_equal(sr_registry_claim_owner(fx->reg, "/var/tmp/out2", NULL), 0);
	assert_int_equal(sr_registry_get_owner(fx->reg, &o), 0);
	assert_string_equal(o.info, "/var/tmp/out2");

	/* Read-only handles see it and cannot claim. */
	sr_registry *ro = NULL;
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &ro), 0);
	memset(&o, 0, sizeof(o));
	assert_int_equal(sr_registry_get_owner(ro, &o), 0);
	assert_int_equal(o.pid, getpid());
	assert_int_equal(sr_registry_claim_owner(ro, "x", NULL), -EROFS);
	assert_int_equal(sr_registry_owner_heartbeat(ro), -EROFS);

	assert_int_equal(sr_registry_release_owner(fx->reg), 0);
	assert_int_equal(sr_registry_get_owner(ro, &o), -ENOENT);
	assert_int_equal(sr_registry_owner_heartbeat(fx->reg), -SR_ENOTOWNER);
	sr_registry_close(ro);

	char longinfo[SR_OWNER_INFO_MAX + 2];
	memset(longinfo, 'a', sizeof(longinfo) - 1);
	longinfo[sizeof(longinfo) - 1] = '\0';
	assert_int_equal(sr_registry_claim_owner(fx->reg, longinfo, NULL), -ENAMETOOLONG);
	longinfo[SR_OWNER_INFO_MAX] = '\0';
	assert_int_equal(sr_registry_claim_owner(fx->reg, longinfo, NULL), 0);
	assert_int_equal(sr_registry_get_owner(fx->reg, &o), 0);
	assert_int_equal(strlen(o.info), SR_OWNER_INFO_MAX);
	assert_int_equal(sr_registry_get_owner(NULL, &o), -EINVAL);
	assert_int_equal(sr_registry_get_owner(fx->reg, NULL), -EINVAL);
	assert_int_equal(sr_registry_claim_owner(NULL, "x", NULL), -EINVAL);
}

/* Closing the handle that claimed releases the record; a forked child that
 * closes its inherited copy does not release its parent's. */
static int close_inherited(void *arg)
{
	sr_registry_close(arg);
	return 0;
}

static void test_close_releases_only_own(void **state)
{
	struct srt_fx *fx = *state;
	sr_owner_info o;

	assert_int_equal(sr_registry_claim_owner(fx->reg, "parent", NULL), 0);
	pid_t child = srt_spawn(close_inherited, fx->reg);
	assert_int_equal(srt_wait(child), 0);
	assert_int_equal(sr_registry_get_owner(fx->reg, &o), 0);
	assert_int_equal(o.pid, getpid());
	assert_true(o.alive);

	sr_registry *h = NULL;
	assert_int_equal(sr_registry_attach(fx->name, 0, &h), 0);
	assert_int_equal(sr_registry_release_owner(fx->reg), 0);
	assert_int_equal(sr_registry_claim_owner(h, "second handle", NULL), 0);
	sr_registry_close(h);
	assert_int_equal(sr_registry_get_owner(fx->reg, &o), -ENOENT);
}

struct holder_arg {
	sr_registry *reg;
	int ready[2];
	int release[2];
	const char *info;
};

/* Claims, reports, then holds until the parent closes the release pipe. */
static int hold_owner(void *p)
{
	struct holder_arg *a = p;
	close(a->ready[0]);
	close(a->release[1]);
	char c = sr_registry_claim_owner(a->reg, a->info, NULL) == 0 ? 'y' : 'n';
	if (srt_write_full(a->ready[1], &c, 1) != 0)
		return 2;
	if (c != 'y')
		return 3;
	(void)srt_read_full(a->release[0], &c, 1);
	return 0;
}

static pid_t start_holder(struct srt_fx *fx, struct holder_arg *a, const char *info)
{
	a->reg = fx->reg;
	a->info = info;
	assert_int_equal(pipe(a->ready), 0);
	assert_int_equal(pipe(a->release), 0);
	pid_t pid = srt_spawn(hold_owner, a);
	close(a->ready[1]);
	close(a->release[0]);
	char c = 0;
	assert_int_equal(srt_read_full(a->ready[0], &c, 1), 0);
	assert_int_equal(c, 'y');
	close(a->ready[0]);
	return pid;
}

static void test_live_holder_then_sigkill(void **state)
{
	struct srt_fx *fx = *state;
	struct holder_arg a;
	pid_t pid = start_holder(fx, &a, "/var/tmp/out1");
	sr_owner_info o;
	memset(&o, 0, sizeof(o));

	assert_int_equal(sr_registry_claim_owner(fx->reg, "/var/tmp/out1b", &o), -EBUSY);
	assert_int_equal(o.pid, pid);
	assert_true(o.alive);
	assert_string_equal(o.info, "/var/tmp/out1");
	assert_true(o.start_time == sr_pid_start_time(pid));
	assert_non_null(strstr(sr_errdetail(), "/var/tmp/out1"));
	/* Not the holder: neither heartbeat nor release touches its record. */
	assert_int_equal(sr_registry_owner_heartbeat(fx->reg), -SR_ENOTOWNER);
	assert_int_equal(sr_registry_release_owner(fx->reg), -SR_ENOTOWNER);

	sr_registry_counters c0, c1;
	assert_int_equal(sr_registry_counters_get(fx->reg, &c0), 0);
	kill(pid, SIGKILL);
	assert_int_equal(srt_wait(pid), 128 + SIGKILL);
	close(a.release[1]);
	/* Dead holder: the record still names it, and the next claim takes it over. */
	assert_int_equal(sr_registry_get_owner(fx->reg, &o), 0);
	assert_int_equal(o.pid, pid);
	assert_false(o.alive);
	assert_int_equal(sr_registry_claim_owner(fx->reg, "/var/tmp/out1b", NULL), 0);
	assert_int_equal(sr_registry_get_owner(fx->reg, &o), 0);
	assert_int_equal(o.pid, getpid());
	assert_string_equal(o.info, "/var/tmp/out1b");
	assert_int_equal(sr_registry_counters_get(fx->reg, &c1), 0);
	assert_int_equal(c1.owner_takeovers, c0.owner_takeovers + 1);
}

static int claim_and_exit(void *arg)
{
	return sr_registry_claim_owner(arg, "zombie", NULL) == 0 ? 0 : 1;
}

static void test_zombie_holder_is_dead(void **state)
{
	struct srt_fx *fx = *state;
	pid_t pid = srt_spawn(claim_and_exit, fx->reg);
	/* Wait for the exit but leave the child a zombie. */
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(si.si_status, 0);
	sr_owner_info o;
	assert_int_equal(sr_registry_get_owner(fx->reg, &o), 0);
	assert_int_equal(o.pid, pid);
	assert_false(o.alive);
	assert_int_equal(sr_registry_claim_owner(fx->reg, "after zombie", NULL), 0);
	assert_int_equal(srt_wait(pid), 0);
}

#define RACERS 20

struct race {
	_Atomic int done;
	int rc[RACERS];
	pid_t holder[RACERS];
};

struct racer_arg {
	sr_registry *reg;
	struct race *race;
	struct srt_gate *gate;
	int release[2];
	int idx;
};

static int racer(void *p)
{
	struct racer_arg *a = p;
	close(a->release[1]);
	srt_gate_wait(a->gate);
	char info[32];
	snprintf(info, sizeof(info), "racer %d", a->idx);
	sr_owner_info o;
	memset(&o, 0, sizeof(o));
	a->race->rc[a->idx] = sr_registry_claim_owner(a->reg, info, &o);
	a->race->holder[a->idx] = a->race->rc[a->idx] == 0 ? getpid() : o.pid;
	atomic_fetch_add(&a->race->done, 1);
	char c;
	(void)srt_read_full(a->release[0], &c, 1); /* stay alive while the others claim */
	return 0;
}

static void test_twenty_racers_one_winner(void **state)
{
	struct srt_fx *fx = *state;
	struct race *race = srt_shared_alloc(sizeof(*race));
	struct srt_gate gate;
	int release[2];
	pid_t pids[RACERS];
	srt_gate_init(&gate);
	assert_int_equal(pipe(release), 0);
	for (int i = 0; i < RACERS; i++) {
		struct racer_arg a = {fx->reg, race, &gate, {release[0], release[1]}, i};
		pids[i] = srt_spawn(racer, &a);
	}
	srt_gate_open(&gate);
	/* Bounded only against a hang: the racers finish in milliseconds. */
	for (int t = 0; t < 60000 && atomic_load(&race->done) < RACERS; t++)
		srt_sleep_ms(1);
	assert_int_equal(atomic_load(&race->done), RACERS);
	int winners = 0, winner = -1;
	for (int i = 0; i < RACERS; i++) {
		if (race->rc[i] == 0) {
			winners++;
			winner = i;
		} else {
			assert_int_equal(race->rc[i], -EBUSY);
		}
	}
	assert_int_equal(winners, 1);
	for (int i = 0; i < RACERS; i++)
		assert_int_equal(race->holder[i], pids[winner]);
	sr_owner_info o;
	assert_int_equal(sr_registry_get_owner(fx->reg, &o), 0);
	assert_int_equal(o.pid, pids[winner]);
	char want[32];
	snprintf(want, sizeof(want), "racer %d", winner);
	assert_string_equal(o.info, want);
	/* The winner dies: the parent takes over at once. */
	kill(pids[winner], SIGKILL);
	assert_int_equal(srt_wait(pids[winner]), 128 + SIGKILL);
	assert_int_equal(sr_registry_claim_owner(fx->reg, "parent", NULL), 0);
	close(release[1]);
	close(release[0]);
	for (int i = 0; i < RACERS; i++)
		if (i != winner)
			assert_int_equal(srt_wait(pids[i]), 0);
	srt_shared_free(race, sizeof(*race));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_claim_heartbeat_release, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_close_releases_only_own, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_live_holder_then_sigkill, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_zombie_holder_is_dead, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_twenty_racers_one_winner, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
