/* Registry name validation, and that every entry point applies it. */
#include "support/srt.h"

#include <errno.h>
#include <string.h>

static void fill(char *buf, size_t n, char c)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

static void test_valid_names(void **state)
{
	char longest[SR_NAME_MAX + 1];

	(void)state;
	fill(longest, SR_NAME_MAX, 'a');
	assert_int_equal(sr_name_valid("a"), 0);
	assert_int_equal(sr_name_valid("Z"), 0);
	assert_int_equal(sr_name_valid("streamreg_main-01"), 0);
	assert_int_equal(sr_name_valid("0123456789"), 0);
	assert_int_equal(sr_name_valid("-"), 0);
	assert_int_equal(sr_name_valid("_"), 0);
	assert_int_equal(sr_name_valid(longest), 0);
}

static void test_invalid_names(void **state)
{
	static const char *const bad[] = {
	    "",    "/",       "/abc",   "a/b",  "abc/",  ".",    "..",
	    "a.b", ".hidden", "a b",    " a",   "a\tb",  "a\nb", "caf\xc3\xa9",
	    "a:b", "a*",      "../etc", "a\\b", "name?", "%s",   "a\x7f",
	};

	(void)state;
	for (size_t i = 0; i < SRT_ARRAY_LEN(bad); i++) {
		int rc = sr_name_valid(bad[i]);
		if (rc != -EINVAL)
			fail_msg("sr_name_valid(\"%s\") = %d, want -EINVAL", bad[i], rc);
	}
	assert_int_equal(sr_name_valid(NULL), -EINVAL);
}

static void test_too_long_names(void **state)
{
	char name[SR_NAME_MAX + 64];

	(void)state;
	fill(name, SR_NAME_MAX + 1, 'a');
	assert_int_equal(sr_name_valid(name), -ENAMETOOLONG);
	fill(name, SR_NAME_MAX + 50, 'b');
	assert_int_equal(sr_name_valid(name), -ENAMETOOLONG);
}

static void test_entry_points_check_names(void **state)
{
	sr_registry *reg = NULL;
	char name[SR_NAME_MAX + 2];

	(void)state;
	assert_int_equal(sr_registry_create("a/b", NULL, &reg), -EINVAL);
	assert_int_equal(sr_registry_create("", NULL, &reg), -EINVAL);
	assert_int_equal(sr_registry_create("..", NULL, &reg), -EINVAL);
	assert_int_equal(sr_registry_create(NULL, NULL, &reg), -EINVAL);
	assert_int_equal(sr_registry_attach("a/b", 0, &reg), -EINVAL);
	assert_int_equal(sr_registry_attach(".", SR_ATTACH_READONLY, &reg), -EINVAL);
	assert_int_equal(sr_registry_attach(NULL, 0, &reg), -EINVAL);
	assert_int_equal(sr_registry_unlink("a/b"), -EINVAL);
	assert_int_equal(sr_registry_unlink(""), -EINVAL);
	assert_int_equal(sr_registry_unlink(NULL), -EINVAL);

	fill(name, SR_NAME_MAX + 1, 'n');
	assert_int_equal(sr_registry_create(name, NULL, &reg), -ENAMETOOLONG);
	assert_int_equal(sr_registry_attach(name, 0, &reg), -ENAMETOOLONG);
	assert_int_equal(sr_registry_unlink(name), -ENAMETOOLONG);
}

static void test_longest_name_works(void **state)
{
	char name[SR_NAME_MAX + 1];
	sr_registry *reg = NULL, *again = NULL;

	(void)state;
	/* Unique per process, padded to exactly SR_NAME_MAX characters. */
	srt_unique_name(name);
	size_t len = strlen(name);
	memset(name + len, 'x', SR_NAME_MAX - len);
	name[SR_NAME_MAX] = '\0';
	srt_track_name(name);
	assert_int_equal(sr_registry_create(name, NULL, &reg), 0);
	assert_int_equal(sr_registry_attach(name, 0, &again), 0);
	sr_registry_close(again);
	sr_registry_close(reg);
	assert_int_equal(sr_registry_unlink(name), 0);
	srt_cleanup_names();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_names),
	    cmocka_unit_test(test_invalid_names),
	    cmocka_unit_test(test_too_long_names),
	    cmocka_unit_test(test_entry_points_check_names),
	    cmocka_unit_test(test_longest_name_works),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
