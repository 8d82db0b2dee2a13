/* Read-only handles: every read works, every write is -EROFS and changes nothing. */
#include "support/srt.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ro_fx {
	struct srt_fx fx;
	sr_registry *ro;
	uuid_t id;
};

static int ro_setup(void **state)
{
	if (srt_setup_small(state) != 0)
		return -1;
	struct srt_fx *fx = *state;
	struct ro_fx *r = realloc(fx, sizeof(*r));
	if (!r)
		return -1;
	*state = r;
	r->ro = NULL;
	srt_uuid(r->id);
	if (sr_session_insert(r->fx.reg, r->id, "/srv/hls/ro") != 0)
		return -1;
	if (sr_session_record_error(r->fx.reg, r->id, "first") != 0)
		return -1;
	if (sr_session_add_client(r->fx.reg, r->id) != 0)
		return -1;
	return sr_registry_attach(r->fx.name, SR_ATTACH_READONLY, &r->ro);
}

static int ro_teardown(void **state)
{
	struct ro_fx *r = *state;

	if (r)
		sr_registry_close(r->ro);
	return srt_teardown(state);
}

static void test_readonly_flag(void **state)
{
	struct ro_fx *r = *state;

	assert_true(sr_registry_readonly(r->ro));
	assert_false(sr_registry_readonly(r->fx.reg));
}

static void test_reads_work(void **state)
{
	struct ro_fx *r = *state;
	sr_state s;
	uint32_t n;
	uint64_t ms;
	char buf[SR_ERROR_MAX + 1], out[SR_PATH_MAX + 1], seg[SR_PATH_MAX + 1];
	sr_session_info info;
	uuid_t ids[4];
	size_t count;
	sr_registry_stats st;
	char *json = NULL;

	assert_int_equal(sr_session_find(r->ro, r->id, NULL), 0);
	assert_int_equal(sr_session_get_state(r->ro, r->id, &s), 0);
	assert_int_equal(s, SR_STATE_IDLE);
	assert_int_equal(sr_session_get_clients(r->ro, r->id, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sr_session_idle_ms(r->ro, r->id, &ms), 0);
	assert_int_equal(sr_session_error_count(r->ro, r->id, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sr_session_last_error(r->ro, r->id, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "first");
	assert_int_equal(sr_session_get_paths(r->ro, r->id, out, seg), 0);
	assert_string_equal(out, "/srv/hls/ro");
	assert_int_equal(sr_session_snapshot(r->ro, r->id, &info), 0);
	assert_memory_equal(info.channel_id, r->id, sizeof(uuid_t));
	assert_int_equal(sr_session_list(r->ro, ids, 4, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(sr_registry_stats_get(r->ro, &st), 0);
	assert_int_equal(st.sessions, 1);
	assert_int_equal(sr_registry_verify(r->ro), 0);
	assert_int_equal(sr_session_should_cleanup(r->ro, r->id, 0), 0);
	assert_int_equal(sr_registry_json(r->ro, &json), 0);
	assert_true(srt_json_valid(json));
	free(json);
	json = NULL;
	assert_int_equal(sr_registry_prometheus(r->ro, &json), 0);
	assert_non_null(json);
	free(json);
	assert_int_equal(sr_registry_replaced(r->ro), 0);

	/* A read-only handle sees the writer's later updates. */
	assert_int_equal(sr_session_transition(r->fx.reg, r->id, SR_STATE_IDLE, SR_STATE_STARTING),
	                 0);
	assert_int_equal(sr_session_get_state(r->ro, r->id, &s), 0);
	assert_int_equal(s, SR_STATE_STARTING);
}

static void test_writes_refused(void **state)
{
	struct ro_fx *r = *state;
	sr_registry *ro = r->ro;
	uuid_t other;
	sr_quality q = {.level = "720p", .bitrate_kbps = 1};
	sr_session_info before, after;
	sr_state prev;

	srt_uuid(other);
	assert_int_equal(sr_session_snapshot(r->fx.reg, r->id, &before), 0);

	assert_int_equal(sr_session_insert(ro, other, NULL), -EROFS);
	assert_int_equal(sr_session_delete(ro, r->id), -EROFS);
	assert_int_equal(sr_session_touch(ro, r->id), -EROFS);
	assert_int_equal(sr_session_transition(ro, r->id, SR_STATE_IDLE, SR_STATE_STARTING),
	                 -EROFS);
	assert_int_equal(sr_session_set_state(ro, r->id, SR_STATE_STARTING, &prev), -EROFS);
	assert_int_equal(sr_session_add_client(ro, r->id), -EROFS);
	assert_int_equal(sr_session_remove_client(ro, r->id), -EROFS);
	assert_int_equal(sr_session_record_error(ro, r->id, "x"), -EROFS);
	assert_int_equal(sr_session_set_qualities(ro, r->id, &q, 1), -EROFS);
	assert_int_equal(sr_session_set_paths(ro, r->id, "/a", "/b"), -EROFS);
	assert_int_equal(sr_session_set_pid(ro, r->id, getpid(), 1), -EROFS);
	assert_int_equal(sr_session_set_restarts(ro, r->id, 9), -EROFS);
	assert_int_equal(sr_registry_recover(ro, NULL), -EROFS);

	assert_int_equal(sr_session_find(r->fx.reg, other, NULL), -ENOENT);
	assert_int_equal(sr_session_snapshot(r->fx.reg, r->id, &after), 0);
	assert_int_equal(after.state, before.state);
	assert_int_equal(after.clients, before.clients);
	assert_int_equal(after.error_count, before.error_count);
	assert_string_equal(after.last_error, before.last_error);
	assert_string_equal(after.output_dir, before.output_dir);
	assert_int_equal(after.n_qualities, before.n_qualities);
	assert_int_equal(after.pid, before.pid);
	assert_int_equal(after.restart_count, before.restart_count);
	assert_int_equal(after.generation, before.generation);
}

/* The calls added with session references and the owner record keep the
 * rule: writes are -EROFS (find_or_insert even for a present session),
 * reads by reference work. */
static void test_ref_and_owner_writes_refused(void **state)
{
	struct ro_fx *r = *state;
	sr_registry *ro = r->ro;
	uuid_t other;
	sr_session_ref ref;
	sr_state st;
	uint32_t n = 0;
	sr_session_info before, after;

	srt_uuid(other);
	assert_int_equal(sr_session_snapshot(r->fx.reg, r->id, &before), 0);
	assert_int_equal(sr_session_find_or_insert(ro, r->id, NULL, &ref), -EROFS);
	assert_int_equal(sr_session_find_or_insert(ro, other, NULL, &ref), -EROFS);
	assert_int_equal(sr_session_resolve(ro, r->id, &ref), 0);
	assert_int_equal(sr_ref_touch(ro, ref), -EROFS);
	assert_int_equal(sr_ref_transition(ro, ref, SR_STATE_IDLE, SR_STATE_STARTING, NULL),
	                 -EROFS);
	assert_int_equal(sr_ref_set_state(ro, ref, SR_STATE_STARTING, NULL), -EROFS);
	assert_int_equal(sr_ref_add_client(ro, ref), -EROFS);
	assert_int_equal(sr_ref_remove_client(ro, ref), -EROFS);
	assert_int_equal(sr_ref_wait_state(ro, ref, SR_STATE_IDLE, 0, NULL), -EROFS);
	assert_int_equal(sr_session_count_start_timeout(ro, r->id), -EROFS);
	assert_int_equal(sr_registry_claim_owner(ro, "ro", NULL), -EROFS);
	assert_int_equal(sr_registry_owner_heartbeat(ro), -EROFS);
	assert_int_equal(sr_registry_release_owner(ro), -EROFS);

	assert_int_equal(sr_ref_get_state(ro, ref, &st), 0);
	assert_int_equal(st, SR_STATE_IDLE);
	assert_int_equal(sr_ref_get_clients(ro, ref, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sr_session_find(r->fx.reg, other, NULL), -ENOENT);
	assert_int_equal(sr_session_snapshot(r->fx.reg, r->id, &after), 0);
	assert_int_equal(after.state, before.state);
	assert_int_equal(after.clients, before.clients);
	assert_int_equal(after.start_timeouts_total, before.start_timeouts_total);
	assert_int_equal(after.last_access_mono_ns, before.last_access_mono_ns);
}

static void test_readonly_does_not_release_leases(void **state)
{
	struct ro_fx *r = *state;
	uint32_t n;

	sr_registry_close(r->ro);
	r->ro = NULL;
	assert_int_equal(sr_session_get_clients(r->fx.reg, r->id, &n), 0);
	assert_int_equal(n, 1);
}

/* The brief's owner check: a segment of another uid needs SR_ATTACH_ANY_OWNER. */
static void test_owner_check(void **state)
{
	struct ro_fx *r = *state;
	char path[PATH_MAX];
	sr_registry *h = NULL;

	if (geteuid() != 0)
		skip();
	srt_shm_path(r->fx.name, path, sizeof(path));
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(sr_registry_attach(r->fx.name, 0, &h), -SR_EOWNER);
	assert_int_equal(sr_registry_attach(r->fx.name, SR_ATTACH_ANY_OWNER, &h), 0);
	assert_int_equal(sr_session_find(h, r->id, NULL), 0);
	sr_registry_close(h);
	h = NULL;
	assert_int_equal(sr_registry_attach(r->fx.name, SR_ATTACH_READONLY, &h), 0);
	assert_int_equal(sr_session_find(h, r->id, NULL), 0);
	sr_registry_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_readonly_flag, ro_setup, ro_teardown),
	    cmocka_unit_test_setup_teardown(test_reads_work, ro_setup, ro_teardown),
	    cmocka_unit_test_setup_teardown(test_writes_refused, ro_setup, ro_teardown),
	    cmocka_unit_test_setup_teardown(test_ref_and_owner_writes_refused, ro_setup,
	                                    ro_teardown),
	    cmocka_unit_test_setup_teardown(test_readonly_does_not_release_leases, ro_setup,
	                                    ro_teardown),
	    cmocka_unit_test_setup_teardown(test_owner_check, ro_setup, ro_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
