/* Per-session and registry-wide counters: they only rise while the session
 * exists, timestamps follow the state changes, starts land in the latency
 * histogram; and a layout-1 segment is refused with a clear message. */
#include "support/srt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void move(sr_registry *reg, const uuid_t id, sr_state from, sr_state to)
{
	assert_int_equal(sr_session_transition(reg, id, from, to), 0);
}

static void test_transitions_counted(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	sr_session_info in;
	sr_registry_counters c0, c1;

	srt_uuid(id);
	assert_int_equal(sr_registry_counters_get(fx->reg, &c0), 0);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, id, &in), 0);
	for (int s = 0; s < SR_STATE_COUNT; s++)
		assert_true(in.transitions[s] == 0);
	assert_true(in.last_state_change_wall_ns > 0);
	assert_true(in.last_failure_wall_ns == 0 && in.start_latency_ns == 0);

	move(fx->reg, id, SR_STATE_IDLE, SR_STATE_STARTING);
	/* The start takes at least 120 ms: it cannot be in the 0.1 s bucket. */
	srt_sleep_ms(120);
	move(fx->reg, id, SR_STATE_STARTING, SR_STATE_ACTIVE);
	move(fx->reg, id, SR_STATE_ACTIVE, SR_STATE_FAILED);
	assert_int_equal(sr_session_set_state(fx->reg, id, SR_STATE_STARTING, NULL), 0);
	move(fx->reg, id, SR_STATE_STARTING, SR_STATE_FAILED);
	move(fx->reg, id, SR_STATE_FAILED, SR_STATE_STOPPING);
	move(fx->reg, id, SR_STATE_STOPPING, SR_STATE_IDLE);
	/* Refused and lost transitions count nothing. */
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_ACTIVE, SR_STATE_FAILED),
	                 -SR_ESTATE);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_IDLE, SR_STATE_ACTIVE),
	                 -SR_EBADTRANS);

	assert_int_equal(sr_session_snapshot(fx->reg, id, &in), 0);
	assert_true(in.transitions[SR_STATE_STARTING] == 2);
	assert_true(in.transitions[SR_STATE_ACTIVE] == 1);
	assert_true(in.transitions[SR_STATE_FAILED] == 2);
	assert_true(in.transitions[SR_STATE_STOPPING] == 1);
	assert_true(in.transitions[SR_STATE_IDLE] == 1);
	assert_true(in.last_failure_wall_ns > 0);
	assert_true(in.last_state_change_wall_ns >= in.last_failure_wall_ns);
	assert_true(in.started_wall_ns > 0 && in.started_wall_ns <= in.last_failure_wall_ns);
	assert_true(in.start_latency_ns >= 120000000ull);

	assert_int_equal(sr_registry_counters_get(fx->reg, &c1), 0);
	for (int s = 0; s < SR_STATE_COUNT; s++)
		assert_true(c1.transitions[s] - c0.transitions[s] == in.transitions[s]);
	assert_true(c1.start_latency_count == c0.start_latency_count + 1);
	assert_true(c1.start_latency_sum_ns - c0.start_latency_sum_ns == in.start_latency_ns);
	assert_true(c1.start_latency_bound_ms[0] == 100);
	assert_true(c1.start_latency_bound_ms[SR_LATENCY_BUCKETS - 1] == UINT64_MAX);
	assert_true(c1.start_latency_le[0] == c0.start_latency_le[0]);
	assert_true(c1.start_latency_le[SR_LATENCY_BUCKETS - 1] == c1.start_latency_count);
	for (int b = 1; b < SR_LATENCY_BUCKETS; b++)
		assert_true(c1.start_latency_le[b] >= c1.start_latency_le[b - 1]);
}

static void test_restarts_and_timeouts(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	sr_session_info in;
	sr_registry_counters c0, c1;

	srt_uuid(id);
	assert_int_equal(sr_registry_counters_get(fx->reg, &c0), 0);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	/* The gauge goes 1, 2, 3, back to 0, then 1: four restarts in all. */
	static const uint32_t run[] = {1, 2, 3, 0, 1};
	for (size_t i = 0; i < SRT_ARRAY_LEN(run); i++)
		assert_int_equal(sr_session_set_restarts(fx->reg, id, run[i]), 0);
	assert_int_equal(sr_session_count_start_timeout(fx->reg, id), 0);
	assert_int_equal(sr_session_count_start_timeout(fx->reg, id), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, id, &in), 0);
	assert_int_equal(in.restart_count, 1);
	assert_true(in.restarts_total == 4);
	assert_true(in.start_timeouts_total == 2);
	assert_int_equal(sr_registry_counters_get(fx->reg, &c1), 0);
	assert_true(c1.restarts == c0.restarts + 4);
	assert_true(c1.start_timeouts == c0.start_timeouts + 2);

	/* The JSON carries them. */
	char *json = NULL, out[64];
	assert_int_equal(sr_session_info_json(&in, &json), 0);
	assert_int_equal(srt_json_query(json, "d[\"restarts_total\"]", out, sizeof(out)), 0);
	assert_string_equal(out, "4");
	assert_int_equal(srt_json_query(json, "d[\"start_timeouts_total\"]", out, sizeof(out)), 0);
	assert_string_equal(out, "2");
	assert_int_equal(srt_json_query(json, "sorted(d[\"transitions\"])", out, sizeof(out)), 0);
	assert_string_equal(out, "[\"active\", \"failed\", \"idle\", \"starting\", \"stopping\"]");
	free(json);

	/* A new session under the same id starts from zero; the registry's stay. */
	assert_int_equal(sr_session_delete(fx->reg, id), 0);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, id, &in), 0);
	assert_true(in.restarts_total == 0 && in.start_timeouts_total == 0);
	assert_int_equal(sr_registry_counters_get(fx->reg, &c0), 0);
	assert_true(c0.restarts == c1.restarts && c0.start_timeouts == c1.start_timeouts);

	uuid_t missing;
	srt_uuid(missing);
	assert_int_equal(sr_session_count_start_timeout(fx->reg, missing), -ENOENT);
	assert_int_equal(sr_session_count_start_timeout(NULL, missing), -EINVAL);
	assert_int_equal(sr_registry_counters_get(fx->reg, NULL), -EINVAL);
}

/* What an operator scrapes passes promtool with the new families in it. */
static void test_prometheus_has_counters(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	move(fx->reg, id, SR_STATE_IDLE, SR_STATE_STARTING);
	move(fx->reg, id, SR_STATE_STARTING, SR_STATE_ACTIVE);
	assert_int_equal(sr_registry_claim_owner(fx->reg, "/var/tmp/out", NULL), 0);
	char *text = NULL;
	assert_int_equal(sr_registry_prometheus(fx->reg, &text), 0);
	static const char *const want[] = {
	    "streamreg_reaper_up 1\n",
	    "\nstreamreg_reaper_heartbeat_age_seconds ",
	    "streamreg_state_transitions_total{state=\"starting\"} 1\n",
	    "streamreg_start_latency_seconds_bucket{le=\"+Inf\"} 1\n",
	    "streamreg_start_latency_seconds_bucket{le=\"0.25\"} ",
	    "streamreg_start_latency_seconds_count 1\n",
	    "streamreg_processes_attached 1\n",
	    "# TYPE streamreg_channel_consecutive_failures gauge\n",
	    "streamreg_channel_last_start_timestamp_seconds{channel=",
	    "streamreg_channel_last_state_change_timestamp_seconds{channel=",
	};
	for (size_t i = 0; i < SRT_ARRAY_LEN(want); i++)
		if (!strstr(text, want[i]))
			fail_msg("metrics lack %s", want[i]);
	/* Never failed: no failure timestamp sample. */
	assert_null(strstr(text, "streamreg_channel_last_failure_timestamp_seconds{"));
	if (access("/usr/bin/promtool", X_OK) == 0)
		assert_int_equal(srt_pipe_to("promtool check metrics", text), 0);
	free(text);
	assert_int_equal(sr_registry_release_owner(fx->reg), 0);
	assert_int_equal(sr_registry_prometheus(fx->reg, &text), 0);
	assert_non_null(strstr(text, "streamreg_reaper_up 0\n"));
	assert_null(strstr(text, "\nstreamreg_reaper_heartbeat_age_seconds "));
	free(text);
}

/* A segment of layout 1 (before the owner record and counters) is refused. */
static void test_layout_v1_refused(void **state)
{
	struct srt_fx *fx = *state;
	char path[PATH_MAX];
	srt_shm_path(fx->name, path, sizeof(path));
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint32_t v1 = 1;
	/* The version word follows the 8-byte magic. */
	assert_int_equal(pwrite(fd, &v1, sizeof(v1), 8), (ssize_t)sizeof(v1));
	close(fd);
	sr_registry *h = NULL;
	assert_int_equal(sr_registry_attach(fx->name, 0, &h), -SR_EVERSION);
	assert_null(h);
	assert_non_null(strstr(sr_errdetail(), "layout version 1"));
	assert_non_null(strstr(sr_errdetail(), "create it again"));
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &h), -SR_EVERSION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_transitions_counted, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_restarts_and_timeouts, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_prometheus_has_counters, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_layout_v1_refused, srt_setup_small, srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
