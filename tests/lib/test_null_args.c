/* Every public function refuses NULL where it needs a pointer, with -EINVAL. */
#include "support/srt.h"

#include <errno.h>
#include <string.h>

#define EXPECT_EINVAL(call)                                                                        \
	do {                                                                                       \
		int rc_ = (call);                                                                  \
		if (rc_ != -EINVAL)                                                                \
			fail_msg("%s = %d (%s), want -EINVAL", #call, rc_, sr_strerror(rc_));      \
	} while (0)

static void test_null_registry(void **state)
{
	uuid_t id;
	uint32_t u32;
	uint64_t u64;
	sr_state s;
	char buf[SR_PATH_MAX + 1];
	sr_quality q;
	size_t n;
	pid_t pid;
	sr_session_info info;
	sr_registry_stats st;
	sr_recovery_report rep;
	char *json;
	uuid_t ids[1];

	(void)state;
	srt_uuid(id);
	EXPECT_EINVAL(sr_session_insert(NULL, id, NULL));
	EXPECT_EINVAL(sr_session_delete(NULL, id));
	EXPECT_EINVAL(sr_session_find(NULL, id, &u32));
	EXPECT_EINVAL(sr_session_touch(NULL, id));
	EXPECT_EINVAL(sr_session_get_state(NULL, id, &s));
	EXPECT_EINVAL(sr_session_transition(NULL, id, SR_STATE_IDLE, SR_STATE_STARTING));
	EXPECT_EINVAL(sr_session_set_state(NULL, id, SR_STATE_STARTING, NULL));
	EXPECT_EINVAL(sr_session_add_client(NULL, id));
	EXPECT_EINVAL(sr_session_remove_client(NULL, id));
	EXPECT_EINVAL(sr_session_get_clients(NULL, id, &u32));
	EXPECT_EINVAL(sr_session_idle_ms(NULL, id, &u64));
	EXPECT_EINVAL(sr_session_should_cleanup(NULL, id, 0));
	EXPECT_EINVAL(sr_session_record_error(NULL, id, "x"));
	EXPECT_EINVAL(sr_session_error_count(NULL, id, &u32));
	EXPECT_EINVAL(sr_session_last_error(NULL, id, buf, sizeof(buf)));
	EXPECT_EINVAL(sr_session_set_qualities(NULL, id, &q, 0));
	EXPECT_EINVAL(sr_session_get_qualities(NULL, id, &q, 1, &n));
	EXPECT_EINVAL(sr_session_set_paths(NULL, id, "/a", "/b"));
	EXPECT_EINVAL(sr_session_get_paths(NULL, id, buf, NULL));
	EXPECT_EINVAL(sr_session_set_pid(NULL, id, 1, 1));
	EXPECT_EINVAL(sr_session_get_pid(NULL, id, &pid, NULL));
	EXPECT_EINVAL(sr_session_set_restarts(NULL, id, 1));
	EXPECT_EINVAL(sr_session_snapshot(NULL, id, &info));
	EXPECT_EINVAL(sr_session_list(NULL, ids, 1, &n));
	EXPECT_EINVAL(sr_session_foreach(NULL, NULL, NULL));
	EXPECT_EINVAL(sr_registry_stats_get(NULL, &st));
	EXPECT_EINVAL(sr_registry_recover(NULL, &rep));
	EXPECT_EINVAL(sr_registry_verify(NULL));
	EXPECT_EINVAL(sr_registry_replaced(NULL));
	EXPECT_EINVAL(sr_registry_json(NULL, &json));
	EXPECT_EINVAL(sr_registry_prometheus(NULL, &json));
	uint32_t seen = 0;
	EXPECT_EINVAL(sr_registry_wait(NULL, &seen, 0));
	assert_false(sr_registry_readonly(NULL));
	(void)sr_registry_doorbell(NULL);
}

static int count_cb(const sr_session_info *info, void *ctx)
{
	(void)info;
	(*(int *)ctx)++;
	return 0;
}

static void test_null_pointers(void **state)
{
	struct srt_fx *fx = *state;
	sr_registry *reg = fx->reg;
	uuid_t id;
	size_t n;
	sr_quality q;
	sr_state s;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(reg, id, NULL), 0);

	EXPECT_EINVAL(sr_registry_create(fx->name, NULL, NULL));
	EXPECT_EINVAL(sr_registry_attach(fx->name, 0, NULL));
	EXPECT_EINVAL(sr_registry_stats_get(reg, NULL));
	EXPECT_EINVAL(sr_session_insert(reg, NULL, NULL));
	EXPECT_EINVAL(sr_session_delete(reg, NULL));
	EXPECT_EINVAL(sr_session_find(reg, NULL, NULL));
	EXPECT_EINVAL(sr_session_touch(reg, NULL));
	EXPECT_EINVAL(sr_session_get_state(reg, NULL, &s));
	EXPECT_EINVAL(sr_session_get_state(reg, id, NULL));
	EXPECT_EINVAL(sr_session_transition(reg, NULL, SR_STATE_IDLE, SR_STATE_STARTING));
	EXPECT_EINVAL(sr_session_set_state(reg, NULL, SR_STATE_STARTING, NULL));
	EXPECT_EINVAL(sr_session_add_client(reg, NULL));
	EXPECT_EINVAL(sr_session_remove_client(reg, NULL));
	EXPECT_EINVAL(sr_session_get_clients(reg, id, NULL));
	EXPECT_EINVAL(sr_session_idle_ms(reg, id, NULL));
	EXPECT_EINVAL(sr_session_should_cleanup(reg, NULL, 0));
	EXPECT_EINVAL(sr_session_record_error(reg, id, NULL));
	EXPECT_EINVAL(sr_session_error_count(reg, id, NULL));
	EXPECT_EINVAL(sr_session_last_error(reg, id, NULL, 5));
	EXPECT_EINVAL(sr_session_get_qualities(reg, id, &q, 1, NULL));
	EXPECT_EINVAL(sr_session_get_qualities(reg, id, NULL, 1, &n));
	EXPECT_EINVAL(sr_session_set_qualities(reg, NULL, &q, 0));
	EXPECT_EINVAL(sr_session_set_paths(reg, NULL, "/a", NULL));
	EXPECT_EINVAL(sr_session_set_pid(reg, NULL, 1, 1));
	EXPECT_EINVAL(sr_session_set_restarts(reg, NULL, 1));
	EXPECT_EINVAL(sr_session_snapshot(reg, id, NULL));
	EXPECT_EINVAL(sr_session_snapshot(reg, NULL, NULL));
	EXPECT_EINVAL(sr_session_list(reg, NULL, 0, NULL));
	EXPECT_EINVAL(sr_session_list(reg, NULL, 3, &n));
	EXPECT_EINVAL(sr_session_foreach(reg, NULL, NULL));
	EXPECT_EINVAL(sr_session_info_json(NULL, NULL));
	EXPECT_EINVAL(sr_registry_json(reg, NULL));
	EXPECT_EINVAL(sr_registry_prometheus(reg, NULL));
	EXPECT_EINVAL(sr_registry_wait(reg, NULL, 0));
	EXPECT_EINVAL(sr_uuid_parse(NULL, id));
	EXPECT_EINVAL(sr_uuid_parse("00000000-0000-0000-0000-000000000000", NULL));

	sr_session_info info;
	char *json;
	assert_int_equal(sr_session_snapshot(reg, id, &info), 0);
	EXPECT_EINVAL(sr_session_info_json(&info, NULL));
	EXPECT_EINVAL(sr_session_info_json(NULL, &json));

	/* Nothing above changed the registry. */
	int calls = 0;
	assert_int_equal(sr_session_foreach(reg, count_cb, &calls), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(sr_registry_verify(reg), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_null_registry),
	    cmocka_unit_test_setup_teardown(test_null_pointers, srt_setup_small, srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
