#include "hls_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <streamreg.h>

#include "st_chandir.h"
#include "st_file.h"
#include "st_hlsjoin.h"
#include "strbuf.h"

static int open_beneath(int dirfd, const char *rel)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
	    .resolve =
	        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
	if (fd >= 0)
		return (int)fd;
	if (errno != ENOSYS)
		return -errno;
	/* Kernels before 5.6: the names were checked by route_parse() (no "..",
	 * no "/" inside a component), so refusing a symlink at the last step
	 * is what is left to do. */
	fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	return fd >= 0 ? (int)fd : -errno;
}

int hls_open(const char *output_dir, const uuid_t channel, const char *rel, off_t *size)
{
	char dir[PATH_MAX];
	if (st_chan_dir(dir, sizeof dir, output_dir, channel) < 0)
		return -ENAMETOOLONG;
	return hls_open_beneath(dir, rel, size);
}

int hls_open_beneath(const char *dir, const char *rel, off_t *size)
{
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return errno == ENOTDIR || errno == ELOOP ? -ENOENT : -errno;
	int fd = open_beneath(dfd, rel);
	close(dfd);
	if (fd < 0)
		return fd == -ELOOP || fd == -EXDEV ? -ENOENT : fd;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	*size = st.st_size;
	return fd;
}

int hls_open_in(int base_fd, const uuid_t channel, const char *rel, struct stat *st)
{
	char path[SR_UUID_STR_LEN + 2 + PATH_MAX];
	sr_uuid_format(channel, path);
	path[SR_UUID_STR_LEN] = '/';
	size_t n = strlen(rel);
	if (n >= sizeof path - SR_UUID_STR_LEN - 1)
		return -ENAMETOOLONG;
	memcpy(path + SR_UUID_STR_LEN + 1, rel, n + 1);
	int fd = open_beneath(base_fd, path);
	if (fd < 0)
		return fd == -ELOOP || fd == -EXDEV || fd == -ENOTDIR ? -ENOENT : fd;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

char *hls_read_all(int fd, size_t *len)
{
	char *buf = st_read_fd(fd, HLS_PLAYLIST_MAX, len);
	int e = errno;
	close(fd);
	errno = e;
	return buf;
}

int hls_open_root(const struct hls_root *root, const uuid_t channel, const char *rel, off_t *size)
{
	if (root->fd < 0)
		return hls_open(root->dir, channel, rel, size);
	struct stat st;
	int fd = hls_open_in(root->fd, channel, rel, &st);
	if (fd >= 0)
		*size = st.st_size;
	return fd;
}

char *hls_read_file(const struct hls_root *root, const uuid_t channel, const char *rel, size_t *len)
{
	off_t size;
	int fd = hls_open_root(root, channel, rel, &size);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	return hls_read_all(fd, len);
}

int hls_current(const struct hls_root *root, const uuid_t channel, struct st_run *run)
{
	size_t len;
	char *text = hls_read_file(root, channel, ST_RUN_POINTER, &len);
	if (!text)
		return errno ? -errno : -EIO;
	int rc = len <= ST_RUN_POINTER_MAX ? st_run_parse(text, len, run) : -EFBIG;
	free(text);
	return rc;
}

int hls_master_rel(const struct hls_root *root, const uuid_t channel, char *rel, size_t len)
{
	struct st_run run = {0};
	int rc = hls_current(root, channel, &run);
	if (rc < 0)
		return rc;
	char name[ST_RUN_NAME_MAX + 1];
	st_run_name(run.id, name);
	return snprintf(rel, len, "%s/master.m3u8", name) < (int)len ? 0 : -ENAMETOOLONG;
}

int hls_segment_rel(const char *variant, const char *file, char *rel, size_t len)
{
	uint64_t run = st_run_of_segment(file);
	if (!run)
		return -ENOENT;
	char name[ST_RUN_NAME_MAX + 1];
	st_run_name(run, name);
	return snprintf(rel, len, "%s/%s/%s", name, variant, file) < (int)len ? 0 : -ENAMETOOLONG;
}

char *hls_media_playlist(const struct hls_root *root, const uuid_t channel, const char *variant,
                         const char *file, size_t *len, int *fd_out)
{
	struct st_run run = {0};
	int rc = hls_current(root, channel, &run);
	if (rc < 0) {
		errno = rc == -ENOENT ? EAGAIN : -rc;
		return NULL;
	}
	char name[ST_RUN_NAME_MAX + 1], rel[PATH_MAX];
	st_run_name(run.id, name);
	snprintf(rel, sizeof rel, "%s/%s/%s", name, variant, file);
	if (fd_out && run.disc == 0) {
		/* the first run of a chain has nothing to join */
		off_t size = 0;
		int fd = hls_open_root(root, channel, rel, &size);
		if (fd < 0) {
			errno = -fd;
			return NULL;
		}
		*fd_out = fd;
		*len = (size_t)size;
		return NULL;
	}
	size_t cur_len, prev_len = 0;
	char *cur = hls_read_file(root, channel, rel, &cur_len);
	if (!cur)
		return NULL;
	char *prev = NULL;
	if (run.prev) {
		st_run_name(run.prev, name);
		snprintf(rel, sizeof rel, "%s/%s/%s", name, variant, file);
		prev = hls_read_file(root, channel, rel, &prev_len);
	}
	char *out = st_hls_join(&run, cur, cur_len, prev, prev_len, len);
	int e = errno;
	free(cur);
	free(prev);
	errno = e;
	return out;
}

static bool is_relative(const char *uri, size_t len)
{
	if (len == 0 || uri[0] == '/')
		return false;
	for (size_t i = 0; i < len && uri[i] != '/'; i++)
		if (uri[i] == ':')
			return false; /* has a scheme */
	return true;
}

/* A tag line: prefix the value of every URI="..." attribute. */
static void rewrite_tag(struct strbuf *b, const char *line, size_t len, const char *prefix)
{
	size_t i = 0;
	while (i < len) {
		const char *hit = NULL;
		for (size_t j = i; j + 5 <= len; j++) {
			if (memcmp(line + j, "URI=\"", 5) == 0 &&
			    (j == 0 || line[j - 1] == ',' || line[j - 1] == ':')) {
				hit = line + j;
				break;
			}
		}
		if (!hit) {
			strbuf_put(b, line + i, len - i);
			return;
		}
		size_t upto = (size_t)(hit - line) + 5;
		strbuf_put(b, line + i, upto - i);
		const char *end = memchr(line + upto, '"', len - upto);
		size_t ulen = end ? (size_t)(end - (line + upto)) : len - upto;
		if (is_relative(line + upto, ulen))
			strbuf_put(b, prefix, strlen(prefix));
		strbuf_put(b, line + upto, ulen);
		i = upto + ulen;
	}
}

char *hls_rewrite_master(const char *text, size_t len, const char *prefix, size_t *out_len)
{
	struct strbuf b = {0};
	size_t i = 0;
	strbuf_put(&b, "", 0);
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t l = end - i;
		const char *line = text + i;
		size_t trimmed = l;
		if (trimmed && line[trimmed - 1] == '\r')
			trimmed--;
		if (trimmed && line[0] == '#')
			rewrite_tag(&b, line, l, prefix);
		else if (trimmed && is_relative(line, trimmed)) {
			strbuf_put(&b, prefix, strlen(prefix));
			strbuf_put(&b, line, l);
		} else
			strbuf_put(&b, line, l);
		if (nl)
			strbuf_put(&b, "\n", 1);
		i = end + 1;
	}
	return strbuf_take(&b, out_len);
}
