/*
 * streamreg: a shared-memory registry of live streaming sessions.
 *
 * Several processes (the workers of a pre-fork server, a reaper daemon, a
 * monitor) share per-channel state through one fixed-layout table in a POSIX
 * shared memory segment.  Every function may be called concurrently from many
 * threads in many processes, and a process killed at any instant never wedges
 * the registry nor leaves client counts wrong: see the pre-fork contract
 * below and docs/design.md.
 *
 * Conventions: every function that can fail returns 0 (or a non-negative
 * value where documented) on success and a negative error code on failure:
 * either a negated errno value (-EINVAL, -ENOENT, ...) or one of the SR_E*
 * codes below.  sr_strerror() explains any of them and sr_errdetail() gives
 * the calling thread's detailed message for its last failure; sr_err_name()
 * names it ("SR_EFULL", "ENOENT").
 *
 * Pre-fork contract
 *
 * Fork.  A handle inherited across fork() works in the child, read-write or
 * read-only: the mapping is shared, and in the child the library forgets
 * the parent's process slot (pthread_atfork), so the child's first viewer
 * claims a slot of its own.  Viewers belong to the process and the handle
 * that counted them: the parent's stay the parent's, the child's are the
 * child's, and sr_registry_close() in either releases only the viewers
 * the closing process counted through that handle.  Session references
 * (sr_session_ref) are plain values and work in the child too.  The owner
 * record (sr_registry_claim_owner()) is not inherited.  Attaching after the
 * fork works as well.  A process that exec()s is still the same process
 * (same pid, same start time): its viewers keep counting until it exits, so
 * close the handle before exec if it counted viewers.
 *
 * Threads.  Any number of threads may use one handle at once; a process's
 * threads share its viewers.  sr_errdetail() is per thread.  Close a handle
 * only once no other thread uses it.
 *
 * Recovery: exactly when a dead process's viewers stop counting.  Viewer
 * counts (sr_session_get_clients(), the sr_ref_*_client() results,
 * snapshots, scans, stats, sr_session_should_cleanup()) add up the viewers
 * of the processes that still run, checked by pid and start time: a
 * process that exits or is killed without closing its handle stops
 * counting as soon as it is dead (a zombie already is), in every process's
 * reads, with no call needed.  Its process-table slot stays taken until a
 * recovery frees it: sr_registry_recover() on any read-write handle, a
 * read-write sr_registry_attach(), or a claimer that finds the process
 * table full.  The reaper calls sr_registry_recover() on every scan; a
 * pre-fork master that runs without a reaper should call it when it learns
 * that a worker died (SIGCHLD), or the table fills with dead slots
 * (sr_registry_procs() shows them, alive false).  Whatever else a process
 * killed inside a call leaves (the writer lock, a half-written record) is
 * repaired by the next writer or recovery.
 */
#ifndef STREAMREG_H
#define STREAMREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uuid/uuid.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SR_BUILDING_LIBRARY)
#define SR_API __attribute__((visibility("default")))
#else
#define SR_API
#endif

/**
 * Library version, also the version of this header and the soname's number
 * (libstreamreg.so.2).  2 grew sr_session_info (counters, timestamps) and
 * added the owner record and session references: a program built against
 * version 1 must be rebuilt, so the soname changed with it.
 */
#define SR_VERSION_MAJOR 2
/** Minor version: new functions, same structures and segment layout. */
#define SR_VERSION_MINOR 0
/**
 * Version of the shared segment layout; attaching refuses any other with
 * SR_EVERSION.  2 added the reaper owner record, per-session counters and the
 * start-latency histogram; 3 packs each session's strings into the first lines
 * of its record and made index entries 4 bytes.  The registry holds soft
 * state only: recreate it.
 */
#define SR_LAYOUT_VERSION 3

/* ---- Limits (string lengths exclude the terminating NUL) ---------------- */

/** Longest registry name: 1..64 characters from [A-Za-z0-9_-]. */
#define SR_NAME_MAX 64
/** Longest output directory or segment path stored in a session. */
#define SR_PATH_MAX 255
/** Longest error message stored in a session. */
#define SR_ERROR_MAX 255
/** Quality variants a session can hold. */
#define SR_MAX_QUALITIES 8
/** Longest quality level name, such as "720p". */
#define SR_LEVEL_MAX 15
/** Longest codec name, such as "h264". */
#define SR_CODEC_MAX 15
/** Longest per-variant segment or playlist path. */
#define SR_VARIANT_PATH_MAX 127
/** Length of a UUID in its canonical text form, without the NUL. */
#define SR_UUID_STR_LEN 36
/** Largest session capacity a registry can be created with. */
#define SR_CAPACITY_MAX (1u << 24)
/** Largest process table a registry can be created with. */
#define SR_PROCS_MAX 4096
/** Largest per-process lease table a registry can be created with. */
#define SR_LEASES_MAX 65536
/** Longest info string of the owner record (the reaper puts its output directory). */
#define SR_OWNER_INFO_MAX 255
/** Buckets of the start-latency histogram, the last one unbounded (+Inf). */
#define SR_LATENCY_BUCKETS 10

/* ---- Error codes ---------------------------------------------------------- */

/**
 * Library-specific error codes, returned negated (e.g. -SR_EFULL).  They lie
 * above every errno value so a caller can tell the two kinds apart; the
 * functions also return plain negated errno values such as -EINVAL (bad
 * argument), -ENOENT (no such session or registry), -EEXIST (already there),
 * -ENAMETOOLONG (string over its documented maximum), -EROFS (the handle is
 * read-only), -ETIMEDOUT (the registry lock was held too long by a live
 * process), -EBUSY (the owner record is held by another live process),
 * -EACCES/-EPERM (permissions, owner), -ENOMEM.
 */
enum sr_error {
	SR_EBASE = 4096, /**< First library code; not an error itself. */
	SR_EBADMAGIC,    /**< The segment is not a streamreg registry. */
	SR_EVERSION,     /**< The segment has another layout version. */
	SR_ELAYOUT,      /**< Same version, other struct layout (ABI). */
	SR_ETRUNCATED,   /**< The segment is shorter than its header says. */
	SR_ECORRUPT,     /**< The header or a record fails its checks. */
	SR_EFULL,        /**< The session table is full: raise --capacity. */
	SR_EPROCFULL,    /**< The process table is full: raise --max-procs. */
	SR_ELEASEFULL,   /**< This process's lease table is full. */
	SR_EBADTRANS,    /**< The state machine forbids this transition. */
	SR_ESTATE,       /**< The session is not in the expected state. */
	SR_ENOCLIENT,    /**< Removing a client this process does not hold. */
	SR_EBUSY,        /**< A record kept changing; retry later. */
	SR_EOWNER,       /**< The segment belongs to another user. */
	SR_ENOTOWNER,    /**< This process does not hold the owner record. */
	SR_ESTALE,       /**< A session reference names a deleted session. */
	SR_ELAST         /**< One past the last code; not an error itself. */
};

/**
 * Describe an error code returned by any sr_ function (negative or
 * positive).  Never returns NULL; the string is static.
 */
SR_API const char *sr_strerror(int err);

/**
 * The symbolic name of an error code (negative or positive): "SR_EFULL"
 * for a library code, the errno macro's name for an errno value ("ENOENT",
 * "EROFS"), "OK" for 0, "UNKNOWN" for anything else.  Never NULL; the string
 * is static.  For logs and for programs that match errors by name.
 */
SR_API const char *sr_err_name(int err);

/**
 * Detail of the calling thread's most recent failure that gave one, naming
 * the values involved (for example "session table full: all 1024 slots in
 * use; create the registry with a larger capacity").  Never NULL; "" if
 * none.  Successful calls leave it unchanged, so read it right after the
 * failing call.  Valid until the thread's next failing sr_ call.
 */
SR_API const char *sr_errdetail(void);

/* ---- Session states --------------------------------------------------------- */

/** The state of a channel's transcoder. */
typedef enum sr_state {
	SR_STATE_IDLE = 0, /**< No transcoder; may be started. */
	SR_STATE_STARTING, /**< Start requested or in progress. */
	SR_STATE_ACTIVE,   /**< Transcoder running and producing output. */
	SR_STATE_STOPPING, /**< Being stopped and cleaned up. */
	SR_STATE_FAILED,   /**< Transcoder failed; see the last error. */
	SR_STATE_COUNT     /**< Number of states; not a state. */
} sr_state;

/** Lower-case name of a state ("idle", ...), or "invalid". */
SR_API const char *sr_state_name(sr_state s);

/**
 * Parse a state name (case-insensitive).  Returns 0 and sets *out, or
 * -EINVAL for an unknown name.
 */
SR_API int sr_state_parse(const char *name, sr_state *out);

/**
 * Whether the state machine allows from -> to.  Allowed: idle->starting;
 * starting->active|failed|stopping; active->stopping|failed;
 * stopping->idle|failed; failed->starting|stopping|idle.
 */
SR_API bool sr_can_transition(sr_state from, sr_state to);

/* ---- Registry lifecycle ------------------------------------------------------ */

/** Opaque handle on an attached registry. */
typedef struct sr_registry sr_registry;

/** Options for sr_registry_create(); start from sr_create_options_init(). */
typedef struct sr_create_options {
	uint32_t capacity;  /**< Sessions the table holds (default 1024). */
	uint32_t max_procs; /**< Process table size: processes counting viewers at once, the owner
	                       included (default 128). */
	uint32_t leases_per_proc; /**< Channels one process can count viewers on (default 1024). */
	mode_t mode;              /**< Permission bits of the segment (default 0600). */
} sr_create_options;

/** Fill *opt with the defaults. */
SR_API void sr_create_options_init(sr_create_options *opt);

/**
 * Create a new registry named name (the file SR_DIR_ENV/name, by default
 * /dev/shm/name, as shm_open("/name") would) with O_EXCL and
 * attach it read-write.  Fails with -EEXIST if it exists, -EINVAL for a bad
 * name or option (-ENAMETOOLONG for a name over SR_NAME_MAX), -EINVAL or
 * -ENAMETOOLONG for a bad SR_DIR_ENV as sr_registry_path() says,
 * -ENOMEM/-ENOSPC if the segment cannot be sized.
 */
SR_API int sr_registry_create(const char *name, const sr_create_options *opt, sr_registry **out);

/** Attach flags for sr_registry_attach(). */
enum sr_attach_flags {
	SR_ATTACH_READONLY = 1u << 0,  /**< Map PROT_READ; writes return -EROFS. */
	SR_ATTACH_ANY_OWNER = 1u << 1, /**< Accept a segment owned by another uid. */
};

/**
 * Attach an existing registry.  The header is validated against the file
 * (magic, layout version and fingerprint, checksum, geometry, size) and a
 * mismatch is refused with SR_EBADMAGIC, SR_EVERSION, SR_ELAYOUT,
 * SR_ETRUNCATED or SR_ECORRUPT.  A read-write attach refuses a segment owned
 * by another user (SR_EOWNER) unless SR_ATTACH_ANY_OWNER is given; a
 * read-only attach accepts any owner, since readers survive any bytes.
 * A read-write attach also reclaims what dead processes left behind.
 */
SR_API int sr_registry_attach(const char *name, unsigned flags, sr_registry **out);

/**
 * Detach.  Each read-write handle counts viewers in its own process slot,
 * so closing one releases exactly the viewers this process counted through
 * it (other handles of the same process, and other processes sharing it
 * after a fork, keep theirs), and the owner record if this process claimed
 * it through this handle.  Accepts NULL.  Do not use reg afterwards.
 */
SR_API void sr_registry_close(sr_registry *reg);

/**
 * Environment variable naming the directory that holds registry files: an
 * absolute path of at most SR_DIR_MAX characters, read by every create,
 * attach, unlink and tool.  Unset or empty means SR_DIR_DEFAULT.  Large
 * registries belong on a tmpfs mounted with huge=within_size, which backs
 * them with 2 MiB pages (docs/design.md, "Pages").
 */
#define SR_DIR_ENV "STREAMREG_DIR"
/** Where registry files live when SR_DIR_ENV is unset: POSIX shared memory. */
#define SR_DIR_DEFAULT "/dev/shm"
/** Longest SR_DIR_ENV value accepted. */
#define SR_DIR_MAX 200

/**
 * The file that holds registry name: SR_DIR_ENV (or SR_DIR_DEFAULT), '/',
 * name.  For tools that stat or remove it.  -EINVAL for a bad name or a
 * relative directory, -ENAMETOOLONG for a name over SR_NAME_MAX, a directory
 * over SR_DIR_MAX, or a buf (len bytes) too small.
 */
SR_API int sr_registry_path(const char *name, char *buf, size_t len);

/**
 * Size of the pages that map this registry's session records in the calling
 * process: the base page size (4096 on x86-64), or the huge page size (2 MiB)
 * when the kernel maps them with transparent huge pages.  Reads
 * /proc/self/smaps; for reports, not hot paths.
 */
SR_API int sr_registry_page_size(sr_registry *reg, size_t *page_size);

/** Remove the registry file name; attached handles keep working until closed. */
SR_API int sr_registry_unlink(const char *name);

/** Check a registry name: 0 if valid, -EINVAL or -ENAMETOOLONG otherwise. */
SR_API int sr_name_valid(const char *name);

/** Whether the handle is read-only. */
SR_API bool sr_registry_readonly(const sr_registry *reg);

/** What one recovery pass found and repaired. */
typedef struct sr_recovery_report {
	uint32_t procs_checked;    /**< Attached process slots looked at. */
	uint32_t procs_reclaimed;  /**< Slots of dead processes freed. */
	uint64_t leases_released;  /**< Client counts those processes held. */
	uint32_t lock_repaired;    /**< 1 if the writer lock had a dead owner or garbled bytes. */
	uint32_t records_repaired; /**< Half-written records restored. */
} sr_recovery_report;

/**
 * Reclaim what dead processes left behind: the slots and client leases of
 * processes that no longer exist (checked by pid and start time, so a reused
 * pid is not mistaken for the old process), and the writer lock and
 * half-written record of a writer that died inside a call.  Cheap when
 * nothing is dead; the reaper calls it on every scan.  rep may be NULL.
 */
SR_API int sr_registry_recover(sr_registry *reg, sr_recovery_report *rep);

/** Registry-wide figures, read without locks. */
typedef struct sr_registry_stats {
	uint32_t capacity;                 /**< Session slots. */
	uint32_t sessions;                 /**< Slots in use. */
	uint32_t by_state[SR_STATE_COUNT]; /**< Sessions per state. */
	uint32_t max_procs;                /**< Process table size. */
	uint32_t procs_attached;   /**< Processes in the process table: those that counted a viewer,
	                              and the owner (reaper). */
	uint32_t leases_per_proc;  /**< Lease table size per process. */
	uint64_t clients;          /**< Sum of all client counts (processes that still run). */
	uint64_t procs_reclaimed;  /**< Dead processes reclaimed, ever. */
	uint64_t leases_reclaimed; /**< Client counts released from dead processes, ever. */
	uint64_t locks_repaired;   /**< Writer locks repaired (dead owner, garbled), ever. */
	uint64_t segment_size;     /**< Bytes of the shm segment. */
	uint64_t slot_bytes;       /**< Bytes per session slot, index included. */
	int64_t created_wall_ns;   /**< Creation time, CLOCK_REALTIME. */
	uint64_t age_ms;           /**< Time since creation. */
	pid_t creator_pid;         /**< Process that created it. */
	uint64_t birth_id;         /**< Random id chosen at creation. */
} sr_registry_stats;

/** Fill *st. */
SR_API int sr_registry_stats_get(sr_registry *reg, sr_registry_stats *st);

/** One occupied slot of the process table, as sr_registry_procs() reports it. */
typedef struct sr_proc_info {
	uint32_t slot;          /**< Index in the process table. */
	pid_t pid;              /**< Owner (or, while reclaimed, the reclaimer). */
	uint64_t start_time;    /**< Owner's start time, clock ticks since boot. */
	int64_t attach_wall_ns; /**< When the slot was claimed. */
	bool alive;             /**< The owner still runs (pid and start time match). */
	bool reclaiming;        /**< A recovery is releasing the slot. */
	uint32_t channels;      /**< Channels it holds viewers on. */
	uint64_t clients;       /**< Viewers it holds in total. */
} sr_proc_info;

/** Callback of sr_registry_procs(); a non-zero return stops the walk. */
typedef int (*sr_proc_cb)(const sr_proc_info *proc, void *ctx);

/**
 * Walk the occupied slots of the process table, live or dead, without
 * changing anything (read-only handles may call it): what a dead process
 * left behind shows up here until sr_registry_recover() reclaims it.
 * Returns the callback's non-zero value if it stopped the walk, else 0.
 */
SR_API int sr_registry_procs(sr_registry *reg, sr_proc_cb cb, void *ctx);

/**
 * Whether the registry this handle attached is still the one under its
 * name: 0 if so, 1 if the name was unlinked or now holds another registry
 * (a monitor then reattaches), negative on error.
 */
SR_API int sr_registry_replaced(sr_registry *reg);

/**
 * Block until a session is asked to start (a transition into `starting`)
 * or timeout_ms passes (negative: no limit).  Read-write handles only
 * (-EROFS otherwise).  *seen carries the doorbell value between calls:
 * initialise it with sr_registry_doorbell().  Returns 1 if rung, 0 on
 * timeout.  A signal handled meanwhile does not end the wait early: it
 * resumes for the time left (a caller that must notice a signal flag waits
 * with a bounded timeout).  Lets the reaper react within microseconds
 * without polling.
 */
SR_API int sr_registry_wait(sr_registry *reg, uint32_t *seen, int timeout_ms);

/** Current doorbell value, for sr_registry_wait(). */
SR_API uint32_t sr_registry_doorbell(sr_registry *reg);

/**
 * Check every live record's invariants (state valid, strings terminated,
 * index consistent, counters in range).  Returns the number of bad records
 * (0 when all is well) or a negative error.  Read-only handles may call it.
 */
SR_API int sr_registry_verify(sr_registry *reg);

/* ---- The owner record (one reaper per registry) ---------------------------- */

/**
 * Who holds a registry's owner record, as sr_registry_claim_owner() and
 * sr_registry_get_owner() report it.
 */
typedef struct sr_owner_info {
	pid_t pid;           /**< Holder's pid. */
	uint64_t start_time; /**< Its start time (clock ticks since boot). */
	bool alive;          /**< pid and start time still name a live, non-zombie process. */
	char info[SR_OWNER_INFO_MAX +
	          1]; /**< What it said when claiming (the reaper: its output directory). */
	int64_t claimed_wall_ns;   /**< When it claimed, CLOCK_REALTIME. */
	int64_t heartbeat_wall_ns; /**< Its last heartbeat (or the claim), CLOCK_REALTIME. */
	uint64_t heartbeat_age_ms; /**< Time since that heartbeat, by CLOCK_MONOTONIC. */
} sr_owner_info;

/**
 * Claim the registry's single owner record for the calling process, with a
 * short info string (at most SR_OWNER_INFO_MAX characters, may be NULL).
 * The reaper claims it so that exactly one reaper serves a registry.
 *
 * Returns 0 when the record is now this process's: it was free, or its
 * holder is dead (pid and start time no longer name a live process; a zombie
 * counts as dead), which is taken over at once; or this process already held
 * it (the info is then replaced).  Among any number of concurrent claimers
 * exactly one gets 0.  Returns -EBUSY when another live process holds it,
 * with *holder filled (holder may be NULL).  -EROFS on a read-only handle,
 * -ENAMETOOLONG for an overlong info.  Claiming also registers the process in
 * the process table, so it counts in sr_registry_stats.procs_attached.
 *
 * The record belongs to the process, not the handle: a forked child does not
 * inherit it.  It is released by sr_registry_release_owner(), by closing the
 * handle that claimed it, or by the holder's death (no cleanup needed after
 * SIGKILL: the next claimer takes it over).
 */
SR_API int sr_registry_claim_owner(sr_registry *reg, const char *info, sr_owner_info *holder);

/**
 * Refresh the owner record's heartbeat: the owner calls it on every loop
 * turn, so monitors can tell a live but stuck owner (growing age) from a
 * working one.  -SR_ENOTOWNER if this process does not hold the record.
 */
SR_API int sr_registry_owner_heartbeat(sr_registry *reg);

/**
 * Give the owner record up, so another process may claim it at once.
 * -SR_ENOTOWNER if this process does not hold it.
 */
SR_API int sr_registry_release_owner(sr_registry *reg);

/**
 * Read the owner record into *out without changing anything (read-only
 * handles may call it).  Returns 0 with *out filled while the record is
 * claimed, by a live process (out->alive) or a dead one not yet replaced;
 * -ENOENT if nobody holds it (never claimed, or released).
 */
SR_API int sr_registry_get_owner(sr_registry *reg, sr_owner_info *out);

/**
 * Registry-wide counters, as sr_registry_counters_get() reports them.  Every
 * count only rises for the life of the registry.
 */
typedef struct sr_registry_counters {
	uint64_t transitions[SR_STATE_COUNT]; /**< State changes, by target state. */
	uint64_t restarts;        /**< Transcoder restarts (see sr_session_set_restarts()). */
	uint64_t start_timeouts;  /**< Starts counted by sr_session_count_start_timeout(). */
	uint64_t owner_takeovers; /**< Owner records taken over from a dead holder. */
	/** Upper bounds of the latency buckets in ms; the last is UINT64_MAX (+Inf). */
	uint64_t start_latency_bound_ms[SR_LATENCY_BUCKETS];
	/** Starts (starting -> active) that took at most the bound: cumulative, as Prometheus
	 * wants. */
	uint64_t start_latency_le[SR_LATENCY_BUCKETS];
	uint64_t start_latency_count;  /**< Starts measured (equals the last bucket). */
	uint64_t start_latency_sum_ns; /**< Their total latency. */
} sr_registry_counters;

/** Fill *out.  Lock-free; read-only handles may call it. */
SR_API int sr_registry_counters_get(sr_registry *reg, sr_registry_counters *out);

/* ---- Sessions -------------------------------------------------------------- */

/** One HLS quality variant produced for a channel. */
typedef struct sr_quality {
	char level[SR_LEVEL_MAX + 1];                /**< e.g. "720p" */
	uint32_t bitrate_kbps;                       /**< Video bitrate. */
	uint32_t width;                              /**< Pixels. */
	uint32_t height;                             /**< Pixels. */
	char codec[SR_CODEC_MAX + 1];                /**< e.g. "h264" */
	char segment_path[SR_VARIANT_PATH_MAX + 1];  /**< Segment pattern. */
	char playlist_path[SR_VARIANT_PATH_MAX + 1]; /**< Variant playlist. */
} sr_quality;

/** A consistent copy of one session, as returned by sr_session_snapshot(). */
typedef struct sr_session_info {
	uuid_t channel_id;   /**< Key. */
	sr_state state;      /**< Current state. */
	uint32_t slot;       /**< Table slot. */
	uint32_t generation; /**< Changes whenever the slot is reused. */
	uint32_t clients; /**< Viewers of processes that still run (see the pre-fork contract). */
	uint64_t created_mono_ns;           /**< CLOCK_MONOTONIC_COARSE at insert. */
	uint64_t started_mono_ns;           /**< At the last move to active, or 0. */
	uint64_t last_access_mono_ns;       /**< At the last touch or client change. */
	uint64_t idle_ms;                   /**< Now minus last access. */
	int64_t created_wall_ns;            /**< CLOCK_REALTIME at insert. */
	int64_t started_wall_ns;            /**< CLOCK_REALTIME at the last move to active, or 0. */
	int64_t last_access_wall_ns;        /**< Last access in wall-clock time. */
	uint32_t error_count;               /**< Errors recorded. */
	int64_t last_error_wall_ns;         /**< When the last error was recorded. */
	char last_error[SR_ERROR_MAX + 1];  /**< Last error message. */
	char output_dir[SR_PATH_MAX + 1];   /**< Where the segments live. */
	char segment_path[SR_PATH_MAX + 1]; /**< Segment file pattern. */
	pid_t pid;                          /**< Transcoder pid, or 0. */
	uint64_t pid_start;                 /**< Its start time (clock ticks since boot). */
	uint32_t restart_count; /**< Consecutive failures: the reaper's current run of restarts (a
	                           gauge). */
	uint32_t n_qualities;   /**< Valid entries in qualities. */
	sr_quality qualities[SR_MAX_QUALITIES]; /**< HLS variants. */
	/* Counters below only rise while the session exists; they start at 0 at insert. */
	uint64_t transitions[SR_STATE_COUNT]; /**< Moves into each state; [SR_STATE_STARTING] =
	                                         start requests. */
	uint64_t restarts_total;       /**< Restarts ever (sum of the rises of restart_count). */
	uint64_t start_timeouts_total; /**< Starts counted by sr_session_count_start_timeout(). */
	int64_t last_state_change_wall_ns; /**< CLOCK_REALTIME of the last state change (insert
	                                      counts). */
	int64_t last_failure_wall_ns;      /**< CLOCK_REALTIME of the last move to failed, or 0. */
	uint64_t start_latency_ns; /**< Last start: request (-> starting) to active, or 0. */
} sr_session_info;

/**
 * Insert a session in state idle.  output_dir may be NULL.  -EEXIST if the
 * channel is there, -SR_EFULL when the table is full, -ENAMETOOLONG when
 * output_dir exceeds SR_PATH_MAX.
 */
SR_API int sr_session_insert(sr_registry *reg, const uuid_t id, const char *output_dir);

/**
 * Delete a session, whatever its state; its slot gets a new generation, so
 * stale client leases on it are ignored and later reused.
 */
SR_API int sr_session_delete(sr_registry *reg, const uuid_t id);

/**
 * Look a session up.  Returns 0 and its generation in *generation (may be
 * NULL), or -ENOENT.  Lock-free.
 */
SR_API int sr_session_find(sr_registry *reg, const uuid_t id, uint32_t *generation);

/**
 * Find and touch: set the last access to now.  The per-request hot path;
 * lock-free, and writes shared memory only when the coarse clock moved,
 * with a compare-and-swap, so the last access never goes back, not even
 * when a toucher stalls between reading the clock and storing.
 */
SR_API int sr_session_touch(sr_registry *reg, const uuid_t id);

/** Current state into *out.  Lock-free. */
SR_API int sr_session_get_state(sr_registry *reg, const uuid_t id, sr_state *out);

/**
 * Compare-and-swap the state from `from` to `to`.  -SR_EBADTRANS if the
 * state machine forbids it (nothing changes), -SR_ESTATE if the session is
 * no longer in `from` (another process won the race).  Moving to starting
 * counts as an access (touch) and rings the doorbell; moving to active
 * records the start time and the start latency.  Every successful move adds
 * to the session's and the registry's transition counters.
 */
SR_API int sr_session_transition(sr_registry *reg, const uuid_t id, sr_state from, sr_state to);

/**
 * Move to `to` from whatever the current state is, if allowed.  Stores the
 * previous state in *prev (may be NULL).  -SR_EBADTRANS if the current
 * state does not allow it.
 */
SR_API int sr_session_set_state(sr_registry *reg, const uuid_t id, sr_state to, sr_state *prev);

/**
 * Count one more viewer for this process and touch the session.  The count
 * is a lease of the calling process: once the process has died (a zombie
 * counts as dead) no read counts it any more, and recovery later frees its
 * process slot.  -SR_ELEASEFULL if this process counts viewers on too many
 * channels, -SR_EPROCFULL if it needs a process slot and the process table
 * is full of live processes, -EOVERFLOW if it already counts UINT32_MAX
 * viewers on this session.
 */
SR_API int sr_session_add_client(sr_registry *reg, const uuid_t id);

/**
 * Count one viewer fewer for this process and touch the session.
 * -SR_ENOCLIENT if this process holds no viewer on the session.
 */
SR_API int sr_session_remove_client(sr_registry *reg, const uuid_t id);

/**
 * Viewers on the session, summed over the processes that hold them and still
 * run (pid and start time checked, a zombie counts as dead).  A killed
 * holder's viewers leave this count, the walks and the stats as soon as it
 * is dead, before recovery reclaims its slot (sr_registry_procs() shows the
 * slot until then).  Each handle keeps a pidfd per process that holds
 * viewers, so asking again costs a poll(), and only about processes with a
 * nonzero count; a process never asks about itself.  See the pre-fork
 * contract at the top.
 */
SR_API int sr_session_get_clients(sr_registry *reg, const uuid_t id, uint32_t *out);

/** Milliseconds since the last access into *out. */
SR_API int sr_session_idle_ms(sr_registry *reg, const uuid_t id, uint64_t *out);

/**
 * Whether the reaper should stop and clean the session: no clients, idle
 * for longer than grace_ms, and in a state that has something to stop
 * (starting, active or failed).  Returns 1 or 0, or a negative error.
 */
SR_API int sr_session_should_cleanup(sr_registry *reg, const uuid_t id, uint64_t grace_ms);

/**
 * Record an error: error count + 1 and msg as the last error.  A message
 * over SR_ERROR_MAX is refused with -ENAMETOOLONG.
 */
SR_API int sr_session_record_error(sr_registry *reg, const uuid_t id, const char *msg);

/** Errors recorded into *out. */
SR_API int sr_session_error_count(sr_registry *reg, const uuid_t id, uint32_t *out);

/**
 * Copy the last error message into buf (always NUL-terminated; "" if none).
 * -ENAMETOOLONG if len is too small for it.
 */
SR_API int sr_session_last_error(sr_registry *reg, const uuid_t id, char *buf, size_t len);

/**
 * Replace the quality variants with q[0..n).  n <= SR_MAX_QUALITIES; every
 * string must fit its maximum (-ENAMETOOLONG) and levels must be non-empty.
 */
SR_API int sr_session_set_qualities(sr_registry *reg, const uuid_t id, const sr_quality *q,
                                    size_t n);

/** Copy up to cap variants into q; *n gets how many the session has (may exceed cap). */
SR_API int sr_session_get_qualities(sr_registry *reg, const uuid_t id, sr_quality *q, size_t cap,
                                    size_t *n);

/** Set the output directory and segment path; NULL leaves one unchanged. */
SR_API int sr_session_set_paths(sr_registry *reg, const uuid_t id, const char *output_dir,
                                const char *segment_path);

/** Copy the paths into buffers of SR_PATH_MAX + 1 bytes (either may be NULL). */
SR_API int sr_session_get_paths(sr_registry *reg, const uuid_t id, char *output_dir,
                                char *segment_path);

/**
 * Record the transcoder's pid and its start time (field 22 of
 * /proc/PID/stat; see sr_pid_start_time()), or pid 0 for none.
 */
SR_API int sr_session_set_pid(sr_registry *reg, const uuid_t id, pid_t pid, uint64_t pid_start);

/** The recorded transcoder pid and start time (either pointer may be NULL). */
SR_API int sr_session_get_pid(sr_registry *reg, const uuid_t id, pid_t *pid, uint64_t *pid_start);

/**
 * Set the restart count, the run of consecutive failures (the reaper resets
 * it to 0 after a healthy run).  Every rise is also added to the session's
 * restarts_total and the registry's restarts counter, which never go back.
 */
SR_API int sr_session_set_restarts(sr_registry *reg, const uuid_t id, uint32_t restarts);

/**
 * Count one start that timed out (the reaper gave up waiting for the
 * transcoder; a server that answered 503 because the channel stayed in
 * starting may count it too).  Adds 1 to the session's start_timeouts_total
 * and the registry's start_timeouts counter.
 */
SR_API int sr_session_count_start_timeout(sr_registry *reg, const uuid_t id);

/**
 * A consistent copy of the whole session: never a mix of two updates.
 * Lock-free; -SR_EBUSY if a writer kept changing it for too long,
 * -SR_ECORRUPT if its record holds a string length or variant count past
 * its maximum (bytes no writer of this library puts there).
 */
SR_API int sr_session_snapshot(sr_registry *reg, const uuid_t id, sr_session_info *out);

/**
 * Copy the ids of up to cap sessions into ids, in slot order, and the number
 * of sessions present into *n (which may exceed cap).
 */
SR_API int sr_session_list(sr_registry *reg, uuid_t *ids, size_t cap, size_t *n);

/** Callback of sr_session_foreach(); a non-zero return stops the walk. */
typedef int (*sr_session_cb)(const sr_session_info *info, void *ctx);

/**
 * Call cb with a consistent snapshot of every session, in slot order.
 * Returns the callback's non-zero value if it stopped the walk; else
 * -SR_EBUSY if some records were stuck mid-update (a writer died inside a
 * call and no read-write process repaired it yet) and were left out, after
 * every other record was passed to cb; else 0.  A record that fails
 * sr_session_snapshot() with -SR_ECORRUPT is left out (sr_registry_verify()
 * counts it).
 */
SR_API int sr_session_foreach(sr_registry *reg, sr_session_cb cb, void *ctx);

/** The few fields an idle scan needs, read without copying the whole record. */
typedef struct sr_session_brief {
	uuid_t channel_id;   /**< Key. */
	sr_state state;      /**< Current state. */
	uint32_t slot;       /**< Table slot. */
	uint32_t generation; /**< Changes whenever the slot is reused. */
	uint32_t clients; /**< Viewers of processes that still run (see the pre-fork contract). */
	uint64_t idle_ms; /**< Now minus last access. */
} sr_session_brief;

/** Callback of sr_session_scan(); a non-zero return stops the walk. */
typedef int (*sr_brief_cb)(const sr_session_brief *brief, void *ctx);

/**
 * Walk every session with only its hot fields (state, clients, idle time):
 * the reaper's idle scan, one pass over the table plus one over the client
 * leases, far cheaper than sr_session_foreach().  Lock-free.  Returns the
 * callback's non-zero value if it stopped the walk, else 0.
 */
SR_API int sr_session_scan(sr_registry *reg, sr_brief_cb cb, void *ctx);

/* ---- Session references: one lookup per request ---------------------------- */

/**
 * A resolved session: its table slot and that slot's generation.  A plain
 * value: copy it, keep it with a request or connection, share it between
 * threads and with forked children (it is valid in every process attached
 * to the same registry).  Every sr_ref_*() call checks it against the slot
 * in O(1), with no lookup: once the session is deleted, even if its slot now
 * holds another channel, every call returns -SR_ESTALE and never touches
 * the other channel.  Resolve the UUID again after -SR_ESTALE.  A zeroed
 * reference is never valid.  A slot outside the table gives -EINVAL.
 */
typedef struct sr_session_ref {
	uint32_t slot;       /**< Table slot. */
	uint32_t generation; /**< The slot's generation when resolved. */
} sr_session_ref;

/** Look a session up once and fill *ref.  -ENOENT if absent.  Lock-free; read-only handles too. */
SR_API int sr_session_resolve(sr_registry *reg, const uuid_t id, sr_session_ref *ref);

/**
 * Resolve the session, inserting it (state idle, output_dir may be NULL) if
 * it is absent; *ref names it either way.  Returns 1 if this call inserted
 * it, 0 if it was there (or another process inserted it meanwhile), or a
 * negative error (-SR_EFULL, -ENAMETOOLONG for output_dir, ...).  The
 * common case, a present session, is one lock-free lookup.  A read-only
 * handle gets -EROFS even for a present session: it resolves with
 * sr_session_resolve().
 */
SR_API int sr_session_find_or_insert(sr_registry *reg, const uuid_t id, const char *output_dir,
                                     sr_session_ref *ref);

/** sr_session_touch() by reference.  -SR_ESTALE if the session is gone. */
SR_API int sr_ref_touch(sr_registry *reg, sr_session_ref ref);

/** Current state into *out.  Lock-free; read-only handles too. */
SR_API int sr_ref_get_state(sr_registry *reg, sr_session_ref ref, sr_state *out);

/**
 * sr_session_transition() by reference, and on -SR_ESTATE the state the
 * session was found in goes to *found (may be NULL): the value the failed
 * compare-and-swap saw, so no second, racy read is needed.
 */
SR_API int sr_ref_transition(sr_registry *reg, sr_session_ref ref, sr_state from, sr_state to,
                             sr_state *found);

/**
 * sr_session_set_state() by reference.  *prev (may be NULL) gets the state
 * moved from, or on -SR_EBADTRANS the state that forbids the move.
 */
SR_API int sr_ref_set_state(sr_registry *reg, sr_session_ref ref, sr_state to, sr_state *prev);

/**
 * Count one more viewer for this process (as sr_session_add_client()) and
 * return the session's new total over the processes that still run (>= 1;
 * clamped to INT_MAX), or a negative error.  The total is a snapshot: other
 * processes may change theirs at the same time.  It costs what
 * sr_session_get_clients() costs on top of the count itself: one probe per
 * attached process, and a poll() for each other process that holds viewers
 * on this session; sr_session_add_client() skips that.
 */
SR_API int sr_ref_add_client(sr_registry *reg, sr_session_ref ref);

/**
 * Count one viewer fewer for this process and return the session's new
 * total (>= 0), or a negative error (-SR_ENOCLIENT as for
 * sr_session_remove_client()).
 */
SR_API int sr_ref_remove_client(sr_registry *reg, sr_session_ref ref);

/** Viewers on the session, as sr_session_get_clients().  Read-only handles too. */
SR_API int sr_ref_get_clients(sr_registry *reg, sr_session_ref ref, uint32_t *out);

/** sr_session_snapshot() by reference.  Read-only handles too. */
SR_API int sr_ref_snapshot(sr_registry *reg, sr_session_ref ref, sr_session_info *out);

/**
 * Block until the session's state is no longer `seen`, or timeout_ms passes
 * (negative: no limit).  Returns 1 with the new state in *now (may be NULL),
 * 0 on timeout (*now = the state, still `seen`), -SR_ESTALE if the session
 * was deleted.  Sleeps on a futex in the segment: every state change and
 * delete wakes it within microseconds, and no process polls.  A signal
 * does not end the wait early: it resumes with the time that remains.
 * Read-write handles only (-EROFS): the waiter announces itself so that
 * changes wake it only when someone waits.  Typical use: a worker that
 * requested a start waits for the session to leave `starting`.
 */
SR_API int sr_ref_wait_state(sr_registry *reg, sr_session_ref ref, sr_state seen, int timeout_ms,
                             sr_state *now);

/* ---- JSON (for debugging endpoints and the CLI) ---------------------------- */

/**
 * Render one session as a JSON object into a malloc'd string (*out, free()
 * it).  One key per sr_session_info field, named as the field (channel_id
 * as canonical text, state by name, qualities as an array of objects with
 * one key per sr_quality field plus "resolution", "WxH").  Strings may hold
 * any bytes and the document still parses: control characters and DEL come
 * out as \u00XX, each byte that is not part of valid UTF-8 as \ufffd.
 */
SR_API int sr_session_info_json(const sr_session_info *info, char **out);

/** Every session as a JSON array, into a malloc'd string (-SR_EBUSY as for sr_session_foreach). */
SR_API int sr_registry_json(sr_registry *reg, char **out);

/**
 * The registry in Prometheus text exposition format (version 0.0.4), into a
 * malloc'd string: per-state session gauges, transition and restart
 * counters, the start-latency histogram, the owner record (reaper up and its
 * heartbeat age), per-channel clients, idle seconds, counters and
 * timestamps, capacity and attached processes (docs/monitor.md lists them).
 * Works on read-only handles; serves `streamreg stats` and HTTP /metrics.
 */
SR_API int sr_registry_prometheus(sr_registry *reg, char **out);

/* ---- Helpers ---------------------------------------------------------------- */

/**
 * Parse a canonical UUID string strictly (36 characters, hex and dashes).
 * -EINVAL otherwise.
 */
SR_API int sr_uuid_parse(const char *text, uuid_t out);

/** Format a UUID in lower case into out (SR_UUID_STR_LEN + 1 bytes). */
SR_API void sr_uuid_format(const uuid_t id, char *out);

/**
 * Start time of process pid (clock ticks since boot, field 22 of
 * /proc/PID/stat), or 0 if it does not exist.  With the pid it names a
 * process unambiguously, whatever pid reuse happens.
 */
SR_API uint64_t sr_pid_start_time(pid_t pid);

/** CLOCK_MONOTONIC_COARSE in nanoseconds: the clock of every *_mono_ns. */
SR_API uint64_t sr_now_mono_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* STREAMREG_H */
