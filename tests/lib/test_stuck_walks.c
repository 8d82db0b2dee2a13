/*
 * Walks over a table whose records are all stuck mid-update (odd sequence, as
 * a writer killed inside a call leaves one before any repair): every walk
 * must give the first stuck record full patience and the others a few
 * tries, so the work it spends is bounded by the table size, not by
 * thousands of tries per record.  The bound is on work (read attempts on
 * records held odd, counted by the library), never on wall time, which a
 * loaded machine can stretch at will.  Links the static library for the
 * internal layout and the counter.
 */
#include "support/srt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_internal.h"

#define SESSIONS 1024

/* Far below what a per-record full wait costs (SESSIONS x SR_TRIES_FULL),
 * with room for the one record that gets full patience, twice over. */
#define WORK_BOUND ((uint64_t)2 * SR_TRIES_FULL + (uint64_t)SESSIONS * SR_TRIES_WALK_BUSY)

static void make_stuck_table(struct srt_fx *fx)
{
	assert_int_equal(srt_create(fx, SESSIONS, 0, 0), 0);
	for (uint32_t i = 0; i < SESSIONS; i++) {
		uuid_t id;
		srt_uuid_n(id, 0x57ac, i);
		assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	}
	/* Odd sequences with no writer behind them and no wip record: nothing
	 * repairs them, so every walk meets all of them stuck. */
	for (uint32_t s = 0; s < SESSIONS; s++)
		atomic_fetch_or(&fx->reg->cold[s].seq, 1);
}

static int count_cb(const sr_session_info *info, void *ctx)
{
	(void)info;
	(*(int *)ctx)++;
	return 0;
}

static void test_prometheus_on_stuck_records(void **state)
{
	(void)state;
	struct srt_fx fx;
	make_stuck_table(&fx);
	sr_registry *ro = NULL;
	assert_int_equal(sr_registry_attach(fx.name, SR_ATTACH_READONLY, &ro), 0);

	uint64_t before = sr__odd_reads;
	int seen = 0;
	assert_int_equal(sr_session_foreach(ro, count_cb, &seen), -SR_EBUSY);
	uint64_t foreach_work = sr__odd_reads - before;
	assert_int_equal(seen, 0);

	before = sr__odd_reads;
	char *text = NULL;
	assert_int_equal(sr_registry_prometheus(ro, &text), 0);
	uint64_t prom_work = sr__odd_reads - before;

	before = sr__odd_reads;
	char *json = NULL;
	assert_int_equal(sr_registry_json(ro, &json), -SR_EBUSY);
	uint64_t json_work = sr__odd_reads - before;

	print_message("tries on stuck records: foreach %llu, prometheus %llu, json %llu "
	              "(bound %llu)\n",
	              (unsigned long long)foreach_work, (unsigned long long)prom_work,
	              (unsigned long long)json_work, (unsigned long long)WORK_BOUND);
	/* Each walk did try the stuck records (else this measured nothing)... */
	assert_true(prom_work >= SESSIONS);
	/* ...and spent no more than the walk budget allows. */
	assert_true(foreach_work <= WORK_BOUND);
	assert_true(prom_work <= WORK_BOUND);
	assert_true(json_work <= WORK_BOUND);
	/* The scrape still answers, and says what it left out. */
	assert_non_null(strstr(text, "\nstreamreg_records_skipped 1024\n"));
	assert_non_null(strstr(text, "streamreg_sessions{state=\"idle\"} 0\n"));
	free(text);
	free(json);
	sr_registry_close(ro);
	sr_registry_close(fx.reg);
	sr_registry_unlink(fx.name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prometheus_on_stuck_records),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
