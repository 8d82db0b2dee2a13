/*
 * Concurrent insert / delete / find from 4 processes for about a second, on
 * uuids of their own (whose presence each process knows exactly, so every
 * return code is checked) and on uuids they all share (where any outcome of
 * the race is fine but the codes must be the documented ones).  Afterwards
 * the table must verify and agree with what the processes did.
 */
#include "support/srt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROCS      4
#define OWN        16
#define SHARED     8
#define RUN_MS     1000
#define SHARED_TAG 0xfeed

struct result {
	uint32_t own_present; /* bit k: own uuid k is in the table */
	uint64_t ops;
	int fail_line;
	int fail_rc;
	int fail_op;
};

struct churn_arg {
	char name[SR_NAME_MAX + 1];
	int idx;
	struct srt_gate *gate;
	struct result *res; /* shared, PROCS entries */
};

#define EXPECT(cond, rc)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			r->fail_line = __LINE__;                                                   \
			r->fail_rc = (rc);                                                         \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

static int churner(void *p)
{
	struct churn_arg *a = p;
	struct result *r = &a->res[a->idx];
	sr_registry *reg = NULL;
	uuid_t own[OWN], shared[SHARED], ids[64];
	unsigned seed = (unsigned)getpid();
	uint32_t present = 0;

	for (int k = 0; k < OWN; k++)
		srt_uuid_n(own[k], (uint32_t)a->idx + 1, (uint32_t)k);
	for (int k = 0; k < SHARED; k++)
		srt_uuid_n(shared[k], SHARED_TAG, (uint32_t)k);
	int rc = sr_registry_attach(a->name, 0, &reg);
	EXPECT(rc == 0, rc);
	srt_gate_wait(a->gate);
	double end = srt_now_ms() + RUN_MS;
	while (srt_now_ms() < end) {
		for (int burst = 0; burst < 64; burst++) {
			int k = rand_r(&seed) % OWN, s = rand_r(&seed) % SHARED;
			uint32_t bit = 1u << k, gen;
			size_t n;
			sr_session_info info;
			r->fail_op = rand_r(&seed) % 8;
			switch (r->fail_op) {
			case 0:
				rc = sr_session_insert(reg, own[k], "/srv/own");
				EXPECT(rc == ((present & bit) ? -EEXIST : 0), rc);
				present |= bit;
				break;
			case 1:
				rc = sr_session_delete(reg, own[k]);
				EXPECT(rc == ((present & bit) ? 0 : -ENOENT), rc);
				present &= ~bit;
				break;
			case 2:
				rc = sr_session_find(reg, own[k], &gen);
				EXPECT(rc == ((present & bit) ? 0 : -ENOENT), rc);
				break;
			case 3:
				rc = sr_session_insert(reg, shared[s], NULL);
				EXPECT(rc == 0 || rc == -EEXIST, rc);
				break;
			case 4:
				rc = sr_session_delete(reg, shared[s]);
				EXPECT(rc == 0 || rc == -ENOENT, rc);
				break;
			case 5:
				rc = sr_session_find(reg, shared[s], NULL);
				EXPECT(rc == 0 || rc == -ENOENT, rc);
				break;
			case 6:
				rc = sr_session_snapshot(reg, shared[s], &info);
				EXPECT(rc == 0 || rc == -ENOENT, rc);
				EXPECT(rc != 0 || memcmp(info.channel_id, shared[s], 16) == 0, 0);
				rc = sr_session_snapshot(reg, own[k], &info);
				EXPECT(rc == ((present & bit) ? 0 : -ENOENT), rc);
				EXPECT(rc != 0 || memcmp(info.channel_id, own[k], 16) == 0, 0);
				break;
			default:
				rc = sr_session_list(reg, ids, 64, &n);
				EXPECT(rc == 0 && n <= PROCS * OWN + SHARED, rc);
				break;
			}
			r->ops++;
		}
	}
	r->own_present = present;
	r->fail_op = -1;
	sr_registry_close(reg);
	return 0;
}

static void test_concurrent_insert_delete_find(void **state)
{
	struct srt_fx fx;
	struct result *res = srt_shared_alloc(sizeof(struct result) * PROCS);
	struct churn_arg args[PROCS];
	pid_t pids[PROCS];
	struct srt_gate gate;

	(void)state;
	assert_non_null(res);
	/* Room for everything, so -SR_EFULL is never a legitimate answer. */
	assert_int_equal(srt_create(&fx, PROCS * OWN + SHARED, 0, 0), 0);
	srt_gate_init(&gate);
	for (int i = 0; i < PROCS; i++) {
		args[i] = (struct churn_arg){.idx = i, .gate = &gate, .res = res};
		memcpy(args[i].name, fx.name, sizeof(args[i].name));
		pids[i] = srt_spawn(churner, &args[i]);
		assert_true(pids[i] > 0);
	}
	srt_gate_open(&gate);
	int bad = 0;
	uint64_t ops = 0;
	for (int i = 0; i < PROCS; i++) {
		int code = srt_wait(pids[i]);
		if (code != 0) {
			print_error("churner %d: exit %d, line %d, op %d, rc %d (%s)\n", i, code,
			            res[i].fail_line, res[i].fail_op, res[i].fail_rc,
			            sr_strerror(res[i].fail_rc));
			bad++;
		}
		ops += res[i].ops;
	}
	print_message("churn: %llu operations from %d processes\n", (unsigned long long)ops, PROCS);
	assert_int_equal(bad, 0);
	assert_true(ops > 1000);

	assert_int_equal(sr_registry_verify(fx.reg), 0);
	uuid_t ids[PROCS * OWN + SHARED];
	size_t n = 0;
	assert_int_equal(sr_session_list(fx.reg, ids, SRT_ARRAY_LEN(ids), &n), 0);
	sr_registry_stats st;
	assert_int_equal(sr_registry_stats_get(fx.reg, &st), 0);
	assert_int_equal(st.sessions, n);

	/* Own uuids: present exactly as their process left them. */
	size_t expect = 0;
	for (int i = 0; i < PROCS; i++) {
		for (int k = 0; k < OWN; k++) {
			uuid_t id;
			srt_uuid_n(id, (uint32_t)i + 1, (uint32_t)k);
			bool want = res[i].own_present & (1u << k);
			int rc = sr_session_find(fx.reg, id, NULL);
			if (rc != (want ? 0 : -ENOENT))
				fail_msg("process %d uuid %d: find = %d, its process says %s", i, k,
				         rc, want ? "present" : "absent");
			expect += want;
		}
	}
	for (int k = 0; k < SHARED; k++) {
		uuid_t id;
		srt_uuid_n(id, SHARED_TAG, (uint32_t)k);
		expect += sr_session_find(fx.reg, id, NULL) == 0;
	}
	assert_int_equal(n, expect);
	/* Every listed id resolves, with no duplicates. */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(sr_session_find(fx.reg, ids[i], NULL), 0);
		for (size_t j = i + 1; j < n; j++)
			assert_memory_not_equal(ids[i], ids[j], sizeof(uuid_t));
	}
	/* And the table still works normally at full load. */
	for (size_t k = n; k < PROCS * OWN + SHARED; k++) {
		uuid_t id;
		srt_uuid(id);
		assert_int_equal(sr_session_insert(fx.reg, id, NULL), 0);
	}
	uuid_t one_more;
	srt_uuid(one_more);
	assert_int_equal(sr_session_insert(fx.reg, one_more, NULL), -SR_EFULL);
	assert_int_equal(sr_registry_verify(fx.reg), 0);

	sr_registry_close(fx.reg);
	srt_shared_free(res, sizeof(struct result) * PROCS);
	srt_cleanup_names();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_concurrent_insert_delete_find),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
