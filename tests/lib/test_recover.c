/*
 * Recovery, driven deterministically through the internal layout (static
 * library): a writer that dies holding the lock, in the middle of a record,
 * a delete or an insert; a live holder that keeps the lock; a dead process
 * whose pid was reused by a live one.
 */
#include "support/srt.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_internal.h"

struct die_arg {
	sr_registry *reg;
	uint32_t slot;
	uuid_t id;
	int hold_ms; /* > 0: keep the lock that long, alive */
};

static int die_holding_lock(void *p)
{
	struct die_arg *a = p;

	if (sr__lock(a->reg) != 0)
		return 10;
	if (a->hold_ms > 0)
		srt_sleep_ms((unsigned)a->hold_ms);
	return 0; /* _exit with the lock held */
}

/* What sr__cold_write does, stopped half-way: undo saved, record dirty, half overwritten. */
static int die_mid_record(void *p)
{
	struct die_arg *a = p;
	sr_registry *r = a->reg;
	uint64_t u[2];

	if (sr__lock(r) != 0)
		return 10;
	sr__uuid_words(a->id, u);
	sr__wip_begin(r, SR_WIP_COLD, a->slot, u);
	struct sr_cold *c = &r->cold[a->slot];
	uint64_t seq = atomic_load(&c->seq);
	for (size_t i = 0; i < SR_COLD_WORDS; i++)
		atomic_store(&r->hdr->undo.w[i], atomic_load(sr__cold_word(r, a->slot, i)));
	atomic_store(&r->hdr->undo.seq, seq);
	atomic_store(&c->seq, seq + 1);
	/* Garbage in the head and the tail, lengths included. */
	for (size_t i = 0; i < SR_COLD_WORDS / 2; i++)
		atomic_store(sr__cold_word(r, a->slot, i), 0x5858585858585858ull);
	return 0;
}

static int die_mid_delete(void *p)
{
	struct die_arg *a = p;
	uint64_t u[2];

	if (sr__lock(a->reg) != 0)
		return 10;
	sr__uuid_words(a->id, u);
	sr__wip_begin(a->reg, SR_WIP_DELETE, a->slot, u);
	return 0;
}

/* An insert that claimed a slot and wrote its key, but never published the state. */
static int die_mid_insert(void *p)
{
	struct die_arg *a = p;
	sr_registry *r = a->reg;
	uint64_t u[2];

	if (sr__lock(r) != 0)
		return 10;
	sr__uuid_words(a->id, u);
	uint32_t top = r->hdr->free_top;
	if (top == 0)
		return 11;
	uint32_t slot = r->free_stack[top - 1];
	sr__wip_begin(r, SR_WIP_INSERT, slot, u);
	r->hdr->free_top = top - 1;
	atomic_store(&r->hot[slot].uuid[0], u[0]);
	atomic_store(&r->hot[slot].uuid[1], u[1]);
	return 0;
}

static void run_child(int (*fn)(void *), struct die_arg *a)
{
	pid_t pid = srt_spawn(fn, a);
	assert_true(pid > 0);
	assert_int_equal(srt_wait(pid), 0);
}

static void test_dead_lock_holder(void **state)
{
	struct srt_fx *fx = *state;
	struct die_arg a = {.reg = fx->reg};
	sr_registry_stats before, after;
	uuid_t id;

	assert_int_equal(sr_registry_stats_get(fx->reg, &before), 0);
	run_child(die_holding_lock, &a);
	srt_uuid(id);
	double t0 = srt_now_ms();
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	double took = srt_now_ms() - t0;
	/* Taken over from the dead owner, not after the lock's timeout (2 s,
	 * SR_LOCK_TIMEOUT_MS in lock.c): a takeover that waited for it takes at
	 * least that long, however idle the machine; a prompt one, well under it
	 * however loaded. */
	assert_true(took < 2000);
	assert_int_equal(sr_registry_stats_get(fx->reg, &after), 0);
	assert_int_equal(after.locks_repaired, before.locks_repaired + 1);
	assert_int_equal(sr_registry_verify(fx->reg), 0);

	/* Found by recover too, which reports it. */
	run_child(die_holding_lock, &a);
	sr_recovery_report rep;
	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	assert_int_equal(rep.lock_repaired, 1);
	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	assert_int_equal(rep.lock_repaired, 0);
	assert_int_equal(sr_session_delete(fx->reg, id), 0);
}

static void test_dead_writer_mid_record(void **state)
{
	struct srt_fx *fx = *state;
	struct die_arg a = {.reg = fx->reg};
	sr_session_info info, ro_info;
	sr_registry *ro = NULL;

	srt_uuid(a.id);
	assert_int_equal(sr_session_insert(fx->reg, a.id, "/srv/before"), 0);
	assert_int_equal(sr_session_record_error(fx->reg, a.id, "before the crash"), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, a.id, &info), 0);
	a.slot = info.slot;
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &ro), 0);

	run_child(die_mid_record, &a);
	/* A reader that cannot repair is told to retry, never handed the torn bytes. */
	int rc = sr_session_snapshot(ro, a.id, &ro_info);
	if (rc == 0)
		assert_string_equal(ro_info.last_error, "before the crash");
	else
		assert_int_equal(rc, -SR_EBUSY);

	sr_recovery_report rep;
	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	assert_int_equal(rep.lock_repaired, 1);
	assert_int_equal(rep.records_repaired, 1);
	assert_int_equal(sr_session_snapshot(ro, a.id, &ro_info), 0);
	assert_string_equal(ro_info.last_error, "before the crash");
	assert_string_equal(ro_info.output_dir, "/srv/before");
	assert_int_equal(ro_info.error_count, 1);
	assert_int_equal(sr_registry_verify(fx->reg), 0);
	/* And it takes updates again. */
	assert_int_equal(sr_session_record_error(fx->reg, a.id, "after"), 0);
	assert_int_equal(sr_session_snapshot(ro, a.id, &ro_info), 0);
	assert_string_equal(ro_info.last_error, "after");
	assert_int_equal(ro_info.error_count, 2);
	sr_registry_close(ro);
}

static int count_cb(const sr_session_info *info, void *ctx)
{
	(void)info;
	(*(int *)ctx)++;
	return 0;
}

/* Until someone repairs it, a walk shows every other record and reports the stuck one. */
static void test_stuck_record_in_walks(void **state)
{
	struct srt_fx *fx = *state;
	struct die_arg a = {.reg = fx->reg};
	sr_session_info info;
	sr_registry *ro = NULL;
	uuid_t others[2];
	char *json = NULL;
	int calls = 0;

	for (int i = 0; i < 2; i++) {
		srt_uuid(others[i]);
		assert_int_equal(sr_session_insert(fx->reg, others[i], NULL), 0);
	}
	srt_uuid(a.id);
	assert_int_equal(sr_session_insert(fx->reg, a.id, NULL), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, a.id, &info), 0);
	a.slot = info.slot;
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &ro), 0);
	run_child(die_mid_record, &a);

	assert_int_equal(sr_session_foreach(ro, count_cb, &calls), -SR_EBUSY);
	assert_int_equal(calls, 2);
	assert_int_equal(sr_registry_json(ro, &json), -SR_EBUSY);
	assert_int_equal(sr_registry_verify(ro), 1);
	for (int i = 0; i < 2; i++)
		assert_int_equal(sr_session_snapshot(ro, others[i], &info), 0);
	/* A scrape still answers, and says what it left out. */
	char *text = NULL;
	assert_int_equal(sr_registry_prometheus(ro, &text), 0);
	assert_non_null(strstr(text, "streamreg_records_skipped 1\n"));
	free(text);

	assert_int_equal(sr_registry_recover(fx->reg, NULL), 0);
	calls = 0;
	assert_int_equal(sr_session_foreach(ro, count_cb, &calls), 0);
	assert_int_equal(calls, 3);
	assert_int_equal(sr_registry_json(ro, &json), 0);
	assert_true(srt_json_valid(json));
	free(json);
	assert_int_equal(sr_registry_verify(ro), 0);
	sr_registry_close(ro);
}

static void test_dead_writer_mid_delete(void **state)
{
	struct srt_fx *fx = *state;
	struct die_arg a = {.reg = fx->reg};
	sr_session_info info;
	sr_registry_stats st;
	uuid_t other;

	srt_uuid(a.id);
	srt_uuid(other);
	assert_int_equal(sr_session_insert(fx->reg, a.id, NULL), 0);
	assert_int_equal(sr_session_insert(fx->reg, other, NULL), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, a.id, &info), 0);
	a.slot = info.slot;
	run_child(die_mid_delete, &a);

	assert_int_equal(sr_registry_recover(fx->reg, NULL), 0);
	/* A delete that got as far as its wip record is finished. */
	assert_int_equal(sr_session_find(fx->reg, a.id, NULL), -ENOENT);
	assert_int_equal(sr_session_find(fx->reg, other, NULL), 0);
	assert_int_equal(sr_registry_verify(fx->reg), 0);
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_int_equal(st.sessions, 1);
	/* The freed slot is usable: the table fills to its capacity exactly. */
	for (uint32_t i = 1; i < st.capacity; i++) {
		uuid_t id;
		srt_uuid(id);
		assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	}
	assert_int_equal(sr_session_insert(fx->reg, a.id, NULL), -SR_EFULL);
}

static void test_dead_writer_mid_insert(void **state)
{
	struct srt_fx *fx = *state;
	struct die_arg a = {.reg = fx->reg};
	sr_registry_stats st;

	srt_uuid(a.id);
	run_child(die_mid_insert, &a);
	assert_int_equal(sr_registry_recover(fx->reg, NULL), 0);
	/* Never published: not there, and its slot is free again. */
	assert_int_equal(sr_session_find(fx->reg, a.id, NULL), -ENOENT);
	assert_int_equal(sr_registry_verify(fx->reg), 0);
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_int_equal(st.sessions, 0);
	for (uint32_t i = 0; i < st.capacity; i++) {
		uuid_t id;
		srt_uuid(id);
		assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	}
	uuid_t extra;
	srt_uuid(extra);
	assert_int_equal(sr_session_insert(fx->reg, extra, NULL), -SR_EFULL);
	assert_int_equal(sr_registry_verify(fx->reg), 0);
}

/* A live process keeping the lock: writers get -ETIMEDOUT naming it; readers go on. */
static void test_live_lock_holder(void **state)
{
	struct srt_fx *fx = *state;
	/* Far longer than the library's lock timeout; the child is killed once it is seen. */
	struct die_arg a = {.reg = fx->reg, .hold_ms = 60000};
	uuid_t id, other;
	sr_session_info info;
	char pidstr[32];

	srt_uuid(id);
	srt_uuid(other);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	pid_t pid = srt_spawn(die_holding_lock, &a);
	assert_true(pid > 0);
	/* Wait until the child holds it. */
	double deadline = srt_now_ms() + 5000;
	while (atomic_load(&fx->reg->hdr->lock_owner_pid) != pid && srt_now_ms() < deadline)
		srt_sleep_ms(5);
	assert_int_equal(atomic_load(&fx->reg->hdr->lock_owner_pid), pid);

	assert_int_equal(sr_session_snapshot(fx->reg, id, &info), 0);
	assert_int_equal(sr_session_touch(fx->reg, id), 0);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_IDLE, SR_STATE_STARTING), 0);
	int rc = sr_session_insert(fx->reg, other, NULL);
	assert_int_equal(rc, -ETIMEDOUT);
	snprintf(pidstr, sizeof(pidstr), "%ld", (long)pid);
	assert_non_null(strstr(sr_errdetail(), pidstr));
	kill(pid, SIGKILL);
	assert_int_equal(srt_wait(pid), 128 + SIGKILL);
	/* Once the holder is gone, the next writer takes over. */
	assert_int_equal(sr_session_insert(fx->reg, other, NULL), 0);
	assert_int_equal(sr_registry_verify(fx->reg), 0);
}

/* Find the process slot a pid holds. */
static struct sr_proc *slot_of(sr_registry *r, pid_t pid)
{
	for (uint32_t i = 0; i < r->max_procs; i++) {
		struct sr_proc *p = sr__proc(r, i);
		uint64_t o = atomic_load(&p->owner);
		if (sr_owner_state(o) == SR_PROC_LIVE && sr_owner_pid(o) == pid)
			return p;
	}
	return NULL;
}

struct lease_arg {
	char name[SR_NAME_MAX + 1];
	uuid_t id;
};

static int hold_three_and_exit(void *p)
{
	struct lease_arg *a = p;
	sr_registry *reg = NULL;

	if (sr_registry_attach(a->name, 0, &reg) != 0)
		return 10;
	for (int i = 0; i < 3; i++)
		if (sr_session_add_client(reg, a->id) != 0)
			return 11;
	return 0; /* exit without closing: the slot stays LIVE with our pid */
}

/*
 * A dead process whose pid now names a live process (pid reuse) is still
 * dead: the start time tells them apart.  Forged by writing a live pid (our
 * parent's) into the dead child's slot.
 */
static void test_pid_reuse_not_mistaken(void **state)
{
	struct srt_fx *fx = *state;
	struct lease_arg a;
	uint32_t n;
	sr_recovery_report rep;

	memcpy(a.name, fx->name, sizeof(a.name));
	srt_uuid(a.id);
	assert_int_equal(sr_session_insert(fx->reg, a.id, NULL), 0);
	pid_t pid = srt_spawn(hold_three_and_exit, &a);
	assert_true(pid > 0);
	assert_int_equal(srt_wait(pid), 0);
	struct sr_proc *p = slot_of(fx->reg, pid);
	assert_non_null(p);
	uint64_t dead_start = atomic_load(&p->start_time);
	assert_true(dead_start > 0);

	/* The live process with the right start time: kept, its viewers count. */
	pid_t live = getppid();
	uint64_t live_start = sr_pid_start_time(live);
	assert_true(live_start > 0);
	assert_int_not_equal(live_start, dead_start);
	atomic_store(&p->owner, sr_owner_make(SR_PROC_LIVE, live));
	atomic_store(&p->start_time, live_start);
	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	assert_int_equal(rep.procs_reclaimed, 0);
	assert_int_equal(sr_session_get_clients(fx->reg, a.id, &n), 0);
	assert_int_equal(n, 3);

	/* Same live pid, the dead process's start time: a reused pid, reclaimed. */
	atomic_store(&p->start_time, dead_start);
	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	assert_int_equal(rep.procs_reclaimed, 1);
	assert_int_equal(rep.leases_released, 3);
	assert_int_equal(sr_session_get_clients(fx->reg, a.id, &n), 0);
	assert_int_equal(n, 0);
	assert_null(slot_of(fx->reg, live));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dead_lock_holder, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_dead_writer_mid_record, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_stuck_record_in_walks, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_dead_writer_mid_delete, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_dead_writer_mid_insert, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_live_lock_holder, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_pid_reuse_not_mistaken, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
