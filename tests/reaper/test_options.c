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

static int parse_dir(const char *registry, const char *dir, char *err, size_t errlen)
{
	char *argv[] = {
	    "streamreg-reaper", "--registry", (char *)registry, "--lineup",  "/nonexistent.m3u",
	    "--output-dir",     (char *)dir,  "--ffmpeg",       "/bin/true", NULL};
	struct rp_config cfg;
	memset(&cfg, 0, sizeof cfg);
	return rp_options_parse(9, argv, &cfg, err, errlen);
}

static int parse(const char *registry, char *err, size_t errlen)
{
	return parse_dir(registry, "/nonexistent", err, errlen);
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

/* DIR/<uuid> must fit a session path (255): the server refuses a longer
 * --output-dir, and the reaper the same one, as a usage error. */
static void test_output_dir_fits_a_session_path(void **state)
{
	(void)state;
	char err[512] = "";
	char dir[256];
	memset(dir, 'd', sizeof dir);
	dir[0] = '/';
	dir[255 - 1 - 36] = '\0';
	assert_int_equal(parse_dir("tv", dir, err, sizeof err), 0);
	dir[255 - 1 - 36] = 'd';
	dir[255 - 36] = '\0';
	assert_int_equal(parse_dir("tv", dir, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "--output-dir"));
	assert_int_equal(parse_dir("tv", "", err, sizeof err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry_name_is_checked_as_usage),
	    cmocka_unit_test(test_output_dir_fits_a_session_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
