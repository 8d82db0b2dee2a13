/* Client counts and leases, last access and idle time, should-cleanup. */
#include "support/srt.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static uint32_t clients(sr_registry *reg, const uuid_t id)
{
	uint32_t n = UINT32_MAX;

	assert_int_equal(sr_session_get_clients(reg, id, &n), 0);
	return n;
}

static void test_add_remove_get(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t a, b;

	srt_uuid(a);
	srt_uuid(b);
	assert_int_equal(sr_session_insert(fx->reg, a, NULL), 0);
	assert_int_equal(sr_session_insert(fx->reg, b, NULL), 0);
	assert_int_equal(clients(fx->reg, a), 0);
	assert_int_equal(sr_session_remove_client(fx->reg, a), -SR_ENOCLIENT);
	assert_int_equal(clients(fx->reg, a), 0);

	for (int i = 0; i < 5; i++)
		assert_int_equal(sr_session_add_client(fx->reg, a), 0);
	assert_int_equal(sr_session_add_client(fx->reg, b), 0);
	assert_int_equal(clients(fx->reg, a), 5);
	assert_int_equal(clients(fx->reg, b), 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sr_session_remove_client(fx->reg, a), 0);
	assert_int_equal(clients(fx->reg, a), 0);
	assert_int_equal(sr_session_remove_client(fx->reg, a), -SR_ENOCLIENT);
	assert_int_equal(clients(fx->reg, a), 0);
	assert_int_equal(clients(fx->reg, b), 1);
}

static void test_close_releases_leases(void **state)
{
	struct srt_fx *fx = *state;
	sr_registry *w = NULL;
	uuid_t a;

	srt_uuid(a);
	assert_int_equal(sr_session_insert(fx->reg, a, NULL), 0);
	assert_int_equal(sr_session_add_client(fx->reg, a), 0);
	assert_int_equal(sr_registry_attach(fx->name, 0, &w), 0);
	assert_int_equal(sr_session_add_client(w, a), 0);
	assert_int_equal(sr_session_add_client(w, a), 0);
	assert_int_equal(clients(fx->reg, a), 3);
	sr_registry_close(w);
	/*
	 * The two handles belong to one process, so whether closing one drops its
	 * own viewers or the process keeps them until its last handle closes is
	 * the library's choice; the count must be one of the two, never other.
	 */
	uint32_t n = clients(fx->reg, a);
	assert_true(n == 1 || n == 3);
}

static int child_remove(void *arg)
{
	const char *name = arg;
	sr_registry *reg = NULL;
	uuid_t a;

	memcpy(a, name + SR_NAME_MAX + 1, sizeof(uuid_t));
	if (sr_registry_attach(name, 0, &reg) != 0)
		return 10;
	/* The parent's viewer is not this process's to remove. */
	if (sr_session_remove_client(reg, a) != -SR_ENOCLIENT)
		return 11;
	if (sr_session_add_client(reg, a) != 0)
		return 12;
	if (sr_session_add_client(reg, a) != 0)
		return 13;
	if (sr_session_remove_client(reg, a) != 0)
		return 14;
	uint32_t n = 0;
	if (sr_session_get_clients(reg, a, &n) != 0 || n != 2)
		return 15;
	/* Exit holding one viewer, without closing: recovery must drop it. */
	return 0;
}

static void test_leases_are_per_process(void **state)
{
	struct srt_fx *fx = *state;
	char arg[SR_NAME_MAX + 1 + sizeof(uuid_t)];
	uuid_t a;
	sr_recovery_report rep;

	srt_uuid(a);
	assert_int_equal(sr_session_insert(fx->reg, a, NULL), 0);
	assert_int_equal(sr_session_add_client(fx->reg, a), 0);
	memcpy(arg, fx->name, SR_NAME_MAX + 1);
	memcpy(arg + SR_NAME_MAX + 1, a, sizeof(uuid_t));
	pid_t pid = srt_spawn(child_remove, arg);
	assert_true(pid > 0);
	assert_int_equal(srt_wait(pid), 0);

	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	assert_int_equal(rep.procs_reclaimed, 1);
	assert_int_equal(rep.leases_released, 1);
	assert_int_equal(clients(fx->reg, a), 1);
	/* A second pass finds nothing more. */
	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	assert_int_equal(rep.procs_reclaimed, 0);
	assert_int_equal(rep.leases_released, 0);
	assert_true(rep.procs_checked >= 1);

	sr_registry_stats st;
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_true(st.procs_reclaimed >= 1);
	assert_true(st.leases_reclaimed >= 1);
	assert_int_equal(st.clients, 1);
}

/* leases_per_proc is exact, not rounded: 3 gives 3 channels and the stats
 * say 3 (docs/cli.md, --leases). */
static void test_lease_cap_exact(void **state)
{
	struct srt_fx fx;
	uuid_t ids[4];
	sr_registry_stats st;

	(void)state;
	assert_int_equal(srt_create(&fx, 8, 4, 3), 0);
	assert_int_equal(sr_registry_stats_get(fx.reg, &st), 0);
	assert_int_equal(st.leases_per_proc, 3);
	for (int i = 0; i < 4; i++) {
		srt_uuid(ids[i]);
		assert_int_equal(sr_session_insert(fx.reg, ids[i], NULL), 0);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(sr_session_add_client(fx.reg, ids[i]), 0);
	assert_int_equal(sr_session_add_client(fx.reg, ids[3]), -SR_ELEASEFULL);
	sr_registry_close(fx.reg);
	srt_cleanup_names();
}

static void test_lease_table_full(void **state)
{
	struct srt_fx fx;
	uuid_t ids[64];
	sr_registry_stats st;

	(void)state;
	assert_int_equal(srt_create(&fx, 64, 4, 2), 0);
	assert_int_equal(sr_registry_stats_get(fx.reg, &st), 0);
	/* The library may round the table up; the figure it reports is the contract. */
	uint32_t cap = st.leases_per_proc;
	assert_true(cap >= 2 && cap < 64);
	for (uint32_t i = 0; i <= cap; i++) {
		srt_uuid(ids[i]);
		assert_int_equal(sr_session_insert(fx.reg, ids[i], NULL), 0);
	}
	for (uint32_t i = 0; i < cap; i++) {
		int rc = sr_session_add_client(fx.reg, ids[i]);
		if (rc != 0)
			fail_msg("lease %u of %u: %d (%s)", i + 1, cap, rc, sr_strerror(rc));
	}
	assert_int_equal(sr_session_add_client(fx.reg, ids[0]), 0);
	assert_int_equal(sr_session_add_client(fx.reg, ids[cap]), -SR_ELEASEFULL);
	assert_true(strlen(sr_errdetail()) > 0);
	assert_int_equal(clients(fx.reg, ids[cap]), 0);
	/* A lease back at zero is free for another channel. */
	assert_int_equal(sr_session_remove_client(fx.reg, ids[1]), 0);
	assert_int_equal(sr_session_add_client(fx.reg, ids[cap]), 0);
	assert_int_equal(clients(fx.reg, ids[cap]), 1);
	/* So is the lease of a deleted session. */
	assert_int_equal(sr_session_delete(fx.reg, ids[0]), 0);
	assert_int_equal(sr_session_add_client(fx.reg, ids[1]), 0);
	assert_int_equal(clients(fx.reg, ids[1]), 1);
	assert_int_equal(clients(fx.reg, ids[2]), 1);
	sr_registry_close(fx.reg);
	srt_cleanup_names();
}

/* Zero-count and stale leases are reused: a small table serves any number of channels over time. */
static void test_lease_reuse_many_channels(void **state)
{
	enum { CHANNELS = 100 };
	struct srt_fx fx;
	uuid_t ids[CHANNELS];

	(void)state;
	assert_int_equal(srt_create(&fx, CHANNELS, 2, 4), 0);
	for (int i = 0; i < CHANNELS; i++) {
		srt_uuid(ids[i]);
		assert_int_equal(sr_session_insert(fx.reg, ids[i], NULL), 0);
	}
	/* Three channels held throughout; the fourth lease cycles over the other 97. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(sr_session_add_client(fx.reg, ids[i]), 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 3; i < CHANNELS; i++) {
			int rc = sr_session_add_client(fx.reg, ids[i]);
			if (rc != 0)
				fail_msg("round %d channel %d: add = %d (%s)", round, i, rc,
				         sr_strerror(rc));
			assert_int_equal(sr_session_add_client(fx.reg, ids[i]), 0);
			assert_int_equal(clients(fx.reg, ids[i]), 2);
			assert_int_equal(sr_session_remove_client(fx.reg, ids[i]), 0);
			if (i % 2) {
				assert_int_equal(sr_session_remove_client(fx.reg, ids[i]), 0);
			} else {
				/* Leave the viewer and delete the channel: its lease goes stale. */
				assert_int_equal(sr_session_delete(fx.reg, ids[i]), 0);
				assert_int_equal(sr_session_insert(fx.reg, ids[i], NULL), 0);
				assert_int_equal(clients(fx.reg, ids[i]), 0);
			}
		}
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(clients(fx.reg, ids[i]), 1);
	sr_registry_stats st;
	assert_int_equal(sr_registry_stats_get(fx.reg, &st), 0);
	assert_int_equal(st.clients, 3);
	sr_registry_close(fx.reg);
	srt_cleanup_names();
}

static int child_add(void *arg)
{
	const char *name = arg;
	sr_registry *reg = NULL;
	uuid_t a;

	memcpy(a, name + SR_NAME_MAX + 1, sizeof(uuid_t));
	int rc = sr_registry_attach(name, 0, &reg);
	if (rc == 0)
		rc = sr_session_add_client(reg, a);
	sr_registry_close(reg);
	return rc == -SR_EPROCFULL ? 0 : 20;
}

static void test_proc_table_full(void **state)
{
	struct srt_fx fx;
	char arg[SR_NAME_MAX + 1 + sizeof(uuid_t)];
	uuid_t a;

	(void)state;
	assert_int_equal(srt_create(&fx, 8, 1, 4), 0);
	srt_uuid(a);
	assert_int_equal(sr_session_insert(fx.reg, a, NULL), 0);
	assert_int_equal(sr_session_add_client(fx.reg, a), 0);
	memcpy(arg, fx.name, SR_NAME_MAX + 1);
	memcpy(arg + SR_NAME_MAX + 1, a, sizeof(uuid_t));
	/* The one process slot is the parent's: the child is refused, at attach or at its lease. */
	pid_t pid = srt_spawn(child_add, arg);
	assert_true(pid > 0);
	assert_int_equal(srt_wait(pid), 0);
	assert_int_equal(clients(fx.reg, a), 1);
	sr_registry_close(fx.reg);
	srt_cleanup_names();
}

static void test_touch_and_idle(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t a;
	uint64_t idle = 0;
	sr_session_info before, after;

	srt_uuid(a);
	assert_int_equal(sr_session_insert(fx->reg, a, NULL), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, a, &before), 0);
	srt_sleep_ms(60);
	assert_int_equal(sr_session_idle_ms(fx->reg, a, &idle), 0);
	/* Only a lower bound: sleeping guarantees it; the coarse clock may lag a tick. */
	assert_true(idle >= 40);
	assert_int_equal(sr_session_touch(fx->reg, a), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, a, &after), 0);
	assert_true(after.last_access_mono_ns >= before.last_access_mono_ns + 40000000ULL);
	assert_true(after.last_access_wall_ns > before.last_access_wall_ns);

	/* Client changes count as access too. */
	srt_sleep_ms(30);
	assert_int_equal(sr_session_add_client(fx->reg, a), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, a, &before), 0);
	assert_true(before.last_access_mono_ns >= after.last_access_mono_ns + 20000000ULL);
	srt_sleep_ms(30);
	assert_int_equal(sr_session_remove_client(fx->reg, a), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, a, &after), 0);
	assert_true(after.last_access_mono_ns >= before.last_access_mono_ns + 20000000ULL);
}

static void put_in(sr_registry *reg, const uuid_t id, sr_state target)
{
	if (target == SR_STATE_IDLE)
		return;
	assert_int_equal(sr_session_transition(reg, id, SR_STATE_IDLE, SR_STATE_STARTING), 0);
	if (target != SR_STATE_STARTING)
		assert_int_equal(sr_session_transition(reg, id, SR_STATE_STARTING, target), 0);
}

/* should_cleanup(grace): one session per (state, clients) cell. */
static void test_should_cleanup_truth_table(void **state)
{
	struct srt_fx fx;
	uuid_t ids[SR_STATE_COUNT][2];

	(void)state;
	assert_int_equal(srt_create(&fx, 16, 0, 0), 0);
	for (int s = 0; s < SR_STATE_COUNT; s++) {
		for (int c = 0; c < 2; c++) {
			srt_uuid(ids[s][c]);
			assert_int_equal(sr_session_insert(fx.reg, ids[s][c], NULL), 0);
			put_in(fx.reg, ids[s][c], (sr_state)s);
			if (c)
				assert_int_equal(sr_session_add_client(fx.reg, ids[s][c]), 0);
		}
	}
	/* Not idle long enough: nobody is cleaned up. */
	for (int s = 0; s < SR_STATE_COUNT; s++)
		for (int c = 0; c < 2; c++)
			assert_int_equal(sr_session_should_cleanup(fx.reg, ids[s][c], 3600000), 0);

	srt_sleep_ms(50);
	for (int s = 0; s < SR_STATE_COUNT; s++) {
		for (int c = 0; c < 2; c++) {
			int want = !c && (s == SR_STATE_STARTING || s == SR_STATE_ACTIVE ||
			                  s == SR_STATE_FAILED);
			int got = sr_session_should_cleanup(fx.reg, ids[s][c], 10);
			if (got != want)
				fail_msg("should_cleanup(%s, clients %d, grace 10ms) = %d, want %d",
				         sr_state_name((sr_state)s), c, got, want);
		}
	}
	/* A touch makes it fresh again. */
	assert_int_equal(sr_session_touch(fx.reg, ids[SR_STATE_ACTIVE][0]), 0);
	assert_int_equal(sr_session_should_cleanup(fx.reg, ids[SR_STATE_ACTIVE][0], 30000), 0);
	/* The last viewer leaving does not make it stale by itself: it is an access. */
	assert_int_equal(sr_session_remove_client(fx.reg, ids[SR_STATE_ACTIVE][1]), 0);
	assert_int_equal(sr_session_should_cleanup(fx.reg, ids[SR_STATE_ACTIVE][1], 30000), 0);
	srt_sleep_ms(50);
	assert_int_equal(sr_session_should_cleanup(fx.reg, ids[SR_STATE_ACTIVE][1], 10), 1);
	sr_registry_close(fx.reg);
	srt_cleanup_names();
}

static void test_many_clients(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t a;

	srt_uuid(a);
	assert_int_equal(sr_session_insert(fx->reg, a, NULL), 0);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(sr_session_add_client(fx->reg, a), 0);
	assert_int_equal(clients(fx->reg, a), 100000);
	sr_registry_stats st;
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_int_equal(st.clients, 100000);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(sr_session_remove_client(fx->reg, a), 0);
	assert_int_equal(clients(fx->reg, a), 0);
}

/* What a scan and a walk report, per slot; UINT32_MAX where no session. */
struct counts {
	uint32_t cap;
	uint32_t scan[130], walk[130];
};

static int count_scan(const sr_session_brief *b, void *ctx)
{
	struct counts *c = ctx;
	assert_true(b->slot < c->cap);
	c->scan[b->slot] = b->clients;
	return 0;
}

static int count_walk(const sr_session_info *in, void *ctx)
{
	struct counts *c = ctx;
	assert_true(in->slot < c->cap);
	c->walk[in->slot] = in->clients;
	return 0;
}

static void expect_counts(sr_registry *reg, uint32_t cap, const uint32_t *want)
{
	struct counts c = {.cap = cap};
	memset(c.scan, 0xff, sizeof(c.scan));
	memset(c.walk, 0xff, sizeof(c.walk));
	assert_int_equal(sr_session_scan(reg, count_scan, &c), 0);
	assert_int_equal(sr_session_foreach(reg, count_walk, &c), 0);
	for (uint32_t s = 0; s < cap; s++) {
		if (c.scan[s] != want[s] || c.walk[s] != want[s])
			fail_msg("capacity %u slot %u: scan %u, walk %u, want %u", cap, s,
			         c.scan[s], c.walk[s], want[s]);
	}
}

/*
 * The walks' per-slot sums sit behind one bit per slot, in 64-bit words
 * cleared per walk: capacities of one slot, one word exactly, one past a
 * word and a partial second word, with viewers on the first and last slot
 * of each word, must all count exactly, and a slot reused between walks
 * (same bit, new generation) must not inherit the previous walk's sum.
 */
static void test_walk_sums_at_word_edges(void **state)
{
	(void)state;
	static const uint32_t caps[] = {1, 63, 64, 65, 130};
	for (size_t k = 0; k < SRT_ARRAY_LEN(caps); k++) {
		uint32_t cap = caps[k], want[130];
		struct srt_fx fx;
		uuid_t ids[130];
		assert_int_equal(srt_create(&fx, cap, 2, 256), 0);
		for (uint32_t i = 0; i < cap; i++) {
			srt_uuid(ids[i]);
			assert_int_equal(sr_session_insert(fx.reg, ids[i], NULL), 0);
		}
		/* Slot order is the free stack's: ask each session its slot. */
		for (uint32_t i = 0; i < cap; i++) {
			sr_session_info in;
			assert_int_equal(sr_session_snapshot(fx.reg, ids[i], &in), 0);
			uint32_t s = in.slot,
			         n = s % 64 == 0 || s % 64 == 63 || s == cap - 1 ? 3 : s % 2;
			for (uint32_t v = 0; v < n; v++)
				assert_int_equal(sr_session_add_client(fx.reg, ids[i]), 0);
			want[s] = n;
		}
		expect_counts(fx.reg, cap, want);
		/* The last session's slot changes hands: same bit, new owner. */
		sr_session_info last;
		assert_int_equal(sr_session_snapshot(fx.reg, ids[cap - 1], &last), 0);
		assert_int_equal(sr_session_delete(fx.reg, ids[cap - 1]), 0);
		srt_uuid(ids[cap - 1]);
		assert_int_equal(sr_session_insert(fx.reg, ids[cap - 1], NULL), 0);
		sr_session_info again;
		assert_int_equal(sr_session_snapshot(fx.reg, ids[cap - 1], &again), 0);
		assert_int_equal(again.slot, last.slot);
		want[last.slot] = 0;
		expect_counts(fx.reg, cap, want);
		assert_int_equal(sr_session_add_client(fx.reg, ids[cap - 1]), 0);
		want[last.slot] = 1;
		expect_counts(fx.reg, cap, want);
		sr_registry_close(fx.reg);
		sr_registry_unlink(fx.name);
	}
	srt_cleanup_names();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_add_remove_get, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_close_releases_leases, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_leases_are_per_process, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test(test_lease_cap_exact),
	    cmocka_unit_test(test_lease_table_full),
	    cmocka_unit_test(test_lease_reuse_many_channels),
	    cmocka_unit_test(test_proc_table_full),
	    cmocka_unit_test_setup_teardown(test_touch_and_idle, srt_setup_small, srt_teardown),
	    cmocka_unit_test(test_should_cleanup_truth_table),
	    cmocka_unit_test_setup_teardown(test_many_clients, srt_setup_small, srt_teardown),
	    cmocka_unit_test(test_walk_sums_at_word_edges),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
