/*
 * The invariants, checked once the killing has stopped and every survivor
 * has published what it holds: no operation over the wedge bound, client
 * counts equal to the live leases after recovery, every record consistent.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaos_run.h"

/* Every live worker has finished its operation and published its tally. */
static void gather(struct chaos_run *run)
{
	struct chaos_shared *sh = run->sh;
	uint64_t end = chaos_now_ns() + 3000ull * 1000000ull;
	for (unsigned i = 0; i < run->cfg->workers; i++) {
		struct chaos_slot *s = &sh->worker[i];
		while (atomic_load(&s->pid) > 0 && atomic_load(&s->reported) != (int)run->round &&
		       chaos_now_ns() < end) {
			chaos_reap(run);
			chaos_watch_inflight(run);
			chaos_sleep_ns(1000000);
		}
		if (atomic_load(&s->pid) > 0 && atomic_load(&s->reported) != (int)run->round)
			chaos_violation(run,
			                "worker %u (pid %d) did not report within 3 s: stuck in %s",
			                i, (int)atomic_load(&s->pid),
			                chaos_op_name((enum chaos_op)atomic_load(&s->cur_op)));
	}
	if (run->keeper) {
		int status;
		if (chaos_wait_child(run, run->keeper, 3000, &status) == -ETIMEDOUT)
			chaos_violation(
			    run, "keeper did not stop within 3 s: stuck in %s",
			    chaos_op_name((enum chaos_op)atomic_load(&sh->keeper.cur_op)));
		atomic_store(&sh->keeper.pid, 0);
		run->keeper = 0;
	}
}

static void check_slot_timing(struct chaos_run *run, const char *who, struct chaos_slot *s)
{
	uint64_t bad = atomic_load(&s->unexpected);
	if (bad)
		chaos_violation(run, "%s: %llu unexpected results, first: %s", who,
		                (unsigned long long)bad, s->first_unexpected);
	uint64_t torn = atomic_load(&s->torn);
	if (torn)
		chaos_violation(run, "%s: %llu snapshots failed the record invariant (torn read)",
		                who, (unsigned long long)torn);
}

static void check_timing(struct chaos_run *run)
{
	char who[32];
	for (unsigned i = 0; i < run->cfg->workers; i++) {
		snprintf(who, sizeof(who), "worker %u", i);
		check_slot_timing(run, who, &run->sh->worker[i]);
		/* Reported once: the counters are cumulative over rounds. */
		atomic_store(&run->sh->worker[i].slow, 0);
		atomic_store(&run->sh->worker[i].unexpected, 0);
		atomic_store(&run->sh->worker[i].torn, 0);
		atomic_store(&run->sh->worker[i].first_unexpected_set, 0);
	}
	check_slot_timing(run, "keeper", &run->sh->keeper);
	atomic_store(&run->sh->keeper.slow, 0);
	atomic_store(&run->sh->keeper.unexpected, 0);
	atomic_store(&run->sh->keeper.torn, 0);
	atomic_store(&run->sh->keeper.first_unexpected_set, 0);
	if (run->inflight_max_ns > CHAOS_INFLIGHT_NS)
		chaos_violation(run, "an operation (%s) was seen running for %.1f ms (wall clock)",
		                chaos_op_name((enum chaos_op)run->inflight_op),
		                (double)run->inflight_max_ns / 1e6);
}

static void recover_now(struct chaos_run *run)
{
	sr_recovery_report rep;
	int rc = sr_registry_recover(run->reg, &rep);
	if (rc != 0) {
		chaos_violation(run, "sr_registry_recover: %s", sr_strerror(rc));
		return;
	}
	atomic_fetch_add(&run->sh->rec_calls, 1);
	atomic_fetch_add(&run->sh->rec_procs, rep.procs_reclaimed);
	atomic_fetch_add(&run->sh->rec_leases, rep.leases_released);
	atomic_fetch_add(&run->sh->rec_locks, rep.lock_repaired);
}

/* After recovery, the registry's count of each channel is exactly what the
 * live workers say they hold. */
static void check_clients(struct chaos_run *run)
{
	struct chaos_shared *sh = run->sh;
	uint64_t total = 0;
	unsigned claimed = 0;
	for (unsigned i = 0; i < run->cfg->workers; i++)
		if (atomic_load(&sh->worker[i].pid) > 0 && atomic_load(&sh->worker[i].claimed))
			claimed++;
	for (unsigned c = 0; c < sh->n_channels; c++) {
		uint64_t want = 0;
		for (unsigned i = 0; i < run->cfg->workers; i++)
			if (atomic_load(&sh->worker[i].pid) > 0)
				want += sh->worker[i].leases[c];
		uint32_t got = 0;
		int rc = sr_session_get_clients(run->reg, sh->channels[c], &got);
		if (rc != 0 || got != want) {
			char id[SR_UUID_STR_LEN + 1];
			sr_uuid_format(sh->channels[c], id);
			chaos_violation(
			    run, "channel %s: %u clients counted, live leases hold %llu (%s)", id,
			    got, (unsigned long long)want, rc ? sr_strerror(rc) : "ok");
		}
		total += want;
	}
	sr_registry_stats st;
	int rc = sr_registry_stats_get(run->reg, &st);
	if (rc != 0) {
		chaos_violation(run, "sr_registry_stats_get: %s", sr_strerror(rc));
		return;
	}
	if (st.clients != total)
		chaos_violation(run, "stats: %llu clients in all, live leases hold %llu",
		                (unsigned long long)st.clients, (unsigned long long)total);
	/* The real reaper holds a process slot of its own if it ever counted a
	 * viewer; ours never do. */
	if (!run->cfg->reaper_path && st.procs_attached != claimed)
		chaos_violation(run, "stats: %u processes attached, %u live workers hold a slot",
		                st.procs_attached, claimed);
}

static void check_records(struct chaos_run *run)
{
	int bad = sr_registry_verify(run->reg);
	if (bad != 0)
		chaos_violation(run, "sr_registry_verify: %d (%s)", bad,
		                bad < 0 ? sr_strerror(bad) : "bad records");
	/* A read-only attachment, as a monitor would make, sees the same. */
	sr_registry *ro = NULL;
	int rc = sr_registry_attach(run->cfg->name, SR_ATTACH_READONLY, &ro);
	if (rc != 0) {
		chaos_violation(run, "read-only attach: %s", sr_strerror(rc));
		return;
	}
	if ((bad = sr_registry_verify(ro)) != 0)
		chaos_violation(run, "sr_registry_verify (read-only): %d", bad);
	for (unsigned c = 0; c < run->sh->n_channels; c++) {
		uint32_t a = 0, b = 0;
		sr_session_get_clients(ro, run->sh->channels[c], &a);
		sr_session_get_clients(run->reg, run->sh->channels[c], &b);
		if (a != b)
			chaos_violation(run, "read-only handle counts %u clients, read-write %u", a,
			                b);
	}
	sr_registry_close(ro);
}

void chaos_checkpoint(struct chaos_run *run)
{
	run->round++;
	atomic_store(&run->sh->round, run->round);
	atomic_store(&run->sh->phase, PH_REPORT);
	gather(run);
	chaos_reap(run);
	check_timing(run);
	chaos_judge(run);
	recover_now(run);
	check_clients(run);
	check_records(run);
}

/* Everyone leaves: every lease must go with its process. */
void chaos_final(struct chaos_run *run)
{
	atomic_store(&run->sh->phase, PH_EXIT);
	for (unsigned i = 0; i < run->cfg->workers; i++) {
		pid_t pid = atomic_load(&run->sh->worker[i].pid);
		if (pid <= 0)
			continue;
		int status = 0;
		if (chaos_wait_child(run, pid, 3000, &status) == -ETIMEDOUT)
			chaos_violation(run, "worker %u did not exit within 3 s", i);
		else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			chaos_violation(run, "worker %u ended with status 0x%x", i, status);
		atomic_store(&run->sh->worker[i].pid, 0);
	}
	recover_now(run);
	sr_registry_stats st;
	if (sr_registry_stats_get(run->reg, &st) == 0 && !run->cfg->reaper_path &&
	    (st.clients != 0 || st.procs_attached != 0))
		chaos_violation(run,
		                "after every worker closed: %llu clients, %u processes attached",
		                (unsigned long long)st.clients, st.procs_attached);
	check_records(run);
}
