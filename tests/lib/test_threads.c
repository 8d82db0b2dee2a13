/*
 * The multi-process races again, with threads of one process: exact client
 * counts, one winner of a start race, whole snapshots, and consistent
 * insert/delete/find.  Its own executable so a -DSR_SANITIZE=thread build can
 * run just this (ctest -L threads); all shared test state is atomic.
 */
#include "support/counter_record.h"
#include "support/srt.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- 8 threads add and remove viewers ------------------------------------ */

#define CLIENT_THREADS 8
#define PAIRS          10000

struct client_arg {
	sr_registry *reg;
	const unsigned char *a, *b;
	int idx;
	pthread_barrier_t *go;
	int rc, line;
};

#define T_CHECK(call)                                                                              \
	do {                                                                                       \
		int rc_ = (call);                                                                  \
		if (rc_ != 0) {                                                                    \
			a->rc = rc_;                                                               \
			a->line = __LINE__;                                                        \
			return NULL;                                                               \
		}                                                                                  \
	} while (0)

static void *client_thread(void *p)
{
	struct client_arg *a = p;

	pthread_barrier_wait(a->go);
	for (int k = 0; k < PAIRS; k++) {
		T_CHECK(sr_session_add_client(a->reg, a->a));
		T_CHECK(sr_session_add_client(a->reg, a->b));
		T_CHECK(sr_session_remove_client(a->reg, a->b));
		T_CHECK(sr_session_remove_client(a->reg, a->a));
	}
	for (int k = 0; k <= a->idx; k++)
		T_CHECK(sr_session_add_client(a->reg, a->a));
	return NULL;
}

static void test_threads_clients_exact(void **state)
{
	struct srt_fx *fx = *state;
	struct client_arg args[CLIENT_THREADS];
	pthread_t th[CLIENT_THREADS];
	pthread_barrier_t go;
	uuid_t a, b;
	uint32_t n, want = 0;

	srt_uuid(a);
	srt_uuid(b);
	assert_int_equal(sr_session_insert(fx->reg, a, NULL), 0);
	assert_int_equal(sr_session_insert(fx->reg, b, NULL), 0);
	pthread_barrier_init(&go, NULL, CLIENT_THREADS);
	for (int i = 0; i < CLIENT_THREADS; i++) {
		args[i] = (struct client_arg){.reg = fx->reg, .a = a, .b = b, .idx = i, .go = &go};
		assert_int_equal(pthread_create(&th[i], NULL, client_thread, &args[i]), 0);
		want += (uint32_t)i + 1;
	}
	for (int i = 0; i < CLIENT_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < CLIENT_THREADS; i++)
		if (args[i].rc)
			fail_msg("thread %d: line %d: %d (%s)", i, args[i].line, args[i].rc,
			         sr_strerror(args[i].rc));
	assert_int_equal(sr_session_get_clients(fx->reg, a, &n), 0);
	assert_int_equal(n, want);
	assert_int_equal(sr_session_get_clients(fx->reg, b, &n), 0);
	assert_int_equal(n, 0);
	/* One process: its viewers are all removable by any of its threads. */
	for (uint32_t k = 0; k < want; k++)
		assert_int_equal(sr_session_remove_client(fx->reg, a), 0);
	assert_int_equal(sr_session_remove_client(fx->reg, a), -SR_ENOCLIENT);
	assert_int_equal(sr_session_get_clients(fx->reg, a, &n), 0);
	assert_int_equal(n, 0);
}

/* ---- 16 threads race idle -> starting -------------------------------------- */

#define RACE_THREADS 16
#define RACE_ROUNDS  20

struct race_arg {
	sr_registry *reg;
	const unsigned char *id;
	pthread_barrier_t *go;
	int rc;
};

static void *race_thread(void *p)
{
	struct race_arg *a = p;

	pthread_barrier_wait(a->go);
	a->rc = sr_session_transition(a->reg, a->id, SR_STATE_IDLE, SR_STATE_STARTING);
	return NULL;
}

static void test_threads_start_race(void **state)
{
	struct srt_fx *fx = *state;
	struct race_arg args[RACE_THREADS];
	pthread_t th[RACE_THREADS];
	pthread_barrier_t go;

	for (int r = 0; r < RACE_ROUNDS; r++) {
		uuid_t id;
		srt_uuid(id);
		assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
		pthread_barrier_init(&go, NULL, RACE_THREADS);
		for (int i = 0; i < RACE_THREADS; i++) {
			args[i] = (struct race_arg){.reg = fx->reg, .id = id, .go = &go};
			assert_int_equal(pthread_create(&th[i], NULL, race_thread, &args[i]), 0);
		}
		int won = 0, lost = 0;
		for (int i = 0; i < RACE_THREADS; i++) {
			pthread_join(th[i], NULL);
			won += args[i].rc == 0;
			lost += args[i].rc == -SR_ESTATE;
		}
		pthread_barrier_destroy(&go);
		assert_int_equal(won, 1);
		assert_int_equal(lost, RACE_THREADS - 1);
		sr_state s;
		assert_int_equal(sr_session_get_state(fx->reg, id, &s), 0);
		assert_int_equal(s, SR_STATE_STARTING);
		assert_int_equal(sr_session_delete(fx->reg, id), 0);
	}
}

/* ---- Snapshots stay whole under a writer thread ---------------------------- */

/* Two on the writer's handle (their walks share its walk buffer), one on a
 * read-only handle of its own. */
#define READER_THREADS 3

#define TORN_CLIENTS 3

struct torn_state {
	sr_registry *writer_reg;
	sr_registry *reader_reg[READER_THREADS];
	const unsigned char *id;
	atomic_int stop;
	atomic_ullong writes;
	int writer_rc;
	struct {
		atomic_ullong checks, torn, busy, other;
		int other_rc;
		char first_torn[512];
	} r[READER_THREADS];
};

static void *torn_writer(void *p)
{
	struct torn_state *t = p;

	for (uint64_t n = 2; !atomic_load(&t->stop); n++) {
		int rc = cr_write_round(t->writer_reg, t->id, n);
		if (rc) {
			t->writer_rc = rc;
			break;
		}
		atomic_store(&t->writes, n);
	}
	return NULL;
}

struct reader_arg {
	struct torn_state *t;
	int idx;
};

/* A walk's view of the one session; 1 stops the walk. */
static int torn_walk_cb(const sr_session_info *in, void *ctx)
{
	memcpy(ctx, in, sizeof(*in));
	return 1;
}

static int torn_scan_cb(const sr_session_brief *b, void *ctx)
{
	*(uint32_t *)ctx = b->clients;
	return 1;
}

/* Snapshots, walks and scans in turn: a walk fills its info straight from
 * the packed record with its own retry path, and walks and scans of one
 * handle share its walk buffer. */
static void *torn_reader(void *p)
{
	struct reader_arg *a = p;
	struct torn_state *t = a->t;
	sr_registry *reg = t->reader_reg[a->idx];
	sr_session_info info;
	char why[512];

	for (unsigned n = 0; !atomic_load(&t->stop); n++) {
		int rc;
		if (n % 3 == 0) {
			rc = sr_session_snapshot(reg, t->id, &info);
		} else if (n % 3 == 1) {
			rc = sr_session_foreach(reg, torn_walk_cb, &info);
			rc = rc == 1 ? 0 : rc == 0 ? -ENOENT : rc;
		} else {
			uint32_t clients = UINT32_MAX;
			rc = sr_session_scan(reg, torn_scan_cb, &clients);
			if (rc == 1 && clients == TORN_CLIENTS)
				continue;
			snprintf(why, sizeof(why), "scan: rc %d, %u clients", rc, clients);
			if (atomic_fetch_add(&t->r[a->idx].torn, 1) == 0)
				snprintf(t->r[a->idx].first_torn, sizeof(t->r[a->idx].first_torn),
				         "%s", why);
			continue;
		}
		if (rc == -SR_EBUSY) {
			atomic_fetch_add(&t->r[a->idx].busy, 1);
			continue;
		}
		if (rc) {
			atomic_fetch_add(&t->r[a->idx].other, 1);
			t->r[a->idx].other_rc = rc;
			continue;
		}
		atomic_fetch_add(&t->r[a->idx].checks, 1);
		if (!cr_check(&info, why, sizeof(why)) &&
		    atomic_fetch_add(&t->r[a->idx].torn, 1) == 0)
			snprintf(t->r[a->idx].first_torn, sizeof(t->r[a->idx].first_torn), "%s",
			         why);
	}
	return NULL;
}

static void test_threads_snapshots_never_torn(void **state)
{
	struct srt_fx *fx = *state;
	struct torn_state *t = calloc(1, sizeof(*t));
	struct reader_arg ra[READER_THREADS];
	pthread_t wt, rt[READER_THREADS];
	uuid_t id;

	assert_non_null(t);
	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	assert_int_equal(cr_write_round(fx->reg, id, 1), 0);
	t->writer_reg = fx->reg;
	t->id = id;
	/* One reader on the writer's handle, one on a read-only handle of its own. */
	t->reader_reg[0] = fx->reg;
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &t->reader_reg[1]), 0);
	t->reader_reg[2] = fx->reg;
	for (int i = 0; i < TORN_CLIENTS; i++)
		assert_int_equal(sr_session_add_client(fx->reg, id), 0);

	assert_int_equal(pthread_create(&wt, NULL, torn_writer, t), 0);
	for (int i = 0; i < READER_THREADS; i++) {
		ra[i] = (struct reader_arg){.t = t, .idx = i};
		assert_int_equal(pthread_create(&rt[i], NULL, torn_reader, &ra[i]), 0);
	}
	double end = srt_now_ms() + 4000;
	while (srt_now_ms() < end) {
		if (atomic_load(&t->r[0].checks) >= 5000 && atomic_load(&t->r[1].checks) >= 5000 &&
		    atomic_load(&t->r[2].checks) >= 5000 && atomic_load(&t->writes) > 1000)
			break;
		srt_sleep_ms(20);
	}
	atomic_store(&t->stop, 1);
	pthread_join(wt, NULL);
	for (int i = 0; i < READER_THREADS; i++)
		pthread_join(rt[i], NULL);
	sr_registry_close(t->reader_reg[1]);

	unsigned long long checks = 0, torn = 0;
	for (int i = 0; i < READER_THREADS; i++) {
		print_message("reader thread %d: %llu checks, %llu torn, %llu busy, %llu other\n",
		              i, atomic_load(&t->r[i].checks), atomic_load(&t->r[i].torn),
		              atomic_load(&t->r[i].busy), atomic_load(&t->r[i].other));
		if (atomic_load(&t->r[i].torn))
			print_error("first torn snapshot: %s\n", t->r[i].first_torn);
		if (atomic_load(&t->r[i].other))
			print_error("unexpected %d (%s)\n", t->r[i].other_rc,
			            sr_strerror(t->r[i].other_rc));
		checks += atomic_load(&t->r[i].checks);
		torn += atomic_load(&t->r[i].torn);
		assert_int_equal(atomic_load(&t->r[i].other), 0);
	}
	print_message("writer thread: %llu rounds\n", atomic_load(&t->writes));
	assert_int_equal(t->writer_rc, 0);
	assert_int_equal(torn, 0);
	assert_true(checks > 1000);
	assert_true(atomic_load(&t->writes) > 100);
	free(t);
}

/* ---- insert / delete / find churn ------------------------------------------ */

#define CHURN_THREADS 4
#define OWN           16
#define SHARED        8
#define CHURN_MS      700

struct churn_arg {
	sr_registry *reg;
	pthread_barrier_t *go;
	uint64_t ops;
	uint32_t present;
	int idx;
	int line, rc;
};

#define C_EXPECT(cond, code)                                                                       \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			a->line = __LINE__;                                                        \
			a->rc = (code);                                                            \
			return NULL;                                                               \
		}                                                                                  \
	} while (0)

static void *churn_thread(void *p)
{
	struct churn_arg *a = p;
	uuid_t own[OWN], shared[SHARED];
	unsigned seed = (unsigned)a->idx * 7919u + 1u;

	for (int k = 0; k < OWN; k++)
		srt_uuid_n(own[k], (uint32_t)a->idx + 1, (uint32_t)k);
	for (int k = 0; k < SHARED; k++)
		srt_uuid_n(shared[k], 0xfeed, (uint32_t)k);
	pthread_barrier_wait(a->go);
	double end = srt_now_ms() + CHURN_MS;
	while (srt_now_ms() < end) {
		for (int burst = 0; burst < 64; burst++) {
			int k = rand_r(&seed) % OWN, s = rand_r(&seed) % SHARED, rc;
			uint32_t bit = 1u << k;
			switch (rand_r(&seed) % 6) {
			case 0:
				rc = sr_session_insert(a->reg, own[k], NULL);
				C_EXPECT(rc == ((a->present & bit) ? -EEXIST : 0), rc);
				a->present |= bit;
				break;
			case 1:
				rc = sr_session_delete(a->reg, own[k]);
				C_EXPECT(rc == ((a->present & bit) ? 0 : -ENOENT), rc);
				a->present &= ~bit;
				break;
			case 2:
				rc = sr_session_find(a->reg, own[k], NULL);
				C_EXPECT(rc == ((a->present & bit) ? 0 : -ENOENT), rc);
				break;
			case 3:
				rc = sr_session_insert(a->reg, shared[s], NULL);
				C_EXPECT(rc == 0 || rc == -EEXIST, rc);
				break;
			case 4:
				rc = sr_session_delete(a->reg, shared[s]);
				C_EXPECT(rc == 0 || rc == -ENOENT, rc);
				break;
			default:
				rc = sr_session_find(a->reg, shared[s], NULL);
				C_EXPECT(rc == 0 || rc == -ENOENT, rc);
				break;
			}
			a->ops++;
		}
	}
	return NULL;
}

static void test_threads_insert_delete_find(void **state)
{
	struct srt_fx fx;
	struct churn_arg args[CHURN_THREADS];
	pthread_t th[CHURN_THREADS];
	pthread_barrier_t go;

	(void)state;
	assert_int_equal(srt_create(&fx, CHURN_THREADS * OWN + SHARED, 0, 0), 0);
	pthread_barrier_init(&go, NULL, CHURN_THREADS);
	for (int i = 0; i < CHURN_THREADS; i++) {
		args[i] = (struct churn_arg){.reg = fx.reg, .idx = i, .go = &go};
		assert_int_equal(pthread_create(&th[i], NULL, churn_thread, &args[i]), 0);
	}
	uint64_t ops = 0;
	for (int i = 0; i < CHURN_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < CHURN_THREADS; i++) {
		if (args[i].line)
			fail_msg("churn thread %d: line %d: %d (%s)", i, args[i].line, args[i].rc,
			         sr_strerror(args[i].rc));
		ops += args[i].ops;
	}
	print_message("thread churn: %llu operations\n", (unsigned long long)ops);
	assert_true(ops > 1000);

	assert_int_equal(sr_registry_verify(fx.reg), 0);
	uuid_t ids[CHURN_THREADS * OWN + SHARED];
	size_t n = 0, expect = 0;
	assert_int_equal(sr_session_list(fx.reg, ids, SRT_ARRAY_LEN(ids), &n), 0);
	sr_registry_stats st;
	assert_int_equal(sr_registry_stats_get(fx.reg, &st), 0);
	assert_int_equal(st.sessions, n);
	for (int i = 0; i < CHURN_THREADS; i++) {
		for (int k = 0; k < OWN; k++) {
			uuid_t id;
			srt_uuid_n(id, (uint32_t)i + 1, (uint32_t)k);
			bool want = args[i].present & (1u << k);
			assert_int_equal(sr_session_find(fx.reg, id, NULL), want ? 0 : -ENOENT);
			expect += want;
		}
	}
	for (int k = 0; k < SHARED; k++) {
		uuid_t id;
		srt_uuid_n(id, 0xfeed, (uint32_t)k);
		expect += sr_session_find(fx.reg, id, NULL) == 0;
	}
	assert_int_equal(n, expect);
	sr_registry_close(fx.reg);
	srt_cleanup_names();
}

/* ---- first walks of a handle --------------------------------------------- */

#define WALK_THREADS 4
#define WALK_ROUNDS  40

struct walk_arg {
	sr_registry *reg;
	pthread_barrier_t *go;
	bool scan;
	int rc;
	unsigned seen;
	uint32_t clients;
};

static int count_walk(const sr_session_info *in, void *ctx)
{
	struct walk_arg *a = ctx;
	a->seen++;
	a->clients += in->clients;
	return 0;
}

static int count_scan(const sr_session_brief *b, void *ctx)
{
	struct walk_arg *a = ctx;
	a->seen++;
	a->clients += b->clients;
	return 0;
}

static void *first_walk(void *p)
{
	struct walk_arg *a = p;
	pthread_barrier_wait(a->go);
	a->rc = a->scan ? sr_session_scan(a->reg, count_scan, a)
	                : sr_session_foreach(a->reg, count_walk, a);
	return NULL;
}

/*
 * Walks and scans of one handle share its walk buffer, which the first walk
 * allocates; the others walk with buffers of their own meanwhile.  Threads
 * released together onto fresh handles make those first walks collide
 * (TSan: the handle's buffer pointer was read without the lock while its
 * first holder set it), and every walk must count the same viewers.
 */
static void test_threads_first_walks(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t ids[3];
	for (int i = 0; i < 3; i++) {
		srt_uuid(ids[i]);
		assert_int_equal(sr_session_insert(fx->reg, ids[i], NULL), 0);
		for (int c = 0; c <= i; c++)
			assert_int_equal(sr_session_add_client(fx->reg, ids[i]), 0);
	}
	for (int round = 0; round < WALK_ROUNDS; round++) {
		sr_registry *reg = NULL;
		assert_int_equal(
		    sr_registry_attach(fx->name, round % 2 ? SR_ATTACH_READONLY : 0, &reg), 0);
		pthread_barrier_t go;
		pthread_t th[WALK_THREADS];
		struct walk_arg a[WALK_THREADS];
		pthread_barrier_init(&go, NULL, WALK_THREADS);
		for (int i = 0; i < WALK_THREADS; i++) {
			a[i] = (struct walk_arg){.reg = reg, .go = &go, .scan = i % 2};
			assert_int_equal(pthread_create(&th[i], NULL, first_walk, &a[i]), 0);
		}
		for (int i = 0; i < WALK_THREADS; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(a[i].rc, 0);
			assert_int_equal(a[i].seen, 3);
			assert_int_equal(a[i].clients, 1 + 2 + 3);
		}
		pthread_barrier_destroy(&go);
		sr_registry_close(reg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_threads_clients_exact, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_threads_start_race, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_threads_snapshots_never_torn, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test(test_threads_insert_delete_find),
	    cmocka_unit_test_setup_teardown(test_threads_first_walks, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
