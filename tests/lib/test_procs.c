/* sr_registry_procs: the process table as a monitor sees it, live and dead. */
#include "support/srt.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEEN 16

struct seen {
	int n;
	int stop_at;
	sr_proc_info p[MAX_SEEN];
};

static int collect(const sr_proc_info *proc, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < MAX_SEEN)
		s->p[s->n] = *proc;
	s->n++;
	return s->n == s->stop_at ? 9 : 0;
}

static const sr_proc_info *find_pid(const struct seen *s, pid_t pid)
{
	for (int i = 0; i < s->n && i < MAX_SEEN; i++)
		if (s->p[i].pid == pid)
			return &s->p[i];
	return NULL;
}

struct child_arg {
	char name[SR_NAME_MAX + 1];
	uuid_t a, b;
};

static int hold_and_exit(void *p)
{
	struct child_arg *c = p;
	sr_registry *reg = NULL;

	if (sr_registry_attach(c->name, 0, &reg) != 0)
		return 10;
	for (int i = 0; i < 3; i++)
		if (sr_session_add_client(reg, c->a) != 0)
			return 11;
	for (int i = 0; i < 2; i++)
		if (sr_session_add_client(reg, c->b) != 0)
			return 12;
	return 0; /* without closing: the slot outlives us until recovery */
}

static void test_procs_live_and_dead(void **state)
{
	struct srt_fx *fx = *state;
	struct child_arg c;
	struct seen s = {0};
	sr_registry *ro = NULL;
	struct timespec now;

	memcpy(c.name, fx->name, sizeof(c.name));
	srt_uuid(c.a);
	srt_uuid(c.b);
	assert_int_equal(sr_session_insert(fx->reg, c.a, NULL), 0);
	assert_int_equal(sr_session_insert(fx->reg, c.b, NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sr_session_add_client(fx->reg, c.a), 0);

	assert_int_equal(sr_registry_procs(fx->reg, collect, &s), 0);
	assert_int_equal(s.n, 1);
	const sr_proc_info *me = find_pid(&s, getpid());
	assert_non_null(me);
	assert_true(me->alive);
	assert_false(me->reclaiming);
	assert_int_equal(me->channels, 1);
	assert_int_equal(me->clients, 4);
	assert_int_equal(me->start_time, sr_pid_start_time(getpid()));
	assert_true(me->slot < 128); /* the default max_procs */
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	assert_true(me->attach_wall_ns <= now_ns && me->attach_wall_ns > now_ns - 600000000000LL);

	pid_t pid = srt_spawn(hold_and_exit, &c);
	assert_true(pid > 0);
	assert_int_equal(srt_wait(pid), 0);

	/* A read-only monitor sees the dead process and what it left. */
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &ro), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(sr_registry_procs(ro, collect, &s), 0);
	assert_int_equal(s.n, 2);
	const sr_proc_info *dead = find_pid(&s, pid);
	assert_non_null(dead);
	assert_false(dead->alive);
	assert_int_equal(dead->channels, 2);
	assert_int_equal(dead->clients, 5);
	assert_int_not_equal(dead->slot, find_pid(&s, getpid())->slot);

	/* The walk stops on the callback's word. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	assert_int_equal(sr_registry_procs(ro, collect, &s), 9);
	assert_int_equal(s.n, 1);

	/* Listing changed nothing; recovery removes the dead one. */
	sr_recovery_report rep;
	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	assert_int_equal(rep.procs_reclaimed, 1);
	assert_int_equal(rep.leases_released, 5);
	memset(&s, 0, sizeof(s));
	assert_int_equal(sr_registry_procs(ro, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_null(find_pid(&s, pid));
	assert_int_equal(find_pid(&s, getpid())->clients, 4);

	/* Closing the read-write handle frees its slot too. */
	sr_registry_close(fx->reg);
	fx->reg = NULL;
	memset(&s, 0, sizeof(s));
	assert_int_equal(sr_registry_procs(ro, collect, &s), 0);
	assert_int_equal(s.n, 0);
	sr_registry_close(ro);
}

static void test_procs_bad_args(void **state)
{
	struct srt_fx *fx = *state;
	struct seen s = {0};

	assert_int_equal(sr_registry_procs(NULL, collect, &s), -EINVAL);
	assert_int_equal(sr_registry_procs(fx->reg, NULL, &s), -EINVAL);
	/* Nothing attached with leases yet: an empty walk. */
	assert_int_equal(sr_registry_procs(fx->reg, collect, &s), 0);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_procs_live_and_dead, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_procs_bad_args, srt_setup_small, srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
