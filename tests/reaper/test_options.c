/* rp_options_parse(): what docs/reaper.md calls a usage error (exit 2) is
 * refused by the parser, before any setup. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

static int parse(const char *registry, char *err, size_t errlen)
{
	char *argv[] = {"streamreg-reaper", "--registry",  (char *)registry, "--lineup",
	                "/nonexistent.m3u", "--output-dir", "/nonexistent",   "--ffmpeg",
	                "/bin/true",        NULL};
	struct rp_config cfg;
	memset(&cfg, 0, sizeof cfg);
	return rp_options_parse(9, argv, &cfg, err, errlen);
}

static void test_registry_name_is_checked_as_usage(void **state)
{
	(void)state;
	char err[256] = "";
	assert_int_equal(parse("tv_1-a", err, sizeof err), 0);
	char too_long[66];
	memset(too_long, 'a', sizeof too_long - 1);
	too_long[sizeof too_long - 1] = '\0';
	const char *bad[] = {"bad.name", "a/b", "", too_long};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_int_equal(parse(bad[i], err, sizeof err), -EINVAL);
		assert_non_null(strstr(err, "--registry"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry_name_is_checked_as_usage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
