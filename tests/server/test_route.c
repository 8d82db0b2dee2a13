/* Request path parsing and master playlist rewriting: the
 * pure pieces of the server that stand between a URL and the disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hls_files.h"
#include "http_range.h"
#include "route.h"

#define CH "11111111-2222-4333-8444-555555555555"

static int parse(const char *path, struct route *r)
{
	const char *why;
	int rc = route_parse(path, r, &why);
	assert_non_null(why);
	if (rc)
		assert_true(strlen(why) > 0);
	return rc;
}

static void test_fixed_routes(void **state)
{
	(void)state;
	struct route r;
	assert_int_equal(parse("/", &r), 0);
	assert_int_equal(r.kind, ROUTE_INDEX);
	assert_int_equal(parse("/channels", &r), 0);
	assert_int_equal(r.kind, ROUTE_CHANNELS);
	assert_int_equal(parse("/channels/", &r), 0);
	assert_int_equal(r.kind, ROUTE_CHANNELS);
	assert_int_equal(parse("/api/sessions", &r), 0);
	assert_int_equal(r.kind, ROUTE_SESSIONS);
	assert_int_equal(parse("/metrics", &r), 0);
	assert_int_equal(r.kind, ROUTE_METRICS);
	assert_int_equal(parse("/healthz", &r), 0);
	assert_int_equal(r.kind, ROUTE_HEALTH);
	assert_int_equal(parse("/nothing", &r), 404);
	assert_int_equal(parse("/api/sessions/x", &r), 404);
	assert_int_equal(parse("/metrics/", &r), 400);
	assert_int_equal(parse("", &r), 400);
	assert_int_equal(parse("channels", &r), 400);
}

static void test_channel_routes(void **state)
{
	(void)state;
	struct route r;
	assert_int_equal(parse("/channels/" CH "/master.m3u8", &r), 0);
	assert_int_equal(r.kind, ROUTE_MASTER);
	assert_int_equal(r.channel[0], 0x11);
	assert_int_equal(r.channel[15], 0x55);
	assert_false(r.has_token);

	assert_int_equal(parse("/channels/" CH "/360p/index.m3u8", &r), 0);
	assert_int_equal(r.kind, ROUTE_FILE);
	assert_string_equal(r.variant, "360p");
	assert_string_equal(r.file, "index.m3u8");
	assert_int_equal(r.file_type, ROUTE_FILE_PLAYLIST);
	assert_string_equal(route_content_type(r.file_type), "application/vnd.apple.mpegurl");

	assert_int_equal(parse("/channels/" CH "/180p/seg_00012.ts", &r), 0);
	assert_int_equal(r.file_type, ROUTE_FILE_TS);
	assert_string_equal(route_content_type(r.file_type), "video/mp2t");

	char token[ROUTE_TOKEN_LEN + 1];
	route_format_token(0x00abcd, 0x123456789abcull, token);
	assert_string_equal(token, "00abcd123456789abc");
	assert_int_equal(parse("/channels/" CH "/v/00abcd123456789abc/360p/seg_1.ts", &r), 0);
	assert_true(r.has_token);
	assert_int_equal(r.token_slot, 0xabcd);
	assert_true(r.token_nonce == 0x123456789abcull);
	assert_string_equal(r.variant, "360p");
}

static void test_bad_channel_ids(void **state)
{
	(void)state;
	struct route r;
	assert_int_equal(parse("/channels/xyz/master.m3u8", &r), 400);
	assert_int_equal(parse("/channels/11111111-2222-4333-8444-55555555555/master.m3u8", &r),
	                 400);
	assert_int_equal(parse("/channels/11111111-2222-4333-8444-5555555555555/master.m3u8", &r),
	                 400);
	assert_int_equal(parse("/channels/11111111x2222-4333-8444-555555555555/master.m3u8", &r),
	                 400);
	assert_int_equal(parse("/channels/g1111111-2222-4333-8444-555555555555/master.m3u8", &r),
	                 400);
	assert_int_equal(parse("/channels/" CH "/other.m3u8", &r), 404);
	assert_int_equal(parse("/channels/" CH, &r), 404);
}

static void test_traversal(void **state)
{
	(void)state;
	struct route r;
	/* Paths arrive percent-decoded, so %2e%2e shows up as "..". */
	static const char *const bad[] = {
	    "/channels/" CH "/../../etc/passwd",
	    "/channels/" CH "/360p/../../x.ts",
	    "/channels/" CH "/../" CH "/master.m3u8",
	    "/channels/../channels",
	    "/../etc/passwd",
	    "/channels/" CH "/./master.m3u8",
	    "/channels/" CH "/360p/.hidden.ts",
	    "/channels/" CH "/..",
	    "/channels/" CH "//index.m3u8",
	    "/channels/" CH "/360p/seg 1.ts",
	    "/channels/" CH "/360p/seg\\1.ts",
	    "/channels/" CH "/v/../360p/index.m3u8",
	    "/channels/" CH "/v/00abcd123456789abc/../index.m3u8",
	    "/channels/" CH "/v/00ABCD123456789ABC/360p/index.m3u8",
	    "/channels/" CH "/v/00abcd/360p/index.m3u8",
	    "/channels/" CH "/v/00abcd000000000000/360p/index.m3u8",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse(bad[i], &r);
		if (rc != 400)
			fail_msg("%s: got %d, want 400", bad[i], rc);
	}
	assert_int_equal(parse("/channels/" CH "/360p/passwd", &r), 404);
	assert_int_equal(parse("/channels/" CH "/360p/seg.ts/x/y", &r), 404);
}

static void test_unescape(void **state)
{
	(void)state;
	struct route r;
	char a[] = "/channels/%2e%2E/x%2Fy%zz%4";
	assert_int_equal(route_unescape(a), strlen("/channels/../x/y%zz%4"));
	assert_string_equal(a, "/channels/../x/y%zz%4");
	char b[] = "/channels/" CH "/180p/seg%00.ts";
	route_unescape(b);
	assert_int_equal(strlen(b), strlen("/channels/" CH "/180p/seg?.ts"));
	assert_int_equal(parse(b, &r), 400);
	char c[] = "/channels/" CH "/180p/seg%5fa.ts";
	route_unescape(c);
	assert_int_equal(parse(c, &r), 0);
	assert_string_equal(r.file, "seg_a.ts");
}

static void test_long_names(void **state)
{
	(void)state;
	struct route r;
	char path[512];
	char name[ROUTE_NAME_MAX + 2];
	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	snprintf(path, sizeof path, "/channels/" CH "/%s/index.m3u8", name);
	assert_int_equal(parse(path, &r), 400);
	name[ROUTE_NAME_MAX] = '\0';
	snprintf(path, sizeof path, "/channels/" CH "/%s/index.m3u8", name);
	assert_int_equal(parse(path, &r), 0);
}

static void test_rewrite_master(void **state)
{
	(void)state;
	const char *in = "#EXTM3U\n"
	                 "#EXT-X-VERSION:3\n"
	                 "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",URI=\"aud/index.m3u8\"\n"
	                 "#EXT-X-STREAM-INF:BANDWIDTH=1000,RESOLUTION=320x180\n"
	                 "360p/index.m3u8\n"
	                 "#EXT-X-STREAM-INF:BANDWIDTH=500\r\n"
	                 "http://cdn/x.m3u8\r\n"
	                 "#EXT-X-I-FRAME-STREAM-INF:URI=\"/abs/if.m3u8\"\n"
	                 "\n"
	                 "180p/index.m3u8";
	size_t len;
	char *out = hls_rewrite_master(in, strlen(in), "v/TOKEN/", &len);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	const char *want = "#EXTM3U\n"
	                   "#EXT-X-VERSION:3\n"
	                   "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",URI=\"v/TOKEN/aud/index.m3u8\"\n"
	                   "#EXT-X-STREAM-INF:BANDWIDTH=1000,RESOLUTION=320x180\n"
	                   "v/TOKEN/360p/index.m3u8\n"
	                   "#EXT-X-STREAM-INF:BANDWIDTH=500\r\n"
	                   "http://cdn/x.m3u8\r\n"
	                   "#EXT-X-I-FRAME-STREAM-INF:URI=\"/abs/if.m3u8\"\n"
	                   "\n"
	                   "v/TOKEN/180p/index.m3u8";
	assert_string_equal(out, want);
	free(out);
	out = hls_rewrite_master("", 0, "v/x/", &len);
	assert_non_null(out);
	assert_int_equal(len, 0);
	free(out);
}

static void test_static_route(void **state)
{
	(void)state;
	struct route r;
	const char *why;
	assert_int_equal(route_parse("/static/player.js", &r, &why), 0);
	assert_int_equal(r.kind, ROUTE_STATIC);
	assert_string_equal(r.file, "player.js");
	assert_int_equal(route_parse("/static/..", &r, &why), 400);
	assert_int_equal(route_parse("/static/.env", &r, &why), 400);
	assert_int_equal(route_parse("/static/a/b.js", &r, &why), 404);
	assert_int_equal(route_parse("/static/a\\b", &r, &why), 400);
	assert_int_equal(route_parse("/static/", &r, &why), 400);
}

static void expect_range(const char *hdr, uint64_t size, enum range_kind want, uint64_t first,
                         uint64_t len)
{
	uint64_t f = 12345, n = 12345;
	enum range_kind k = range_select(hdr, size, &f, &n);
	if (k != want)
		fail_msg("Range '%s' on %llu bytes: kind %d, want %d", hdr ? hdr : "(none)",
		         (unsigned long long)size, (int)k, (int)want);
	if (want == RANGE_PARTIAL && (f != first || n != len))
		fail_msg("Range '%s' on %llu bytes: [%llu, +%llu), want [%llu, +%llu)", hdr,
		         (unsigned long long)size, (unsigned long long)f, (unsigned long long)n,
		         (unsigned long long)first, (unsigned long long)len);
}

static void test_ranges(void **state)
{
	(void)state;
	expect_range(NULL, 1000, RANGE_FULL, 0, 0);
	expect_range("bytes=0-99", 1000, RANGE_PARTIAL, 0, 100);
	expect_range("bytes=0-0", 1000, RANGE_PARTIAL, 0, 1);
	expect_range("bytes=500-", 1000, RANGE_PARTIAL, 500, 500);
	expect_range("bytes=900-5000", 1000, RANGE_PARTIAL, 900, 100); /* last clamped */
	expect_range("bytes=-100", 1000, RANGE_PARTIAL, 900, 100);
	expect_range("bytes=-5000", 1000, RANGE_PARTIAL, 0, 1000);
	expect_range(" Bytes = 10-19 ", 1000, RANGE_PARTIAL, 10, 10);
	expect_range("bytes=999-999", 1000, RANGE_PARTIAL, 999, 1);
	/* Unsatisfiable (RFC 9110 §14.1.2): first-pos past the end, empty suffix. */
	expect_range("bytes=1000-", 1000, RANGE_UNSATISFIABLE, 0, 0);
	expect_range("bytes=5000-6000", 1000, RANGE_UNSATISFIABLE, 0, 0);
	expect_range("bytes=-0", 1000, RANGE_UNSATISFIABLE, 0, 0);
	/* Ignored: invalid, other units, several ranges, empty file. */
	expect_range("bytes=10-5", 1000, RANGE_FULL, 0, 0);
	expect_range("items=0-1", 1000, RANGE_FULL, 0, 0);
	expect_range("bytes=0-1,5-6", 1000, RANGE_FULL, 0, 0);
	expect_range("bytes=", 1000, RANGE_FULL, 0, 0);
	expect_range("bytes=-", 1000, RANGE_FULL, 0, 0);
	expect_range("bytes=a-b", 1000, RANGE_FULL, 0, 0);
	expect_range("bytes=0-99x", 1000, RANGE_FULL, 0, 0);
	expect_range("bytes=1234567890123456789-", 1000, RANGE_FULL, 0, 0);
	expect_range("bytes 0-99", 1000, RANGE_FULL, 0, 0);
	expect_range("bytes=0-99", 0, RANGE_FULL, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixed_routes),    cmocka_unit_test(test_channel_routes),
	    cmocka_unit_test(test_bad_channel_ids), cmocka_unit_test(test_traversal),
	    cmocka_unit_test(test_long_names),      cmocka_unit_test(test_unescape),
	    cmocka_unit_test(test_rewrite_master),  cmocka_unit_test(test_static_route),
	    cmocka_unit_test(test_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
