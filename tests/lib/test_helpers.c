/* sr_strerror, sr_err_name, sr_errdetail, uuid parsing and formatting, pid start time, clock. */
#include "support/srt.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void test_strerror_library_codes(void **state)
{
	const char *seen[SR_ELAST - SR_EBASE];

	(void)state;
	for (int code = SR_EBASE + 1; code < SR_ELAST; code++) {
		const char *neg = sr_strerror(-code);
		const char *pos = sr_strerror(code);
		assert_non_null(neg);
		assert_non_null(pos);
		if (strlen(neg) == 0)
			fail_msg("sr_strerror(-%d) is empty", code);
		assert_string_equal(neg, pos);
		for (int j = SR_EBASE + 1; j < code; j++)
			if (strcmp(seen[j - SR_EBASE], neg) == 0)
				fail_msg("codes %d and %d share the message \"%s\"", j, code, neg);
		seen[code - SR_EBASE] = neg;
	}
	/* The two messages the operator must act on say what to raise. */
	assert_non_null(strstr(sr_strerror(-SR_EFULL), "capacity"));
}

static void test_strerror_errno_and_unknown(void **state)
{
	static const int codes[] = {EINVAL,    ENOENT, EEXIST, ENAMETOOLONG, EROFS,
	                            ETIMEDOUT, EACCES, EPERM,  ENOMEM,       ENOSPC};

	(void)state;
	for (size_t i = 0; i < SRT_ARRAY_LEN(codes); i++) {
		const char *m = sr_strerror(-codes[i]);
		assert_non_null(m);
		assert_true(strlen(m) > 0);
		/* Distinct from the library's own messages. */
		for (int c = SR_EBASE + 1; c < SR_ELAST; c++)
			assert_string_not_equal(m, sr_strerror(-c));
	}
	assert_string_not_equal(sr_strerror(-EINVAL), sr_strerror(-ENOENT));
	static const int odd[] = {0,     SR_EBASE, -SR_EBASE, SR_ELAST, -SR_ELAST,
	                          99999, -99999,   INT32_MIN, INT32_MAX};
	for (size_t i = 0; i < SRT_ARRAY_LEN(odd); i++) {
		const char *m = sr_strerror(odd[i]);
		assert_non_null(m);
		assert_true(strlen(m) > 0);
	}
}

static void test_err_name(void **state)
{
	(void)state;
	assert_string_equal(sr_err_name(-SR_EFULL), "SR_EFULL");
	assert_string_equal(sr_err_name(SR_EFULL), "SR_EFULL");
	assert_string_equal(sr_err_name(-SR_ESTALE), "SR_ESTALE");
	assert_string_equal(sr_err_name(-ENOENT), "ENOENT");
	assert_string_equal(sr_err_name(-EROFS), "EROFS");
	assert_string_equal(sr_err_name(-EBUSY), "EBUSY");
	assert_string_equal(sr_err_name(0), "OK");
	/* Every library code has its own name, spelled like its macro. */
	for (int code = SR_EBASE + 1; code < SR_ELAST; code++) {
		const char *n = sr_err_name(-code);
		assert_non_null(n);
		assert_memory_equal(n, "SR_E", 4);
		for (int other = SR_EBASE + 1; other < code; other++)
			assert_string_not_equal(n, sr_err_name(-other));
	}
	static const int odd[] = {SR_EBASE, -SR_EBASE, SR_ELAST, -SR_ELAST,
	                          INT_MIN,  INT_MAX,   100000};
	for (size_t i = 0; i < SRT_ARRAY_LEN(odd); i++)
		assert_string_equal(sr_err_name(odd[i]), "UNKNOWN");
}

static void test_errdetail_per_failure(void **state)
{
	struct srt_fx *fx = *state;
	char longp[SR_PATH_MAX + 2];
	uuid_t id;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	memset(longp, 'p', SR_PATH_MAX + 1);
	longp[SR_PATH_MAX + 1] = '\0';
	assert_int_equal(sr_session_set_paths(fx->reg, id, longp, NULL), -ENAMETOOLONG);
	/* The detail names the limit that was exceeded. */
	char lim[16];
	snprintf(lim, sizeof(lim), "%d", SR_PATH_MAX);
	if (!strstr(sr_errdetail(), lim))
		fail_msg("errdetail \"%s\" does not name the limit %s", sr_errdetail(), lim);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_IDLE, SR_STATE_ACTIVE),
	                 -SR_EBADTRANS);
	const char *d = sr_errdetail();
	assert_non_null(strstr(d, "idle"));
	assert_non_null(strstr(d, "active"));
	/* Successes leave the detail of the last failure in place. */
	char kept[512];
	snprintf(kept, sizeof(kept), "%s", d);
	assert_int_equal(sr_session_touch(fx->reg, id), 0);
	assert_string_equal(sr_errdetail(), kept);
}

static void test_uuid_parse_valid(void **state)
{
	uuid_t out, ref;
	char text[SR_UUID_STR_LEN + 1];

	(void)state;
	assert_int_equal(sr_uuid_parse("00000000-0000-0000-0000-000000000000", out), 0);
	uuid_clear(ref);
	assert_memory_equal(out, ref, sizeof(uuid_t));
	assert_int_equal(sr_uuid_parse("0123abcd-ef01-4567-89ab-cdef01234567", out), 0);
	assert_int_equal(uuid_parse("0123abcd-ef01-4567-89ab-cdef01234567", ref), 0);
	assert_memory_equal(out, ref, sizeof(uuid_t));
	assert_int_equal(sr_uuid_parse("0123ABCD-EF01-4567-89AB-CDEF01234567", out), 0);
	assert_memory_equal(out, ref, sizeof(uuid_t));

	for (int i = 0; i < 100; i++) {
		uuid_generate_random(ref);
		sr_uuid_format(ref, text);
		assert_int_equal(strlen(text), SR_UUID_STR_LEN);
		for (int k = 0; k < SR_UUID_STR_LEN; k++)
			assert_false(isupper((unsigned char)text[k]));
		char lib[SR_UUID_STR_LEN + 1];
		uuid_unparse_lower(ref, lib);
		assert_string_equal(text, lib);
		assert_int_equal(sr_uuid_parse(text, out), 0);
		assert_memory_equal(out, ref, sizeof(uuid_t));
	}
}

static void test_uuid_parse_invalid(void **state)
{
	static const char *const bad[] = {
	    "",
	    "0123abcd-ef01-4567-89ab-cdef0123456",           /* 35 */
	    "0123abcd-ef01-4567-89ab-cdef012345678",         /* 37 */
	    "0123abcd-ef01-4567-89ab-cdef01234567 ",         /* trailing space */
	    " 0123abcd-ef01-4567-89ab-cdef01234567",         /* leading space */
	    "0123abcg-ef01-4567-89ab-cdef01234567",          /* g */
	    "0123abcd_ef01-4567-89ab-cdef01234567",          /* _ for - */
	    "0123abcdef01-4567-89ab-cdef0123456789",         /* dash moved */
	    "0123abcd-ef014-567-89ab-cdef01234567",          /* dash moved */
	    "0123abcdef0145678 9abcdef01234567abcd",         /* no dashes */
	    "0123abcdef01456789abcdef01234567",              /* 32 hex, no dashes */
	    "{0123abcd-ef01-4567-89ab-cdef01234567}",        /* braces */
	    "urn:uuid:0123abcd-ef01-4567-89ab-cdef01234567", /* urn */
	    "0123abcd-ef01-4567-89ab-cdef0123456\xc3\xa9",   /* non-ASCII */
	    "+123abcd-ef01-4567-89ab-cdef01234567",          /* sign */
	    "0x23abcd-ef01-4567-89ab-cdef01234567",          /* 0x */
	    "------------------------------------",
	};
	uuid_t out;

	(void)state;
	for (size_t i = 0; i < SRT_ARRAY_LEN(bad); i++) {
		int rc = sr_uuid_parse(bad[i], out);
		if (rc != -EINVAL)
			fail_msg("sr_uuid_parse(\"%s\") = %d, want -EINVAL", bad[i], rc);
	}
	/* An embedded NUL ends the string early: too short. */
	char embedded[SR_UUID_STR_LEN + 1] = "0123abcd-ef01-4567-89ab-cdef01234567";
	embedded[20] = '\0';
	assert_int_equal(sr_uuid_parse(embedded, out), -EINVAL);
}

static uint64_t stat_start_time(pid_t pid)
{
	char path[64], buf[1024];

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may itself hold spaces and parens. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return 0;
		p++;
	}
	return strtoull(p, NULL, 10);
}

static void test_pid_start_time(void **state)
{
	(void)state;
	uint64_t mine = sr_pid_start_time(getpid());
	assert_true(mine > 0);
	assert_int_equal(mine, stat_start_time(getpid()));
	assert_int_equal(sr_pid_start_time(1), stat_start_time(1));
	assert_int_equal(sr_pid_start_time(0), 0);
	assert_int_equal(sr_pid_start_time(-1), 0);

	/* A reaped child no longer exists. */
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(sr_pid_start_time(pid), 0);
}

static void test_now_mono(void **state)
{
	struct timespec ts;

	(void)state;
	uint64_t a = sr_now_mono_ns();
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	uint64_t ref = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	uint64_t b = sr_now_mono_ns();
	assert_true(a <= b);
	/* Same clock: within a generous second of the reference. */
	assert_true(a <= ref + 1000000000ULL && ref <= b + 1000000000ULL);
	srt_sleep_ms(20);
	uint64_t c = sr_now_mono_ns();
	assert_true(c >= b + 10000000ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strerror_library_codes),
	    cmocka_unit_test(test_strerror_errno_and_unknown),
	    cmocka_unit_test(test_err_name),
	    cmocka_unit_test_setup_teardown(test_errdetail_per_failure, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test(test_uuid_parse_valid),
	    cmocka_unit_test(test_uuid_parse_invalid),
	    cmocka_unit_test(test_pid_start_time),
	    cmocka_unit_test(test_now_mono),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
