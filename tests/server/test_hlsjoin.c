/*
 * The run pointer file and the join of two runs' playlists
 * (tools/common/st_run.h, st_hls_join): the rules of docs/server.md,
 * "Restarts", checked the way a player reads playlists.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "st_hlsjoin.h"
#include "st_run.h"

/* What ffmpeg writes for a run: window segments ending at last (or fewer
 * when the run has produced fewer), named <run>-<seq>.ts. */
static char *ffmpeg_playlist(uint64_t run, uint64_t start, uint64_t last, unsigned window,
                             unsigned target)
{
	static char buf[4096];
	uint64_t first = last + 1 - start > window ? last + 1 - window : start;
	int n = snprintf(buf, sizeof buf,
	                 "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:%u\n"
	                 "#EXT-X-MEDIA-SEQUENCE:%" PRIu64 "\n#EXT-X-INDEPENDENT-SEGMENTS\n",
	                 target, first);
	for (uint64_t q = first; q <= last; q++)
		n += snprintf(buf + n, sizeof buf - (size_t)n,
		              "#EXTINF:%s,\n%" PRIu64 "-%05" PRIu64 ".ts\n",
		              q == start ? "0.520000" : "2.000000", run, q);
	return buf;
}

/* A player's reading of a playlist: each segment's media sequence number
 * and discontinuity sequence number (RFC 8216 §6.2.2, §4.3.3.3). */
struct seen {
	char uri[64];
	uint64_t seq, disc;
};

static size_t read_like_a_player(const char *text, struct seen *out, size_t max,
                                 uint64_t *media_seq, unsigned *target)
{
	uint64_t seq = 0, disc = 0;
	size_t n = 0;
	const char *p = text;
	assert_int_equal(strncmp(p, "#EXTM3U\n", 8), 0);
	while (*p) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl); /* every line ends */
		char line[128];
		size_t len = (size_t)(nl - p);
		assert_true(len < sizeof line);
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl + 1;
		bool header = sscanf(line, "#EXT-X-DISCONTINUITY-SEQUENCE:%" SCNu64, &disc) == 1 ||
		              sscanf(line, "#EXT-X-TARGETDURATION:%u", target) == 1;
		if (sscanf(line, "#EXT-X-MEDIA-SEQUENCE:%" SCNu64, &seq) == 1)
			*media_seq = seq;
		else if (strcmp(line, "#EXT-X-DISCONTINUITY") == 0)
			disc++;
		else if (!header)
			assert_string_not_equal(line, "#EXT-X-ENDLIST");
		if (line[0] && line[0] != '#') {
			assert_true(n < max);
			snprintf(out[n].uri, sizeof out[n].uri, "%.63s", line);
			out[n].seq = seq++;
			out[n].disc = disc;
			n++;
		}
	}
	return n;
}

static void test_run_file(void **state)
{
	(void)state;
	struct st_run r = {.id = 1764133666123,
	                   .start = 42,
	                   .disc = 3,
	                   .prev = 1764133660000,
	                   .prev_start = 30,
	                   .target = 2,
	                   .window = 6},
	              back;
	char buf[ST_RUN_POINTER_MAX];
	int n = st_run_format(&r, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(st_run_parse(buf, (size_t)n, &back), 0);
	assert_memory_equal(&r, &back, sizeof r);
	assert_int_equal(st_run_format(&r, buf, 10), -ENOSPC);

	const char *later = "run 7\nstart 1\nfuture-key whatever\n\n";
	assert_int_equal(st_run_parse(later, strlen(later), &back), 0);
	assert_int_equal(back.id, 7);
	assert_int_equal(back.start, 1);
	assert_int_equal(back.prev, 0);
	static const char *const bad[] = {
	    "",
	    "start 4\n",
	    "run 0\n",
	    "run 012\n",
	    "run x\n",
	    "run 1\nstart\n",
	    "run\n",
	    " run 1\n",
	    "run 1\nstart 99999999999999999999\n",
	    "run 1\nwindow 100001\n",
	    "run 1 \n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (st_run_parse(bad[i], strlen(bad[i]), &back) != -EINVAL)
			fail_msg("accepted: \"%s\"", bad[i]);
	}

	uint64_t id = 0;
	assert_true(st_run_name_parse("1764133666123", 13, &id));
	assert_int_equal(id, 1764133666123);
	assert_false(st_run_name_parse("0", 1, &id));
	assert_false(st_run_name_parse("current", 7, &id));
	assert_false(st_run_name_parse("18446744073709551616", 20, &id));
	st_run_name(1764133666123, buf);
	assert_string_equal(buf, "1764133666123");

	assert_int_equal(st_run_of_segment("1764133666123-00042.ts"), 1764133666123);
	assert_int_equal(st_run_of_segment("5-1.m4s"), 5);
	assert_int_equal(st_run_of_segment("seg_00042.ts"), 0);
	assert_int_equal(st_run_of_segment("0-00042.ts"), 0);
	assert_int_equal(st_run_of_segment("17-.ts"), 0);
	assert_int_equal(st_run_of_segment("17-4x.ts"), 0);
	assert_int_equal(st_run_of_segment("-4.ts"), 0);
	assert_int_equal(st_run_of_segment("index.m3u8"), 0);
}

static char *join(const struct st_run *r, const char *cur, const char *prev)
{
	size_t len;
	char *out = st_hls_join(r, cur, strlen(cur), prev, prev ? strlen(prev) : 0, &len);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

static void test_first_run(void **state)
{
	(void)state;
	struct st_run r = {.id = 100, .start = 0, .target = 2, .window = 6};
	/* ffmpeg's first playlist: a 0.52 s segment and a target of 1 */
	char *cur = strdup("#EXTM3U\r\n#EXT-X-VERSION:6\r\n#EXT-X-TARGETDURATION:1\r\n"
	                   "#EXT-X-MEDIA-SEQUENCE:0\r\n#EXT-X-INDEPENDENT-SEGMENTS\r\n"
	                   "#EXTINF:0.520000,\r\n100-00000.ts\r\n#EXT-X-ENDLIST\r\n");
	char *out = join(&r, cur, NULL);
	assert_string_equal(out, "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n"
	                         "#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
	                         "#EXTINF:0.520000,\n100-00000.ts\n");
	free(out);
	free(cur);
	size_t len;
	errno = 0;
	assert_null(st_hls_join(&r, "hello\n", 6, NULL, 0, &len));
	assert_int_equal(errno, EINVAL);
	uint64_t first;
	size_t count;
	assert_int_equal(st_hls_media_info("#EXTM3U\n", 8, &first, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(st_hls_media_info("x", 1, &first, &count), -EINVAL);
}

static void test_join(void **state)
{
	(void)state;
	/* run 200 continues run 100 (segments 0..9, window 6) from 10 */
	struct st_run r = {.id = 200,
	                   .start = 10,
	                   .disc = 1,
	                   .prev = 100,
	                   .prev_start = 0,
	                   .target = 2,
	                   .window = 6};
	char *prev = strdup(ffmpeg_playlist(100, 0, 9, 6, 2));
	char *cur = strdup(ffmpeg_playlist(200, 10, 10, 6, 1));
	char *out = join(&r, cur, prev);
	struct seen s[16];
	uint64_t ms = 0;
	unsigned target = 0;
	size_t n = read_like_a_player(out, s, 16, &ms, &target);
	assert_int_equal(n, 6); /* the window is filled from run 100 */
	assert_int_equal(ms, 5);
	assert_int_equal(target, 2);
	assert_string_equal(s[0].uri, "100-00005.ts");
	assert_int_equal(s[4].disc, 0);
	assert_string_equal(s[5].uri, "200-00010.ts");
	assert_int_equal(s[5].seq, 10);
	assert_int_equal(s[5].disc, 1);
	assert_null(strstr(out, "DISCONTINUITY-SEQUENCE"));
	assert_non_null(strstr(out, "100-00009.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:0.520000,\n"));
	free(out);

	/* a gap (the old run's playlist ends before start - 1): no join, the
	 * new run alone, its first segment marked */
	free(prev);
	prev = strdup(ffmpeg_playlist(100, 0, 8, 6, 2));
	out = join(&r, cur, prev);
	n = read_like_a_player(out, s, 16, &ms, &target);
	assert_int_equal(n, 1);
	assert_int_equal(ms, 10);
	assert_int_equal(s[0].disc, 1);
	assert_non_null(strstr(out, "#EXT-X-DISCONTINUITY\n"));
	free(out);

	/* the old run is gone: the same */
	out = join(&r, cur, NULL);
	assert_int_equal(read_like_a_player(out, s, 16, &ms, &target), 1);
	assert_int_equal(s[0].disc, 1);
	free(out);
	free(prev);
	free(cur);
}

/* Three runs in a chain, every playlist a player could load on the way:
 * the media sequence never goes back, and every segment keeps the same
 * sequence and discontinuity numbers in every playlist that lists it. */
static void test_chain_as_a_player_sees_it(void **state)
{
	(void)state;
	enum { W = 4, MAXSEQ = 64 };
	struct {
		bool known;
		char uri[64];
		uint64_t disc;
	} by_seq[MAXSEQ] = {0};
	struct st_run runs[3] = {
	    {.id = 100, .start = 0, .disc = 0, .target = 2, .window = W},
	    {.id = 200,
	     .start = 7,
	     .disc = 1,
	     .prev = 100,
	     .prev_start = 0,
	     .target = 2,
	     .window = W},
	    /* a short run: 2 segments, then the third continues it */
	    {.id = 300,
	     .start = 9,
	     .disc = 2,
	     .prev = 200,
	     .prev_start = 7,
	     .target = 2,
	     .window = W},
	};
	uint64_t ends[3] = {6, 8, 20};
	uint64_t last_ms = 0;
	unsigned disc_tags_seen = 0;
	for (int k = 0; k < 3; k++) {
		for (uint64_t last = runs[k].start; last <= ends[k]; last++) {
			char *cur = strdup(ffmpeg_playlist(runs[k].id, runs[k].start, last, W,
			                                   last == runs[k].start ? 1 : 2));
			char *prev = k ? strdup(ffmpeg_playlist(runs[k - 1].id, runs[k - 1].start,
			                                        ends[k - 1], W, 2))
			               : NULL;
			char *out = join(&runs[k], cur, prev);
			struct seen s[16];
			uint64_t ms = 0;
			unsigned target = 0;
			size_t n = read_like_a_player(out, s, 16, &ms, &target);
			assert_true(n > 0 && n <= W);
			assert_true(ms >= last_ms);
			assert_int_equal(target, 2);
			last_ms = ms;
			for (size_t i = 0; i < n; i++) {
				assert_true(s[i].seq < MAXSEQ);
				if (by_seq[s[i].seq].known) {
					assert_string_equal(by_seq[s[i].seq].uri, s[i].uri);
					assert_int_equal(by_seq[s[i].seq].disc, s[i].disc);
				}
				by_seq[s[i].seq].known = true;
				snprintf(by_seq[s[i].seq].uri, sizeof by_seq[0].uri, "%.63s",
				         s[i].uri);
				by_seq[s[i].seq].disc = s[i].disc;
			}
			disc_tags_seen += strstr(out, "#EXT-X-DISCONTINUITY\n") != NULL;
			free(out);
			free(cur);
			free(prev);
		}
	}
	/* each run's segments carry its own discontinuity number */
	assert_int_equal(by_seq[6].disc, 0);
	assert_int_equal(by_seq[7].disc, 1);
	assert_int_equal(by_seq[8].disc, 1);
	assert_int_equal(by_seq[9].disc, 2);
	assert_int_equal(by_seq[20].disc, 2);
	assert_string_equal(by_seq[9].uri, "300-00009.ts");
	assert_true(disc_tags_seen > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_run_file),
	    cmocka_unit_test(test_first_run),
	    cmocka_unit_test(test_join),
	    cmocka_unit_test(test_chain_as_a_player_sees_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
