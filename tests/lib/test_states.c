/* The session state machine: names, parsing, the 5x5 table, CAS transitions. */
#include "support/srt.h"

#include <errno.h>
#include <string.h>

/* The table, written out independently of the library's. */
static const bool allowed[SR_STATE_COUNT][SR_STATE_COUNT] = {
    [SR_STATE_IDLE] = {[SR_STATE_STARTING] = true},
    [SR_STATE_STARTING] =
        {[SR_STATE_ACTIVE] = true, [SR_STATE_FAILED] = true, [SR_STATE_STOPPING] = true},
    [SR_STATE_ACTIVE] = {[SR_STATE_STOPPING] = true, [SR_STATE_FAILED] = true},
    [SR_STATE_STOPPING] = {[SR_STATE_IDLE] = true, [SR_STATE_FAILED] = true},
    [SR_STATE_FAILED] =
        {[SR_STATE_STARTING] = true, [SR_STATE_STOPPING] = true, [SR_STATE_IDLE] = true},
};

static const char *const names[SR_STATE_COUNT] = {"idle", "starting", "active", "stopping",
                                                  "failed"};

/* A path from idle to each state, through allowed transitions only. */
static void drive_to(sr_registry *reg, const uuid_t id, sr_state target)
{
	static const sr_state path[SR_STATE_COUNT][3] = {
	    [SR_STATE_IDLE] = {SR_STATE_IDLE},
	    [SR_STATE_STARTING] = {SR_STATE_STARTING},
	    [SR_STATE_ACTIVE] = {SR_STATE_STARTING, SR_STATE_ACTIVE},
	    [SR_STATE_STOPPING] = {SR_STATE_STARTING, SR_STATE_STOPPING},
	    [SR_STATE_FAILED] = {SR_STATE_STARTING, SR_STATE_FAILED},
	};
	static const int len[SR_STATE_COUNT] = {0, 1, 2, 2, 2};
	sr_state cur = SR_STATE_IDLE;

	for (int i = 0; i < len[target]; i++) {
		assert_int_equal(sr_session_transition(reg, id, cur, path[target][i]), 0);
		cur = path[target][i];
	}
	sr_state s;
	assert_int_equal(sr_session_get_state(reg, id, &s), 0);
	assert_int_equal(s, target);
}

static void test_state_names(void **state)
{
	(void)state;
	for (int s = 0; s < SR_STATE_COUNT; s++)
		assert_string_equal(sr_state_name((sr_state)s), names[s]);
	assert_string_equal(sr_state_name(SR_STATE_COUNT), "invalid");
	assert_string_equal(sr_state_name((sr_state)-1), "invalid");
	assert_string_equal(sr_state_name((sr_state)1000), "invalid");
}

static void test_state_parse(void **state)
{
	sr_state out;

	(void)state;
	for (int s = 0; s < SR_STATE_COUNT; s++) {
		out = SR_STATE_COUNT;
		assert_int_equal(sr_state_parse(names[s], &out), 0);
		assert_int_equal(out, s);
	}
	assert_int_equal(sr_state_parse("ACTIVE", &out), 0);
	assert_int_equal(out, SR_STATE_ACTIVE);
	assert_int_equal(sr_state_parse("Stopping", &out), 0);
	assert_int_equal(out, SR_STATE_STOPPING);

	static const char *const bad[] = {"",       "invalid", "activ", "active ",  " idle",
	                                  "idle\n", "idling",  "0",     "startingx"};
	for (size_t i = 0; i < SRT_ARRAY_LEN(bad); i++) {
		out = SR_STATE_FAILED;
		if (sr_state_parse(bad[i], &out) != -EINVAL)
			fail_msg("sr_state_parse(\"%s\") accepted", bad[i]);
	}
	assert_int_equal(sr_state_parse(NULL, &out), -EINVAL);
	assert_int_equal(sr_state_parse("idle", NULL), -EINVAL);
}

static void test_can_transition_table(void **state)
{
	(void)state;
	int n_allowed = 0;
	for (int f = 0; f < SR_STATE_COUNT; f++) {
		for (int t = 0; t < SR_STATE_COUNT; t++) {
			bool got = sr_can_transition((sr_state)f, (sr_state)t);
			if (got != allowed[f][t])
				fail_msg("sr_can_transition(%s, %s) = %d, want %d", names[f],
				         names[t], got, allowed[f][t]);
			n_allowed += got;
		}
	}
	assert_int_equal(n_allowed, 11);
	for (int s = 0; s < SR_STATE_COUNT; s++) {
		assert_false(sr_can_transition((sr_state)s, SR_STATE_COUNT));
		assert_false(sr_can_transition(SR_STATE_COUNT, (sr_state)s));
		assert_false(sr_can_transition((sr_state)-1, (sr_state)s));
		assert_false(sr_can_transition((sr_state)s, (sr_state)77));
	}
}

/* Every (from, to) pair through sr_session_transition on a real record. */
static void test_transition_every_pair(void **state)
{
	struct srt_fx *fx = *state;

	for (int f = 0; f < SR_STATE_COUNT; f++) {
		for (int t = 0; t < SR_STATE_COUNT; t++) {
			uuid_t id;
			sr_state s;
			srt_uuid(id);
			assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
			drive_to(fx->reg, id, (sr_state)f);
			int rc = sr_session_transition(fx->reg, id, (sr_state)f, (sr_state)t);
			int want = allowed[f][t] ? 0 : -SR_EBADTRANS;
			if (rc != want)
				fail_msg("transition %s->%s = %d (%s), want %d", names[f], names[t],
				         rc, sr_strerror(rc), want);
			assert_int_equal(sr_session_get_state(fx->reg, id, &s), 0);
			assert_int_equal(s, allowed[f][t] ? t : f);
			assert_int_equal(sr_session_delete(fx->reg, id), 0);
		}
	}
}

/* A `from` that is not the current state loses the CAS, whatever the table says. */
static void test_transition_wrong_from(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	sr_state s;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	/* failed->starting is allowed, but the session is idle. */
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_FAILED, SR_STATE_STARTING),
	                 -SR_ESTATE);
	assert_int_equal(sr_session_get_state(fx->reg, id, &s), 0);
	assert_int_equal(s, SR_STATE_IDLE);

	drive_to(fx->reg, id, SR_STATE_ACTIVE);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_IDLE, SR_STATE_STARTING),
	                 -SR_ESTATE);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_STARTING, SR_STATE_ACTIVE),
	                 -SR_ESTATE);
	assert_int_equal(sr_session_get_state(fx->reg, id, &s), 0);
	assert_int_equal(s, SR_STATE_ACTIVE);

	/* The same transition twice: the second caller lost. */
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_ACTIVE, SR_STATE_STOPPING), 0);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_ACTIVE, SR_STATE_STOPPING),
	                 -SR_ESTATE);
}

static void test_transition_invalid_states(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	sr_state s;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	int rc = sr_session_transition(fx->reg, id, SR_STATE_IDLE, SR_STATE_COUNT);
	assert_true(rc == -EINVAL || rc == -SR_EBADTRANS);
	rc = sr_session_transition(fx->reg, id, (sr_state)-1, SR_STATE_STARTING);
	assert_true(rc == -EINVAL || rc == -SR_EBADTRANS);
	rc = sr_session_set_state(fx->reg, id, (sr_state)9, NULL);
	assert_true(rc == -EINVAL || rc == -SR_EBADTRANS);
	assert_int_equal(sr_session_get_state(fx->reg, id, &s), 0);
	assert_int_equal(s, SR_STATE_IDLE);
}

static void test_set_state_every_pair(void **state)
{
	struct srt_fx *fx = *state;

	for (int f = 0; f < SR_STATE_COUNT; f++) {
		for (int t = 0; t < SR_STATE_COUNT; t++) {
			uuid_t id;
			sr_state s, prev = SR_STATE_COUNT;
			srt_uuid(id);
			assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
			drive_to(fx->reg, id, (sr_state)f);
			int rc = sr_session_set_state(fx->reg, id, (sr_state)t, &prev);
			if (allowed[f][t]) {
				if (rc != 0)
					fail_msg("set_state %s->%s = %d", names[f], names[t], rc);
				assert_int_equal(prev, f);
			} else if (rc != -SR_EBADTRANS) {
				fail_msg("set_state %s->%s = %d, want -SR_EBADTRANS", names[f],
				         names[t], rc);
			}
			assert_int_equal(sr_session_get_state(fx->reg, id, &s), 0);
			assert_int_equal(s, allowed[f][t] ? t : f);
			assert_int_equal(sr_session_set_state(fx->reg, id, s, NULL),
			                 allowed[s][s] ? 0 : -SR_EBADTRANS);
			assert_int_equal(sr_session_delete(fx->reg, id), 0);
		}
	}
}

static void test_started_time_on_active(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	sr_session_info info;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	drive_to(fx->reg, id, SR_STATE_STARTING);
	assert_int_equal(sr_session_snapshot(fx->reg, id, &info), 0);
	assert_int_equal(info.started_mono_ns, 0);
	assert_int_equal(info.started_wall_ns, 0);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_STARTING, SR_STATE_ACTIVE), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, id, &info), 0);
	assert_int_equal(info.state, SR_STATE_ACTIVE);
	assert_true(info.started_mono_ns > 0);
	assert_true(info.started_mono_ns >= info.created_mono_ns);
	assert_true(info.started_mono_ns <= sr_now_mono_ns());
	assert_true(info.started_wall_ns >= info.created_wall_ns);
}

/* A full lifecycle with a retry, the way the reaper drives it. */
static void test_retry_cycle(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	sr_state s;
	static const sr_state cycle[] = {SR_STATE_STARTING, SR_STATE_FAILED,   SR_STATE_STARTING,
	                                 SR_STATE_ACTIVE,   SR_STATE_FAILED,   SR_STATE_STOPPING,
	                                 SR_STATE_IDLE,     SR_STATE_STARTING, SR_STATE_STOPPING,
	                                 SR_STATE_FAILED,   SR_STATE_IDLE};

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	sr_state cur = SR_STATE_IDLE;
	for (size_t i = 0; i < SRT_ARRAY_LEN(cycle); i++) {
		assert_int_equal(sr_session_transition(fx->reg, id, cur, cycle[i]), 0);
		cur = cycle[i];
		assert_int_equal(sr_session_get_state(fx->reg, id, &s), 0);
		assert_int_equal(s, cur);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state_names),
	    cmocka_unit_test(test_state_parse),
	    cmocka_unit_test(test_can_transition_table),
	    cmocka_unit_test_setup_teardown(test_transition_every_pair, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_transition_wrong_from, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_transition_invalid_states, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_set_state_every_pair, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_started_time_on_active, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_retry_cycle, srt_setup_small, srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
