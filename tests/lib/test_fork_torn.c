/*
 * Readers never see a torn record.  A writer process keeps rewriting one
 * session so that every field of an update encodes the same counter n:
 *   set_qualities(n): 1 + n % 8 variants, level "L<n>", bitrate n, width n,
 *                     height n + i, codec "c<n>", paths ".../<n>/<i>..."
 *   set_paths(n):     output_dir "/out/<n>", segment_path "/out/<n>/seg.ts"
 *   record_error(n):  last_error "err <n>", and error_count becomes n
 * in that order.  Two reader processes (one read-only, one read-write) take
 * snapshots and check that each part is whole, and that the parts are from
 * consecutive updates (q - 1 <= e <= p <= q): a snapshot is one instant.
 */
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

static void quality_for(uint64_t n, int i, sr_quality *q)
{
	memset(q, 0, sizeof(*q));
	snprintf(q->level, sizeof(q->level), "L%llu", (unsigned long long)n);
	q->bitrate_kbps = (uint32_t)n;
	q->width = (uint32_t)n;
	q->height = (uint32_t)n + (uint32_t)i;
	snprintf(q->codec, sizeof(q->codec), "c%llu", (unsigned long long)n);
	snprintf(q->segment_path, sizeof(q->segment_path), "/seg/%llu/%d_%%05d.ts",
	         (unsigned long long)n, i);
	snprintf(q->playlist_path, sizeof(q->playlist_path), "/pl/%llu/%d.m3u8",
	         (unsigned long long)n, i);
}

static int write_round(sr_registry *reg, const uuid_t id, uint64_t n)
{
	sr_quality q[SR_MAX_QUALITIES];
	char out[64], seg[64], err[64];
	size_t nq = 1 + n % SR_MAX_QUALITIES;
	int rc;

	for (size_t i = 0; i < nq; i++)
		quality_for(n, (int)i, &q[i]);
	snprintf(out, sizeof(out), "/out/%llu", (unsigned long long)n);
	snprintf(seg, sizeof(seg), "/out/%llu/seg.ts", (unsigned long long)n);
	snprintf(err, sizeof(err), "err %llu", (unsigned long long)n);
	if ((rc = sr_session_set_qualities(reg, id, q, nq)))
		return rc;
	if ((rc = sr_session_set_paths(reg, id, out, seg)))
		return rc;
	return sr_session_record_error(reg, id, err);
}

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
		if ((rc = write_round(reg, sh->id, n))) {
			sh->writer_fail_rc = rc;
			return 2;
		}
		sh->writes = n;
	}
	sr_registry_close(reg);
	return 0;
}

/* The counter a snapshot's qualities encode, or -1 if the variants disagree. */
static long long qualities_value(const sr_session_info *s)
{
	if (s->n_qualities < 1 || s->n_qualities > SR_MAX_QUALITIES)
		return -1;
	long long n = (long long)s->qualities[0].bitrate_kbps;
	if ((long long)(1 + n % SR_MAX_QUALITIES) != (long long)s->n_qualities)
		return -1;
	for (uint32_t i = 0; i < s->n_qualities; i++) {
		sr_quality want;
		quality_for((uint64_t)n, (int)i, &want);
		const sr_quality *got = &s->qualities[i];
		if (strcmp(got->level, want.level) || got->bitrate_kbps != want.bitrate_kbps ||
		    got->width != want.width || got->height != want.height ||
		    strcmp(got->codec, want.codec) ||
		    strcmp(got->segment_path, want.segment_path) ||
		    strcmp(got->playlist_path, want.playlist_path))
			return -1;
	}
	return n;
}

static long long paths_value(const sr_session_info *s)
{
	unsigned long long a;
	char out[64], seg[64];

	if (sscanf(s->output_dir, "/out/%llu", &a) != 1)
		return -1;
	snprintf(out, sizeof(out), "/out/%llu", a);
	snprintf(seg, sizeof(seg), "/out/%llu/seg.ts", a);
	if (strcmp(out, s->output_dir) || strcmp(seg, s->segment_path))
		return -1;
	return (long long)a;
}

static long long error_value(const sr_session_info *s)
{
	unsigned long long e;

	if (sscanf(s->last_error, "err %llu", &e) != 1 || e != s->error_count)
		return -1;
	return (long long)e;
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
		long long q = qualities_value(&info), pth = paths_value(&info),
		          e = error_value(&info);
		sh->r[a->idx].checks++;
		if (q < 0 || pth < 0 || e < 0 || !(q - 1 <= e && e <= pth && pth <= q)) {
			if (sh->r[a->idx].torn++ == 0)
				snprintf(
				    sh->r[a->idx].first_torn, sizeof(sh->r[a->idx].first_torn),
				    "q=%lld p=%lld e=%lld level=%.16s bitrate=%u nq=%u out=%.40s "
				    "seg=%.40s err=%.40s count=%u",
				    q, pth, e, info.qualities[0].level,
				    info.qualities[0].bitrate_kbps, info.n_qualities,
				    info.output_dir, info.segment_path, info.last_error,
				    info.error_count);
		}
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
	assert_int_equal(write_round(fx->reg, sh->id, 1), 0);

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
	assert_int_equal(qualities_value(&info), (long long)sh->writes);
	assert_int_equal(paths_value(&info), (long long)sh->writes);
	assert_int_equal(error_value(&info), (long long)sh->writes);
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
