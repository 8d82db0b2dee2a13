/* Error formatting, scratch directories on tmpfs for file-based stores, and
 * the record changes the key-value comparators share. */
#include "bench_backend_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "streamreg.h"

int bench_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

#define SCRATCH_MAX 64

static char scratch[SCRATCH_MAX][SR_DIR_MAX + SR_NAME_MAX + 2];

void bench_scratch_add(const char *path)
{
	for (int i = 0; i < SCRATCH_MAX; i++)
		if (!scratch[i][0]) {
			snprintf(scratch[i], sizeof scratch[i], "%s", path);
			return;
		}
}

void bench_scratch_forget(const char *path)
{
	for (int i = 0; i < SCRATCH_MAX; i++)
		if (!strcmp(scratch[i], path))
			scratch[i][0] = 0;
}

/* Async-signal-safe: the files the stores create are known by name. */
void bench_scratch_remove_all(void)
{
	static const char *const files[] = {"data.mdb", "lock.mdb", "sessions.tdb", "dump.rdb"};
	char path[200];
	for (int i = 0; i < SCRATCH_MAX; i++) {
		if (!scratch[i][0])
			continue;
		if (unlink(scratch[i]) != 0) {
			for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
				size_t n = strlen(scratch[i]), m = strlen(files[f]);
				if (n + 1 + m + 1 > sizeof path)
					continue;
				memcpy(path, scratch[i], n);
				path[n] = '/';
				memcpy(path + n + 1, files[f], m + 1);
				unlink(path);
			}
			rmdir(scratch[i]);
		}
		scratch[i][0] = 0;
	}
}

void bench_sr_unlink(const char *name)
{
	char path[SR_DIR_MAX + SR_NAME_MAX + 2];
	sr_registry_unlink(name);
	if (sr_registry_path(name, path, sizeof path) == 0)
		bench_scratch_forget(path);
}

int bench_tmpfs_dir(char *buf, size_t len, const char *what, char *err, size_t errlen)
{
	if (snprintf(buf, len, "/dev/shm/srbench-%s-XXXXXX", what) >= (int)len)
		return bench_fail(err, errlen, "path too long");
	if (!mkdtemp(buf))
		return bench_fail(err, errlen, "mkdtemp %s: %s", buf, strerror(errno));
	bench_scratch_add(buf);
	return 0;
}

void bench_rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		char path[512];
		while ((e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
	bench_scratch_forget(dir);
}

uint64_t bench_coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool bench_apply_change(struct record *rec, enum change c, uint32_t *from)
{
	switch (c) {
	case CH_TOUCH:
		rec->last_access_ns = bench_coarse_ns();
		break;
	case CH_CLIENT_UP:
		rec->clients++;
		rec->last_access_ns = bench_coarse_ns();
		break;
	case CH_CLIENT_DOWN:
		rec->clients--;
		rec->last_access_ns = bench_coarse_ns();
		break;
	case CH_CAS:
		if (rec->state != *from) {
			*from = rec->state;
			return false;
		}
		rec->state = *from == 3 ? 0 : *from + 1;
		break;
	}
	return true;
}
