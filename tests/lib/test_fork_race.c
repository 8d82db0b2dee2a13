/*
 * 50 processes race idle -> starting on one channel: exactly one wins, all
 * the others lose with -SR_ESTATE.  Repeated over several channels, half the
 * racers on a handle of their own and half on the inherited one.
 */
#include "support/srt.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define RACERS 50
#define ROUNDS 6

enum { WON = 0, LOST = 1, ATTACH_FAILED = 2, OTHER = 3 };

struct race_arg {
	sr_registry *inherited;
	struct srt_gate *gate;
	int *rcs; /* shared: each racer's return code */
	int idx;
	sr_state from, to;
	uuid_t id;
	char name[SR_NAME_MAX + 1];
};

static int racer(void *p)
{
	struct race_arg *a = p;
	sr_registry *reg = a->inherited;

	if (a->idx % 2 && sr_registry_attach(a->name, 0, &reg) != 0)
		return ATTACH_FAILED;
	srt_gate_wait(a->gate);
	int rc = sr_session_transition(reg, a->id, a->from, a->to);
	a->rcs[a->idx] = rc;
	return rc == 0 ? WON : rc == -SR_ESTATE ? LOST : OTHER;
}

static void race(struct srt_fx *fx, const uuid_t id, sr_state from, sr_state to)
{
	struct race_arg args[RACERS];
	pid_t pids[RACERS];
	struct srt_gate gate;
	int *rcs = srt_shared_alloc(sizeof(int) * RACERS);
	int count[4] = {0};

	assert_non_null(rcs);
	srt_gate_init(&gate);
	for (int i = 0; i < RACERS; i++) {
		args[i] = (struct race_arg){.inherited = fx->reg,
		                            .gate = &gate,
		                            .idx = i,
		                            .rcs = rcs,
		                            .from = from,
		                            .to = to};
		memcpy(args[i].name, fx->name, sizeof(args[i].name));
		memcpy(args[i].id, id, sizeof(uuid_t));
		pids[i] = srt_spawn(racer, &args[i]);
		assert_true(pids[i] > 0);
	}
	srt_gate_open(&gate);
	for (int i = 0; i < RACERS; i++) {
		int code = srt_wait(pids[i]);
		assert_in_range(code, WON, OTHER);
		count[code]++;
		if (code == OTHER)
			print_error("racer %d: %d (%s)\n", i, rcs[i], sr_strerror(rcs[i]));
	}
	assert_int_equal(count[ATTACH_FAILED], 0);
	assert_int_equal(count[OTHER], 0);
	assert_int_equal(count[WON], 1);
	assert_int_equal(count[LOST], RACERS - 1);
	sr_state s;
	assert_int_equal(sr_session_get_state(fx->reg, id, &s), 0);
	assert_int_equal(s, to);
	srt_shared_free(rcs, sizeof(int) * RACERS);
}

static void test_start_race_one_winner(void **state)
{
	struct srt_fx *fx = *state;

	for (int r = 0; r < ROUNDS; r++) {
		uuid_t id;
		srt_uuid(id);
		assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
		uint32_t seen = sr_registry_doorbell(fx->reg);
		race(fx, id, SR_STATE_IDLE, SR_STATE_STARTING);
		/* One win, one ring. */
		assert_int_equal(sr_registry_wait(fx->reg, &seen, 0), 1);
		assert_int_equal(sr_session_delete(fx->reg, id), 0);
	}
}

/* The same for a retry (failed -> starting) and a stop (active -> stopping). */
static void test_other_races(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_IDLE, SR_STATE_STARTING), 0);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_STARTING, SR_STATE_FAILED), 0);
	race(fx, id, SR_STATE_FAILED, SR_STATE_STARTING);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_STARTING, SR_STATE_ACTIVE), 0);
	race(fx, id, SR_STATE_ACTIVE, SR_STATE_STOPPING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_start_race_one_winner, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_other_races, srt_setup_small, srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
