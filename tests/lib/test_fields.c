/* Per-session fields: errors, qualities, paths, pid, restarts, snapshot. */
#include "support/srt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct one_fx {
	struct srt_fx fx;
	uuid_t id;
};

static int one_setup(void **state)
{
	if (srt_setup_small(state) != 0)
		return -1;
	struct one_fx *o = realloc(*state, sizeof(*o));
	if (!o)
		return -1;
	*state = o;
	srt_uuid(o->id);
	return sr_session_insert(o->fx.reg, o->id, NULL);
}

static void fill(char *buf, size_t n, char c)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

static void test_record_error(void **state)
{
	struct one_fx *o = *state;
	sr_registry *reg = o->fx.reg;
	uint32_t n = 99;
	char buf[SR_ERROR_MAX + 1];

	assert_int_equal(sr_session_error_count(reg, o->id, &n), 0);
	assert_int_equal(n, 0);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(sr_session_last_error(reg, o->id, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	assert_int_equal(sr_session_record_error(reg, o->id, "ffmpeg exited with 1"), 0);
	assert_int_equal(sr_session_record_error(reg, o->id, "input: Connection refused"), 0);
	assert_int_equal(sr_session_error_count(reg, o->id, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sr_session_last_error(reg, o->id, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "input: Connection refused");

	/* An empty message still counts. */
	assert_int_equal(sr_session_record_error(reg, o->id, ""), 0);
	assert_int_equal(sr_session_error_count(reg, o->id, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(sr_session_last_error(reg, o->id, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	sr_session_info info;
	assert_int_equal(sr_session_record_error(reg, o->id, "x"), 0);
	assert_int_equal(sr_session_snapshot(reg, o->id, &info), 0);
	assert_true(info.last_error_wall_ns > 0);
	assert_int_equal(info.error_count, 4);
}

static void test_error_length_limits(void **state)
{
	struct one_fx *o = *state;
	sr_registry *reg = o->fx.reg;
	char msg[SR_ERROR_MAX + 2], buf[SR_ERROR_MAX + 1];
	uint32_t n;

	fill(msg, SR_ERROR_MAX, 'e');
	assert_int_equal(sr_session_record_error(reg, o->id, msg), 0);
	assert_int_equal(sr_session_last_error(reg, o->id, buf, sizeof(buf)), 0);
	assert_string_equal(buf, msg);

	/* Over the limit: refused, not cut, and nothing changes. */
	fill(msg, SR_ERROR_MAX + 1, 'f');
	assert_int_equal(sr_session_record_error(reg, o->id, msg), -ENAMETOOLONG);
	assert_int_equal(sr_session_error_count(reg, o->id, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sr_session_last_error(reg, o->id, buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), SR_ERROR_MAX);
	assert_int_equal(buf[0], 'e');
}

static void test_last_error_small_buffer(void **state)
{
	struct one_fx *o = *state;
	sr_registry *reg = o->fx.reg;
	char buf[16];

	assert_int_equal(sr_session_record_error(reg, o->id, "0123456789"), 0);
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(sr_session_last_error(reg, o->id, buf, 11), 0);
	assert_string_equal(buf, "0123456789");
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(sr_session_last_error(reg, o->id, buf, 10), -ENAMETOOLONG);
	/* Always terminated, and never written past len. */
	assert_non_null(memchr(buf, '\0', 10));
	assert_int_equal(buf[10], 'z');
	assert_int_equal(sr_session_last_error(reg, o->id, buf, 1), -ENAMETOOLONG);
	assert_int_equal(buf[0], '\0');
	assert_true(sr_session_last_error(reg, o->id, buf, 0) < 0);
	assert_int_equal(sr_session_last_error(reg, o->id, NULL, 10), -EINVAL);
}

static sr_quality make_quality(int i)
{
	sr_quality q;

	memset(&q, 0, sizeof(q));
	snprintf(q.level, sizeof(q.level), "%dp", 180 * (i + 1));
	q.bitrate_kbps = 300u * (unsigned)(i + 1);
	q.width = 320u * (unsigned)(i + 1);
	q.height = 180u * (unsigned)(i + 1);
	snprintf(q.codec, sizeof(q.codec), "%s", i % 2 ? "hevc" : "h264");
	snprintf(q.segment_path, sizeof(q.segment_path), "/srv/hls/v%d/seg_%%05d.ts", i);
	snprintf(q.playlist_path, sizeof(q.playlist_path), "/srv/hls/v%d/index.m3u8", i);
	return q;
}

static void assert_quality_equal(const sr_quality *a, const sr_quality *b)
{
	assert_string_equal(a->level, b->level);
	assert_int_equal(a->bitrate_kbps, b->bitrate_kbps);
	assert_int_equal(a->width, b->width);
	assert_int_equal(a->height, b->height);
	assert_string_equal(a->codec, b->codec);
	assert_string_equal(a->segment_path, b->segment_path);
	assert_string_equal(a->playlist_path, b->playlist_path);
}

static void test_qualities_roundtrip(void **state)
{
	struct one_fx *o = *state;
	sr_registry *reg = o->fx.reg;
	sr_quality q[SR_MAX_QUALITIES], got[SR_MAX_QUALITIES + 1];
	size_t n = 99;

	assert_int_equal(sr_session_get_qualities(reg, o->id, got, SR_MAX_QUALITIES, &n), 0);
	assert_int_equal(n, 0);
	for (int i = 0; i < SR_MAX_QUALITIES; i++)
		q[i] = make_quality(i);
	assert_int_equal(sr_session_set_qualities(reg, o->id, q, 3), 0);
	assert_int_equal(sr_session_get_qualities(reg, o->id, got, SR_MAX_QUALITIES, &n), 0);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++)
		assert_quality_equal(&got[i], &q[i]);

	assert_int_equal(sr_session_set_qualities(reg, o->id, q, SR_MAX_QUALITIES), 0);
	assert_int_equal(sr_session_get_qualities(reg, o->id, got, SR_MAX_QUALITIES, &n), 0);
	assert_int_equal(n, SR_MAX_QUALITIES);
	for (int i = 0; i < SR_MAX_QUALITIES; i++)
		assert_quality_equal(&got[i], &q[i]);

	/* A short buffer gets a prefix and nothing past cap. */
	memset(got, 0x5a, sizeof(got));
	assert_int_equal(sr_session_get_qualities(reg, o->id, got, 2, &n), 0);
	assert_true(n == 2 || n == SR_MAX_QUALITIES);
	assert_quality_equal(&got[0], &q[0]);
	assert_quality_equal(&got[1], &q[1]);
	assert_int_equal((unsigned char)got[2].level[0], 0x5a);

	/* Replacing with fewer drops the rest; zero clears. */
	assert_int_equal(sr_session_set_qualities(reg, o->id, q + 5, 1), 0);
	assert_int_equal(sr_session_get_qualities(reg, o->id, got, SR_MAX_QUALITIES, &n), 0);
	assert_int_equal(n, 1);
	assert_quality_equal(&got[0], &q[5]);
	assert_int_equal(sr_session_set_qualities(reg, o->id, NULL, 0), 0);
	assert_int_equal(sr_session_get_qualities(reg, o->id, got, SR_MAX_QUALITIES, &n), 0);
	assert_int_equal(n, 0);
}

static void expect_quality_refused(sr_registry *reg, const uuid_t id, const sr_quality *bad,
                                   int want, const char *what)
{
	sr_quality q[2] = {make_quality(0), *bad};
	sr_quality got[SR_MAX_QUALITIES];
	size_t n;

	int rc = sr_session_set_qualities(reg, id, q, 2);
	if (rc != want)
		fail_msg("set_qualities with %s = %d (%s), want %d", what, rc, sr_strerror(rc),
		         want);
	/* Refused means unchanged: the previous single variant is still there. */
	assert_int_equal(sr_session_get_qualities(reg, id, got, SR_MAX_QUALITIES, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].level, "1080p");
}

static void test_qualities_refused(void **state)
{
	struct one_fx *o = *state;
	sr_registry *reg = o->fx.reg;
	sr_quality q[SR_MAX_QUALITIES + 1], bad;

	q[0] = make_quality(5);
	assert_int_equal(sr_session_set_qualities(reg, o->id, q, 1), 0);
	for (int i = 0; i <= SR_MAX_QUALITIES; i++)
		q[i] = make_quality(i);
	assert_int_equal(sr_session_set_qualities(reg, o->id, q, SR_MAX_QUALITIES + 1), -EINVAL);
	assert_int_equal(sr_session_set_qualities(reg, o->id, q, 1000), -EINVAL);
	assert_int_equal(sr_session_set_qualities(reg, o->id, NULL, 1), -EINVAL);

	/* A level filling its whole array has no room for the NUL: too long. */
	bad = make_quality(1);
	memset(bad.level, 'L', sizeof(bad.level));
	expect_quality_refused(reg, o->id, &bad, -ENAMETOOLONG, "a 16-character level");
	bad = make_quality(1);
	bad.level[0] = '\0';
	expect_quality_refused(reg, o->id, &bad, -EINVAL, "an empty level");
	bad = make_quality(1);
	memset(bad.codec, 'c', sizeof(bad.codec));
	expect_quality_refused(reg, o->id, &bad, -ENAMETOOLONG, "a 16-character codec");
	bad = make_quality(1);
	memset(bad.segment_path, 's', sizeof(bad.segment_path));
	expect_quality_refused(reg, o->id, &bad, -ENAMETOOLONG, "an unterminated segment path");
	bad = make_quality(1);
	memset(bad.playlist_path, 'p', sizeof(bad.playlist_path));
	expect_quality_refused(reg, o->id, &bad, -ENAMETOOLONG, "an unterminated playlist path");

	/* Exactly at the limits is fine. */
	bad = make_quality(1);
	fill(bad.level, SR_LEVEL_MAX, 'L');
	fill(bad.codec, SR_CODEC_MAX, 'c');
	fill(bad.segment_path, SR_VARIANT_PATH_MAX, 's');
	fill(bad.playlist_path, SR_VARIANT_PATH_MAX, 'p');
	assert_int_equal(sr_session_set_qualities(reg, o->id, &bad, 1), 0);
	sr_quality got;
	size_t n;
	assert_int_equal(sr_session_get_qualities(reg, o->id, &got, 1, &n), 0);
	assert_quality_equal(&got, &bad);
}

static void test_paths(void **state)
{
	struct one_fx *o = *state;
	sr_registry *reg = o->fx.reg;
	char out[SR_PATH_MAX + 1], seg[SR_PATH_MAX + 1], longp[SR_PATH_MAX + 2];

	assert_int_equal(sr_session_get_paths(reg, o->id, out, seg), 0);
	assert_string_equal(out, "");
	assert_string_equal(seg, "");
	assert_int_equal(sr_session_set_paths(reg, o->id, "/srv/hls/c1", "/srv/hls/c1/s%05d.ts"),
	                 0);
	assert_int_equal(sr_session_get_paths(reg, o->id, out, seg), 0);
	assert_string_equal(out, "/srv/hls/c1");
	assert_string_equal(seg, "/srv/hls/c1/s%05d.ts");

	/* NULL leaves one alone. */
	assert_int_equal(sr_session_set_paths(reg, o->id, NULL, "/other/seg"), 0);
	assert_int_equal(sr_session_set_paths(reg, o->id, "/other", NULL), 0);
	assert_int_equal(sr_session_set_paths(reg, o->id, NULL, NULL), 0);
	memset(out, 0, sizeof(out));
	assert_int_equal(sr_session_get_paths(reg, o->id, out, NULL), 0);
	assert_string_equal(out, "/other");
	assert_int_equal(sr_session_get_paths(reg, o->id, NULL, seg), 0);
	assert_string_equal(seg, "/other/seg");
	assert_int_equal(sr_session_get_paths(reg, o->id, NULL, NULL), 0);

	/* Either overlong: nothing is changed, not even the other path. */
	fill(longp, SR_PATH_MAX + 1, 'p');
	assert_int_equal(sr_session_set_paths(reg, o->id, longp, "/new/seg"), -ENAMETOOLONG);
	assert_int_equal(sr_session_set_paths(reg, o->id, "/new", longp), -ENAMETOOLONG);
	assert_int_equal(sr_session_get_paths(reg, o->id, out, seg), 0);
	assert_string_equal(out, "/other");
	assert_string_equal(seg, "/other/seg");

	fill(longp, SR_PATH_MAX, 'q');
	assert_int_equal(sr_session_set_paths(reg, o->id, longp, longp), 0);
	assert_int_equal(sr_session_get_paths(reg, o->id, out, seg), 0);
	assert_string_equal(out, longp);
	assert_string_equal(seg, longp);
}

static void test_pid(void **state)
{
	struct one_fx *o = *state;
	sr_registry *reg = o->fx.reg;
	pid_t pid = 1234;
	uint64_t start = 77;

	assert_int_equal(sr_session_get_pid(reg, o->id, &pid, &start), 0);
	assert_int_equal(pid, 0);
	assert_int_equal(start, 0);
	uint64_t mine = sr_pid_start_time(getpid());
	assert_true(mine > 0);
	assert_int_equal(sr_session_set_pid(reg, o->id, getpid(), mine), 0);
	assert_int_equal(sr_session_get_pid(reg, o->id, &pid, &start), 0);
	assert_int_equal(pid, getpid());
	assert_int_equal(start, mine);
	pid = 0;
	assert_int_equal(sr_session_get_pid(reg, o->id, &pid, NULL), 0);
	assert_int_equal(pid, getpid());
	start = 0;
	assert_int_equal(sr_session_get_pid(reg, o->id, NULL, &start), 0);
	assert_int_equal(start, mine);

	assert_int_equal(sr_session_set_pid(reg, o->id, -5, 1), -EINVAL);
	assert_int_equal(sr_session_get_pid(reg, o->id, &pid, &start), 0);
	assert_int_equal(pid, getpid());

	assert_int_equal(sr_session_set_pid(reg, o->id, 0, 0), 0);
	assert_int_equal(sr_session_get_pid(reg, o->id, &pid, &start), 0);
	assert_int_equal(pid, 0);
	assert_int_equal(start, 0);
}

static void test_restarts(void **state)
{
	struct one_fx *o = *state;
	sr_registry *reg = o->fx.reg;
	sr_session_info info;

	assert_int_equal(sr_session_set_restarts(reg, o->id, 3), 0);
	assert_int_equal(sr_session_snapshot(reg, o->id, &info), 0);
	assert_int_equal(info.restart_count, 3);
	assert_int_equal(sr_session_set_restarts(reg, o->id, UINT32_MAX), 0);
	assert_int_equal(sr_session_snapshot(reg, o->id, &info), 0);
	assert_int_equal(info.restart_count, UINT32_MAX);
	assert_int_equal(sr_session_set_restarts(reg, o->id, 0), 0);
	assert_int_equal(sr_session_snapshot(reg, o->id, &info), 0);
	assert_int_equal(info.restart_count, 0);
}

static void test_snapshot_everything(void **state)
{
	struct one_fx *o = *state;
	sr_registry *reg = o->fx.reg;
	sr_session_info info;
	sr_quality q[2] = {make_quality(0), make_quality(1)};
	uint32_t gen;

	assert_int_equal(sr_session_find(reg, o->id, &gen), 0);
	assert_int_equal(sr_session_transition(reg, o->id, SR_STATE_IDLE, SR_STATE_STARTING), 0);
	assert_int_equal(sr_session_transition(reg, o->id, SR_STATE_STARTING, SR_STATE_ACTIVE), 0);
	assert_int_equal(sr_session_add_client(reg, o->id), 0);
	assert_int_equal(sr_session_add_client(reg, o->id), 0);
	assert_int_equal(sr_session_record_error(reg, o->id, "late segment"), 0);
	assert_int_equal(sr_session_set_paths(reg, o->id, "/srv/o", "/srv/o/s%d.ts"), 0);
	assert_int_equal(sr_session_set_pid(reg, o->id, getpid(), 4242), 0);
	assert_int_equal(sr_session_set_restarts(reg, o->id, 2), 0);
	assert_int_equal(sr_session_set_qualities(reg, o->id, q, 2), 0);

	memset(&info, 0xcc, sizeof(info));
	assert_int_equal(sr_session_snapshot(reg, o->id, &info), 0);
	assert_memory_equal(info.channel_id, o->id, sizeof(uuid_t));
	assert_int_equal(info.state, SR_STATE_ACTIVE);
	assert_true(info.slot < 4);
	assert_int_equal(info.generation, gen);
	assert_int_equal(info.clients, 2);
	assert_true(info.created_mono_ns > 0);
	assert_true(info.started_mono_ns >= info.created_mono_ns);
	assert_true(info.last_access_mono_ns >= info.created_mono_ns);
	assert_true(info.last_access_mono_ns <= sr_now_mono_ns());
	assert_true(info.idle_ms < 600000);
	assert_true(info.created_wall_ns > 0);
	assert_true(info.started_wall_ns >= info.created_wall_ns);
	assert_true(info.last_access_wall_ns >= info.created_wall_ns);
	assert_int_equal(info.error_count, 1);
	assert_true(info.last_error_wall_ns >= info.created_wall_ns);
	assert_string_equal(info.last_error, "late segment");
	assert_string_equal(info.output_dir, "/srv/o");
	assert_string_equal(info.segment_path, "/srv/o/s%d.ts");
	assert_int_equal(info.pid, getpid());
	assert_int_equal(info.pid_start, 4242);
	assert_int_equal(info.restart_count, 2);
	assert_int_equal(info.n_qualities, 2);
	assert_quality_equal(&info.qualities[0], &q[0]);
	assert_quality_equal(&info.qualities[1], &q[1]);
}

/* A walk reuses one info for every session, clearing only what the
 * previous one filled: each info it hands out must equal a snapshot taken
 * into a fresh, zeroed one, bytes past each string's NUL included.  The
 * lengths straddle word boundaries, so packed strings start at every byte
 * offset, and long records reach into the slot's tail. */
struct walk_cmp {
	sr_registry *reg;
	unsigned seen;
};

static int compare_with_snapshot(const sr_session_info *w, void *ctx)
{
	struct walk_cmp *cmp = ctx;
	sr_session_info *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_int_equal(sr_session_snapshot(cmp->reg, w->channel_id, s), 0);
	assert_int_equal(w->slot, s->slot);
	assert_memory_equal(w->output_dir, s->output_dir, sizeof(w->output_dir));
	assert_memory_equal(w->segment_path, s->segment_path, sizeof(w->segment_path));
	assert_memory_equal(w->last_error, s->last_error, sizeof(w->last_error));
	assert_int_equal(w->n_qualities, s->n_qualities);
	assert_memory_equal(w->qualities, s->qualities, sizeof(w->qualities));
	assert_int_equal(w->error_count, s->error_count);
	assert_int_equal(w->pid, s->pid);
	assert_int_equal(w->pid_start, s->pid_start);
	assert_int_equal(w->restart_count, s->restart_count);
	assert_int_equal(w->created_mono_ns, s->created_mono_ns);
	assert_memory_equal(w->transitions, s->transitions, sizeof(w->transitions));
	free(s);
	cmp->seen++;
	return 0;
}

static void test_walk_matches_snapshots(void **state)
{
	struct srt_fx *fx = *state;
	sr_registry *reg = fx->reg;
	static const size_t lens[] = {0, 1, 7, 8, 9, 15, 16, 63, 64, 127, 200, 255};
	const size_t nl = sizeof(lens) / sizeof(lens[0]);
	unsigned n = 0;
	for (size_t k = 0; k < 24; k++, n++) {
		uuid_t id;
		char dir[SR_PATH_MAX + 1], seg[SR_PATH_MAX + 1], err[SR_ERROR_MAX + 1];
		srt_uuid(id);
		fill(dir, lens[(k * 5) % nl], (char)('a' + k % 26));
		fill(seg, lens[(k * 7 + 3) % nl], 's');
		fill(err, lens[(k * 11 + 5) % nl], 'e');
		assert_int_equal(sr_session_insert(reg, id, dir[0] ? dir : NULL), 0);
		assert_int_equal(sr_session_set_paths(reg, id, NULL, seg), 0);
		if (err[0])
			assert_int_equal(sr_session_record_error(reg, id, err), 0);
		sr_quality q[SR_MAX_QUALITIES];
		size_t nq = (k * 3) % (SR_MAX_QUALITIES + 1);
		memset(q, 0, sizeof(q));
		for (size_t v = 0; v < nq; v++) {
			fill(q[v].level, 1 + (k + v) % SR_LEVEL_MAX, 'L');
			fill(q[v].codec, (k + 2 * v) % (SR_CODEC_MAX + 1), 'c');
			fill(q[v].segment_path, lens[(k + v) % nl] % (SR_VARIANT_PATH_MAX + 1),
			     'g');
			fill(q[v].playlist_path, lens[(k + 3 * v) % nl] % (SR_VARIANT_PATH_MAX + 1),
			     'p');
			q[v].bitrate_kbps = (uint32_t)(1000 * v + k);
			q[v].width = (uint32_t)(16 * v);
			q[v].height = (uint32_t)(9 * v);
		}
		assert_int_equal(sr_session_set_qualities(reg, id, q, nq), 0);
		if (k % 4 == 1)
			assert_int_equal(sr_session_set_pid(reg, id, (pid_t)(100 + k), 7 * k), 0);
		if (k % 5 == 2)
			assert_int_equal(sr_session_set_restarts(reg, id, (uint32_t)k), 0);
	}
	struct walk_cmp cmp = {reg, 0};
	assert_int_equal(sr_session_foreach(reg, compare_with_snapshot, &cmp), 0);
	assert_int_equal(cmp.seen, n);
	assert_int_equal(sr_registry_verify(reg), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_record_error, one_setup, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_error_length_limits, one_setup, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_last_error_small_buffer, one_setup, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_qualities_roundtrip, one_setup, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_qualities_refused, one_setup, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_paths, one_setup, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_pid, one_setup, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_restarts, one_setup, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot_everything, one_setup, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_walk_matches_snapshots, srt_setup_default,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
