/* Insert, find, delete, list and foreach; a full table; slot reuse. */
#include "support/srt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void test_insert_find_delete(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t a, b;
	uint32_t gen_a = 0, gen_b = 0;
	sr_state s;

	srt_uuid(a);
	srt_uuid(b);
	assert_int_equal(sr_session_find(fx->reg, a, NULL), -ENOENT);
	assert_int_equal(sr_session_insert(fx->reg, a, NULL), 0);
	assert_int_equal(sr_session_insert(fx->reg, b, "/srv/b"), 0);
	assert_int_equal(sr_session_insert(fx->reg, a, NULL), -EEXIST);
	assert_int_equal(sr_session_find(fx->reg, a, &gen_a), 0);
	assert_int_equal(sr_session_find(fx->reg, b, &gen_b), 0);
	assert_int_equal(sr_session_find(fx->reg, a, NULL), 0);
	assert_int_equal(sr_session_get_state(fx->reg, a, &s), 0);
	assert_int_equal(s, SR_STATE_IDLE);

	assert_int_equal(sr_session_delete(fx->reg, a), 0);
	assert_int_equal(sr_session_delete(fx->reg, a), -ENOENT);
	assert_int_equal(sr_session_find(fx->reg, a, NULL), -ENOENT);
	assert_int_equal(sr_session_find(fx->reg, b, NULL), 0);
	assert_int_equal(sr_registry_verify(fx->reg), 0);
}

static void test_insert_fresh_record(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t a;
	sr_session_info info;
	uint64_t before = sr_now_mono_ns();

	srt_uuid(a);
	assert_int_equal(sr_session_insert(fx->reg, a, "/srv/hls/a"), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, a, &info), 0);
	assert_memory_equal(info.channel_id, a, sizeof(uuid_t));
	assert_int_equal(info.state, SR_STATE_IDLE);
	assert_int_equal(info.clients, 0);
	assert_int_equal(info.error_count, 0);
	assert_string_equal(info.last_error, "");
	assert_string_equal(info.output_dir, "/srv/hls/a");
	assert_string_equal(info.segment_path, "");
	assert_int_equal(info.pid, 0);
	assert_int_equal(info.restart_count, 0);
	assert_int_equal(info.n_qualities, 0);
	assert_int_equal(info.started_mono_ns, 0);
	assert_true(info.slot < 4);
	/* Coarse clock: allow one tick (a few ms) of skew. */
	assert_true(info.created_mono_ns + 20000000ULL >= before);
	assert_true(info.created_mono_ns <= sr_now_mono_ns());
	assert_true(info.created_wall_ns > 0);
}

static void test_overlong_output_dir_refused(void **state)
{
	struct srt_fx *fx = *state;
	char dir[SR_PATH_MAX + 2];
	uuid_t a;
	sr_registry_stats st;

	srt_uuid(a);
	memset(dir, 'd', SR_PATH_MAX + 1);
	dir[SR_PATH_MAX + 1] = '\0';
	assert_int_equal(sr_session_insert(fx->reg, a, dir), -ENAMETOOLONG);
	assert_int_equal(sr_session_find(fx->reg, a, NULL), -ENOENT);
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_int_equal(st.sessions, 0);

	/* Exactly SR_PATH_MAX characters is the limit, not one less. */
	dir[SR_PATH_MAX] = '\0';
	assert_int_equal(sr_session_insert(fx->reg, a, dir), 0);
	char out[SR_PATH_MAX + 1];
	assert_int_equal(sr_session_get_paths(fx->reg, a, out, NULL), 0);
	assert_string_equal(out, dir);
}

static void test_table_full(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t ids[5];
	char cap[16];

	for (int i = 0; i < 5; i++)
		srt_uuid(ids[i]);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sr_session_insert(fx->reg, ids[i], NULL), 0);
	assert_int_equal(sr_session_insert(fx->reg, ids[4], NULL), -SR_EFULL);
	/* The detail names the capacity to raise. */
	snprintf(cap, sizeof(cap), "%d", 4);
	const char *detail = sr_errdetail();
	assert_non_null(strstr(detail, "capacity"));
	assert_non_null(strstr(detail, cap));
	assert_int_equal(sr_session_find(fx->reg, ids[4], NULL), -ENOENT);
	/* A duplicate in a full table is still "exists", not "full". */
	assert_int_equal(sr_session_insert(fx->reg, ids[0], NULL), -EEXIST);

	assert_int_equal(sr_session_delete(fx->reg, ids[2]), 0);
	assert_int_equal(sr_session_insert(fx->reg, ids[4], NULL), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sr_session_find(fx->reg, ids[i], NULL), i == 2 ? -ENOENT : 0);
	assert_int_equal(sr_registry_verify(fx->reg), 0);
}

/* errdetail is never NULL and is replaced by the next failure's detail. */
static void test_errdetail_follows_failures(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t a;

	assert_non_null(sr_errdetail());
	srt_uuid(a);
	assert_int_equal(sr_session_insert(fx->reg, a, NULL), 0);
	assert_int_equal(sr_session_insert(fx->reg, a, NULL), -EEXIST);
	char first[512];
	snprintf(first, sizeof(first), "%s", sr_errdetail());
	assert_int_equal(sr_session_delete(fx->reg, a), 0);
	/* A success leaves the last failure's detail alone. */
	assert_string_equal(sr_errdetail(), first);
	assert_int_equal(sr_session_remove_client(fx->reg, a), -ENOENT);
	assert_non_null(sr_errdetail());
}

static void test_slot_reuse_new_generation(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t a;
	uint32_t g1, g2, n;
	sr_session_info info;

	srt_uuid(a);
	assert_int_equal(sr_session_insert(fx->reg, a, NULL), 0);
	assert_int_equal(sr_session_find(fx->reg, a, &g1), 0);
	assert_int_equal(sr_session_add_client(fx->reg, a), 0);
	assert_int_equal(sr_session_add_client(fx->reg, a), 0);
	assert_int_equal(sr_session_record_error(fx->reg, a, "old"), 0);
	assert_int_equal(sr_session_delete(fx->reg, a), 0);

	/* The same channel comes back as a new record: nothing of the old one. */
	assert_int_equal(sr_session_insert(fx->reg, a, NULL), 0);
	assert_int_equal(sr_session_find(fx->reg, a, &g2), 0);
	assert_int_not_equal(g1, g2);
	assert_int_equal(sr_session_get_clients(fx->reg, a, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sr_session_snapshot(fx->reg, a, &info), 0);
	assert_int_equal(info.error_count, 0);
	assert_string_equal(info.last_error, "");
	assert_int_equal(info.generation, g2);
	/* The stale leases on the old generation give this process nothing to remove. */
	assert_int_equal(sr_session_remove_client(fx->reg, a), -SR_ENOCLIENT);
	assert_int_equal(sr_session_add_client(fx->reg, a), 0);
	assert_int_equal(sr_session_get_clients(fx->reg, a, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sr_registry_verify(fx->reg), 0);
}

/* Many insert/delete cycles must not fill an open-addressed index with tombstones. */
static void test_churn_keeps_index_sound(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t keep[3], tmp;
	sr_registry_stats st;

	for (int i = 0; i < 3; i++) {
		srt_uuid(keep[i]);
		assert_int_equal(sr_session_insert(fx->reg, keep[i], NULL), 0);
	}
	for (int i = 0; i < 20000; i++) {
		srt_uuid(tmp);
		int rc = sr_session_insert(fx->reg, tmp, NULL);
		if (rc != 0)
			fail_msg("churn insert %d: %d (%s) %s", i, rc, sr_strerror(rc),
			         sr_errdetail());
		assert_int_equal(sr_session_find(fx->reg, tmp, NULL), 0);
		assert_int_equal(sr_session_delete(fx->reg, tmp), 0);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(sr_session_find(fx->reg, keep[i], NULL), 0);
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_int_equal(st.sessions, 3);
	assert_int_equal(sr_registry_verify(fx->reg), 0);
}

/* Uuids differing in one byte must not collide (a hash of only part of the key). */
static void test_similar_uuids(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t ids[4];

	for (int i = 0; i < 4; i++) {
		memset(ids[i], 0x11, sizeof(uuid_t));
		ids[i][15 - (size_t)i * 5] ^= 0x01;
		assert_int_equal(sr_session_insert(fx->reg, ids[i], NULL), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(sr_session_find(fx->reg, ids[i], NULL), 0);
	assert_int_equal(sr_session_delete(fx->reg, ids[1]), 0);
	assert_int_equal(sr_session_find(fx->reg, ids[0], NULL), 0);
	assert_int_equal(sr_session_find(fx->reg, ids[2], NULL), 0);
	assert_int_equal(sr_session_find(fx->reg, ids[3], NULL), 0);
	uuid_t zero = {0};
	assert_int_equal(sr_session_find(fx->reg, zero, NULL), -ENOENT);
}

static void test_list(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t ids[3], got[8];
	size_t n = 99;
	sr_session_info a, b;

	assert_int_equal(sr_session_list(fx->reg, got, 8, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sr_session_list(fx->reg, NULL, 0, &n), 0);
	assert_int_equal(n, 0);

	for (int i = 0; i < 3; i++) {
		srt_uuid(ids[i]);
		assert_int_equal(sr_session_insert(fx->reg, ids[i], NULL), 0);
	}
	memset(got, 0xee, sizeof(got));
	assert_int_equal(sr_session_list(fx->reg, got, 8, &n), 0);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		int seen = 0;
		for (size_t j = 0; j < n; j++)
			seen += memcmp(got[j], ids[i], sizeof(uuid_t)) == 0;
		assert_int_equal(seen, 1);
	}
	/* Slot order. */
	for (size_t j = 0; j + 1 < n; j++) {
		assert_int_equal(sr_session_snapshot(fx->reg, got[j], &a), 0);
		assert_int_equal(sr_session_snapshot(fx->reg, got[j + 1], &b), 0);
		assert_true(a.slot < b.slot);
	}

	/* A short buffer gets cap ids and the full count; nothing past cap is written. */
	uuid_t two[3];
	memset(two, 0xee, sizeof(two));
	assert_int_equal(sr_session_list(fx->reg, two, 2, &n), 0);
	assert_int_equal(n, 3);
	for (size_t k = 0; k < sizeof(uuid_t); k++)
		assert_int_equal(two[2][k], 0xee);
	assert_memory_equal(two[0], got[0], sizeof(uuid_t));
	assert_memory_equal(two[1], got[1], sizeof(uuid_t));

	assert_int_equal(sr_session_list(fx->reg, NULL, 0, &n), 0);
	assert_int_equal(n, 3);
}

/* A big table filled to the last slot, emptied by half and refilled. */
static void test_full_table_at_scale(void **state)
{
	enum { CAP = 5000 };
	static uuid_t ids[CAP];
	static uuid_t listed[CAP];
	struct srt_fx fx;
	size_t n = 0;
	sr_registry_stats st;

	(void)state;
	assert_int_equal(srt_create(&fx, CAP, 0, 0), 0);
	for (uint32_t i = 0; i < CAP; i++) {
		srt_uuid_n(ids[i], 0xabc, i);
		int rc = sr_session_insert(fx.reg, ids[i], NULL);
		if (rc != 0)
			fail_msg("insert %u of %u: %d (%s)", i, CAP, rc, sr_strerror(rc));
	}
	uuid_t extra;
	srt_uuid(extra);
	assert_int_equal(sr_session_insert(fx.reg, extra, NULL), -SR_EFULL);
	for (uint32_t i = 0; i < CAP; i++)
		assert_int_equal(sr_session_find(fx.reg, ids[i], NULL), 0);
	assert_int_equal(sr_session_list(fx.reg, listed, CAP, &n), 0);
	assert_int_equal(n, CAP);
	assert_int_equal(sr_registry_verify(fx.reg), 0);

	for (uint32_t i = 0; i < CAP; i += 2)
		assert_int_equal(sr_session_delete(fx.reg, ids[i]), 0);
	for (uint32_t i = 0; i < CAP; i++)
		assert_int_equal(sr_session_find(fx.reg, ids[i], NULL), i % 2 ? 0 : -ENOENT);
	assert_int_equal(sr_registry_stats_get(fx.reg, &st), 0);
	assert_int_equal(st.sessions, CAP / 2);
	for (uint32_t i = 0; i < CAP; i += 2)
		assert_int_equal(sr_session_insert(fx.reg, ids[i], NULL), 0);
	assert_int_equal(sr_session_insert(fx.reg, extra, NULL), -SR_EFULL);
	assert_int_equal(sr_registry_verify(fx.reg), 0);
	sr_registry_close(fx.reg);
	srt_cleanup_names();
}

struct walk {
	int calls;
	int stop_at;
	uuid_t seen[8];
	uint32_t last_slot;
};

static int walk_cb(const sr_session_info *info, void *ctx)
{
	struct walk *w = ctx;

	if (w->calls > 0 && info->slot <= w->last_slot)
		return -1000; /* out of slot order: surfaces as a wrong return value */
	w->last_slot = info->slot;
	memcpy(w->seen[w->calls], info->channel_id, sizeof(uuid_t));
	w->calls++;
	return w->calls == w->stop_at ? 42 : 0;
}

static void test_foreach(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t ids[4];
	struct walk w = {0};

	assert_int_equal(sr_session_foreach(fx->reg, walk_cb, &w), 0);
	assert_int_equal(w.calls, 0);
	for (int i = 0; i < 4; i++) {
		srt_uuid(ids[i]);
		assert_int_equal(sr_session_insert(fx->reg, ids[i], NULL), 0);
	}
	assert_int_equal(sr_session_delete(fx->reg, ids[1]), 0);

	memset(&w, 0, sizeof(w));
	assert_int_equal(sr_session_foreach(fx->reg, walk_cb, &w), 0);
	assert_int_equal(w.calls, 3);
	for (int i = 0; i < 4; i++) {
		int seen = 0;
		for (int j = 0; j < w.calls; j++)
			seen += memcmp(w.seen[j], ids[i], sizeof(uuid_t)) == 0;
		assert_int_equal(seen, i == 1 ? 0 : 1);
	}

	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	assert_int_equal(sr_session_foreach(fx->reg, walk_cb, &w), 42);
	assert_int_equal(w.calls, 2);
}

struct scan_walk {
	int calls;
	int stop_at;
	sr_session_brief seen[8];
};

static int scan_cb(const sr_session_brief *b, void *ctx)
{
	struct scan_walk *w = ctx;

	if (w->calls > 0 && b->slot <= w->seen[w->calls - 1].slot)
		return -1000; /* out of slot order: surfaces as a wrong return value */
	w->seen[w->calls++] = *b;
	return w->calls == w->stop_at ? 7 : 0;
}

static void test_scan(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t ids[3];
	struct scan_walk w = {0};
	sr_session_info info;

	assert_int_equal(sr_session_scan(fx->reg, scan_cb, &w), 0);
	assert_int_equal(w.calls, 0);
	for (int i = 0; i < 3; i++) {
		srt_uuid(ids[i]);
		assert_int_equal(sr_session_insert(fx->reg, ids[i], NULL), 0);
	}
	assert_int_equal(sr_session_transition(fx->reg, ids[0], SR_STATE_IDLE, SR_STATE_STARTING),
	                 0);
	assert_int_equal(sr_session_add_client(fx->reg, ids[2]), 0);
	assert_int_equal(sr_session_add_client(fx->reg, ids[2]), 0);

	assert_int_equal(sr_session_scan(fx->reg, scan_cb, &w), 0);
	assert_int_equal(w.calls, 3);
	for (int i = 0; i < 3; i++) {
		int j = 0;
		while (j < w.calls && memcmp(w.seen[j].channel_id, ids[i], sizeof(uuid_t)) != 0)
			j++;
		assert_true(j < w.calls);
		const sr_session_brief *b = &w.seen[j];
		assert_int_equal(sr_session_snapshot(fx->reg, ids[i], &info), 0);
		assert_int_equal(b->state, info.state);
		assert_int_equal(b->slot, info.slot);
		assert_int_equal(b->generation, info.generation);
		assert_int_equal(b->clients, info.clients);
		assert_true(b->idle_ms < 600000);
	}
	for (int j = 0; j < w.calls; j++) {
		if (memcmp(w.seen[j].channel_id, ids[2], sizeof(uuid_t)) == 0)
			assert_int_equal(w.seen[j].clients, 2);
		if (memcmp(w.seen[j].channel_id, ids[0], sizeof(uuid_t)) == 0)
			assert_int_equal(w.seen[j].state, SR_STATE_STARTING);
	}

	memset(&w, 0, sizeof(w));
	w.stop_at = 1;
	assert_int_equal(sr_session_scan(fx->reg, scan_cb, &w), 7);
	assert_int_equal(w.calls, 1);
	assert_int_equal(sr_session_scan(fx->reg, NULL, NULL), -EINVAL);
	assert_int_equal(sr_session_scan(NULL, scan_cb, &w), -EINVAL);
}

static void test_missing_session_everywhere(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t a;
	uint32_t u32;
	uint64_t u64;
	sr_state s;
	char buf[SR_PATH_MAX + 1], buf2[SR_PATH_MAX + 1];
	sr_quality q[2];
	size_t n;
	pid_t pid;
	sr_session_info info;

	srt_uuid(a);
	assert_int_equal(sr_session_delete(fx->reg, a), -ENOENT);
	assert_int_equal(sr_session_find(fx->reg, a, &u32), -ENOENT);
	assert_int_equal(sr_session_touch(fx->reg, a), -ENOENT);
	assert_int_equal(sr_session_get_state(fx->reg, a, &s), -ENOENT);
	assert_int_equal(sr_session_transition(fx->reg, a, SR_STATE_IDLE, SR_STATE_STARTING),
	                 -ENOENT);
	assert_int_equal(sr_session_set_state(fx->reg, a, SR_STATE_STARTING, NULL), -ENOENT);
	assert_int_equal(sr_session_add_client(fx->reg, a), -ENOENT);
	assert_int_equal(sr_session_remove_client(fx->reg, a), -ENOENT);
	assert_int_equal(sr_session_get_clients(fx->reg, a, &u32), -ENOENT);
	assert_int_equal(sr_session_idle_ms(fx->reg, a, &u64), -ENOENT);
	assert_int_equal(sr_session_should_cleanup(fx->reg, a, 0), -ENOENT);
	assert_int_equal(sr_session_record_error(fx->reg, a, "x"), -ENOENT);
	assert_int_equal(sr_session_error_count(fx->reg, a, &u32), -ENOENT);
	assert_int_equal(sr_session_last_error(fx->reg, a, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(sr_session_set_qualities(fx->reg, a, q, 0), -ENOENT);
	assert_int_equal(sr_session_get_qualities(fx->reg, a, q, 2, &n), -ENOENT);
	assert_int_equal(sr_session_set_paths(fx->reg, a, "/x", "/y"), -ENOENT);
	assert_int_equal(sr_session_get_paths(fx->reg, a, buf, buf2), -ENOENT);
	assert_int_equal(sr_session_set_pid(fx->reg, a, 1, 1), -ENOENT);
	assert_int_equal(sr_session_get_pid(fx->reg, a, &pid, &u64), -ENOENT);
	assert_int_equal(sr_session_set_restarts(fx->reg, a, 1), -ENOENT);
	assert_int_equal(sr_session_snapshot(fx->reg, a, &info), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_insert_find_delete, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_insert_fresh_record, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_overlong_output_dir_refused, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_table_full, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_errdetail_follows_failures, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_slot_reuse_new_generation, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_churn_keeps_index_sound, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_similar_uuids, srt_setup_small, srt_teardown),
	    cmocka_unit_test(test_full_table_at_scale),
	    cmocka_unit_test_setup_teardown(test_list, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_foreach, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_scan, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_missing_session_everywhere, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
