/* Ladder parser and the ffmpeg argv built from it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ffmpeg_argv.h"
#include "ladder.h"

static void refused(const char *spec, const char *want)
{
	struct rp_ladder l;
	char err[256] = "";
	int rc = rp_ladder_parse(spec, &l, err, sizeof err);
	if (rc == 0 || !strstr(err, want))
		print_error("spec \"%s\": rc %d err \"%s\", want \"%s\"\n", spec, rc, err, want);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, want));
}

static void test_valid(void **state)
{
	(void)state;
	struct rp_ladder l;
	char err[256];
	assert_int_equal(
	    rp_ladder_parse("720p:2800k,480p:1400k, 360p:800k ,240p:1M", &l, err, sizeof err), 0);
	assert_int_equal(l.n, 4);
	const struct {
		const char *level;
		unsigned w, h, kbps;
	} want[] = {{"720p", 1280, 720, 2800},
	            {"480p", 854, 480, 1400},
	            {"360p", 640, 360, 800},
	            {"240p", 426, 240, 1000}};
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(l.q[i].level, want[i].level);
		assert_int_equal(l.q[i].width, want[i].w);
		assert_int_equal(l.q[i].height, want[i].h);
		assert_int_equal(l.q[i].bitrate_kbps, want[i].kbps);
		assert_string_equal(l.q[i].codec, "h264");
		char p[64];
		snprintf(p, sizeof p, "%s/index.m3u8", want[i].level);
		assert_string_equal(l.q[i].playlist_path, p);
		snprintf(p, sizeof p, "%s/seg_%%05d.ts", want[i].level);
		assert_string_equal(l.q[i].segment_path, p);
	}
	assert_int_equal(rp_ladder_parse(RP_LADDER_DEFAULT, &l, err, sizeof err), 0);
	assert_int_equal(rp_ladder_parse("1080p:6000k", &l, err, sizeof err), 0);
	assert_int_equal(l.q[0].width, 1920);
}

static void test_refusals(void **state)
{
	(void)state;
	refused("", "empty ladder");
	refused("720p", "ladder entry 1 \"720p\": expected LEVEL:BITRATE");
	refused("720p:2800k,480x:1400k", "ladder entry 2 \"480x:1400k\": level must be a height");
	refused("720p:2800k,,360p:800k", "ladder entry 2 is empty");
	refused("720p:2800k,", "ladder entry 2 is empty");
	refused("p:100k", "entry 1");
	refused("-720p:100k", "entry 1");
	refused("8p:100k", "level must be a height");
	refused("9999p:100k", "level must be a height");
	refused("99999999999999999999p:100k", "level must be a height");
	refused("721p:100k", "height must be even");
	refused("720p:2800", "bitrate must be");
	refused("720p:k", "bitrate must be");
	refused("720p:-5k", "bitrate must be");
	refused("720p:1k", "bitrate must be");
	refused("720p:200M", "bitrate must be");
	refused("720p:2800k,720p:1000k", "ladder entry 2 repeats level 720p");
	refused("16p:20k,18p:20k,20p:20k,22p:20k,24p:20k,26p:20k,28p:20k,30p:20k,32p:20k",
	        "more than 8 entries");
	refused("720p:2800k;480p:1400k", "bitrate must be");
}

static int find_arg(const struct rp_argv *a, const char *s)
{
	for (size_t i = 0; i < a->argc; i++)
		if (strcmp(a->argv[i], s) == 0)
			return (int)i;
	return -1;
}

static const char *after(const struct rp_argv *a, const char *opt)
{
	int i = find_arg(a, opt);
	assert_true(i >= 0);
	assert_true((size_t)i + 1 < a->argc);
	return a->argv[i + 1];
}

static const struct rp_encode enc = {.ffmpeg = "/usr/bin/ffmpeg",
                                     .hls_time = 2,
                                     .list_size = 5,
                                     .fps = 25,
                                     .audio_kbps = 64,
                                     .run_id = 1764133666123,
                                     .start = 42};

static void test_argv_lavfi(void **state)
{
	(void)state;
	struct rp_ladder l;
	struct rp_argv a;
	char err[256];
	assert_int_equal(rp_ladder_parse("360p:800k,180p:300k", &l, err, sizeof err), 0);
	assert_int_equal(
	    rp_ffmpeg_argv(&enc, "lavfi:testsrc=size=640x360:rate=25", &l, &a, err, sizeof err), 0);
	assert_null(a.argv[a.argc]);
	assert_string_equal(a.argv[0], "/usr/bin/ffmpeg");
	int re = find_arg(&a, "-re");
	assert_true(re > 0);
	assert_string_equal(a.argv[re + 1], "-f");
	assert_string_equal(a.argv[re + 2], "lavfi");
	assert_string_equal(after(&a, "-i"), "testsrc=size=640x360:rate=25");
	/* no audio output in the graph: a silent track is added as input 1 */
	int silent = find_arg(&a, "anullsrc=r=48000:cl=stereo");
	assert_true(silent > re);
	assert_string_equal(a.argv[silent - 1], "-i");
	assert_string_equal(after(&a, "-g"), "50");
	assert_string_equal(after(&a, "-f"), "lavfi");
	assert_string_equal(after(&a, "-hls_time"), "2");
	assert_string_equal(after(&a, "-hls_list_size"), "5");
	/* a stopped transcoder does not end the channel; numbering continues */
	assert_string_equal(after(&a, "-hls_flags"),
	                    "delete_segments+independent_segments+omit_endlist");
	assert_string_equal(after(&a, "-start_number"), "42");
	/* a short first segment, cut at a keyframe forced there */
	assert_string_equal(after(&a, "-hls_init_time"), "0.500");
	assert_string_equal(after(&a, "-force_key_frames"), "expr:gte(t,n_forced*2+0.500)");
	assert_string_equal(after(&a, "-tune"), "zerolatency");
	assert_string_equal(after(&a, "-master_pl_name"), "master.m3u8");
	assert_string_equal(after(&a, "-var_stream_map"), "v:0,a:0,name:360p v:1,a:1,name:180p");
	assert_string_equal(after(&a, "-filter_complex"),
	                    "[0:v]split=2[s0][s1];[s0]fps=25,scale=640:360[v0];"
	                    "[s1]fps=25,scale=320:180[v1]");
	assert_string_equal(after(&a, "-b:v:1"), "300k");
	assert_string_equal(after(&a, "-c:v"), "libx264");
	assert_string_equal(after(&a, "-preset"), "ultrafast");
	assert_string_equal(after(&a, "-c:a"), "aac");
	/* segment names carry the run id: never reused by another run */
	assert_string_equal(after(&a, "-hls_segment_filename"), "%v/1764133666123-%05d.ts");
	assert_string_equal(a.argv[a.argc - 1], "%v/index.m3u8");
	int maps = 0;
	for (size_t i = 0; i < a.argc; i++)
		if (strcmp(a.argv[i], "-map") == 0 && strcmp(a.argv[i + 1], "1:a:0") == 0)
			maps++;
	assert_int_equal(maps, 2);
	/* the output is "-f hls": find the second -f */
	int f2 = -1;
	for (size_t i = 0; i < a.argc; i++)
		if (strcmp(a.argv[i], "-f") == 0)
			f2 = (int)i;
	assert_string_equal(a.argv[f2 + 1], "hls");
	rp_argv_free(&a);
}

static void test_argv_lavfi_with_audio_and_url(void **state)
{
	(void)state;
	struct rp_ladder l;
	struct rp_argv a;
	char err[256];
	assert_int_equal(rp_ladder_parse("90p:100k", &l, err, sizeof err), 0);
	assert_int_equal(
	    rp_ffmpeg_argv(&enc, "lavfi:testsrc[out0];sine[out1]", &l, &a, err, sizeof err), 0);
	assert_int_equal(find_arg(&a, "anullsrc=r=48000:cl=stereo"), -1);
	assert_string_equal(after(&a, "-filter_complex"), "[0:v]fps=25,scale=160:90[v0]");
	assert_true(find_arg(&a, "0:a:0") > 0);
	rp_argv_free(&a);

	assert_int_equal(rp_ffmpeg_argv(&enc, "http://h/live.m3u8", &l, &a, err, sizeof err), 0);
	/* a live network source is not throttled */
	assert_int_equal(find_arg(&a, "-re"), -1);
	assert_string_equal(after(&a, "-i"), "http://h/live.m3u8");
	rp_argv_free(&a);

	assert_int_equal(rp_ffmpeg_argv(&enc, "/srv/loop.mp4", &l, &a, err, sizeof err), 0);
	assert_string_equal(after(&a, "-stream_loop"), "-1");
	assert_true(find_arg(&a, "-re") > 0);
	char *joined = rp_argv_join(&a);
	assert_non_null(joined);
	assert_non_null(strstr(joined, "-i /srv/loop.mp4"));
	free(joined);
	rp_argv_free(&a);
}

static void test_argv_refusals(void **state)
{
	(void)state;
	struct rp_ladder l;
	struct rp_argv a;
	char err[256] = "";
	assert_int_equal(rp_ladder_parse("90p:100k", &l, err, sizeof err), 0);
	/* defence in depth: the builder refuses what the lineup parser refuses */
	assert_int_equal(rp_ffmpeg_argv(&enc, "-i", &l, &a, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "input refused"));
	assert_null(a.argv);
	assert_int_equal(rp_ffmpeg_argv(&enc, NULL, &l, &a, err, sizeof err), -EINVAL);
	struct rp_encode rel = enc;
	rel.ffmpeg = "ffmpeg";
	assert_int_equal(rp_ffmpeg_argv(&rel, "http://x/", &l, &a, err, sizeof err), -EINVAL);
	struct rp_encode zero = enc;
	zero.fps = 0;
	assert_int_equal(rp_ffmpeg_argv(&zero, "http://x/", &l, &a, err, sizeof err), -EINVAL);
	struct rp_encode norun = enc;
	norun.run_id = 0;
	assert_int_equal(rp_ffmpeg_argv(&norun, "http://x/", &l, &a, err, sizeof err), -EINVAL);
	struct rp_ladder empty = {.n = 0};
	assert_int_equal(rp_ffmpeg_argv(&enc, "http://x/", &empty, &a, err, sizeof err), -EINVAL);
	rp_argv_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_argv_lavfi),
	    cmocka_unit_test(test_argv_lavfi_with_audio_and_url),
	    cmocka_unit_test(test_argv_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
