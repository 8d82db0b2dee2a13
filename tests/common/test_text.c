/* JSON strings (the library's rule: invalid UTF-8 becomes U+FFFD), the
 * channel-directory rule and the log rate limit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "st_chandir.h"
#include "st_json.h"
#include "st_log.h"

struct out {
	char buf[256];
	size_t len;
};

static void sink(void *ctx, const char *p, size_t n)
{
	struct out *o = ctx;
	assert_true(o->len + n < sizeof o->buf);
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static const char *json(const char *s)
{
	static struct out o;
	o.len = 0;
	o.buf[0] = '\0';
	st_json_string(sink, &o, s, (size_t)-1);
	return o.buf;
}

static void test_json_string(void **state)
{
	(void)state;
	assert_string_equal(json("plain"), "\"plain\"");
	assert_string_equal(json("a\"b\\c"), "\"a\\\"b\\\\c\"");
	assert_string_equal(json("l1\nl2\x01\x7f"), "\"l1\\u000al2\\u0001\\u007f\"");
	assert_string_equal(json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
	                    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* issue 11 item 9: an ffmpeg error with invalid UTF-8 must still parse */
	assert_string_equal(json("bad \xff\xfe end"), "\"bad \\ufffd\\ufffd end\"");
	assert_string_equal(json("overlong \xc0\xaf"), "\"overlong \\ufffd\\ufffd\"");
	assert_string_equal(json("surrogate \xed\xa0\x80"), "\"surrogate \\ufffd\\ufffd\\ufffd\"");
	assert_string_equal(json("cut \xe2\x82"), "\"cut \\ufffd\\ufffd\"");
	assert_string_equal(json("big \xf4\x90\x80\x80"), "\"big \\ufffd\\ufffd\\ufffd\\ufffd\"");
	struct out o = {0};
	st_json_string(sink, &o, "abcdef", 3);
	assert_string_equal(o.buf, "\"abc\"");
}

static void test_chan_dir(void **state)
{
	(void)state;
	uuid_t id;
	uuid_parse("0B0E5D1C-4C1F-4D8E-9A3E-2F5B8C7D6E1A", id);
	char p[128];
	assert_int_equal(st_chan_dir(p, sizeof p, "/var/out", id), 0);
	assert_string_equal(p, "/var/out/0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1a");
	assert_int_equal(st_chan_dir(p, 20, "/var/out", id), -ENAMETOOLONG);
	assert_string_equal(p, "");
	assert_true(st_chan_name_valid("0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1a"));
	assert_false(st_chan_name_valid("0B0E5D1C-4C1F-4D8E-9A3E-2F5B8C7D6E1A"));
	assert_false(st_chan_name_valid("0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1"));
	assert_false(st_chan_name_valid(".."));
	assert_false(st_chan_name_valid(NULL));
}

static void test_log_limit(void **state)
{
	(void)state;
	struct st_log_limit lim = {.interval_ms = 1000};
	uint64_t report = 99;
	/* first line written, the next ones in the interval counted */
	assert_int_equal(st_log_limit_decide(&lim, 5000, &report), 1);
	assert_int_equal(report, 0);
	for (int i = 0; i < 41; i++)
		assert_int_equal(st_log_limit_decide(&lim, 5000 + (uint64_t)i * 20, &report), 0);
	/* the first line after the interval carries the count */
	assert_int_equal(st_log_limit_decide(&lim, 6000, &report), 1);
	assert_int_equal(report, 41);
	assert_int_equal(st_log_limit_decide(&lim, 6500, &report), 0);
	assert_int_equal(st_log_limit_decide(&lim, 9000, &report), 1);
	assert_int_equal(report, 1);
	/* clock at 0 still opens a window */
	struct st_log_limit z = {.interval_ms = 10};
	assert_int_equal(st_log_limit_decide(&z, 0, &report), 1);
	assert_int_equal(st_log_limit_decide(&z, 1, &report), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_string),
	    cmocka_unit_test(test_chan_dir),
	    cmocka_unit_test(test_log_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
