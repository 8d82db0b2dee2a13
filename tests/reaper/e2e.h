/* Fixture for end-to-end tests: a real streamreg-reaper process, a fresh
 * registry, a temporary output directory, a lineup file and a log. */
#ifndef RP_E2E_H
#define RP_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "streamreg.h"

/* A cheap live test channel: 160x90 at 10 fps with a tone. */
#define E2E_LAVFI "lavfi:testsrc=size=160x90:rate=10[out0];sine=frequency=440[out1]"

struct e2e {
	char name[64]; /* registry */
	char root[64]; /* temporary directory */
	char out[128]; /* --output-dir */
	char lineup[128];
	char log[128]; /* the reaper's stderr */
	pid_t reaper;
	sr_registry *reg;
	int nice; /* the reaper's nice value (as a unit's Nice= sets it); 0: inherited */
};

void e2e_init(struct e2e *f, const char *tag);
/** Write the lineup: n channels (ids[i], inputs[i]). */
void e2e_lineup(struct e2e *f, const char *const *ids, const char *const *inputs, size_t n);
/** Start the reaper with the tiny encoding settings plus extra (NULL-terminated). */
void e2e_start(struct e2e *f, const char *const *extra);
/** Start the reaper with exactly this argv (NULL-terminated), stderr to f->log. */
void e2e_start_argv(struct e2e *f, const char *const *argv);
/** Start it and wait until it watches the registry; attaches f->reg. */
void e2e_start_ready(struct e2e *f, const char *const *extra);
/** Send sig and wait for the exit; returns the wait status. */
int e2e_stop(struct e2e *f, int sig);
/** Wait up to ms for the reaper to exit by itself; wait status or -1. */
int e2e_wait_exit(struct e2e *f, int ms);
/** Stop the reaper (it must exit 0 and its log hold no sanitizer report),
 * remove everything; 0, or -1 if the reaper misbehaved. */
int e2e_cleanup(struct e2e *f);

/** cmocka setup/teardown: a zeroed fixture in *state; e2e_cleanup() then free. */
int e2e_fixture_setup(void **state);
int e2e_fixture_teardown(void **state);

/** Wait up to ms for the channel to reach want; 0 or -1. */
int e2e_wait_state(struct e2e *f, const char *id, sr_state want, int ms);
/** Wait up to ms for a log line containing both a and b (b may be NULL). */
int e2e_wait_log(struct e2e *f, const char *a, const char *b, int ms);
/** Lines of the log containing both a and b (b may be NULL). */
int e2e_count_log(struct e2e *f, const char *a, const char *b);
/** Copy the last log line containing both a and b into buf; 0 or -1. */
int e2e_last_log(struct e2e *f, const char *a, const char *b, char *buf, size_t len);

void e2e_snapshot(struct e2e *f, const char *id, sr_session_info *out);
int e2e_transition(struct e2e *f, const char *id, sr_state from, sr_state to);
/** Whether DIR/<id> exists. */
bool e2e_dir_exists(struct e2e *f, const char *id);
/** Whether the process pid with this start time still runs (not a zombie). */
bool e2e_alive(pid_t pid, uint64_t start);
/** Live children (zombies included) of pid. */
int e2e_children(pid_t pid);
uint64_t e2e_now_us(void);
void e2e_sleep_ms(int ms);

#endif
