/* The doorbell: a transition into `starting` wakes sr_registry_wait(). */
#include "support/srt.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void test_wait_times_out(void **state)
{
	struct srt_fx *fx = *state;
	uint32_t seen = sr_registry_doorbell(fx->reg);
	uint32_t before = seen;

	assert_int_equal(sr_registry_wait(fx->reg, &seen, 0), 0);
	assert_int_equal(sr_registry_wait(fx->reg, &seen, 20), 0);
	assert_int_equal(seen, before);
}

static void test_ring_before_wait(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	uint32_t seen = sr_registry_doorbell(fx->reg);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_IDLE, SR_STATE_STARTING), 0);
	assert_int_not_equal(sr_registry_doorbell(fx->reg), seen);
	/* Rung since `seen`: returns at once, even with a long timeout. */
	assert_int_equal(sr_registry_wait(fx->reg, &seen, 60000), 1);
	assert_int_equal(seen, sr_registry_doorbell(fx->reg));
	/* Consumed: the next wait times out. */
	assert_int_equal(sr_registry_wait(fx->reg, &seen, 10), 0);

	/* set_state into starting rings too (failed -> starting, a retry). */
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_STARTING, SR_STATE_FAILED), 0);
	seen = sr_registry_doorbell(fx->reg);
	assert_int_equal(sr_session_set_state(fx->reg, id, SR_STATE_STARTING, NULL), 0);
	assert_int_equal(sr_registry_wait(fx->reg, &seen, 60000), 1);
}

static void test_other_transitions_do_not_ring(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_IDLE, SR_STATE_STARTING), 0);
	uint32_t seen = sr_registry_doorbell(fx->reg);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_STARTING, SR_STATE_ACTIVE), 0);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_ACTIVE, SR_STATE_STOPPING), 0);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_STOPPING, SR_STATE_IDLE), 0);
	/* Refused transitions into starting ring nothing either. */
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_FAILED, SR_STATE_STARTING),
	                 -SR_ESTATE);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_ACTIVE, SR_STATE_STARTING),
	                 -SR_EBADTRANS);
	assert_int_equal(sr_registry_wait(fx->reg, &seen, 20), 0);
}

struct ring_arg {
	char name[SR_NAME_MAX + 1];
	uuid_t id;
};

static int ring_later(void *p)
{
	struct ring_arg *a = p;
	sr_registry *reg = NULL;

	if (sr_registry_attach(a->name, 0, &reg) != 0)
		return 10;
	srt_sleep_ms(100);
	int rc = sr_session_transition(reg, a->id, SR_STATE_IDLE, SR_STATE_STARTING);
	sr_registry_close(reg);
	return rc == 0 ? 0 : 11;
}

static void test_ring_from_other_process(void **state)
{
	struct srt_fx *fx = *state;
	struct ring_arg a;
	sr_registry *w = NULL;

	memcpy(a.name, fx->name, sizeof(a.name));
	srt_uuid(a.id);
	assert_int_equal(sr_session_insert(fx->reg, a.id, NULL), 0);
	/* The waiter is a handle of its own, like the reaper's. */
	assert_int_equal(sr_registry_attach(fx->name, 0, &w), 0);
	uint32_t seen = sr_registry_doorbell(w);
	pid_t pid = srt_spawn(ring_later, &a);
	assert_true(pid > 0);
	double t0 = srt_now_ms();
	int rc = sr_registry_wait(w, &seen, 30000);
	double waited = srt_now_ms() - t0;
	assert_int_equal(srt_wait(pid), 0);
	assert_int_equal(rc, 1);
	/* Woken by the ring, not by the (far) timeout. */
	assert_true(waited < 20000);
	sr_state s;
	assert_int_equal(sr_session_get_state(w, a.id, &s), 0);
	assert_int_equal(s, SR_STATE_STARTING);
	sr_registry_close(w);
}

struct waiter {
	sr_registry *reg;
	uint32_t seen;
	int rc;
};

static void *wait_forever(void *p)
{
	struct waiter *w = p;

	w->rc = sr_registry_wait(w->reg, &w->seen, -1);
	return NULL;
}

/* A negative timeout waits for as long as it takes; a thread of the same process rings. */
static void test_wait_without_timeout(void **state)
{
	struct srt_fx *fx = *state;
	struct waiter w = {.reg = fx->reg};
	pthread_t th;
	uuid_t id;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	w.seen = sr_registry_doorbell(fx->reg);
	assert_int_equal(pthread_create(&th, NULL, wait_forever, &w), 0);
	srt_sleep_ms(50);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_IDLE, SR_STATE_STARTING), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.rc, 1);
	assert_int_equal(w.seen, sr_registry_doorbell(fx->reg));
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* A handled signal (installed without SA_RESTART, so the kernel interrupts the
 * wait) must not end the wait early: it resumes with the time that is left. */
static void test_wait_survives_signals(void **state)
{
	struct srt_fx *fx = *state;
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	/* A signal every 50 ms, the first after 20 ms. */
	struct itimerval it = {{0, 50000}, {0, 20000}}, off = {{0, 0}, {0, 0}};
	alarms = 0;
	uint32_t seen = sr_registry_doorbell(fx->reg);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	double t0 = srt_now_ms();
	int rc = sr_registry_wait(fx->reg, &seen, 600);
	double waited = srt_now_ms() - t0;
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	print_message("waited %.0f ms through %d signals\n", waited, (int)alarms);
	assert_int_equal(rc, 0);
	/* Otherwise no signal interrupted the wait and nothing was tested. */
	assert_true(alarms > 0);
	/* A lower bound: load can only make the wait longer. */
	assert_true(waited >= 599.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_wait_times_out, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_ring_before_wait, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_other_transitions_do_not_ring, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_wait_without_timeout, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_ring_from_other_process, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_wait_survives_signals, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
