/*
 * The reaper daemon's state: the lineup channels it owns, their transcoders,
 * and the descriptors its event loop polls.
 */
#ifndef RP_REAPER_H
#define RP_REAPER_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ffmpeg_argv.h"
#include "options.h"
#include "spawn.h"
#include "st_lineup.h"
#include "st_run.h"
#include "streamreg.h"

/** What the reaper is doing with a channel's transcoder. */
enum rp_phase {
	RP_PH_NONE,     /* no transcoder */
	RP_PH_STARTING, /* spawned, waiting for the playlists */
	RP_PH_ACTIVE,   /* serving */
	RP_PH_STOPPING, /* SIGTERM sent, waiting for the exit */
};

/** What to do with the session once a stopping transcoder is reaped. */
enum rp_after_stop {
	RP_AFTER_NOTHING, /* its state was already settled (failed) */
	RP_AFTER_IDLE,    /* stopping -> idle */
	RP_AFTER_FORGET,  /* the channel left the lineup: delete the session */
};

struct rp_chan {
	uuid_t id;
	char id_str[37];
	/* The session resolved by the last scan (its brief carries slot and
	 * generation), so the calls of one decision cost no lookup; zero until
	 * then, and re-resolved once if the session was replaced. */
	sr_session_ref ref;
	char *input; /* owned */
	bool in_lineup;
	bool seen; /* present in the registry at the last full scan */

	bool has_child;
	struct rp_child child;
	int chfd;          /* the run directory while a transcoder runs, else -1 */
	struct st_run run; /* that transcoder's run (tools/common/st_run.h) */
	bool published;    /* it is the channel's current run */
	uint64_t served;   /* id of the channel's current run, 0 if none */
	uint64_t sweep_ns; /* when runs no longer served are removed; 0: none due */
	enum rp_phase phase;
	enum rp_after_stop after;
	uint64_t spawn_ns, active_ns, stop_deadline_ns;
	bool kill_sent;

	unsigned fails; /* consecutive failures */
	bool gave_up;   /* more than --max-restarts: wait for a client's request */
	uint64_t next_start_ns;
	bool deferred_logged;
	bool handed_over; /* left running-state with its run for the next reaper */
};

struct reaper {
	struct rp_config *cfg;
	sr_registry *reg;
	int outfd;
	char outdir[PATH_MAX];
	struct st_lineup lineup;
	struct rp_chan *ch; /* sorted by id */
	size_t nch;
	int sigfd, evfd, tfd;
	pthread_t bell;
	bool bell_running;
	atomic_bool bell_stop;
	_Atomic uint64_t bell_ns; /* CLOCK_MONOTONIC of the last doorbell */
	uint32_t bell_seen;       /* doorbell value the thread starts from */
	bool replaced;            /* the registry name now names another table */
	bool term;                /* SIGTERM or SIGINT received */
	bool lost_owner;          /* another process holds the owner record */
	bool hup;                 /* SIGHUP received, reload pending */
	bool quiesce;             /* stopping transcoders: no starts, no scans */
};

/* reaper.c */
/** Attach the registry, creating it with --create; logs the reason on failure. */
int rp_attach(const struct rp_config *cfg, sr_registry **reg);
uint64_t rp_now_ns(void);
struct rp_chan *rp_find_chan(struct reaper *r, const uuid_t id);
/** One line per lifecycle event: channel, pid, old->new state, reason. */
void rp_event(const char *id_str, pid_t pid, sr_state from, sr_state to, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/** Build the channel table from the lineup (or merge a reloaded one). */
int rp_chans_sync(struct reaper *r, struct st_lineup *fresh);
/** Insert every lineup channel in the registry (existing ones are kept). */
void rp_insert_sessions(struct reaper *r);
int rp_run(struct reaper *r);

/* lifecycle.c */
void rp_chan_start(struct reaper *r, struct rp_chan *c, bool from_bell);

/** A transcoder just spawned whose bookkeeping is still to do. */
struct rp_spawned {
	struct rp_chan *c; /* NULL: nothing spawned */
	struct rp_argv av;
	bool from_bell;
	bool pending; /* forked by rp_spawn_start(): its exec is still to be confirmed */
	uint64_t began, prepared, spawned; /* CLOCK_MONOTONIC ns */
};
/**
 * The first half of rp_chan_start(): run directory, argv, spawn.  A burst
 * of starts spawns every transcoder first and does the rest (registry
 * writes, log lines) after, so the last exec does not wait for the
 * bookkeeping of all the others.  With async the child is forked without
 * waiting for its exec (rp_spawn_start()), so the children of a burst reach
 * exec in parallel.  true if sp must go to rp_chan_spawned().
 */
bool rp_chan_spawn(struct reaper *r, struct rp_chan *c, bool from_bell, bool async,
                   struct rp_spawned *sp);
/** The second half: session layout, pid, touch, log lines. */
void rp_chan_spawned(struct reaper *r, struct rp_spawned *sp);
void rp_chan_on_exit(struct reaper *r, struct rp_chan *c);
void rp_chan_begin_stop(struct reaper *r, struct rp_chan *c, enum rp_after_stop after,
                        const char *reason);
void rp_chan_tick(struct reaper *r, struct rp_chan *c, const sr_session_brief *b);
/** A starting transcoder: switch to its run as soon as it is ready. */
void rp_chan_poll_start(struct reaper *r, struct rp_chan *c);
void rp_chan_kill_overdue(struct reaper *r, struct rp_chan *c);
void rp_reject_unknown(struct reaper *r, const sr_session_brief *b);

/** How long a run stays on disk once it is no longer served, ms. */
uint64_t rp_retention_ms(const struct rp_config *cfg);
/** Remove the channel directory of c, which runs no transcoder. */
void rp_chan_drop_runs(struct reaper *r, struct rp_chan *c, const char *why);
/** Remove the runs of c that are neither served nor running, if due. */
void rp_chan_sweep_runs(struct reaper *r, struct rp_chan *c, bool now);

/* reconcile.c */
int rp_reconcile(struct reaper *r);

#endif
