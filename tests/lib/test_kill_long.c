/*
 * A writer SIGKILLed at a random instant while it rewrites a record that
 * fills its head and reaches far into its tail (every string near its
 * maximum, eight variants, lengths that differ between the values so that
 * every offset moves).  The next locker must roll the record back from the
 * undo copy exactly: afterwards the session holds one of the values the
 * writer wrote, never a mix, and verify finds nothing.  Two reader processes
 * (read-only and read-write) snapshot the session the whole time, across
 * kills and repairs, by snapshots and by walks, and must never see a mix
 * either.
 */
#include "support/srt.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_internal.h"

#define VALUES  5
#define READERS 2
/* Kills until this many landed inside a record's write, within MAX_KILLS. */
#define WANT_MID_RECORD 20
#define MIN_KILLS       200
#define MAX_KILLS       2000
#define WAIT_MS         20000.0

struct long_shared {
	char name[SR_NAME_MAX + 1];
	uuid_t id;
	volatile int stop;
	volatile uint64_t writes;
	int writer_rc;
	struct {
		volatile uint64_t checks, bad, busy;
		int other_rc;
		char first_bad[256];
	} r[READERS];
};

/* len bytes of a pattern that names (value, field) and differs at every
 * position, so a mix of two values or a shifted copy shows. */
static void fill(char *dst, size_t len, unsigned v, unsigned field)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = (char)('A' + (v * 7 + field * 3 + i) % 26);
	dst[len] = '\0';
}

static void quality_of(unsigned v, unsigned i, sr_quality *q)
{
	memset(q, 0, sizeof(*q));
	fill(q->level, SR_LEVEL_MAX - (v + i) % 7, v, 10 + i);
	fill(q->codec, SR_CODEC_MAX - (v * 3 + i) % 5, v, 20 + i);
	fill(q->segment_path, SR_VARIANT_PATH_MAX - (v * 7 + i) % 23, v, 30 + i);
	fill(q->playlist_path, SR_VARIANT_PATH_MAX - (v * 3 + i) % 17, v, 40 + i);
	q->bitrate_kbps = 1000 * v + i;
	q->width = v;
	q->height = i;
}

static void paths_of(unsigned v, char *out, char *seg)
{
	fill(out, SR_PATH_MAX - v * 9 % 40, v, 1);
	fill(seg, SR_PATH_MAX - v * 13 % 50, v, 2);
}

static int write_value(sr_registry *reg, const uuid_t id, unsigned v)
{
	sr_quality q[SR_MAX_QUALITIES];
	char out[SR_PATH_MAX + 1], seg[SR_PATH_MAX + 1];
	int rc;
	for (unsigned i = 0; i < SR_MAX_QUALITIES; i++)
		quality_of(v, i, &q[i]);
	paths_of(v, out, seg);
	if ((rc = sr_session_set_qualities(reg, id, q, SR_MAX_QUALITIES)))
		return rc;
	return sr_session_set_paths(reg, id, out, seg);
}

static bool same_quality(const sr_quality *a, const sr_quality *b)
{
	return !strcmp(a->level, b->level) && !strcmp(a->codec, b->codec) &&
	       !strcmp(a->segment_path, b->segment_path) &&
	       !strcmp(a->playlist_path, b->playlist_path) && a->bitrate_kbps == b->bitrate_kbps &&
	       a->width == b->width && a->height == b->height;
}

/* The error message the parent records once; every rewrite moves it. */
static void error_text(char *buf)
{
	fill(buf, SR_ERROR_MAX, 9, 3);
}

/* Whether the snapshot holds one written value in each group of fields
 * (the variants come from one call, the paths from another). */
static bool whole(const sr_session_info *in, char *why, size_t len)
{
	char err[SR_ERROR_MAX + 1];
	error_text(err);
	if (strcmp(in->last_error, err) || in->error_count != 1) {
		snprintf(why, len, "error message or count changed (count %u, %.20s)",
		         in->error_count, in->last_error);
		return false;
	}
	if (in->n_qualities != SR_MAX_QUALITIES) {
		snprintf(why, len, "%u variants", in->n_qualities);
		return false;
	}
	unsigned v = in->qualities[0].width;
	bool ok = v < VALUES;
	for (unsigned i = 0; ok && i < SR_MAX_QUALITIES; i++) {
		sr_quality want;
		quality_of(v, i, &want);
		ok = same_quality(&in->qualities[i], &want);
	}
	if (!ok) {
		snprintf(why, len, "variants mix values (first width %u, level %.16s)", v,
		         in->qualities[0].level);
		return false;
	}
	for (unsigned p = 0; p < VALUES; p++) {
		char out[SR_PATH_MAX + 1], seg[SR_PATH_MAX + 1];
		paths_of(p, out, seg);
		if (!strcmp(in->output_dir, out) && !strcmp(in->segment_path, seg))
			return true;
	}
	snprintf(why, len, "paths are no written value (%.20s / %.20s)", in->output_dir,
	         in->segment_path);
	return false;
}

static int writer(void *p)
{
	struct long_shared *sh = p;
	sr_registry *reg = NULL;
	int rc = sr_registry_attach(sh->name, 0, &reg);
	for (unsigned n = 0; rc == 0; n++) {
		if ((rc = write_value(reg, sh->id, n % VALUES)) == 0)
			sh->writes++;
	}
	sh->writer_rc = rc;
	return 1;
}

struct reader_arg {
	struct long_shared *sh;
	int idx;
};

/* A walk's view of the session, as a snapshot would give it. */
static int walk_cb(const sr_session_info *in, void *ctx)
{
	memcpy(ctx, in, sizeof(*in));
	return 1;
}

static int reader(void *p)
{
	struct reader_arg *a = p;
	struct long_shared *sh = a->sh;
	sr_registry *reg = NULL;
	sr_session_info info;
	if (sr_registry_attach(sh->name, a->idx == 0 ? SR_ATTACH_READONLY : 0, &reg) != 0)
		return 1;
	for (unsigned n = 0; !sh->stop; n++) {
		/* Every other read through a walk, which fills its info
		 * straight from the packed words with its own retry path. */
		int rc;
		if (n % 2) {
			rc = sr_session_snapshot(reg, sh->id, &info);
		} else {
			/* 1: the callback saw the session; 0: the walk left it
			 * out without saying it was busy. */
			rc = sr_session_foreach(reg, walk_cb, &info);
			rc = rc == 1 ? 0 : rc == 0 ? -ENOENT : rc;
		}
		if (rc == -SR_EBUSY) {
			sh->r[a->idx].busy++;
			continue;
		}
		char why[200];
		if (rc != 0) {
			snprintf(why, sizeof(why), "snapshot: %s", sr_strerror(rc));
		} else if (whole(&info, why, sizeof(why))) {
			sh->r[a->idx].checks++;
			continue;
		}
		if (sh->r[a->idx].bad++ == 0)
			snprintf(sh->r[a->idx].first_bad, sizeof(sh->r[a->idx].first_bad), "%s",
			         why);
	}
	sr_registry_close(reg);
	return 0;
}

static void test_kill_mid_long_record(void **state)
{
	struct srt_fx *fx = *state;
	struct long_shared *sh = srt_shared_alloc(sizeof(*sh));
	struct reader_arg ra[READERS];
	pid_t rp[READERS];
	char err[SR_ERROR_MAX + 1], why[200];
	sr_session_info info;
	uint32_t slot = 0, gen = 0;

	assert_non_null(sh);
	memcpy(sh->name, fx->name, sizeof(sh->name));
	srt_uuid(sh->id);
	assert_int_equal(sr_session_insert(fx->reg, sh->id, NULL), 0);
	error_text(err);
	assert_int_equal(sr_session_record_error(fx->reg, sh->id, err), 0);
	assert_int_equal(write_value(fx->reg, sh->id, 0), 0);
	assert_int_equal(sr__resolve(fx->reg, sh->id, &slot, &gen), 0);
	/* The record really reaches past its head. */
	assert_true(SR_COLD_FIXED * 8 + 2 * SR_PATH_MAX > SR_COLD_HEAD_WORDS * 8);
	for (int i = 0; i < READERS; i++) {
		ra[i] = (struct reader_arg){.sh = sh, .idx = i};
		rp[i] = srt_spawn(reader, &ra[i]);
		assert_true(rp[i] > 0);
	}

	unsigned seed = (unsigned)getpid(), kills = 0, mid_record = 0, in_lock = 0;
	while (kills < MAX_KILLS && (kills < MIN_KILLS || mid_record < WANT_MID_RECORD)) {
		uint64_t before = sh->writes;
		pid_t wp = srt_spawn(writer, sh);
		assert_true(wp > 0);
		/* An event, with a bound only against a writer that never runs. */
		double deadline = srt_now_ms() + WAIT_MS;
		while (sh->writes == before && srt_now_ms() < deadline)
			sched_yield();
		assert_true(sh->writes > before);
		/* A random instant inside the next few writes. */
		for (volatile unsigned spin = rand_r(&seed) % 20000; spin; spin--)
			;
		kill(wp, SIGKILL);
		assert_int_equal(srt_wait(wp), 128 + SIGKILL);
		kills++;
		if (atomic_load(&fx->reg->cold[slot].seq) & 1)
			mid_record++;
		if (atomic_load(&fx->reg->hdr->wip.op) != SR_WIP_NONE)
			in_lock++;
		/* The next locker repairs; then the record is one value, whole. */
		assert_int_equal(sr_registry_recover(fx->reg, NULL), 0);
		assert_int_equal(atomic_load(&fx->reg->cold[slot].seq) & 1, 0);
		assert_int_equal(sr_session_snapshot(fx->reg, sh->id, &info), 0);
		if (!whole(&info, why, sizeof(why)))
			fail_msg("after kill %u: %s", kills, why);
		assert_int_equal(sr_registry_verify(fx->reg), 0);
	}
	sh->stop = 1;
	for (int i = 0; i < READERS; i++)
		assert_int_equal(srt_wait(rp[i]), 0);
	print_message("%u kills, %u inside a record's write, %u inside the lock; %llu writes\n",
	              kills, mid_record, in_lock, (unsigned long long)sh->writes);
	for (int i = 0; i < READERS; i++) {
		print_message("reader %d: %llu whole snapshots, %llu busy, %llu bad\n", i,
		              (unsigned long long)sh->r[i].checks,
		              (unsigned long long)sh->r[i].busy, (unsigned long long)sh->r[i].bad);
		if (sh->r[i].bad)
			print_error("reader %d first bad snapshot: %s\n", i, sh->r[i].first_bad);
		assert_int_equal(sh->r[i].bad, 0);
		assert_true(sh->r[i].checks > 0);
	}
	/* Without kills inside a write the test proved nothing. */
	assert_true(mid_record > 0);
	srt_shared_free(sh, sizeof(*sh));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_kill_mid_long_record, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
