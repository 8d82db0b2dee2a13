/*
 * The kill test.  Round after round, worker processes run tight loops of
 * every operation on a few shared channels (and on uuids of their own) and
 * some of them are SIGKILLed at a random instant, possibly inside a library
 * call holding the writer lock or half-way through a record.  Then:
 *   - the survivors stop at a clean point and report the viewers they hold;
 *   - every operation of the parent completes within a generous bound;
 *   - sr_registry_recover() reclaims the dead (and only them);
 *   - sr_registry_verify() finds nothing wrong;
 *   - each channel's client count is exactly the survivors' leases;
 *   - once the survivors are gone too, every count is zero.
 */
#include "support/srt.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS            1000
#define BUDGET_MS         50000 /* stop early rather than exceed ctest's patience */
#define WORKERS           4
#define CHANNELS          4
#define OP_BOUND_MS       250.0 /* per parent operation; generous for a loaded 2-core box */
#define REPORT_TIMEOUT_MS 15000

struct worker_slot {
	/* A process slot is claimed by the first add/remove_client: maybe_slot is
	 * set before that call, surely_slot once one returned 0. */
	volatile int maybe_slot, surely_slot;
	volatile int reported; /* stopped cleanly and wrote held[] */
	uint32_t held[CHANNELS];
	uint64_t ops;
	int fail_line, fail_rc, fail_op;
	char fail_detail[160];
	double fail_retry_ms; /* an immediate retry of a timed-out call: how long it took */
	int fail_retry_rc;
};

struct round_shared {
	char name[SR_NAME_MAX + 1];
	uuid_t chan[CHANNELS];
	volatile int stop;
	struct worker_slot w[WORKERS];
};

struct worker_arg {
	struct round_shared *sh;
	sr_registry *inherited;
	int idx;
	uint32_t round;
	int done_fd, release_fd;
	int parent_fds[2];
};

#define OK_IF(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			return failed(me, reg, id, __LINE__, rc);                                  \
	} while (0)

/*
 * Record why; after a lock timeout, retry a locking call at once: if it
 * succeeds in no time, the lock was free and the timeout was a lost wake-up.
 */
static int failed(struct worker_slot *me, sr_registry *reg, const unsigned char *id, int line,
                  int rc)
{
	me->fail_line = line;
	me->fail_rc = rc;
	snprintf(me->fail_detail, sizeof(me->fail_detail), "%s", sr_errdetail());
	if (rc == -ETIMEDOUT) {
		double t0 = srt_now_ms();
		me->fail_retry_rc = sr_session_record_error(reg, id, "retry");
		me->fail_retry_ms = srt_now_ms() - t0;
	}
	return 1;
}

/* Everything anyone writes into the shared channels, so a torn record shows. */
static const sr_quality worker_q[2] = {{.level = "720p", .bitrate_kbps = 2000, .codec = "h264"},
                                       {.level = "360p", .bitrate_kbps = 600, .codec = "h264"}};
static const sr_quality parent_q = {.level = "1080p", .bitrate_kbps = 5000, .codec = "h264"};
#define WORKER_ERROR "worker error: something broke"
#define PARENT_ERROR "parent"

static bool same_quality(const sr_quality *a, const sr_quality *b)
{
	return !strcmp(a->level, b->level) && a->bitrate_kbps == b->bitrate_kbps &&
	       a->width == b->width && a->height == b->height && !strcmp(a->codec, b->codec) &&
	       !strcmp(a->segment_path, b->segment_path) &&
	       !strcmp(a->playlist_path, b->playlist_path);
}

/* A record after the kills holds one whole write per field group, never a mix. */
static bool record_whole(const sr_session_info *in)
{
	bool q_ok = (in->n_qualities == 0) ||
	            (in->n_qualities == 1 && (same_quality(&in->qualities[0], &worker_q[0]) ||
	                                      same_quality(&in->qualities[0], &parent_q))) ||
	            (in->n_qualities == 2 && same_quality(&in->qualities[0], &worker_q[0]) &&
	             same_quality(&in->qualities[1], &worker_q[1]));
	bool p_ok = (!strcmp(in->output_dir, "/srv/hls") && !strcmp(in->segment_path, "")) ||
	            (!strcmp(in->output_dir, "/srv/hls/chan") &&
	             !strcmp(in->segment_path, "/srv/hls/chan/s%05d.ts")) ||
	            (!strcmp(in->output_dir, "/p") && !strcmp(in->segment_path, "/p/s"));
	bool e_ok = !strcmp(in->last_error, "") || !strcmp(in->last_error, WORKER_ERROR) ||
	            !strcmp(in->last_error, PARENT_ERROR);
	return q_ok && p_ok && e_ok && in->state < SR_STATE_COUNT;
}

static int loop(struct worker_arg *a, sr_registry *reg)
{
	struct worker_slot *me = &a->sh->w[a->idx];
	unsigned seed = (unsigned)getpid() ^ (a->round << 8);
	uuid_t own[2];
	bool present[2] = {false, false};
	const sr_quality *q = worker_q;
	sr_session_info info;
	uuid_t ids[64];
	size_t n;
	int rc = 0;

	srt_uuid_n(own[0], 0x10000u + a->round, (uint32_t)a->idx * 2);
	srt_uuid_n(own[1], 0x10000u + a->round, (uint32_t)a->idx * 2 + 1);
	while (!a->sh->stop) {
		int c = rand_r(&seed) % CHANNELS, k = rand_r(&seed) % 2;
		const unsigned char *id = a->sh->chan[c];
		me->fail_op = rand_r(&seed) % 12;
		switch (me->fail_op) {
		case 0:
			rc = sr_session_touch(reg, id);
			OK_IF(rc == 0);
			break;
		case 1:
		case 2:
			me->maybe_slot = 1;
			rc = sr_session_add_client(reg, id);
			OK_IF(rc == 0);
			me->held[c]++;
			me->surely_slot = 1;
			break;
		case 3:
			me->maybe_slot = 1;
			rc = sr_session_remove_client(reg, id);
			OK_IF(rc == (me->held[c] ? 0 : -SR_ENOCLIENT));
			if (rc == 0)
				me->held[c]--;
			break;
		case 4: {
			sr_state to = (sr_state)(rand_r(&seed) % SR_STATE_COUNT);
			rc = sr_session_set_state(reg, id, to, NULL);
			OK_IF(rc == 0 || rc == -SR_EBADTRANS);
			sr_state from = (sr_state)(rand_r(&seed) % SR_STATE_COUNT);
			rc = sr_session_transition(reg, id, from, to);
			OK_IF(rc == 0 || rc == -SR_EBADTRANS || rc == -SR_ESTATE);
			break;
		}
		case 5:
			rc = sr_session_record_error(reg, id, WORKER_ERROR);
			OK_IF(rc == 0);
			break;
		case 6:
			rc = sr_session_set_qualities(reg, id, q, 1 + (size_t)k);
			OK_IF(rc == 0);
			rc = sr_session_set_paths(reg, id, "/srv/hls/chan",
			                          "/srv/hls/chan/s%05d.ts");
			OK_IF(rc == 0);
			break;
		case 7:
			rc = sr_session_insert(reg, own[k], "/srv/own");
			OK_IF(rc == (present[k] ? -EEXIST : 0));
			present[k] = true;
			break;
		case 8:
			rc = sr_session_delete(reg, own[k]);
			OK_IF(rc == (present[k] ? 0 : -ENOENT));
			present[k] = false;
			break;
		case 9:
			rc = sr_session_snapshot(reg, id, &info);
			OK_IF(rc == 0 || rc == -SR_EBUSY);
			OK_IF(rc != 0 || info.state < SR_STATE_COUNT);
			break;
		case 10:
			rc = sr_session_list(reg, ids, 64, &n);
			OK_IF(rc == 0);
			rc = sr_session_find(reg, id, NULL);
			OK_IF(rc == 0);
			break;
		default:
			rc = sr_session_set_pid(reg, id, getpid(), sr_pid_start_time(getpid()));
			OK_IF(rc == 0);
			rc = sr_session_set_restarts(reg, id, (uint32_t)k);
			OK_IF(rc == 0);
			break;
		}
		me->ops++;
	}
	return 0;
}

/* Some workers use the inherited handle, as pre-fork workers do. */
static bool uses_inherited(int idx)
{
	return idx % 2 == 1;
}

/* Some survivors close their handle at the end; the others just exit. */
static bool closes(int idx)
{
	return idx % 4 < 2;
}

static int worker(void *p)
{
	struct worker_arg *a = p;
	struct worker_slot *me = &a->sh->w[a->idx];
	sr_registry *reg = a->inherited;
	char c;

	close(a->parent_fds[0]);
	close(a->parent_fds[1]);
	if (!uses_inherited(a->idx)) {
		int rc = sr_registry_attach(a->sh->name, 0, &reg);
		if (rc) {
			me->fail_line = __LINE__;
			me->fail_rc = rc;
			c = 'f';
			(void)!write(a->done_fd, &c, 1);
			return 1;
		}
	}
	int rc = loop(a, reg);
	me->reported = rc == 0;
	c = rc ? 'f' : 'd';
	(void)!write(a->done_fd, &c, 1);
	if (rc)
		return rc;
	/* Hold the leases until the parent has compared. */
	while (read(a->release_fd, &c, 1) > 0)
		;
	if (closes(a->idx))
		sr_registry_close(reg);
	return 0;
}

static int count_dead(const sr_proc_info *proc, void *ctx)
{
	*(int *)ctx += !proc->alive;
	return 0;
}

struct stats {
	double t0;
	double max_op_ms;
	const char *max_op;
	uint64_t worker_ops;
	uint32_t killed, reclaimed, locks_repaired, records_repaired;
	uint64_t leases_released;
};

static int timed_end(struct stats *s, const char *label, int rc)
{
	double dt = srt_now_ms() - s->t0;

	if (dt > s->max_op_ms) {
		s->max_op_ms = dt;
		s->max_op = label;
	}
	return rc;
}

/* The comma operator orders the clock read before the call. */
#define TIMED(s, label, call) ((s)->t0 = srt_now_ms(), timed_end((s), (label), (call)))

/* Every kind of operation, once per channel, each timed. */
static void parent_ops(sr_registry *reg, struct round_shared *sh, struct stats *s)
{
	sr_session_info info;
	uuid_t tmp, ids[64];
	size_t n;
	uint32_t u;

	for (int c = 0; c < CHANNELS; c++) {
		const unsigned char *id = sh->chan[c];
		assert_int_equal(TIMED(s, "touch", sr_session_touch(reg, id)), 0);
		assert_int_equal(TIMED(s, "get_clients", sr_session_get_clients(reg, id, &u)), 0);
		int rc = TIMED(s, "snapshot", sr_session_snapshot(reg, id, &info));
		assert_int_equal(rc, 0);
		if (!record_whole(&info))
			fail_msg("channel %d torn after the kills: state %d, %u qualities (%s), "
			         "out \"%.40s\" seg \"%.40s\", error \"%.40s\"",
			         c, (int)info.state, info.n_qualities, info.qualities[0].level,
			         info.output_dir, info.segment_path, info.last_error);
		assert_int_equal(TIMED(s, "add_client", sr_session_add_client(reg, id)), 0);
		assert_int_equal(TIMED(s, "remove_client", sr_session_remove_client(reg, id)), 0);
		assert_int_equal(
		    TIMED(s, "record_error", sr_session_record_error(reg, id, PARENT_ERROR)), 0);
		assert_int_equal(
		    TIMED(s, "set_qualities", sr_session_set_qualities(reg, id, &parent_q, 1)), 0);
		assert_int_equal(TIMED(s, "set_paths", sr_session_set_paths(reg, id, "/p", "/p/s")),
		                 0);
		rc = TIMED(s, "set_state", sr_session_set_state(reg, id, SR_STATE_FAILED, NULL));
		assert_true(rc == 0 || rc == -SR_EBADTRANS);
		srt_uuid(tmp);
		assert_int_equal(TIMED(s, "insert", sr_session_insert(reg, tmp, NULL)), 0);
		assert_int_equal(TIMED(s, "delete", sr_session_delete(reg, tmp)), 0);
	}
	assert_int_equal(TIMED(s, "list", sr_session_list(reg, ids, 64, &n)), 0);
	sr_registry_stats st;
	assert_int_equal(TIMED(s, "stats", sr_registry_stats_get(reg, &st)), 0);
}

static void delete_leftovers(sr_registry *reg, struct round_shared *sh)
{
	uuid_t ids[64];
	size_t n = 0;

	assert_int_equal(sr_session_list(reg, ids, 64, &n), 0);
	assert_true(n <= 64);
	for (size_t i = 0; i < n; i++) {
		bool shared = false;
		for (int c = 0; c < CHANNELS; c++)
			shared |= memcmp(ids[i], sh->chan[c], sizeof(uuid_t)) == 0;
		if (!shared)
			assert_int_equal(sr_session_delete(reg, ids[i]), 0);
	}
}

static void one_round(struct srt_fx *fx, struct round_shared *sh, uint32_t round, unsigned *seed,
                      struct stats *s)
{
	struct worker_arg args[WORKERS];
	pid_t pids[WORKERS];
	bool killed[WORKERS] = {false};
	int done[2], release[2];
	char c;

	sr_registry_stats st;
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	uint64_t reclaimed_before = st.procs_reclaimed;
	sh->stop = 0;
	memset(sh->w, 0, sizeof(sh->w));
	assert_int_equal(pipe(done), 0);
	assert_int_equal(pipe(release), 0);
	for (int i = 0; i < WORKERS; i++) {
		args[i] = (struct worker_arg){.sh = sh,
		                              .inherited = fx->reg,
		                              .idx = i,
		                              .round = round,
		                              .done_fd = done[1],
		                              .release_fd = release[0],
		                              .parent_fds = {done[0], release[1]}};
		pids[i] = srt_spawn(worker, &args[i]);
		assert_true(pids[i] > 0);
	}
	close(done[1]);
	close(release[0]);

	/* Kill a random non-empty subset at a random instant. */
	usleep((useconds_t)(rand_r(seed) % 2001));
	int victims = 0;
	for (int i = 0; i < WORKERS; i++) {
		killed[i] = rand_r(seed) % 2;
		victims += killed[i];
	}
	if (!victims)
		killed[rand_r(seed) % WORKERS] = true;
	for (int i = 0; i < WORKERS; i++) {
		if (killed[i]) {
			kill(pids[i], SIGKILL);
			int code = srt_wait(pids[i]);
			/* A worker that failed before the kill is a failure, not a victim. */
			if (code != 128 + SIGKILL)
				fail_msg("round %u: worker %d exited %d before its kill (line %d, "
				         "op %d, "
				         "rc %d: %s)",
				         round, i, code, sh->w[i].fail_line, sh->w[i].fail_op,
				         sh->w[i].fail_rc, sr_strerror(sh->w[i].fail_rc));
			s->killed++;
		}
	}

	/* While the survivors still hammer the registry, the parent's writes get through. */
	for (int k = 0; k < 3; k++) {
		uuid_t tmp;
		srt_uuid(tmp);
		int rc = TIMED(s, "insert (busy)", sr_session_insert(fx->reg, tmp, NULL));
		if (rc != 0)
			fail_msg("round %u: insert while workers run = %d (%s: %s)", round, rc,
			         sr_strerror(rc), sr_errdetail());
		rc = TIMED(s, "record_error (busy)",
		           sr_session_record_error(fx->reg, sh->chan[k % CHANNELS], PARENT_ERROR));
		assert_int_equal(rc, 0);
		assert_int_equal(TIMED(s, "delete (busy)", sr_session_delete(fx->reg, tmp)), 0);
	}

	/* Survivors stop at a clean point and report; a wedged one would never answer. */
	sh->stop = 1;
	int survivors = 0;
	for (int i = 0; i < WORKERS; i++)
		survivors += !killed[i];
	for (int got = 0; got < survivors; got++) {
		struct pollfd pfd = {.fd = done[0], .events = POLLIN};
		if (poll(&pfd, 1, REPORT_TIMEOUT_MS) != 1 || read(done[0], &c, 1) != 1)
			fail_msg("round %u: only %d of %d survivors stopped within %d ms", round,
			         got, survivors, REPORT_TIMEOUT_MS);
		if (c != 'd') {
			for (int i = 0; i < WORKERS; i++)
				if (sh->w[i].fail_line)
					print_error(
					    "round %u worker %d: line %d op %d rc %d (%s: %s); "
					    "retry %d after %.1f ms\n",
					    round, i, sh->w[i].fail_line, sh->w[i].fail_op,
					    sh->w[i].fail_rc, sr_strerror(sh->w[i].fail_rc),
					    sh->w[i].fail_detail, sh->w[i].fail_retry_rc,
					    sh->w[i].fail_retry_ms);
			fail_msg("round %u: a survivor's operation failed", round);
		}
	}

	parent_ops(fx->reg, sh, s);

	sr_recovery_report rep;
	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	uint32_t sure_victims = 0, victims_now = 0, sure_survivors = 0, maybe_survivors = 0;
	for (int i = 0; i < WORKERS; i++) {
		if (killed[i]) {
			victims_now++;
			sure_victims += sh->w[i].surely_slot;
		} else {
			sure_survivors += sh->w[i].surely_slot;
			maybe_survivors += sh->w[i].maybe_slot;
		}
	}
	/*
	 * Every victim that surely held a slot is reclaimed, and nobody alive.
	 * A worker still attaching after the kill may have reclaimed some first
	 * (a read-write attach recovers), so count reclaims by anyone.
	 */
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	uint64_t reclaimed = st.procs_reclaimed - reclaimed_before;
	if (reclaimed < sure_victims || reclaimed > victims_now || rep.procs_reclaimed > reclaimed)
		fail_msg("round %u: %llu processes reclaimed (%u by recover); %u victims, %u with "
		         "leases",
		         round, (unsigned long long)reclaimed, rep.procs_reclaimed, victims_now,
		         sure_victims);
	s->reclaimed += rep.procs_reclaimed;
	s->leases_released += rep.leases_released;
	s->locks_repaired += rep.lock_repaired;
	s->records_repaired += rep.records_repaired;
	int bad = sr_registry_verify(fx->reg);
	if (bad != 0)
		fail_msg("round %u: verify found %d bad records", round, bad);
	/* Nothing dead is left in the process table. */
	int dead_left = 0;
	assert_int_equal(sr_registry_procs(fx->reg, count_dead, &dead_left), 0);
	if (dead_left)
		fail_msg("round %u: %d dead processes still listed after recovery", round,
		         dead_left);

	/* Client counts are exactly the survivors' leases. */
	for (int ch = 0; ch < CHANNELS; ch++) {
		uint32_t want = 0, got = UINT32_MAX;
		for (int i = 0; i < WORKERS; i++)
			if (!killed[i])
				want += sh->w[i].held[ch];
		assert_int_equal(sr_session_get_clients(fx->reg, sh->chan[ch], &got), 0);
		if (got != want)
			fail_msg("round %u channel %d: %u clients, survivors hold %u", round, ch,
			         got, want);
	}
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	/* The parent holds a slot (it added and removed a viewer), plus the survivors' own. */
	if (st.procs_attached < 1 + sure_survivors || st.procs_attached > 1 + maybe_survivors)
		fail_msg("round %u: %u processes attached, want 1 + %u..%u", round,
		         st.procs_attached, sure_survivors, maybe_survivors);

	/* Let the survivors go: half close, half just exit; then nothing is left. */
	close(release[1]);
	for (int i = 0; i < WORKERS; i++) {
		if (!killed[i]) {
			int code = srt_wait(pids[i]);
			if (code != 0)
				fail_msg("round %u: survivor %d exited %d", round, i, code);
			s->worker_ops += sh->w[i].ops;
		}
	}
	close(done[0]);
	uint32_t sure_leavers = 0, maybe_leavers = 0;
	for (int i = 0; i < WORKERS; i++) {
		sure_leavers += !killed[i] && sh->w[i].surely_slot && !closes(i);
		maybe_leavers += !killed[i] && sh->w[i].maybe_slot && !closes(i);
	}
	assert_int_equal(sr_registry_recover(fx->reg, &rep), 0);
	/* Survivors that exited without closing are reclaimed now. */
	if (rep.procs_reclaimed < sure_leavers || rep.procs_reclaimed > maybe_leavers)
		fail_msg("round %u: recover reclaimed %u processes after the survivors left, want "
		         "%u..%u",
		         round, rep.procs_reclaimed, sure_leavers, maybe_leavers);
	for (int ch = 0; ch < CHANNELS; ch++) {
		uint32_t got = UINT32_MAX;
		assert_int_equal(sr_session_get_clients(fx->reg, sh->chan[ch], &got), 0);
		if (got != 0)
			fail_msg("round %u channel %d: %u clients after every worker left", round,
			         ch, got);
	}
	assert_int_equal(sr_registry_stats_get(fx->reg, &st), 0);
	assert_int_equal(st.procs_attached, 1);
	delete_leftovers(fx->reg, sh);
}

static void test_kill_workers(void **state)
{
	struct srt_fx fx;
	struct round_shared *sh = srt_shared_alloc(sizeof(*sh));
	struct stats s = {.max_op = "none"};
	unsigned seed = (unsigned)getpid();
	uint32_t rounds = 0;

	(void)state;
	assert_non_null(sh);
	assert_int_equal(srt_create(&fx, 64, 32, 16), 0);
	memcpy(sh->name, fx.name, sizeof(sh->name));
	for (int c = 0; c < CHANNELS; c++) {
		srt_uuid(sh->chan[c]);
		assert_int_equal(sr_session_insert(fx.reg, sh->chan[c], "/srv/hls"), 0);
	}
	double start = srt_now_ms();
	while (rounds < ROUNDS && srt_now_ms() - start < BUDGET_MS)
		one_round(&fx, sh, rounds++, &seed, &s);
	double took = srt_now_ms() - start;

	sr_registry_stats st;
	assert_int_equal(sr_registry_stats_get(fx.reg, &st), 0);
	print_message("kill: %u rounds in %.1f s, %u workers killed, %u reclaimed by recover "
	              "(%llu leases), %llu reclaimed ever, %llu writer locks repaired, "
	              "%u records repaired; %llu survivor operations; slowest parent op %.2f ms "
	              "(%s)\n",
	              rounds, took / 1000, s.killed, s.reclaimed,
	              (unsigned long long)s.leases_released, (unsigned long long)st.procs_reclaimed,
	              (unsigned long long)st.locks_repaired, s.records_repaired,
	              (unsigned long long)s.worker_ops, s.max_op_ms, s.max_op);
	assert_true(rounds >= 100);
	assert_true(s.reclaimed > 0);
	if (s.max_op_ms > OP_BOUND_MS)
		fail_msg("slowest parent operation (%s) took %.1f ms, bound %.0f ms", s.max_op,
		         s.max_op_ms, OP_BOUND_MS);
	assert_int_equal(st.sessions, CHANNELS);
	assert_int_equal(st.clients, 0);
	assert_int_equal(sr_registry_verify(fx.reg), 0);
	sr_registry_close(fx.reg);
	srt_shared_free(sh, sizeof(*sh));
	srt_cleanup_names();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kill_workers),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
