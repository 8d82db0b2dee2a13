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

char *hls_read_file(const char *output_dir, const uuid_t channel, const char *rel, size_t *len)
{
	off_t size;
	int fd = hls_open(output_dir, channel, rel, &size);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	return hls_read_all(fd, len);
}

int hls_current(const char *output_dir, const uuid_t channel, struct st_run *run)
{
	size_t len;
	char *text = hls_read_file(output_dir, channel, ST_RUN_POINTER, &len);
	if (!text)
		return -errno;
	int rc = len <= ST_RUN_POINTER_MAX ? st_run_parse(text, len, run) : -EFBIG;
	free(text);
	return rc;
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
