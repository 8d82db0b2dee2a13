/*
 * A killed process's viewers leave every count as soon as it is dead (a
 * zombie is dead), not when recovery reclaims its slot; recovery still
 * reclaims the slot later and reports what it released.
 */
#include "support/srt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct holder_arg {
	char name[SR_NAME_MAX + 1];
	uuid_t id;
	int ready[2]; /* the holder writes one byte once it holds its viewers */
};

static int holder(void *p)
{
	struct holder_arg *a = p;
	sr_registry *reg = NULL;
	close(a->ready[0]);
	if (sr_registry_attach(a->name, 0, &reg) != 0)
		return 10;
	for (int i = 0; i < 3; i++)
		if (sr_session_add_client(reg, a->id) != 0)
			return 11;
	char c = 1;
	if (write(a->ready[1], &c, 1) != 1)
		return 12;
	for (;;)
		pause();
}

struct counts {
	uint32_t get, scan, each;
	uint64_t stats;
};

static int scan_cb(const sr_session_brief *b, void *ctx)
{
	((struct counts *)ctx)->scan += b->clients;
	return 0;
}

static int each_cb(const sr_session_info *info, void *ctx)
{
	((struct counts *)ctx)->each += info->clients;
	return 0;
}

static struct counts read_counts(sr_registry *reg, const uuid_t id)
{
	struct counts c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(sr_session_get_clients(reg, id, &c.get), 0);
	assert_int_equal(sr_session_scan(reg, scan_cb, &c), 0);
	assert_int_equal(sr_session_foreach(reg, each_cb, &c), 0);
	sr_registry_stats st;
	assert_int_equal(sr_registry_stats_get(reg, &st), 0);
	c.stats = st.clients;
	return c;
}

static void expect_counts(sr_registry *reg, const uuid_t id, uint32_t n, const char *when)
{
	struct counts c = read_counts(reg, id);
	if (c.get != n || c.scan != n || c.each != n || c.stats != n)
		fail_msg("%s: get %u scan %u foreach %u stats %llu, want %u", when, c.get, c.scan,
		         c.each, (unsigned long long)c.stats, n);
}

static void test_killed_holder_vanishes_at_once(void **state)
{
	struct srt_fx *fx = *state;
	struct holder_arg a;
	memcpy(a.name, fx->name, sizeof(a.name));
	srt_uuid(a.id);
	srt_insert_active(fx->reg, a.id);
	/* Readers: this handle, and a read-only one like a monitor's. */
	sr_registry *ro = NULL;
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &ro), 0);
	assert_int_equal(pipe(a.ready), 0);
	fflush(NULL);
	pid_t pid = srt_spawn(holder, &a);
	close(a.ready[1]);
	char c;
	assert_int_equal(read(a.ready[0], &c, 1), 1);
	close(a.ready[0]);
	expect_counts(fx->reg, a.id, 3, "holder alive");
	expect_counts(ro, a.id, 3, "holder alive, read-only handle");

	assert_int_equal(kill(pid, SIGKILL), 0);
	/* Wait for the death itself, leaving a zombie: no reaping, no recovery. */
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	int rc;
	do
		rc = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT);
	while (rc != 0 && errno == EINTR);
	assert_int_equal(rc, 0);
	expect_counts(fx->reg, a.id, 0, "holder a zombie");
	expect_counts(ro, a.id, 0, "holder a zombie, read-only handle");
	/* The reaper's question: once idle at all, nobody watches it. */
	uint64_t idle = 0;
	for (int i = 0; i < 10000 && idle == 0; i++) {
		assert_int_equal(sr_session_idle_ms(fx->reg, a.id, &idle), 0);
		if (idle == 0)
			srt_sleep_ms(1);
	}
	assert_int_equal(sr_session_should_cleanup(fx->reg, a.id, 0), 1);
	assert_int_equal(srt_wait(pid), 128 + SIGKILL);
	expect_counts(fx->reg, a.id, 0, "holder reaped");

	/* Recovery still reclaims the slot, and says what it released. */
	sr_recovery_report rep;
	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	assert_int_equal(rep.procs_reclaimed, 1);
	assert_int_equal(rep.leases_released, 3);
	expect_counts(fx->reg, a.id, 0, "after recovery");
	/* This process's own viewers still count. */
	assert_int_equal(sr_session_add_client(fx->reg, a.id), 0);
	expect_counts(fx->reg, a.id, 1, "own viewer");
	expect_counts(ro, a.id, 1, "own viewer, read-only handle");
	sr_registry_close(ro);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_killed_holder_vanishes_at_once, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
