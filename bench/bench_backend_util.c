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

/* A registry or another file, or a directory of files (a store's scratch). */
static void remove_path(const char *path)
{
	if (unlink(path) == 0 || errno == ENOENT)
		return;
	DIR *d = opendir(path);
	if (d) {
		const struct dirent *e;
		char sub[512];
		while ((e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub)
				unlink(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

void bench_scratch_remove_all(void)
{
	for (int i = 0; i < SCRATCH_MAX; i++)
		if (scratch[i][0]) {
			remove_path(scratch[i]);
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
	/* The pid names the run the directory belongs to, as in a registry's name. */
	if (snprintf(buf, len, "/dev/shm/srbench-%s-%d-XXXXXX", what, (int)getpid()) >= (int)len)
		return bench_fail(err, errlen, "path too long");
	if (!mkdtemp(buf))
		return bench_fail(err, errlen, "mkdtemp %s: %s", buf, strerror(errno));
	bench_scratch_add(buf);
	return 0;
}

void bench_rm_dir(const char *dir)
{
	remove_path(dir);
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
