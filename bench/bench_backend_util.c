/* Error formatting and scratch directories on tmpfs for file-based stores. */
#include "bench_backend_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bench_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int bench_tmpfs_dir(char *buf, size_t len, const char *what, char *err, size_t errlen)
{
	if (snprintf(buf, len, "/dev/shm/srbench-%s-XXXXXX", what) >= (int)len)
		return bench_fail(err, errlen, "path too long");
	if (!mkdtemp(buf))
		return bench_fail(err, errlen, "mkdtemp %s: %s", buf, strerror(errno));
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
}
