#include "runs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "paths.h"
#include "st_file.h"
#include "st_hlsjoin.h"

#define POINTER_TMP ST_RUN_POINTER ".tmp"

/* Read a small regular file below dirfd without following a symlink. */
static char *read_small(int dirfd, const char *rel, size_t max, size_t *len)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		buf = st_read_fd(fd, max, len);
	else
		errno = EINVAL;
	int e = errno;
	close(fd);
	errno = e;
	return buf;
}

static int chan_open(int outfd, const char *chan)
{
	int fd = rp_chan_dir_open(outfd, chan);
	if (fd >= 0 || fd != -ENOENT)
		return fd;
	if (mkdirat(outfd, chan, 0755) < 0 && errno != EEXIST)
		return -errno;
	return rp_chan_dir_open(outfd, chan);
}

int rp_run_current(int outfd, const char *chan, struct st_run *run)
{
	int chfd = rp_chan_dir_open(outfd, chan);
	if (chfd < 0)
		return chfd == -ELOOP || chfd == -ENOTDIR ? -ENOENT : chfd;
	size_t len;
	char *text = read_small(chfd, ST_RUN_POINTER, ST_RUN_POINTER_MAX, &len);
	int e = errno;
	close(chfd);
	if (!text)
		return e == ENOENT ? -ENOENT : -EINVAL;
	int rc = st_run_parse(text, len, run);
	free(text);
	return rc;
}

/* Highest sequence number listed by any variant playlist of a run. */
static int last_sequence(int chfd, uint64_t id, const struct rp_ladder *lad, uint64_t *last)
{
	char name[ST_RUN_NAME_MAX + 1];
	st_run_name(id, name);
	bool found = false;
	for (size_t i = 0; i < lad->n; i++) {
		char rel[ST_RUN_NAME_MAX + sizeof lad->q[i].level + 16];
		snprintf(rel, sizeof rel, "%s/%s/index.m3u8", name, lad->q[i].level);
		size_t len, count;
		uint64_t first;
		char *text = read_small(chfd, rel, (size_t)256 * 1024, &len);
		if (!text)
			continue;
		if (st_hls_media_info(text, len, &first, &count) == 0 && count &&
		    (!found || first + count - 1 > *last)) {
			*last = first + count - 1;
			found = true;
		}
		free(text);
	}
	return found ? 0 : -ENOENT;
}

/* The highest run id present in the channel directory, 0 if none. */
static uint64_t highest_run(int chfd)
{
	int fd = openat(chfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	uint64_t hi = 0, id;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (st_run_name_parse(de->d_name, strlen(de->d_name), &id) && id > hi)
			hi = id;
	closedir(d);
	return hi;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int rp_run_create(int outfd, const char *chan, const struct rp_ladder *lad, unsigned target,
                  unsigned window, struct st_run *run)
{
	int chfd = chan_open(outfd, chan);
	if (chfd == -ELOOP || chfd == -ENOTDIR) {
		/* a symlink or a file where the channel directory belongs */
		int rc = rp_chan_dir_remove(outfd, chan);
		if (rc)
			return rc;
		chfd = chan_open(outfd, chan);
	}
	if (chfd < 0)
		return chfd;
	struct st_run cur, r = {.target = target, .window = window};
	uint64_t last = 0;
	bool have_cur = rp_run_current(outfd, chan, &cur) == 0;
	if (have_cur && last_sequence(chfd, cur.id, lad, &last) == 0) {
		r.prev = cur.id;
		r.prev_start = cur.start;
		r.start = last + 1;
		r.disc = cur.disc + 1;
	}
	/* ids only grow, even when the clock steps back: a segment name is
	 * never reused while the channel directory lives */
	uint64_t id = wall_ms(), hi = highest_run(chfd);
	if (id <= hi)
		id = hi + 1;
	if (have_cur && id <= cur.id)
		id = cur.id + 1;
	r.id = id;
	char name[ST_RUN_NAME_MAX + 1];
	st_run_name(id, name);
	if (mkdirat(chfd, name, 0755) < 0) {
		int e = errno;
		close(chfd);
		return -e;
	}
	int fd = openat(chfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int e = errno;
	close(chfd);
	if (fd < 0)
		return -e;
	for (size_t i = 0; i < lad->n; i++) {
		/* levels come from the ladder parser: digits and 'p' only */
		if (mkdirat(fd, lad->q[i].level, 0755) < 0) {
			e = errno;
			close(fd);
			return -e;
		}
	}
	*run = r;
	return fd;
}

int rp_run_publish(int outfd, const char *chan, const struct st_run *run)
{
	char text[ST_RUN_POINTER_MAX];
	int n = st_run_format(run, text, sizeof text);
	if (n < 0)
		return n;
	int chfd = rp_chan_dir_open(outfd, chan);
	if (chfd < 0)
		return chfd;
	(void)unlinkat(chfd, POINTER_TMP, 0);
	int fd =
	    openat(chfd, POINTER_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	int rc = 0;
	if (fd < 0) {
		rc = -errno;
	} else {
		ssize_t w = write(fd, text, (size_t)n);
		if (w != n)
			rc = w < 0 ? -errno : -ENOSPC;
		if (close(fd) < 0 && !rc)
			rc = -errno;
		/* rename is atomic: a reader sees the old pointer or the new one */
		if (!rc && renameat(chfd, POINTER_TMP, chfd, ST_RUN_POINTER) < 0)
			rc = -errno;
		if (rc)
			(void)unlinkat(chfd, POINTER_TMP, 0);
	}
	close(chfd);
	return rc;
}

int rp_run_remove(int outfd, const char *chan, uint64_t id)
{
	int chfd = rp_chan_dir_open(outfd, chan);
	if (chfd < 0)
		return chfd == -ENOENT ? 0 : chfd;
	char name[ST_RUN_NAME_MAX + 1];
	st_run_name(id, name);
	int rc = rp_tree_remove(chfd, name);
	close(chfd);
	return rc;
}

int rp_runs_sweep(int outfd, const char *chan, uint64_t keep_a, uint64_t keep_b)
{
	int chfd = rp_chan_dir_open(outfd, chan);
	if (chfd < 0)
		return chfd == -ENOENT ? 0 : chfd;
	int fd = openat(chfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		close(chfd);
		return -e;
	}
	int removed = 0;
	uint64_t id;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, POINTER_TMP) == 0) {
			(void)unlinkat(chfd, POINTER_TMP, 0);
			continue;
		}
		if (!st_run_name_parse(de->d_name, strlen(de->d_name), &id) || id == keep_a ||
		    id == keep_b)
			continue;
		if (rp_tree_remove(chfd, de->d_name) == 0)
			removed++;
	}
	closedir(d);
	close(chfd);
	return removed;
}
