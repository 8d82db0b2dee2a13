/* The channel-directory rule and the log rate limit (JSON strings:
 * test_json_escape.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "st_chandir.h"
#include "st_log.h"

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
	    cmocka_unit_test(test_chan_dir),
	    cmocka_unit_test(test_log_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
