/* The monitor's pure pieces: durations, rows, header hints, sorting and filtering. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor_format.h"
#include "monitor_guard.h"
#include "monitor_view.h"

static void expect_duration(uint64_t ms, const char *want)
{
	char buf[32];
	mon_format_duration(ms, buf, sizeof buf);
	if (strcmp(buf, want) != 0)
		fail_msg("duration %llu ms: \"%s\", want \"%s\"", (unsigned long long)ms, buf,
		         want);
}

static void test_durations(void **state)
{
	(void)state;
	expect_duration(0, "0ms");
	expect_duration(999, "999ms");
	expect_duration(1000, "1.0s");
	expect_duration(9999, "9.9s");
	expect_duration(10000, "10s");
	expect_duration(59999, "59s");
	expect_duration(60000, "1m00s");
	expect_duration(3599999, "59m59s");
	expect_duration(3600000, "1h00m");
	expect_duration(86399999, "23h59m");
	expect_duration(86400000, "1d00h");
	/* The longest output fits the size the header names. */
	char exact[MON_DURATION_SIZE];
	mon_format_duration(UINT64_MAX, exact, sizeof exact);
	assert_string_equal(exact, "213503982334d14h");
	char tiny[4];
	mon_format_duration(UINT64_MAX, tiny, sizeof tiny);
	assert_int_equal(strlen(tiny), 3);
}

static sr_session_info session(uint32_t slot, sr_state st, uint32_t clients, uint64_t idle_ms,
                               uint32_t errors)
{
	sr_session_info s;
	memset(&s, 0, sizeof s);
	memset(s.channel_id, (int)slot + 1, sizeof s.channel_id);
	s.slot = slot;
	s.state = st;
	s.clients = clients;
	s.idle_ms = idle_ms;
	s.error_count = errors;
	return s;
}

static void test_row(void **state)
{
	(void)state;
	sr_session_info s = session(0, SR_STATE_ACTIVE, 7, 1500, 2);
	s.started_mono_ns = 1000000000ull;
	s.pid = 4242;
	s.n_qualities = 2;
	strcpy(s.qualities[0].level, "720p");
	strcpy(s.qualities[1].level, "360p");
	strcpy(s.last_error, "bad\x1b[2Jthing\n");
	char row[512];
	mon_format_row(&s, 61000000000ull, row, sizeof row);
	assert_non_null(strstr(row, "active"));
	assert_non_null(strstr(row, " 7 "));
	assert_non_null(strstr(row, "1m00s")); /* uptime: 61 s - 1 s */
	assert_non_null(strstr(row, "4242"));
	assert_non_null(strstr(row, "720p,360p"));
	assert_non_null(strstr(row, "bad?[2Jthing?")); /* no escape reaches the terminal */
	assert_int_equal(strncmp(row + MON_COL_STATE, "active", 6), 0);

	s.state = SR_STATE_STOPPING;
	s.pid = 0;
	s.n_qualities = 0;
	s.last_error[0] = '\0';
	mon_format_row(&s, 61000000000ull, row, sizeof row);
	char f[9][40];
	assert_int_equal(sscanf(row, "%39s %39s %39s %39s %39s %39s %39s %39s %39s", f[0], f[1],
	                        f[2], f[3], f[4], f[5], f[6], f[7], f[8]),
	                 9);
	assert_string_equal(f[1], "stopping");
	assert_string_equal(f[4], "-"); /* no uptime unless active */
	assert_string_equal(f[6], "-"); /* no pid */
	assert_string_equal(f[7], "-"); /* no variants */
	assert_string_equal(f[8], "-"); /* no error */

	char small[20];
	mon_format_row(&s, 0, small, sizeof small);
	assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_header_hints(void **state)
{
	(void)state;
	mon_snapshot snap;
	memset(&snap, 0, sizeof snap);
	snap.stats.capacity = 4;
	snap.n = 3;
	snap.skipped = 1;
	snap.by_state[SR_STATE_FAILED] = 3;
	snap.clients = 9;
	char line[512];
	mon_format_sessions_line(&snap, line, sizeof line);
	assert_non_null(strstr(line, "4 used, 0 free of 4"));
	assert_non_null(strstr(line, "failed 3"));
	assert_non_null(strstr(line, "clients 9"));
	assert_non_null(strstr(line, "--capacity"));
	snap.stats.capacity = 5;
	mon_format_sessions_line(&snap, line, sizeof line);
	assert_null(strstr(line, "--capacity"));

	snap.stats.max_procs = 2;
	snap.stats.procs_attached = 2;
	snap.stats.procs_reclaimed = 6;
	mon_format_procs_line(&snap, line, sizeof line);
	assert_non_null(strstr(line, "table 2 of 2"));
	assert_non_null(strstr(line, "dead reclaimed 6"));
	assert_non_null(strstr(line, "1 busy records skipped"));
	assert_non_null(strstr(line, "--max-procs"));
}

static void expect_order(const mon_view *v, const uint32_t *slots, size_t n)
{
	assert_int_equal(v->n, n);
	for (size_t i = 0; i < n; i++)
		if (v->rows[i]->slot != slots[i])
			fail_msg("row %zu is slot %u, want %u", i, v->rows[i]->slot, slots[i]);
}

static void test_sort_and_filter(void **state)
{
	(void)state;
	sr_session_info rows[5] = {
	    session(0, SR_STATE_IDLE, 1, 500, 0),    session(1, SR_STATE_ACTIVE, 9, 10, 1),
	    session(2, SR_STATE_FAILED, 0, 9000, 5), session(3, SR_STATE_STOPPING, 9, 20, 1),
	    session(4, SR_STATE_ACTIVE, 3, 9000, 0),
	};
	mon_snapshot snap;
	memset(&snap, 0, sizeof snap);
	snap.sessions = rows;
	snap.n = 5;
	mon_view v = {0};

	assert_int_equal(mon_view_build(&v, &snap, MON_FILTER_ALL, MON_SORT_CLIENTS), 0);
	expect_order(&v, (const uint32_t[]){1, 3, 4, 0, 2}, 5); /* ties keep slot order */
	assert_int_equal(mon_view_build(&v, &snap, MON_FILTER_ALL, MON_SORT_IDLE), 0);
	expect_order(&v, (const uint32_t[]){2, 4, 0, 3, 1}, 5);
	assert_int_equal(mon_view_build(&v, &snap, MON_FILTER_ALL, MON_SORT_ERRORS), 0);
	expect_order(&v, (const uint32_t[]){2, 1, 3, 0, 4}, 5);
	assert_int_equal(mon_view_build(&v, &snap, MON_FILTER_ALL, MON_SORT_STATE), 0);
	expect_order(&v, (const uint32_t[]){2, 3, 1, 4, 0}, 5);
	assert_int_equal(mon_view_build(&v, &snap, MON_FILTER_ALL, MON_SORT_SLOT), 0);
	expect_order(&v, (const uint32_t[]){0, 1, 2, 3, 4}, 5);
	assert_int_equal(mon_view_build(&v, &snap, SR_STATE_ACTIVE, MON_SORT_CLIENTS), 0);
	expect_order(&v, (const uint32_t[]){1, 4}, 2);
	assert_int_equal(mon_view_build(&v, &snap, SR_STATE_STARTING, MON_SORT_CLIENTS), 0);
	assert_int_equal(v.n, 0);
	mon_view_free(&v);
}

static void test_names(void **state)
{
	(void)state;
	mon_sort s;
	const char *names[] = {"slot", "clients", "idle", "errors", "state"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		assert_int_equal(mon_sort_parse(names[i], &s), 0);
		assert_string_equal(mon_sort_name(s), names[i]);
	}
	assert_int_equal(mon_sort_parse("Clients", &s), -EINVAL);
	assert_int_equal(mon_sort_parse("", &s), -EINVAL);
	/* f visits every state once and comes back to all. */
	int f = MON_FILTER_ALL, seen = 0;
	do {
		f = mon_filter_next(f);
		seen++;
		assert_true(f == MON_FILTER_ALL || (f >= 0 && f < SR_STATE_COUNT));
	} while (f != MON_FILTER_ALL && seen < 20);
	assert_int_equal(seen, SR_STATE_COUNT + 1);
	assert_string_equal(mon_filter_name(MON_FILTER_ALL), "all");
	assert_string_equal(mon_filter_name(SR_STATE_FAILED), "failed");
}

static int read_page(void *ctx)
{
	return *(volatile const char *)ctx;
}

/* The guard turns a fault on a truncated mapping into an error, and only that. */
static void test_sigbus_guard(void **state)
{
	(void)state;
	char path[] = "/tmp/mon-guard-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	long page = sysconf(_SC_PAGESIZE);
	assert_int_equal(ftruncate(fd, page), 0);
	char *map = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(pwrite(fd, "\x07", 1, 0), 1);
	assert_int_equal(mon_guard_sigbus(read_page, map), 7);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(mon_guard_sigbus(read_page, map), -SR_ETRUNCATED);
	assert_int_equal(mon_guard_sigbus(read_page, map), -SR_ETRUNCATED); /* re-armed */
	/* Outside the guard the fault still kills: nothing is silently swallowed. */
	fflush(NULL);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		signal(SIGBUS, SIG_DFL); /* as in a program without cmocka's handler */
		(void)mon_guard_sigbus(read_page, map);
		_exit(read_page(map) == 0 ? 3 : 4);
	}
	int status = 0;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
	munmap(map, (size_t)page);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations),    cmocka_unit_test(test_row),
	    cmocka_unit_test(test_header_hints), cmocka_unit_test(test_sort_and_filter),
	    cmocka_unit_test(test_names),        cmocka_unit_test(test_sigbus_guard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
