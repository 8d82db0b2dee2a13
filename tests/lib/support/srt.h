/*
 * Shared helpers of the library tests: unique registry names, a fixture that
 * always unlinks its registry, child-process plumbing for fork() tests, and a
 * JSON checker that runs python3.
 */
#ifndef SRT_H
#define SRT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include <streamreg.h>

#define SRT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/** A registry created for one test; the teardown closes and unlinks it. */
struct srt_fx {
	char name[SR_NAME_MAX + 1];
	sr_registry *reg;
};

/** Write "srtest_<pid>_<counter>" into name (SR_NAME_MAX + 1 bytes). */
void srt_unique_name(char *name);

/** /dev/shm path of a registry name, into path (PATH_MAX bytes). */
void srt_shm_path(const char *name, char *path, size_t len);

/*
 * Remember a registry name so srt_cleanup_names() unlinks it even when a test
 * failed before its teardown could (cmocka still runs the teardown after a
 * failed assertion, but not after a failed setup).
 */
void srt_track_name(const char *name);
void srt_cleanup_names(void);

/** cmocka setup: a registry with default options in *state (struct srt_fx). */
int srt_setup_default(void **state);
/** cmocka setup: a registry of capacity 4. */
int srt_setup_small(void **state);
/** cmocka teardown for both: close, unlink, reap stray children. */
int srt_teardown(void **state);

/** Create a registry with explicit options, tracked for cleanup. */
int srt_create(struct srt_fx *fx, uint32_t capacity, uint32_t max_procs, uint32_t leases);

/** Insert id and move it through starting to active (asserts each step). */
void srt_insert_active(sr_registry *reg, const uuid_t id);

/** A fresh random uuid. */
void srt_uuid(uuid_t out);
/** A deterministic uuid whose bytes encode (tag, n), for readable failures. */
void srt_uuid_n(uuid_t out, uint32_t tag, uint32_t n);

/** Milliseconds of CLOCK_MONOTONIC. */
double srt_now_ms(void);

/** Sleep for ms milliseconds, resuming after signals. */
void srt_sleep_ms(unsigned ms);

/* ---- Child processes ------------------------------------------------------ */

/**
 * fork() a child that runs fn(arg) and _exit()s with its return value.  The
 * child gets default signal handlers (cmocka's would resume the test runner
 * inside the child) and dies with the parent.  The pid is tracked so
 * srt_kill_children() reaps it if the test fails early.
 */
pid_t srt_spawn(int (*fn)(void *arg), void *arg);

/** waitpid() for pid; returns its exit code, or 128 + signal if killed. */
int srt_wait(pid_t pid);

/**
 * Reap whichever of pids[0..n) have exited, without blocking: each reaped
 * one gets its srt_wait()-style code in codes[i] and pids[i] = 0.  True
 * once all have exited.
 */
bool srt_all_exited(pid_t *pids, int *codes, int n);

/** SIGKILL and reap every child still tracked. */
void srt_kill_children(void);

/** Stop tracking pid (after the test reaped it itself). */
void srt_untrack_child(pid_t pid);

/**
 * A start gate for children: they block in srt_gate_wait() until the parent
 * calls srt_gate_open(), so their work overlaps as much as possible.
 */
struct srt_gate {
	int fd[2];
};
void srt_gate_init(struct srt_gate *g);
/** In the child: close the write end and wait for the parent. */
void srt_gate_wait(struct srt_gate *g);
/** In the parent, after every fork: release all waiting children. */
void srt_gate_open(struct srt_gate *g);

/** A shared anonymous mapping of len bytes, zeroed, inherited by children. */
void *srt_shared_alloc(size_t len);
void srt_shared_free(void *p, size_t len);

/** read()/write() exactly len bytes; 0 on success, -1 on error or EOF. */
int srt_read_full(int fd, void *buf, size_t len);
int srt_write_full(int fd, const void *buf, size_t len);

/* ---- JSON --------------------------------------------------------------- */

/**
 * Parse json with python3 and print json.dumps(expr) where expr is a python
 * expression over the parsed document `d` (no single quotes).  The printed
 * text goes into out.  Returns 0 when python parsed and evaluated it, else
 * non-zero.
 */
int srt_json_query(const char *json, const char *expr, char *out, size_t len);

/** Whether json parses (python3 json.loads). */
int srt_json_valid(const char *json);

/*
 * Many documents checked by one python3 process: starting python costs far
 * more than parsing, and the fuzz tests render hundreds of documents.
 */
struct srt_json_batch {
	char *buf;
	size_t len, cap;
	int count;
};
void srt_json_batch_add(struct srt_json_batch *b, const char *json);
/** 1 if every document added parses (or none was added), else 0; frees the batch. */
int srt_json_batch_valid(struct srt_json_batch *b);

/** Run a shell command with text on its stdin; returns its exit status. */
int srt_pipe_to(const char *cmd, const char *text);

#endif
