/*
 * sr_session_scan() and sr_session_foreach() never hand one session the
 * client count of the slot's previous owner: a deleted channel's viewers
 * stay with it, whatever the table does during the walk.
 */
#include "support/srt.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mix {
	sr_registry *reg;
	uuid_t a, b, c;
	int swapped; /* the callback replaced b by c */
	int seen_c;  /* c was reported */
	uint32_t c_clients;
};

/* On the first entry, delete b (5 viewers) and insert c into the slot it frees. */
static void swap_b_for_c(struct mix *m)
{
	if (m->swapped)
		return;
	m->swapped = 1;
	assert_int_equal(sr_session_delete(m->reg, m->b), 0);
	assert_int_equal(sr_session_insert(m->reg, m->c, NULL), 0);
}

/* Both walks: note c's count, and replace b by c on the first entry. */
static int met(struct mix *m, const uuid_t id, uint32_t clients)
{
	if (memcmp(id, m->c, sizeof(uuid_t)) == 0) {
		m->seen_c++;
		m->c_clients = clients;
	}
	swap_b_for_c(m);
	return 0;
}

static int scan_cb(const sr_session_brief *b, void *ctx)
{
	return met(ctx, b->channel_id, b->clients);
}

static int foreach_cb(const sr_session_info *info, void *ctx)
{
	return met(ctx, info->channel_id, info->clients);
}

static void setup_mix(struct srt_fx *fx, struct mix *m)
{
	memset(m, 0, sizeof(*m));
	m->reg = fx->reg;
	srt_uuid(m->a);
	srt_uuid(m->b);
	srt_uuid(m->c);
	assert_int_equal(sr_session_insert(fx->reg, m->a, NULL), 0);
	assert_int_equal(sr_session_insert(fx->reg, m->b, NULL), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sr_session_add_client(fx->reg, m->b), 0);
}

static void test_scan_no_inherited_clients(void **state)
{
	struct srt_fx *fx = *state;
	struct mix m;
	setup_mix(fx, &m);
	assert_int_equal(sr_session_scan(fx->reg, scan_cb, &m), 0);
	/* c took b's slot after a, so the walk reached it. */
	assert_int_equal(m.seen_c, 1);
	assert_int_equal(m.c_clients, 0);
}

static void test_foreach_no_inherited_clients(void **state)
{
	struct srt_fx *fx = *state;
	struct mix m;
	setup_mix(fx, &m);
	assert_int_equal(sr_session_foreach(fx->reg, foreach_cb, &m), 0);
	assert_int_equal(m.seen_c, 1);
	assert_int_equal(m.c_clients, 0);
}

/* ---- Successive walks: each sees the counts of its own moment. ----------
 * A walk keeps its per-slot sums in a buffer it reuses; what one walk left
 * there must not reach the next, whether a count fell to zero, a slot was
 * reused by a new channel or a slot's word of marks was only partly set. */
#define SEQ_CHANNELS 200
#define SEQ_ROUNDS   12

struct expect {
	uuid_t id[SEQ_CHANNELS];
	uint32_t want[SEQ_CHANNELS];
	uint32_t seen, wrong;
};

static void walk_check(struct expect *e, const uuid_t id, uint32_t clients)
{
	for (int i = 0; i < SEQ_CHANNELS; i++) {
		if (memcmp(id, e->id[i], sizeof(uuid_t)) == 0) {
			e->seen++;
			if (clients != e->want[i]) {
				print_message("channel %d: walk said %u viewers, want %u\n", i,
				              clients, e->want[i]);
				e->wrong++;
			}
			return;
		}
	}
	e->wrong++; /* a channel that is not in the table */
}

static int seq_scan_cb(const sr_session_brief *b, void *ctx)
{
	walk_check(ctx, b->channel_id, b->clients);
	return 0;
}

static int seq_foreach_cb(const sr_session_info *info, void *ctx)
{
	walk_check(ctx, info->channel_id, info->clients);
	return 0;
}

static void set_clients(sr_registry *reg, struct expect *e, int i, uint32_t n)
{
	while (e->want[i] < n) {
		assert_int_equal(sr_session_add_client(reg, e->id[i]), 0);
		e->want[i]++;
	}
	while (e->want[i] > n) {
		assert_int_equal(sr_session_remove_client(reg, e->id[i]), 0);
		e->want[i]--;
	}
}

static void test_successive_walks_exact(void **state)
{
	struct srt_fx *fx = *state;
	static struct expect e;
	memset(&e, 0, sizeof(e));
	for (int i = 0; i < SEQ_CHANNELS; i++) {
		srt_uuid(e.id[i]);
		assert_int_equal(sr_session_insert(fx->reg, e.id[i], NULL), 0);
	}
	unsigned seed = 12345;
	for (int round = 0; round < SEQ_ROUNDS; round++) {
		for (int i = 0; i < SEQ_CHANNELS; i++) {
			seed = seed * 1103515245u + 12345u;
			/* Mostly none, as in a real table; some rounds clear everyone. */
			uint32_t n = (seed >> 16) % 4 == 0 && round % 4 != 3 ? (seed >> 20) % 5 : 0;
			set_clients(fx->reg, &e, i, n);
		}
		/* Replace a few channels: their slots go to new ids with no viewers. */
		for (int k = 0; k < 5; k++) {
			int i = (round * 37 + k * 11) % SEQ_CHANNELS;
			set_clients(fx->reg, &e, i, 0);
			assert_int_equal(sr_session_delete(fx->reg, e.id[i]), 0);
			srt_uuid(e.id[i]);
			assert_int_equal(sr_session_insert(fx->reg, e.id[i], NULL), 0);
		}
		e.seen = e.wrong = 0;
		assert_int_equal(sr_session_scan(fx->reg, seq_scan_cb, &e), 0);
		assert_int_equal(e.seen, SEQ_CHANNELS);
		assert_int_equal(e.wrong, 0);
		e.seen = 0;
		assert_int_equal(sr_session_foreach(fx->reg, seq_foreach_cb, &e), 0);
		assert_int_equal(e.seen, SEQ_CHANNELS);
		assert_int_equal(e.wrong, 0);
		for (int i = 0; i < SEQ_CHANNELS; i++) {
			uint32_t n = UINT32_MAX;
			assert_int_equal(sr_session_get_clients(fx->reg, e.id[i], &n), 0);
			assert_int_equal(n, e.want[i]);
		}
	}
}

/* ---- Many processes: viewed channels and never-viewed ones share slots. --- */

#define FILLERS    3000
#define CHURNERS   2
#define MAX_ROUNDS 2000000
#define QUIET_SEEN 1000
#define TAG_VIEWED 0xa1a1
#define TAG_QUIET  0xb2b2
#define TAG_FILLER 0xc3c3

struct churn {
	char name[SR_NAME_MAX + 1];
	int idx;
	struct srt_gate *gate;
	_Atomic int *stop; /* shared: the parent has seen enough */
};

/* Even children insert channels, give them viewers and delete them with the
 * viewers still counted; odd children insert channels nobody ever views. */
static int churner(void *p)
{
	struct churn *a = p;
	sr_registry *reg = NULL;
	if (sr_registry_attach(a->name, 0, &reg) != 0)
		return 10;
	srt_gate_wait(a->gate);
	bool viewer = a->idx % 2 == 0;
	for (uint32_t r = 0; r < MAX_ROUNDS && !atomic_load(a->stop); r++) {
		uuid_t id;
		srt_uuid_n(id, viewer ? TAG_VIEWED : TAG_QUIET, (uint32_t)a->idx << 20 | r);
		if (sr_session_insert(reg, id, NULL) != 0)
			return 11;
		for (int k = 0; viewer && k < 3; k++)
			if (sr_session_add_client(reg, id) != 0)
				return 12;
		/* Stay a little, so walks meet the channel. */
		for (int k = 0; k < 20; k++)
			if (sr_session_touch(reg, id) != 0)
				return 14;
		if (sr_session_delete(reg, id) != 0)
			return 13;
	}
	sr_registry_close(reg);
	return 0;
}

static uint32_t tag_of(const uuid_t id)
{
	uint32_t tag;
	memcpy(&tag, id, sizeof(tag));
	return tag;
}

struct tally {
	uint64_t quiet_seen, quiet_with_clients;
};

static int tally(struct tally *t, const uuid_t id, uint32_t clients)
{
	if (tag_of(id) == TAG_QUIET) {
		t->quiet_seen++;
		t->quiet_with_clients += clients != 0;
	}
	return 0;
}

static int churn_scan_cb(const sr_session_brief *b, void *ctx)
{
	return tally(ctx, b->channel_id, b->clients);
}

static int churn_foreach_cb(const sr_session_info *info, void *ctx)
{
	return tally(ctx, info->channel_id, info->clients);
}

static void test_churn_walks_never_mix(void **state)
{
	(void)state;
	struct srt_fx fx;
	assert_int_equal(srt_create(&fx, 4096, 8, 64), 0);
	/* Fillers take the low slots, so a walk spends time before it reaches
	 * the churned ones: that is when a slot changes hands under it. */
	for (uint32_t i = 0; i < FILLERS; i++) {
		uuid_t id;
		srt_uuid_n(id, TAG_FILLER, i);
		assert_int_equal(sr_session_insert(fx.reg, id, NULL), 0);
	}
	struct srt_gate gate;
	srt_gate_init(&gate);
	_Atomic int *stop = srt_shared_alloc(sizeof(*stop));
	struct churn args[CHURNERS * 2];
	pid_t pids[CHURNERS * 2];
	int codes[CHURNERS * 2];
	fflush(NULL);
	for (int i = 0; i < CHURNERS * 2; i++) {
		memcpy(args[i].name, fx.name, sizeof(fx.name));
		args[i].idx = i;
		args[i].gate = &gate;
		args[i].stop = stop;
		pids[i] = srt_spawn(churner, &args[i]);
		codes[i] = -1;
	}
	srt_gate_open(&gate);
	struct tally scan = {0, 0}, each = {0, 0};
	uint64_t walks = 0;
	/* Walk until the walks met enough never-viewed channels, or the churners
	 * ran out of rounds: bounded by work done, not by a clock. */
	while (!srt_all_exited(pids, codes, CHURNERS * 2)) {
		if (scan.quiet_seen >= QUIET_SEEN && each.quiet_seen >= QUIET_SEEN)
			atomic_store(stop, 1);
		assert_int_equal(sr_session_scan(fx.reg, churn_scan_cb, &scan), 0);
		int rc = sr_session_foreach(fx.reg, churn_foreach_cb, &each);
		assert_true(rc == 0 || rc == -SR_EBUSY);
		walks++;
	}
	for (int i = 0; i < CHURNERS * 2; i++)
		assert_int_equal(codes[i], 0);
	print_message("%llu walks; scan saw %llu never-viewed entries, %llu with clients; "
	              "foreach saw %llu, %llu with clients\n",
	              (unsigned long long)walks, (unsigned long long)scan.quiet_seen,
	              (unsigned long long)scan.quiet_with_clients,
	              (unsigned long long)each.quiet_seen,
	              (unsigned long long)each.quiet_with_clients);
	assert_int_equal(scan.quiet_with_clients, 0);
	assert_int_equal(each.quiet_with_clients, 0);
	/* Otherwise the test checked nothing. */
	assert_true(scan.quiet_seen + each.quiet_seen > 0);
	srt_shared_free(stop, sizeof(*stop));
	sr_registry_close(fx.reg);
	sr_registry_unlink(fx.name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_scan_no_inherited_clients, srt_setup_default,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_successive_walks_exact, srt_setup_default,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_foreach_no_inherited_clients, srt_setup_default,
	                                    srt_teardown),
	    cmocka_unit_test(test_churn_walks_never_mix),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
