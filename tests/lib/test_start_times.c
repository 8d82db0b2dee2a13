/*
 * Start times are written only by the move that lands in `active`: a refused
 * move changes nothing a reader can see, and of racing starting -> active
 * moves the winner's start time is the one kept.
 */
#include "support/srt.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REFUSERS      2
#define REFUSED_CALLS 100000

struct refuse_arg {
	char name[SR_NAME_MAX + 1];
	uuid_t id;
	struct srt_gate *gate;
};

/* Every call must be refused: the session is active already. */
static int refuser(void *p)
{
	struct refuse_arg *a = p;
	sr_registry *reg = NULL;
	if (sr_registry_attach(a->name, 0, &reg) != 0)
		return 10;
	srt_gate_wait(a->gate);
	for (int i = 0; i < REFUSED_CALLS; i++) {
		sr_state prev;
		if (sr_session_set_state(reg, a->id, SR_STATE_ACTIVE, &prev) != -SR_EBADTRANS)
			return 11;
		if (i % 4 == 0 && sr_session_transition(reg, a->id, SR_STATE_STARTING,
		                                        SR_STATE_ACTIVE) != -SR_ESTATE)
			return 12;
	}
	sr_registry_close(reg);
	return 0;
}

static void test_refused_moves_change_nothing(void **state)
{
	struct srt_fx *fx = *state;
	struct refuse_arg a;
	memcpy(a.name, fx->name, sizeof(a.name));
	srt_uuid(a.id);
	srt_insert_active(fx->reg, a.id);
	sr_session_info first;
	assert_int_equal(sr_session_snapshot(fx->reg, a.id, &first), 0);
	assert_true(first.started_mono_ns > 0 && first.started_wall_ns > 0);

	struct srt_gate gate;
	srt_gate_init(&gate);
	a.gate = &gate;
	pid_t pids[REFUSERS];
	fflush(NULL);
	for (int i = 0; i < REFUSERS; i++)
		pids[i] = srt_spawn(refuser, &a);
	srt_gate_open(&gate);
	/* Read while they run, until both are done (bounded by their work). */
	uint64_t reads = 0, changed = 0;
	int codes[REFUSERS];
	while (!srt_all_exited(pids, codes, REFUSERS)) {
		sr_session_info info;
		assert_int_equal(sr_session_snapshot(fx->reg, a.id, &info), 0);
		reads++;
		changed += info.started_mono_ns != first.started_mono_ns ||
		           info.started_wall_ns != first.started_wall_ns;
	}
	for (int i = 0; i < REFUSERS; i++)
		assert_int_equal(codes[i], 0);
	print_message("%llu snapshots during %d refused moves, %llu with another start time\n",
	              (unsigned long long)reads, REFUSERS * REFUSED_CALLS,
	              (unsigned long long)changed);
	assert_int_equal(changed, 0);
	sr_session_info last;
	assert_int_equal(sr_session_snapshot(fx->reg, a.id, &last), 0);
	assert_int_equal(last.state, SR_STATE_ACTIVE);
	assert_int_equal(last.started_mono_ns, first.started_mono_ns);
	assert_int_equal(last.started_wall_ns, first.started_wall_ns);
}

/* ---- Racing into active -------------------------------------------------
 * Two processes call set_state(ACTIVE) without pause: most calls are refused
 * (the session is active, stopping or idle), and each time the parent puts
 * the session back to starting they race, one wins.  The start time kept
 * must come from inside the winning call. */

#define RACERS 2
#define ROUNDS 100

struct race_round {
	_Atomic int winner;              /* racer index + 1 */
	int64_t before_wall, after_wall; /* CLOCK_REALTIME ns around the winning call */
	_Atomic int reported;
};

struct race_shared {
	_Atomic int round;
	_Atomic int stop;
	_Atomic int fail; /* first bad return code seen by a racer, or 0 */
	_Atomic uint64_t calls;
	struct race_round r[ROUNDS + 1];
};

struct race_arg {
	char name[SR_NAME_MAX + 1];
	uuid_t id;
	int idx;
	struct race_shared *sh;
};

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int racer(void *p)
{
	struct race_arg *a = p;
	struct race_shared *sh = a->sh;
	sr_registry *reg = NULL;
	if (sr_registry_attach(a->name, 0, &reg) != 0)
		return 10;
	uint64_t calls = 0;
	while (!atomic_load(&sh->stop)) {
		int64_t before = wall_ns();
		int rc = sr_session_set_state(reg, a->id, SR_STATE_ACTIVE, NULL);
		int64_t after = wall_ns();
		calls++;
		/* Refused, or (a loaded machine) the lock held by a preempted
		 * racer for too long: nothing changed either way. */
		if (rc == -SR_EBADTRANS || rc == -ETIMEDOUT)
			continue;
		if (rc != 0) {
			atomic_store(&sh->fail, rc);
			break;
		}
		/* Read after winning: the parent moves to the next round only once
		 * it has seen this one's winner. */
		int r = atomic_load(&sh->round);
		int none = 0;
		if (r < 1 || r > ROUNDS ||
		    !atomic_compare_exchange_strong(&sh->r[r].winner, &none, a->idx + 1)) {
			atomic_store(&sh->fail, 1000 + r);
			break;
		}
		sh->r[r].before_wall = before;
		sh->r[r].after_wall = after;
		atomic_store(&sh->r[r].reported, 1);
	}
	atomic_fetch_add(&sh->calls, calls);
	sr_registry_close(reg);
	return 0;
}

static void test_race_keeps_winner_time(void **state)
{
	struct srt_fx *fx = *state;
	struct race_shared *sh = srt_shared_alloc(sizeof(*sh));
	struct race_arg args[RACERS];
	uuid_t id;
	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	pid_t pids[RACERS];
	fflush(NULL);
	for (int i = 0; i < RACERS; i++) {
		memcpy(args[i].name, fx->name, sizeof(args[i].name));
		memcpy(args[i].id, id, sizeof(uuid_t));
		args[i].idx = i;
		args[i].sh = sh;
		pids[i] = srt_spawn(racer, &args[i]);
	}
	int wrong = 0, first_wrong = -1;
	for (int r = 1; r <= ROUNDS && !atomic_load(&sh->fail); r++) {
		atomic_store(&sh->round, r);
		sr_state st;
		assert_int_equal(sr_session_get_state(fx->reg, id, &st), 0);
		if (st == SR_STATE_ACTIVE)
			assert_int_equal(sr_session_set_state(fx->reg, id, SR_STATE_STOPPING, NULL),
			                 0);
		if (st != SR_STATE_IDLE)
			assert_int_equal(sr_session_set_state(fx->reg, id, SR_STATE_IDLE, NULL), 0);
		assert_int_equal(sr_session_set_state(fx->reg, id, SR_STATE_STARTING, NULL), 0);
		while (!atomic_load(&sh->r[r].reported) && !atomic_load(&sh->fail))
			sched_yield();
		if (atomic_load(&sh->fail))
			break;
		sr_session_info info;
		assert_int_equal(sr_session_snapshot(fx->reg, id, &info), 0);
		assert_int_equal(info.state, SR_STATE_ACTIVE);
		/* The kept start time was taken inside the winner's call. */
		const struct race_round *w = &sh->r[r];
		if (info.started_wall_ns < w->before_wall || info.started_wall_ns > w->after_wall) {
			wrong++;
			if (first_wrong < 0)
				first_wrong = r;
		}
	}
	atomic_store(&sh->stop, 1);
	for (int i = 0; i < RACERS; i++)
		assert_int_equal(srt_wait(pids[i]), 0);
	print_message("%d rounds, %llu set_state(active) calls, %d kept a start time from "
	              "outside the winner's call (first in round %d)\n",
	              ROUNDS, (unsigned long long)atomic_load(&sh->calls), wrong, first_wrong);
	assert_int_equal(atomic_load(&sh->fail), 0);
	assert_int_equal(wrong, 0);
	srt_shared_free(sh, sizeof(*sh));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_refused_moves_change_nothing, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_race_keeps_winner_time, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
