/* The header's pre-fork contract, checked as written: an inherited handle
 * works in the child, viewers belong to whoever counted them, and a dead
 * process's viewers stop counting as soon as it is dead, while its slot
 * waits for a recovery. */
#include "support/srt.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
	sr_registry *reg;
	uuid_t id;
	int ready[2];   /* child -> parent: one byte once its viewers are counted */
	int release[2]; /* parent closes its end: the child goes on */
	int how; /* 0: close the handle then exit; 1: exit without closing; 2: wait to be killed */
} pf;

static void tell(char c)
{
	(void)srt_write_full(pf.ready[1], &c, 1);
}

static int child_uses_inherited(void *arg)
{
	(void)arg;
	close(pf.ready[0]);
	close(pf.release[1]);
	sr_state st;
	sr_session_ref ref;
	/* Reads, writes, references and viewers through the parent's handle. */
	if (sr_session_get_state(pf.reg, pf.id, &st) != 0 || st != SR_STATE_IDLE)
		return 10;
	if (sr_session_find_or_insert(pf.reg, pf.id, NULL, &ref) != 0)
		return 11;
	if (sr_ref_transition(pf.reg, ref, SR_STATE_IDLE, SR_STATE_STARTING, NULL) != 0)
		return 12;
	for (int i = 0; i < 5; i++)
		if (sr_ref_add_client(pf.reg, ref) < 1)
			return 13;
	/* The parent's viewer is not the child's to remove: 5 of its own, no more. */
	for (int i = 0; i < 5; i++)
		if (sr_ref_remove_client(pf.reg, ref) < 0)
			return 14;
	if (sr_ref_remove_client(pf.reg, ref) != -SR_ENOCLIENT)
		return 15;
	for (int i = 0; i < 5; i++)
		(void)sr_ref_add_client(pf.reg, ref);
	/* The owner record was the parent's: not inherited. */
	if (sr_registry_owner_heartbeat(pf.reg) != -SR_ENOTOWNER)
		return 16;
	tell('y');
	char c;
	(void)srt_read_full(pf.release[0], &c, 1);
	if (pf.how == 0)
		sr_registry_close(pf.reg);
	return 0;
}

static pid_t start_child(struct srt_fx *fx, int how)
{
	pf.reg = fx->reg;
	pf.how = how;
	assert_int_equal(pipe(pf.ready), 0);
	assert_int_equal(pipe(pf.release), 0);
	pid_t pid = srt_spawn(child_uses_inherited, NULL);
	close(pf.ready[1]);
	close(pf.release[0]);
	char c = 0;
	if (srt_read_full(pf.ready[0], &c, 1) != 0)
		fail_msg("child failed with %d", srt_wait(pid));
	assert_int_equal(c, 'y');
	close(pf.ready[0]);
	return pid;
}

static uint32_t clients(sr_registry *reg)
{
	uint32_t n = UINT32_MAX;
	assert_int_equal(sr_session_get_clients(reg, pf.id, &n), 0);
	return n;
}

struct find_proc {
	pid_t pid;
	int found, alive;
};

static int find_proc_cb(const sr_proc_info *p, void *ctx)
{
	struct find_proc *f = ctx;
	if (p->pid == f->pid) {
		f->found = 1;
		f->alive = p->alive;
	}
	return 0;
}

static void setup_channel(struct srt_fx *fx)
{
	srt_uuid(pf.id);
	assert_int_equal(sr_session_insert(fx->reg, pf.id, NULL), 0);
	assert_int_equal(sr_session_add_client(fx->reg, pf.id), 0); /* the parent's own viewer */
	assert_int_equal(sr_registry_claim_owner(fx->reg, "parent", NULL), 0);
}

/* A child that closes its inherited copy takes exactly its viewers along. */
static void test_child_closes_inherited(void **state)
{
	struct srt_fx *fx = *state;
	setup_channel(fx);
	pid_t pid = start_child(fx, 0);
	assert_int_equal(clients(fx->reg), 6);
	close(pf.release[1]);
	assert_int_equal(srt_wait(pid), 0);
	/* No recovery needed: closing released them. */
	assert_int_equal(clients(fx->reg), 1);
	sr_owner_info o;
	assert_int_equal(sr_registry_get_owner(fx->reg, &o), 0);
	assert_int_equal(o.pid, getpid());
	sr_state st;
	assert_int_equal(sr_session_get_state(fx->reg, pf.id, &st), 0);
	assert_int_equal(st, SR_STATE_STARTING);
}

/* Killed or exited without closing: its viewers leave every read at once;
 * its slot stays until a recovery frees it. */
static void dead_child_stops_counting(struct srt_fx *fx, int how)
{
	setup_channel(fx);
	pid_t pid = start_child(fx, how);
	if (how == 2) {
		kill(pid, SIGKILL);
		assert_int_equal(srt_wait(pid), 128 + SIGKILL);
	} else {
		close(pf.release[1]);
		/* Exited, still a zombie: dead for the library. */
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	}
	assert_int_equal(clients(fx->reg), 1);
	struct find_proc f = {pid, 0, 1};
	assert_int_equal(sr_registry_procs(fx->reg, find_proc_cb, &f), 0);
	assert_int_equal(f.found, 1);
	assert_int_equal(f.alive, 0);
	/* A read-only monitor sees the same, before any recovery. */
	sr_registry *ro = NULL;
	assert_int_equal(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &ro), 0);
	assert_int_equal(clients(ro), 1);
	sr_recovery_report rep;
	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	assert_int_equal(rep.procs_reclaimed, 1);
	assert_true(rep.leases_released == 5);
	assert_int_equal(clients(fx->reg), 1);
	assert_int_equal(clients(ro), 1);
	sr_registry_close(ro);
	if (how != 2)
		assert_int_equal(srt_wait(pid), 0);
}

static void test_killed_child_stops_counting(void **state)
{
	dead_child_stops_counting(*state, 2);
}

static void test_zombie_child_stops_counting(void **state)
{
	dead_child_stops_counting(*state, 1);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_child_closes_inherited, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_killed_child_stops_counting, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_zombie_child_stops_counting, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
