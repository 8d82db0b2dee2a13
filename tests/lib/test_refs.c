/* Session references: one lookup per request, stale references refused,
 * find-or-insert races, counts returned, the found state of a failed
 * transition, and the futex wait for a state change (threads, processes,
 * signals, SIGKILLed waiters). */
#include "support/srt.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static void test_stale_ref_refused(void **state)
{
	struct srt_fx *fx = *state; /* capacity 4: slots are reused at once */
	uuid_t a, b;
	sr_session_ref ra, rb, zero = {0, 0};
	sr_state st;
	uint32_t n;
	sr_session_info info;

	srt_uuid(a);
	srt_uuid(b);
	assert_int_equal(sr_session_resolve(fx->reg, a, &ra), -ENOENT);
	assert_int_equal(sr_session_insert(fx->reg, a, "/tmp/a"), 0);
	assert_int_equal(sr_session_resolve(fx->reg, a, &ra), 0);
	assert_int_equal(sr_ref_touch(fx->reg, ra), 0);
	assert_int_equal(sr_ref_get_state(fx->reg, ra, &st), 0);
	assert_int_equal(st, SR_STATE_IDLE);
	assert_int_equal(sr_ref_snapshot(fx->reg, ra, &info), 0);
	assert_memory_equal(info.channel_id, a, sizeof(uuid_t));
	assert_string_equal(info.output_dir, "/tmp/a");

	assert_int_equal(sr_session_delete(fx->reg, a), 0);
	assert_int_equal(sr_session_insert(fx->reg, b, NULL), 0);
	assert_int_equal(sr_session_resolve(fx->reg, b, &rb), 0);
	/* b took a's slot: a's reference must not reach b. */
	assert_int_equal(rb.slot, ra.slot);
	assert_int_not_equal(rb.generation, ra.generation);
	assert_int_equal(sr_ref_touch(fx->reg, ra), -SR_ESTALE);
	assert_int_equal(sr_ref_get_state(fx->reg, ra, &st), -SR_ESTALE);
	assert_int_equal(sr_ref_transition(fx->reg, ra, SR_STATE_IDLE, SR_STATE_STARTING, NULL),
	                 -SR_ESTALE);
	assert_int_equal(sr_ref_set_state(fx->reg, ra, SR_STATE_STARTING, NULL), -SR_ESTALE);
	assert_int_equal(sr_ref_add_client(fx->reg, ra), -SR_ESTALE);
	assert_int_equal(sr_ref_remove_client(fx->reg, ra), -SR_ESTALE);
	assert_int_equal(sr_ref_get_clients(fx->reg, ra, &n), -SR_ESTALE);
	assert_int_equal(sr_ref_snapshot(fx->reg, ra, &info), -SR_ESTALE);
	assert_int_equal(sr_ref_wait_state(fx->reg, ra, SR_STATE_IDLE, 10, NULL), -SR_ESTALE);
	assert_non_null(strstr(sr_errdetail(), "resolve it again"));
	assert_int_equal(sr_ref_get_state(fx->reg, rb, &st), 0);
	assert_int_equal(sr_ref_touch(fx->reg, zero), -SR_ESTALE);
	sr_session_ref far = {1000000, 1};
	assert_int_equal(sr_ref_touch(fx->reg, far), -EINVAL);
	assert_int_equal(sr_session_resolve(fx->reg, b, NULL), -EINVAL);
	assert_int_equal(sr_ref_get_state(NULL, rb, &st), -EINVAL);
	assert_string_equal(sr_strerror(-SR_ESTALE),
	                    "session reference is stale: its session was deleted");
}

static void test_find_or_insert(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	sr_session_ref r1, r2;
	srt_uuid(id);
	assert_int_equal(sr_session_find_or_insert(fx->reg, id, "/tmp/x", &r1), 1);
	assert_int_equal(sr_session_find_or_insert(fx->reg, id, "/tmp/y", &r2), 0);
	assert_memory_equal(&r1, &r2, sizeof(r1));
	char dir[SR_PATH_MAX + 1];
	assert_int_equal(sr_session_get_paths(fx->reg, id, dir, NULL), 0);
	assert_string_equal(dir, "/tmp/x");
	/* Fill the table (capacity 4): the fifth new channel is refused. */
	for (int i = 0; i < 3; i++) {
		uuid_t o;
		srt_uuid(o);
		assert_int_equal(sr_session_find_or_insert(fx->reg, o, NULL, &r2), 1);
	}
	uuid_t more;
	srt_uuid(more);
	assert_int_equal(sr_session_find_or_insert(fx->reg, more, NULL, &r2), -SR_EFULL);
	char longdir[SR_PATH_MAX + 2];
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = '\0';
	assert_int_equal(sr_session_find_or_insert(fx->reg, more, longdir, &r2), -ENAMETOOLONG);
	sr_registry *ro = NULL;
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &ro), 0);
	assert_int_equal(sr_session_find_or_insert(ro, id, NULL, &r2), -EROFS);
	assert_int_equal(sr_session_resolve(ro, id, &r2), 0);
	assert_memory_equal(&r1, &r2, sizeof(r1));
	sr_registry_close(ro);
}

static void test_counts_and_found_state(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	sr_session_ref r;
	sr_state found = SR_STATE_COUNT, prev = SR_STATE_COUNT;
	srt_uuid(id);
	assert_int_equal(sr_session_find_or_insert(fx->reg, id, NULL, &r), 1);
	assert_int_equal(sr_ref_add_client(fx->reg, r), 1);
	assert_int_equal(sr_ref_add_client(fx->reg, r), 2);
	assert_int_equal(sr_session_add_client(fx->reg, id), 0); /* the UUID call keeps 0 */
	assert_int_equal(sr_ref_remove_client(fx->reg, r), 2);
	assert_int_equal(sr_ref_remove_client(fx->reg, r), 1);
	assert_int_equal(sr_ref_remove_client(fx->reg, r), 0);
	assert_int_equal(sr_ref_remove_client(fx->reg, r), -SR_ENOCLIENT);

	assert_int_equal(sr_ref_transition(fx->reg, r, SR_STATE_IDLE, SR_STATE_STARTING, &found),
	                 0);
	assert_int_equal(sr_ref_transition(fx->reg, r, SR_STATE_STARTING, SR_STATE_ACTIVE, NULL),
	                 0);
	/* A second worker that also saw idle loses, and learns why at once. */
	assert_int_equal(sr_ref_transition(fx->reg, r, SR_STATE_IDLE, SR_STATE_STARTING, &found),
	                 -SR_ESTATE);
	assert_int_equal(found, SR_STATE_ACTIVE);
	found = SR_STATE_COUNT;
	assert_int_equal(sr_ref_transition(fx->reg, r, SR_STATE_IDLE, SR_STATE_ACTIVE, &found),
	                 -SR_EBADTRANS);
	assert_int_equal(found, SR_STATE_COUNT);
	assert_int_equal(sr_ref_set_state(fx->reg, r, SR_STATE_IDLE, &prev), -SR_EBADTRANS);
	assert_int_equal(prev, SR_STATE_ACTIVE);
	assert_int_equal(sr_ref_set_state(fx->reg, r, SR_STATE_STOPPING, &prev), 0);
	assert_int_equal(prev, SR_STATE_ACTIVE);
	sr_session_info info;
	assert_int_equal(sr_ref_snapshot(fx->reg, r, &info), 0);
	assert_true(info.transitions[SR_STATE_STARTING] == 1);
	assert_true(info.transitions[SR_STATE_STOPPING] == 1);
}

/* Threads racing find-or-insert on one new channel: exactly one inserts. */
struct foi_race {
	sr_registry *reg;
	const uint8_t *id;
	_Atomic int go;
	int rc[8];
	sr_session_ref ref[8];
};

struct foi_arg {
	struct foi_race *race;
	int i;
};

static void *foi_thread(void *p)
{
	struct foi_arg *a = p;
	while (!atomic_load(&a->race->go))
		;
	a->race->rc[a->i] =
	    sr_session_find_or_insert(a->race->reg, a->race->id, NULL, &a->race->ref[a->i]);
	return NULL;
}

static void test_find_or_insert_threads(void **state)
{
	struct srt_fx *fx = *state;
	for (int round = 0; round < 20; round++) {
		uuid_t id;
		srt_uuid(id);
		struct foi_race race = {.reg = fx->reg, .id = id};
		pthread_t th[8];
		struct foi_arg args[8];
		for (int i = 0; i < 8; i++) {
			args[i] = (struct foi_arg){&race, i};
			assert_int_equal(pthread_create(&th[i], NULL, foi_thread, &args[i]), 0);
		}
		atomic_store(&race.go, 1);
		int inserted = 0;
		for (int i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			assert_true(race.rc[i] == 0 || race.rc[i] == 1);
			inserted += race.rc[i];
			assert_memory_equal(&race.ref[i], &race.ref[0], sizeof(race.ref[0]));
		}
		assert_int_equal(inserted, 1);
		assert_int_equal(sr_session_delete(fx->reg, id), 0);
	}
}

/* The same race between processes. */
static struct {
	sr_registry *reg;
	uuid_t id;
	struct srt_gate gate;
} proc_race;

static int foi_child(void *arg)
{
	(void)arg;
	srt_gate_wait(&proc_race.gate);
	sr_session_ref r;
	int rc = sr_session_find_or_insert(proc_race.reg, proc_race.id, NULL, &r);
	if (rc < 0)
		return 100;
	/* An inherited handle serves the child: the reference works here. */
	if (sr_ref_touch(proc_race.reg, r) != 0)
		return 101;
	return rc; /* 1 inserted, 0 found */
}

static void test_find_or_insert_processes(void **state)
{
	struct srt_fx *fx = *state;
	proc_race.reg = fx->reg;
	srt_uuid(proc_race.id);
	srt_gate_init(&proc_race.gate);
	pid_t pids[8];
	for (int i = 0; i < 8; i++)
		pids[i] = srt_spawn(foi_child, NULL);
	srt_gate_open(&proc_race.gate);
	int inserted = 0;
	for (int i = 0; i < 8; i++) {
		int code = srt_wait(pids[i]);
		assert_true(code == 0 || code == 1);
		inserted += code;
	}
	assert_int_equal(inserted, 1);
}

/* ---- waiting for a state change ---- */

struct waiter {
	sr_registry *reg;
	sr_session_ref ref;
	sr_state seen;
	int timeout_ms;
	_Atomic int started;
	int rc;
	sr_state now;
	double elapsed_ms;
};

static void *wait_thread(void *p)
{
	struct waiter *w = p;
	atomic_store(&w->started, 1);
	double t0 = srt_now_ms();
	w->rc = sr_ref_wait_state(w->reg, w->ref, w->seen, w->timeout_ms, &w->now);
	w->elapsed_ms = srt_now_ms() - t0;
	return NULL;
}

static void test_wait_wakes_on_change(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	struct waiter w = {.reg = fx->reg, .seen = SR_STATE_STARTING, .timeout_ms = -1};
	srt_uuid(id);
	assert_int_equal(sr_session_find_or_insert(fx->reg, id, NULL, &w.ref), 1);
	/* Not in `seen`: returns at once with the state. */
	sr_state now = SR_STATE_COUNT;
	assert_int_equal(sr_ref_wait_state(fx->reg, w.ref, SR_STATE_STARTING, 60000, &now), 1);
	assert_int_equal(now, SR_STATE_IDLE);
	/* Timeout with no change. */
	assert_int_equal(sr_ref_wait_state(fx->reg, w.ref, SR_STATE_IDLE, 20, &now), 0);
	assert_int_equal(now, SR_STATE_IDLE);
	assert_int_equal(sr_ref_transition(fx->reg, w.ref, SR_STATE_IDLE, SR_STATE_STARTING, NULL),
	                 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, wait_thread, &w), 0);
	while (!atomic_load(&w.started))
		srt_sleep_ms(1);
	srt_sleep_ms(20);
	assert_int_equal(
	    sr_ref_transition(fx->reg, w.ref, SR_STATE_STARTING, SR_STATE_ACTIVE, NULL), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.rc, 1);
	assert_int_equal(w.now, SR_STATE_ACTIVE);

	/* A delete wakes a waiter too, with -SR_ESTALE. */
	w.seen = SR_STATE_ACTIVE;
	atomic_store(&w.started, 0);
	assert_int_equal(pthread_create(&th, NULL, wait_thread, &w), 0);
	while (!atomic_load(&w.started))
		srt_sleep_ms(1);
	srt_sleep_ms(20);
	assert_int_equal(sr_session_delete(fx->reg, id), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.rc, -SR_ESTALE);

	sr_registry *ro = NULL;
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &ro), 0);
	assert_int_equal(sr_ref_wait_state(ro, w.ref, SR_STATE_IDLE, 0, NULL), -EROFS);
	sr_registry_close(ro);
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* Signals interrupt the futex; the wait resumes and still lasts its time. */
static void test_wait_survives_signals(void **state)
{
	struct srt_fx *fx = *state;
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1; /* no SA_RESTART: the futex returns EINTR */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	uuid_t id;
	struct waiter w = {.reg = fx->reg, .seen = SR_STATE_IDLE, .timeout_ms = 300};
	srt_uuid(id);
	assert_int_equal(sr_session_find_or_insert(fx->reg, id, NULL, &w.ref), 1);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, wait_thread, &w), 0);
	while (!atomic_load(&w.started))
		srt_sleep_ms(1);
	for (int i = 0; i < 10; i++) {
		pthread_kill(th, SIGUSR1);
		srt_sleep_ms(10);
	}
	pthread_join(th, NULL);
	sigaction(SIGUSR1, &old, NULL);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.now, SR_STATE_IDLE);
	/* Only a lower bound: a loaded machine can only make it longer. */
	if (w.elapsed_ms < 299.0)
		fail_msg("wait of 300 ms returned after %.1f ms", w.elapsed_ms);
}

/* A waiter in another process; then one SIGKILLed mid-wait changes nothing
 * for the others. */
static struct {
	sr_registry *reg;
	sr_session_ref ref;
} xproc;

static int wait_child(void *arg)
{
	sr_state seen = *(sr_state *)arg, now = SR_STATE_COUNT;
	int rc = sr_ref_wait_state(xproc.reg, xproc.ref, seen, 60000, &now);
	return rc == 1 ? 10 + (int)now : rc == 0 ? 2 : 3;
}

static void test_wait_across_processes(void **state)
{
	struct srt_fx *fx = *state;
	static sr_state idle = SR_STATE_IDLE, starting = SR_STATE_STARTING;
	uuid_t id;
	srt_uuid(id);
	xproc.reg = fx->reg;
	assert_int_equal(sr_session_find_or_insert(fx->reg, id, NULL, &xproc.ref), 1);
	/* One waiter is killed while it sleeps: it leaves its mark but no harm. */
	pid_t doomed = srt_spawn(wait_child, &idle);
	srt_sleep_ms(50);
	kill(doomed, SIGKILL);
	assert_int_equal(srt_wait(doomed), 128 + SIGKILL);
	pid_t child = srt_spawn(wait_child, &idle);
	srt_sleep_ms(50);
	assert_int_equal(
	    sr_ref_transition(fx->reg, xproc.ref, SR_STATE_IDLE, SR_STATE_STARTING, NULL), 0);
	assert_int_equal(srt_wait(child), 10 + SR_STATE_STARTING);
	/* Later waits and changes still work. */
	child = srt_spawn(wait_child, &starting);
	srt_sleep_ms(20);
	assert_int_equal(
	    sr_ref_transition(fx->reg, xproc.ref, SR_STATE_STARTING, SR_STATE_FAILED, NULL), 0);
	assert_int_equal(srt_wait(child), 10 + SR_STATE_FAILED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stale_ref_refused, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_find_or_insert, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_counts_and_found_state, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_find_or_insert_threads, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_find_or_insert_processes, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_wait_wakes_on_change, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_wait_survives_signals, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_wait_across_processes, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
