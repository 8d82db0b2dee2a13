/*
 * Readers never see a torn record: a writer process keeps rewriting one
 * session with counter_record rounds while two reader processes (one
 * read-only, one read-write) check every snapshot is whole and one instant.
 */
#include "support/counter_record.h"
#include "support/srt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READERS    2
#define MIN_CHECKS 1000
#define MAX_RUN_MS 4000

struct torn_shared {
	char name[SR_NAME_MAX + 1];
	uuid_t id;
	volatile int stop;
	volatile uint64_t writes;
	int writer_fail_rc;
	struct {
		uint64_t checks, torn, busy, other;
		int other_rc;
		char first_torn[512];
	} r[READERS];
};

static int writer(void *p)
{
	struct torn_shared *sh = p;
	sr_registry *reg = NULL;
	int rc;

	if ((rc = sr_registry_attach(sh->name, 0, &reg))) {
		sh->writer_fail_rc = rc;
		return 1;
	}
	for (uint64_t n = 2; !sh->stop; n++) {
		if ((rc = cr_write_round(reg, sh->id, n))) {
			sh->writer_fail_rc = rc;
			return 2;
		}
		sh->writes = n;
	}
	sr_registry_close(reg);
	return 0;
}

struct reader_arg {
	struct torn_shared *sh;
	int idx;
};

static int reader(void *p)
{
	struct reader_arg *a = p;
	struct torn_shared *sh = a->sh;
	sr_registry *reg = NULL;
	sr_session_info info;

	if (sr_registry_attach(sh->name, a->idx == 0 ? SR_ATTACH_READONLY : 0, &reg) != 0)
		return 1;
	while (!sh->stop) {
		int rc = sr_session_snapshot(reg, sh->id, &info);
		if (rc == -SR_EBUSY) {
			sh->r[a->idx].busy++;
			continue;
		}
		if (rc != 0) {
			sh->r[a->idx].other++;
			sh->r[a->idx].other_rc = rc;
			continue;
		}
		char why[512];
		sh->r[a->idx].checks++;
		if (!cr_check(&info, why, sizeof(why)) && sh->r[a->idx].torn++ == 0)
			snprintf(sh->r[a->idx].first_torn, sizeof(sh->r[a->idx].first_torn), "%s",
			         why);
	}
	sr_registry_close(reg);
	return 0;
}

static void test_snapshots_never_torn(void **state)
{
	struct srt_fx *fx = *state;
	struct torn_shared *sh = srt_shared_alloc(sizeof(*sh));
	struct reader_arg ra[READERS];
	pid_t rp[READERS];

	assert_non_null(sh);
	memcpy(sh->name, fx->name, sizeof(sh->name));
	srt_uuid(sh->id);
	assert_int_equal(sr_session_insert(fx->reg, sh->id, NULL), 0);
	/* Round 1 by the parent, so the record is whole before anyone reads. */
	assert_int_equal(cr_write_round(fx->reg, sh->id, 1), 0);

	pid_t wp = srt_spawn(writer, sh);
	assert_true(wp > 0);
	for (int i = 0; i < READERS; i++) {
		ra[i] = (struct reader_arg){.sh = sh, .idx = i};
		rp[i] = srt_spawn(reader, &ra[i]);
		assert_true(rp[i] > 0);
	}
	/* Run until both readers made enough checks while writes went on, or time is up. */
	double end = srt_now_ms() + MAX_RUN_MS;
	while (srt_now_ms() < end) {
		if (sh->r[0].checks >= 5 * MIN_CHECKS && sh->r[1].checks >= 5 * MIN_CHECKS &&
		    sh->writes > 1000)
			break;
		srt_sleep_ms(20);
	}
	sh->stop = 1;
	assert_int_equal(srt_wait(wp), 0);
	for (int i = 0; i < READERS; i++)
		assert_int_equal(srt_wait(rp[i]), 0);

	uint64_t checks = 0, torn = 0;
	for (int i = 0; i < READERS; i++) {
		print_message("reader %d (%s): %llu checks, %llu torn, %llu busy, %llu other\n", i,
		              i == 0 ? "read-only" : "read-write",
		              (unsigned long long)sh->r[i].checks,
		              (unsigned long long)sh->r[i].torn, (unsigned long long)sh->r[i].busy,
		              (unsigned long long)sh->r[i].other);
		if (sh->r[i].torn)
			print_error("reader %d first torn snapshot: %s\n", i, sh->r[i].first_torn);
		if (sh->r[i].other)
			print_error("reader %d: unexpected %d (%s)\n", i, sh->r[i].other_rc,
			            sr_strerror(sh->r[i].other_rc));
		checks += sh->r[i].checks;
		torn += sh->r[i].torn;
		assert_int_equal(sh->r[i].other, 0);
	}
	print_message("writer: %llu rounds\n", (unsigned long long)sh->writes);
	assert_int_equal(torn, 0);
	assert_true(checks > MIN_CHECKS);
	assert_true(sh->writes > 100);

	/* The final record is the writer's last round, whole. */
	sr_session_info info;
	assert_int_equal(sr_session_snapshot(fx->reg, sh->id, &info), 0);
	assert_int_equal(cr_qualities_value(&info), (long long)sh->writes);
	assert_int_equal(cr_paths_value(&info), (long long)sh->writes);
	assert_int_equal(cr_error_value(&info), (long long)sh->writes);
	srt_shared_free(sh, sizeof(*sh));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_snapshots_never_torn, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
