/*
 * Client counts from many processes end exact: 8 processes each add and
 * remove 10,000 viewers on two channels at once, then keep a known number;
 * the totals must match exactly while they live and drop to zero once they
 * are gone (closed, or dead and reclaimed).
 */
#include "support/srt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define N_PROCS 8
#define PAIRS   10000

struct shared {
	char name[SR_NAME_MAX + 1];
	uuid_t a, b;
	int fail_line[N_PROCS];
	int fail_rc[N_PROCS];
};

struct child_arg {
	struct shared *sh;
	sr_registry *inherited;
	int idx;
	struct srt_gate *gate;
	int done_fd;       /* write end: one byte when the work is done */
	int release_fd;    /* read end: EOF when the parent has checked */
	int parent_fds[2]; /* the parent's ends, closed in the child */
};

#define CHILD_CHECK(call)                                                                          \
	do {                                                                                       \
		int rc_ = (call);                                                                  \
		if (rc_ != 0) {                                                                    \
			a->sh->fail_line[a->idx] = __LINE__;                                       \
			a->sh->fail_rc[a->idx] = rc_;                                              \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

/* Viewers child i keeps on each channel after its churn. */
static int keep_a(int i)
{
	return i + 1;
}
static int keep_b(int i)
{
	return 2 * i;
}
/* Half the children use the handle inherited from the parent, the way pre-fork workers do. */
static bool uses_inherited(int i)
{
	return i % 2 == 0;
}
/* Half close their handle before exiting; the others just die holding leases. */
static bool closes(int i)
{
	return (i / 2) % 2 == 0;
}

static int work(struct child_arg *a, sr_registry **regp)
{
	sr_registry *reg = a->inherited;

	if (!uses_inherited(a->idx))
		CHILD_CHECK(sr_registry_attach(a->sh->name, 0, &reg));
	srt_gate_wait(a->gate);
	for (int k = 0; k < PAIRS; k++) {
		CHILD_CHECK(sr_session_add_client(reg, a->sh->a));
		CHILD_CHECK(sr_session_add_client(reg, a->sh->b));
		CHILD_CHECK(sr_session_remove_client(reg, a->sh->a));
		CHILD_CHECK(sr_session_remove_client(reg, a->sh->b));
	}
	for (int k = 0; k < keep_a(a->idx); k++)
		CHILD_CHECK(sr_session_add_client(reg, a->sh->a));
	for (int k = 0; k < keep_b(a->idx); k++)
		CHILD_CHECK(sr_session_add_client(reg, a->sh->b));
	*regp = reg;
	return 0;
}

static int child(void *p)
{
	struct child_arg *a = p;
	sr_registry *reg = NULL;

	close(a->parent_fds[0]);
	close(a->parent_fds[1]);
	int rc = work(a, &reg);
	/* Report either way, so the parent never waits for a child that gave up. */
	char c = rc ? 'f' : 'd';
	if (write(a->done_fd, &c, 1) != 1 || rc)
		return rc ? rc : 2;
	/* Stay alive, holding the leases, until the parent has compared. */
	while (read(a->release_fd, &c, 1) > 0)
		;
	if (closes(a->idx))
		sr_registry_close(reg);
	return 0;
}

static uint32_t clients(sr_registry *reg, const uuid_t id)
{
	uint32_t n = UINT32_MAX;

	assert_int_equal(sr_session_get_clients(reg, id, &n), 0);
	return n;
}

static void test_concurrent_clients_exact(void **state)
{
	struct srt_fx *fx = *state;
	struct shared *sh = srt_shared_alloc(sizeof(*sh));
	struct child_arg args[N_PROCS];
	pid_t pids[N_PROCS];
	struct srt_gate gate;
	int done[2], release[2];
	uint32_t want_a = 0, want_b = 0;
	uint64_t want_released = 0;
	uint32_t want_reclaimed = 0;

	assert_non_null(sh);
	memcpy(sh->name, fx->name, sizeof(sh->name));
	srt_uuid(sh->a);
	srt_uuid(sh->b);
	assert_int_equal(sr_session_insert(fx->reg, sh->a, NULL), 0);
	assert_int_equal(sr_session_insert(fx->reg, sh->b, NULL), 0);
	/* The parent's own viewer must survive all of it. */
	assert_int_equal(sr_session_add_client(fx->reg, sh->a), 0);
	srt_gate_init(&gate);
	assert_int_equal(pipe(done), 0);
	assert_int_equal(pipe(release), 0);

	for (int i = 0; i < N_PROCS; i++) {
		args[i] = (struct child_arg){.sh = sh,
		                             .inherited = fx->reg,
		                             .idx = i,
		                             .gate = &gate,
		                             .done_fd = done[1],
		                             .release_fd = release[0],
		                             .parent_fds = {done[0], release[1]}};
		pids[i] = srt_spawn(child, &args[i]);
		assert_true(pids[i] > 0);
		want_a += (uint32_t)keep_a(i);
		want_b += (uint32_t)keep_b(i);
		if (!closes(i)) {
			want_reclaimed++;
			want_released += (uint64_t)(keep_a(i) + keep_b(i));
		}
	}
	close(release[0]);
	close(done[1]);
	srt_gate_open(&gate);

	char c;
	for (int i = 0; i < N_PROCS; i++) {
		if (srt_read_full(done[0], &c, 1) != 0 || c != 'd') {
			for (int j = 0; j < N_PROCS; j++)
				if (sh->fail_line[j])
					print_error("child %d failed at line %d: %d (%s)\n", j,
					            sh->fail_line[j], sh->fail_rc[j],
					            sr_strerror(sh->fail_rc[j]));
			fail_msg("only %d of %d children finished", i, N_PROCS);
		}
	}
	/* Everyone is alive and holds exactly what it kept. */
	assert_int_equal(clients(fx->reg, sh->a), want_a + 1);
	assert_int_equal(clients(fx->reg, sh->b), want_b);
	sr_registry_stats st;
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_int_equal(st.clients, (uint64_t)want_a + want_b + 1);
	assert_true(st.procs_attached >= N_PROCS + 1);
	assert_int_equal(sr_registry_verify(fx->reg), 0);

	close(release[1]);
	for (int i = 0; i < N_PROCS; i++)
		assert_int_equal(srt_wait(pids[i]), 0);
	close(done[0]);

	sr_recovery_report rep;
	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	assert_int_equal(rep.procs_reclaimed, want_reclaimed);
	assert_int_equal(rep.leases_released, want_released);
	assert_int_equal(clients(fx->reg, sh->a), 1);
	assert_int_equal(clients(fx->reg, sh->b), 0);
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_int_equal(st.clients, 1);
	assert_int_equal(st.procs_attached, 1);
	srt_shared_free(sh, sizeof(*sh));
}

/* A child using the inherited handle counts its own viewers, not its parent's. */
static int inherited_child(void *p)
{
	struct child_arg *a = p;

	if (sr_session_remove_client(a->inherited, a->sh->a) != -SR_ENOCLIENT)
		return 3;
	if (sr_session_add_client(a->inherited, a->sh->a) != 0)
		return 4;
	return 0;
}

static void test_inherited_handle_is_the_childs(void **state)
{
	struct srt_fx *fx = *state;
	struct shared *sh = srt_shared_alloc(sizeof(*sh));
	struct child_arg arg = {.sh = sh, .inherited = fx->reg};

	assert_non_null(sh);
	srt_uuid(sh->a);
	assert_int_equal(sr_session_insert(fx->reg, sh->a, NULL), 0);
	assert_int_equal(sr_session_add_client(fx->reg, sh->a), 0);
	assert_int_equal(sr_session_add_client(fx->reg, sh->a), 0);
	pid_t pid = srt_spawn(inherited_child, &arg);
	assert_true(pid > 0);
	assert_int_equal(srt_wait(pid), 0);
	/* The dead child's viewer goes; the parent's two stay, and stay removable. */
	assert_int_equal(sr_registry_recover(fx->reg, NULL), 0);
	assert_int_equal(clients(fx->reg, sh->a), 2);
	assert_int_equal(sr_session_remove_client(fx->reg, sh->a), 0);
	assert_int_equal(sr_session_remove_client(fx->reg, sh->a), 0);
	assert_int_equal(sr_session_remove_client(fx->reg, sh->a), -SR_ENOCLIENT);
	srt_shared_free(sh, sizeof(*sh));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_concurrent_clients_exact, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_inherited_handle_is_the_childs, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
