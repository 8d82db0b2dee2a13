/* Create / attach / close / unlink, creation options, stats and replacement. */
#include "support/srt.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void test_options_defaults(void **state)
{
	sr_create_options opt;

	(void)state;
	memset(&opt, 0xa5, sizeof(opt));
	sr_create_options_init(&opt);
	assert_int_equal(opt.capacity, 1024);
	assert_int_equal(opt.max_procs, 128);
	assert_int_equal(opt.leases_per_proc, 1024);
	assert_int_equal(opt.mode, 0600);
}

static void test_create_attach_close_unlink(void **state)
{
	struct srt_fx *fx = *state;
	sr_registry *other = NULL;
	uuid_t id;
	char path[PATH_MAX];
	struct stat st;

	srt_shm_path(fx->name, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_false(sr_registry_readonly(fx->reg));

	/* What one handle writes, another handle sees. */
	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, "/tmp/out"), 0);
	assert_int_equal(sr_registry_attach(fx->name, 0, &other), 0);
	assert_non_null(other);
	assert_false(sr_registry_readonly(other));
	assert_int_equal(sr_session_find(other, id, NULL), 0);
	assert_int_equal(sr_session_delete(other, id), 0);
	assert_int_equal(sr_session_find(fx->reg, id, NULL), -ENOENT);
	sr_registry_close(other);

	assert_int_equal(sr_registry_unlink(fx->name), 0);
	assert_int_not_equal(stat(path, &st), 0);
	assert_int_equal(sr_registry_unlink(fx->name), -ENOENT);
	assert_int_equal(sr_registry_attach(fx->name, 0, &other), -ENOENT);
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &other), -ENOENT);

	/* The attached handle keeps working after the unlink. */
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	assert_int_equal(sr_session_find(fx->reg, id, NULL), 0);
}

static void test_create_refuses_existing(void **state)
{
	struct srt_fx *fx = *state;
	sr_registry *dup = NULL;
	uuid_t id;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	assert_int_equal(sr_registry_create(fx->name, NULL, &dup), -EEXIST);
	/* The refused create left the existing registry alone. */
	assert_int_equal(sr_session_find(fx->reg, id, NULL), 0);
}

/* The header's codes for a bad name: too long is -ENAMETOOLONG, a bad
 * character -EINVAL, and neither leaves a file behind. */
static void test_bad_names_refused(void **state)
{
	char name[SR_NAME_MAX + 2];
	sr_registry *r = NULL;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(sr_registry_create(name, NULL, &r), -ENAMETOOLONG);
	assert_int_equal(sr_registry_attach(name, 0, &r), -ENAMETOOLONG);
	assert_int_equal(sr_registry_create("bad.name", NULL, &r), -EINVAL);
	assert_int_equal(sr_registry_create("", NULL, &r), -EINVAL);
	assert_null(r);
}

static void test_close_null_is_harmless(void **state)
{
	(void)state;
	sr_registry_close(NULL);
}

static void expect_refused(uint32_t capacity, uint32_t max_procs, uint32_t leases)
{
	char name[SR_NAME_MAX + 1];
	sr_create_options opt;
	sr_registry *reg = NULL;

	sr_create_options_init(&opt);
	opt.capacity = capacity;
	opt.max_procs = max_procs;
	opt.leases_per_proc = leases;
	srt_unique_name(name);
	srt_track_name(name);
	int rc = sr_registry_create(name, &opt, &reg);
	if (rc != -EINVAL)
		fail_msg("create(capacity %u, max_procs %u, leases %u) = %d (%s), want -EINVAL",
		         capacity, max_procs, leases, rc, sr_strerror(rc));
	assert_int_equal(sr_registry_attach(name, SR_ATTACH_READONLY, &reg), -ENOENT);
}

static void test_options_refused(void **state)
{
	(void)state;
	expect_refused(0, 128, 1024);
	expect_refused(SR_CAPACITY_MAX + 1, 128, 1024);
	expect_refused(UINT32_MAX, 128, 1024);
	expect_refused(16, 0, 1024);
	expect_refused(16, SR_PROCS_MAX + 1, 1024);
	expect_refused(16, 128, 0);
	expect_refused(16, 128, SR_LEASES_MAX + 1);
	srt_cleanup_names();
}

static void test_bad_mode_and_flags(void **state)
{
	struct srt_fx *fx = *state;
	char name[SR_NAME_MAX + 1];
	sr_create_options opt;
	sr_registry *reg = NULL;

	sr_create_options_init(&opt);
	opt.mode = 010600; /* not just permission bits */
	srt_unique_name(name);
	srt_track_name(name);
	assert_int_equal(sr_registry_create(name, &opt, &reg), -EINVAL);
	assert_int_equal(sr_registry_attach(name, SR_ATTACH_READONLY, &reg), -ENOENT);
	assert_int_equal(sr_registry_attach(fx->name, 1u << 7, &reg), -EINVAL);
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY | (1u << 30), &reg),
	                 -EINVAL);
}

static void test_options_honoured(void **state)
{
	struct srt_fx fx;
	sr_registry_stats st;

	(void)state;
	assert_int_equal(srt_create(&fx, 7, 3, 5), 0);
	assert_int_equal(sr_registry_stats_get(fx.reg, &st), 0);
	assert_int_equal(st.capacity, 7);
	assert_int_equal(st.max_procs, 3);
	/* The lease table may be rounded up (a hash table); never down. */
	assert_true(st.leases_per_proc >= 5);
	sr_registry_close(fx.reg);

	/* Capacity 1 is the smallest legal table and must work. */
	assert_int_equal(srt_create(&fx, 1, 1, 1), 0);
	uuid_t a, b;
	srt_uuid(a);
	srt_uuid(b);
	assert_int_equal(sr_session_insert(fx.reg, a, NULL), 0);
	assert_int_equal(sr_session_insert(fx.reg, b, NULL), -SR_EFULL);
	assert_int_equal(sr_session_add_client(fx.reg, a), 0);
	sr_registry_close(fx.reg);
	srt_cleanup_names();
}

static void test_null_options_mean_defaults(void **state)
{
	struct srt_fx fx;
	sr_registry_stats st;

	(void)state;
	srt_unique_name(fx.name);
	srt_track_name(fx.name);
	assert_int_equal(sr_registry_create(fx.name, NULL, &fx.reg), 0);
	assert_int_equal(sr_registry_stats_get(fx.reg, &st), 0);
	assert_int_equal(st.capacity, 1024);
	assert_int_equal(st.max_procs, 128);
	assert_int_equal(st.leases_per_proc, 1024);
	sr_registry_close(fx.reg);
	srt_cleanup_names();
}

static void test_mode_honoured(void **state)
{
	char name[SR_NAME_MAX + 1], path[PATH_MAX];
	sr_create_options opt;
	sr_registry *reg = NULL;
	struct stat st;

	(void)state;
	sr_create_options_init(&opt);
	assert_int_equal(opt.mode, 0600);
	srt_unique_name(name);
	srt_track_name(name);
	assert_int_equal(sr_registry_create(name, &opt, &reg), 0);
	srt_shm_path(name, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	sr_registry_close(reg);

	/* 0640 is not masked by the usual umask 022, so it must appear as is. */
	opt.mode = 0640;
	srt_unique_name(name);
	srt_track_name(name);
	assert_int_equal(sr_registry_create(name, &opt, &reg), 0);
	srt_shm_path(name, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	sr_registry_close(reg);
	srt_cleanup_names();
}

static void test_stats_fresh_and_counting(void **state)
{
	struct srt_fx *fx = *state;
	sr_registry_stats st;
	char path[PATH_MAX];
	struct stat fst;
	struct timespec now;
	uuid_t ids[3];

	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_int_equal(st.capacity, 4);
	assert_int_equal(st.sessions, 0);
	for (int s = 0; s < SR_STATE_COUNT; s++)
		assert_int_equal(st.by_state[s], 0);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.creator_pid, getpid());
	assert_true(st.slot_bytes >= sizeof(sr_quality) * SR_MAX_QUALITIES);
	srt_shm_path(fx->name, path, sizeof(path));
	assert_int_equal(stat(path, &fst), 0);
	assert_int_equal(st.segment_size, (uint64_t)fst.st_size);
	assert_true(st.segment_size >= st.slot_bytes * st.capacity);
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	assert_true(st.created_wall_ns <= now_ns);
	assert_true(st.created_wall_ns > now_ns - 600LL * 1000000000); /* created by this run */
	assert_true(st.age_ms < 600 * 1000);

	for (int i = 0; i < 3; i++) {
		srt_uuid(ids[i]);
		assert_int_equal(sr_session_insert(fx->reg, ids[i], NULL), 0);
	}
	assert_int_equal(sr_session_transition(fx->reg, ids[1], SR_STATE_IDLE, SR_STATE_STARTING),
	                 0);
	assert_int_equal(sr_session_transition(fx->reg, ids[2], SR_STATE_IDLE, SR_STATE_STARTING),
	                 0);
	assert_int_equal(sr_session_transition(fx->reg, ids[2], SR_STATE_STARTING, SR_STATE_ACTIVE),
	                 0);
	assert_int_equal(sr_session_add_client(fx->reg, ids[2]), 0);
	assert_int_equal(sr_session_add_client(fx->reg, ids[2]), 0);
	assert_int_equal(sr_session_add_client(fx->reg, ids[0]), 0);

	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_int_equal(st.sessions, 3);
	assert_int_equal(st.by_state[SR_STATE_IDLE], 1);
	assert_int_equal(st.by_state[SR_STATE_STARTING], 1);
	assert_int_equal(st.by_state[SR_STATE_ACTIVE], 1);
	assert_int_equal(st.by_state[SR_STATE_STOPPING], 0);
	assert_int_equal(st.by_state[SR_STATE_FAILED], 0);
	assert_int_equal(st.clients, 3);
	assert_true(st.procs_attached >= 1);

	assert_int_equal(sr_session_delete(fx->reg, ids[0]), 0);
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_int_equal(st.sessions, 2);
	assert_int_equal(st.by_state[SR_STATE_IDLE], 0);
	assert_int_equal(st.clients, 2);
}

static void test_birth_ids_differ(void **state)
{
	struct srt_fx a, b;
	sr_registry_stats sa, sb;

	(void)state;
	assert_int_equal(srt_create(&a, 2, 0, 0), 0);
	assert_int_equal(srt_create(&b, 2, 0, 0), 0);
	assert_int_equal(sr_registry_stats_get(a.reg, &sa), 0);
	assert_int_equal(sr_registry_stats_get(b.reg, &sb), 0);
	assert_int_not_equal(sa.birth_id, sb.birth_id);
	sr_registry_close(a.reg);
	sr_registry_close(b.reg);
	srt_cleanup_names();
}

static void test_replaced(void **state)
{
	struct srt_fx *fx = *state;
	sr_registry *mon = NULL, *fresh = NULL, *mon2 = NULL;
	sr_registry_stats s1, s2;

	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &mon), 0);
	assert_int_equal(sr_registry_replaced(fx->reg), 0);
	assert_int_equal(sr_registry_replaced(mon), 0);

	/* Unlinked: the name no longer holds this registry. */
	assert_int_equal(sr_registry_unlink(fx->name), 0);
	assert_int_equal(sr_registry_replaced(mon), 1);
	assert_int_equal(sr_registry_replaced(fx->reg), 1);

	/* Recreated under the same name: another registry, still "replaced". */
	assert_int_equal(sr_registry_create(fx->name, NULL, &fresh), 0);
	assert_int_equal(sr_registry_replaced(mon), 1);
	assert_int_equal(sr_registry_replaced(fx->reg), 1);
	assert_int_equal(sr_registry_replaced(fresh), 0);

	/* A monitor reattaching sees the new one. */
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &mon2), 0);
	assert_int_equal(sr_registry_replaced(mon2), 0);
	assert_int_equal(sr_registry_stats_get(mon, &s1), 0);
	assert_int_equal(sr_registry_stats_get(mon2, &s2), 0);
	assert_int_not_equal(s1.birth_id, s2.birth_id);
	assert_int_equal(s2.capacity, 1024);
	assert_int_equal(s1.capacity, 4);

	sr_registry_close(mon);
	sr_registry_close(mon2);
	sr_registry_close(fresh);
}

static void test_reattach_after_close(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, "/srv/out"), 0);
	assert_int_equal(sr_session_record_error(fx->reg, id, "boom"), 0);
	sr_registry_close(fx->reg);
	fx->reg = NULL;
	assert_int_equal(sr_registry_attach(fx->name, 0, &fx->reg), 0);
	uint32_t n = 0;
	assert_int_equal(sr_session_error_count(fx->reg, id, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sr_registry_verify(fx->reg), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_options_defaults),
	    cmocka_unit_test_setup_teardown(test_create_attach_close_unlink, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_create_refuses_existing, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test(test_bad_names_refused),
	    cmocka_unit_test(test_close_null_is_harmless),
	    cmocka_unit_test(test_options_refused),
	    cmocka_unit_test_setup_teardown(test_bad_mode_and_flags, srt_setup_small, srt_teardown),
	    cmocka_unit_test(test_options_honoured),
	    cmocka_unit_test(test_null_options_mean_defaults),
	    cmocka_unit_test(test_mode_honoured),
	    cmocka_unit_test_setup_teardown(test_stats_fresh_and_counting, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test(test_birth_ids_differ),
	    cmocka_unit_test_setup_teardown(test_replaced, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_reattach_after_close, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
