/* Strict numbers and durations: one rule for every tool's options. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "st_num.h"

static void test_whole_numbers(void **state)
{
	(void)state;
	uint64_t v = 0;
	assert_int_equal(st_parse_u64("5", 0, 10, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(st_parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(st_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	/* issue 11 item 9: the server accepted " 5" */
	const char *bad[] = {" 5", "5 ", "+5", "-1", "", "5s", "0x10", "1e3", "5.0", "\t5"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(st_parse_u64(bad[i], 0, 1000, &v), -EINVAL);
	assert_int_equal(st_parse_u64(NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(st_parse_u64("11", 0, 10, &v), -ERANGE);
	assert_int_equal(st_parse_u64("0", 1, 10, &v), -ERANGE);
	assert_int_equal(st_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
}

static void test_seconds(void **state)
{
	(void)state;
	uint64_t ms = 0;
	assert_int_equal(st_parse_seconds_ms("30", 0, 86400000, &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(st_parse_seconds_ms("0.5", 0, 86400000, &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(st_parse_seconds_ms("1.2345", 0, 86400000, &ms), 0);
	assert_int_equal(ms, 1235);
	assert_int_equal(st_parse_seconds_ms("0.0004", 0, 86400000, &ms), 0);
	assert_int_equal(ms, 0);
	const char *bad[] = {" 5", "5 ",  "+5",  "-1",  "",    ".5",
	                     "5.", "1e3", "inf", "nan", "0x1", "5s"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(st_parse_seconds_ms(bad[i], 0, 86400000, &ms), -EINVAL);
	assert_int_equal(st_parse_seconds_ms("0.004", 5, 1000, &ms), -ERANGE);
	assert_int_equal(st_parse_seconds_ms("86401", 0, 86400000, &ms), -ERANGE);
	assert_int_equal(st_parse_seconds_ms("99999999999999999999", 0, 86400000, &ms), -ERANGE);
}

static void test_mode(void **state)
{
	(void)state;
	unsigned m = 0;
	assert_int_equal(st_parse_mode("0640", &m), 0);
	assert_int_equal(m, 0640);
	assert_int_equal(st_parse_mode("600", &m), 0);
	assert_int_equal(m, 0600);
	const char *bad[] = {"", " 600", "0800", "1777", "-600", "0x1ff", "06000"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(st_parse_mode(bad[i], &m), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_whole_numbers),
	    cmocka_unit_test(test_seconds),
	    cmocka_unit_test(test_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
