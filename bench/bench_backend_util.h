/* Small helpers shared by the backends. */
#ifndef SR_BENCH_BACKEND_UTIL_H
#define SR_BENCH_BACKEND_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value the key-value comparators (LMDB, TDB) store per session: the
 * hot fields plus the rest of a record, 256 bytes in all. */
struct record {
	uint32_t state;
	uint32_t clients;
	uint64_t last_access_ns;
	char info[240];
};

/* The read-modify-write operations the comparators perform on a record. */
enum change { CH_TOUCH, CH_CLIENT_UP, CH_CLIENT_DOWN, CH_CAS };

/* CLOCK_MONOTONIC_COARSE in ns, the clock streamreg touches with. */
uint64_t bench_coarse_ns(void);

/*
 * Apply c to rec.  For CH_CAS, *from is the expected state: on a mismatch
 * it gets the current one and false is returned (lost race), else the
 * state advances one step around the four-state cycle.
 */
bool bench_apply_change(struct record *rec, enum change c, uint32_t *from);

/* Format an error into err and return -1. */
int bench_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A registry name no other run or process uses. */
int bench_sr_unique_name(char *buf, size_t len);

/* mkdtemp under /dev/shm (tmpfs) into buf, listed as scratch; 0 or -1 with err set. */
int bench_tmpfs_dir(char *buf, size_t len, const char *what, char *err, size_t errlen);

/* Remove the files directly inside dir, then dir, and forget it as scratch. */
void bench_rm_dir(const char *dir);

/*
 * Scratch objects (registries, LMDB/TDB/Redis directories) are listed while
 * they exist, so that an interrupted run removes them: see
 * bench_interrupt_point().
 */
void bench_scratch_add(const char *path);
void bench_scratch_forget(const char *path);
void bench_scratch_remove_all(void);

/* sr_registry_unlink(name) and forget its scratch entry. */
void bench_sr_unlink(const char *name);

#endif
