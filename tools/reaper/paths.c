#include "paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ffmpeg_argv.h"
#include "st_chandir.h"

/* Deeper than anything ffmpeg writes (DIR/<uuid>/<level>/seg.ts); a deeper
 * tree is not ours and is left alone. */
#define MAX_DEPTH 6

int rp_outdir_open(const char *path, bool create, char *err, size_t errlen)
{
	if (!path || !*path) {
		snprintf(err, errlen, "no output directory");
		return -EINVAL;
	}
	if (create && mkdir(path, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(e));
		return -e;
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	return fd;
}

static int remove_at(int parent, const char *name, int depth)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (depth >= MAX_DEPTH)
		return -ELOOP;
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		/* replaced by a symlink or a file since the fstatat: remove
		 * that entry itself, never what it points to */
		if (errno == ELOOP || errno == ENOTDIR)
			return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -errno : 0;
		return errno == ENOENT ? 0 : -errno;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return -e;
	}
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int r = remove_at(dirfd(d), de->d_name, depth + 1);
		if (r && !rc)
			rc = r;
	}
	closedir(d);
	if (rc)
		return rc;
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int rp_tree_remove(int parentfd, const char *name)
{
	/* below a channel directory: one level less of depth to spare */
	return remove_at(parentfd, name, 1);
}

int rp_chan_dir_remove(int outfd, const char *name)
{
	if (!st_chan_name_valid(name))
		return -EINVAL;
	return remove_at(outfd, name, 0);
}

int rp_chan_dir_open(int outfd, const char *name)
{
	if (!st_chan_name_valid(name))
		return -EINVAL;
	int fd = openat(outfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int rp_chan_dir_create(int outfd, const char *name, const struct rp_ladder *lad)
{
	if (!st_chan_name_valid(name))
		return -EINVAL;
	int rc = rp_chan_dir_remove(outfd, name);
	if (rc)
		return rc;
	if (mkdirat(outfd, name, 0755) < 0)
		return -errno;
	int fd = rp_chan_dir_open(outfd, name);
	if (fd < 0)
		return fd;
	for (size_t i = 0; lad && i < lad->n; i++) {
		/* levels come from the ladder parser: digits and 'p' only */
		if (mkdirat(fd, lad->q[i].level, 0755) < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
	}
	return fd;
}

static int file_has(int parent, const char *name, const char *needle)
{
	int fd = openat(parent, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return needle ? strstr(buf, needle) != NULL : n > 0;
}

int rp_chan_output_age(int chfd, const struct rp_ladder *lad, uint64_t *age_ms)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t oldest = 0;
	for (size_t i = 0; i < lad->n; i++) {
		char rel[sizeof lad->q[i].level + 16];
		snprintf(rel, sizeof rel, "%s/index.m3u8", lad->q[i].level);
		struct stat st;
		if (fstatat(chfd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return -errno;
		int64_t d = (int64_t)(now.tv_sec - st.st_mtim.tv_sec) * 1000 +
		            (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
		if (d > 0 && (uint64_t)d > oldest)
			oldest = (uint64_t)d;
	}
	*age_ms = oldest;
	return 0;
}

int rp_chan_ready(int chfd, const struct rp_ladder *lad)
{
	int r = file_has(chfd, RP_MASTER_PLAYLIST, "#EXTM3U");
	if (r <= 0)
		return r;
	for (size_t i = 0; i < lad->n; i++) {
		int vfd =
		    openat(chfd, lad->q[i].level, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (vfd < 0)
			return errno == ENOENT ? 0 : -errno;
		/* ffmpeg rewrites the playlist once a segment is complete */
		r = file_has(vfd, "index.m3u8", "#EXTINF");
		close(vfd);
		if (r <= 0)
			return r;
	}
	return 1;
}

int rp_outdir_sweep(int outfd, bool (*keep)(const char *name, void *ctx),
                    void (*on_removed)(const char *name, bool symlink, int rc, void *ctx),
                    void *ctx)
{
	int fd = openat(outfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return -e;
	}
	int removed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!st_chan_name_valid(de->d_name))
			continue;
		if (keep && keep(de->d_name, ctx))
			continue;
		bool link = de->d_type == DT_LNK;
		struct stat st;
		if (de->d_type == DT_UNKNOWN &&
		    fstatat(outfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			link = S_ISLNK(st.st_mode);
		int r = rp_chan_dir_remove(outfd, de->d_name);
		if (on_removed)
			on_removed(de->d_name, link, r, ctx);
		if (r == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
