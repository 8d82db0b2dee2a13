/*
 * Variant playlists, joined once per change and kept per worker.
 *
 * A variant playlist is built, not sent from disk: the current run's joined
 * to the previous one's (docs/server.md, "Restarts"), which reads "current",
 * the run's playlist and perhaps the previous run's.  ffmpeg rewrites the
 * playlist once a segment, while every player reloads it about once a
 * target duration, so under load the same text would be built again and
 * again.  An entry stays valid while "current" and the run's playlist keep
 * their inode, size and mtime: two fstatat() per request instead of three
 * opens and reads (what plain nginx does for a static file is one open and
 * one fstat).  The previous run's playlist is final once "current" moved
 * past it; the join only borrows from it while the current one is short,
 * which changes with every segment anyway.
 */
/* nginx headers first: they set _GNU_SOURCE and friends. */
#include "ngx_http_streamreg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hls_files.h"
#include "route.h"
#include "st_run.h"

#define SLOTS 256

struct file_key {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
};

struct entry {
	uuid_t channel;
	int dir_fd;
	char variant[ROUTE_NAME_MAX + 1];
	char file[ROUTE_NAME_MAX + 1];
	char run[ST_RUN_NAME_MAX + 1];
	struct file_key current, playlist;
	char *body;
	size_t len;
};

static struct entry cache[SLOTS];
/* A playlist built but not kept lives until the next call. */
static char *scratch;

static int key_of(int dir_fd, const char *rel, struct file_key *k)
{
	struct stat st;
	/* The names were checked by route_parse() and the run name is digits:
	 * nothing here can leave the directory.  A symlink planted on the way
	 * changes the inode seen, so the entry is rebuilt through the confined
	 * open, which refuses it. */
	if (fstatat(dir_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	*k = (struct file_key){st.st_dev, st.st_ino, st.st_size, st.st_mtim};
	return 0;
}

static bool key_eq(const struct file_key *a, const struct file_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec;
}

static unsigned slot_of(const uuid_t ch, const char *variant, const char *file)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < sizeof(uuid_t); i++)
		h = (h ^ ch[i]) * 16777619u;
	for (const char *p = variant; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (const char *p = file; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % SLOTS;
}

static bool same_request(const struct entry *e, int dir_fd, const uuid_t ch, const char *variant,
                         const char *file)
{
	return e->body && e->dir_fd == dir_fd && memcmp(e->channel, ch, sizeof(uuid_t)) == 0 &&
	       strcmp(e->variant, variant) == 0 && strcmp(e->file, file) == 0;
}

const char *sr_ngx_playlist(int dir_fd, const uuid_t ch, const char *variant, const char *file,
                            size_t *len)
{
	char id[SR_UUID_STR_LEN + 1];
	sr_uuid_format(ch, id);
	char cur_rel[SR_UUID_STR_LEN + sizeof ST_RUN_POINTER + 1];
	snprintf(cur_rel, sizeof cur_rel, "%s/" ST_RUN_POINTER, id);
	char pl_rel[SR_UUID_STR_LEN + ST_RUN_NAME_MAX + 2 * ROUTE_NAME_MAX + 4];
	struct entry *e = &cache[slot_of(ch, variant, file)];
	struct file_key cur = {0}, pl = {0};
	bool have_cur = key_of(dir_fd, cur_rel, &cur) == 0;
	if (have_cur && same_request(e, dir_fd, ch, variant, file) && key_eq(&cur, &e->current)) {
		snprintf(pl_rel, sizeof pl_rel, "%s/%s/%s/%s", id, e->run, variant, file);
		if (key_of(dir_fd, pl_rel, &pl) == 0 && key_eq(&pl, &e->playlist)) {
			*len = e->len;
			return e->body;
		}
	}

	/* Build it, and keep it only if neither file changed while we read. */
	struct hls_root root = {.dir = NULL, .fd = dir_fd};
	struct st_run run;
	bool keyed = false;
	char run_name[ST_RUN_NAME_MAX + 1] = "";
	if (have_cur && hls_current(&root, ch, &run) == 0) {
		st_run_name(run.id, run_name);
		snprintf(pl_rel, sizeof pl_rel, "%s/%s/%s/%s", id, run_name, variant, file);
		keyed = key_of(dir_fd, pl_rel, &pl) == 0;
	}
	size_t n;
	char *body = hls_media_playlist(&root, ch, variant, file, &n, NULL);
	if (body == NULL)
		return NULL;
	struct file_key cur2, pl2;
	keyed = keyed && key_of(dir_fd, cur_rel, &cur2) == 0 && key_eq(&cur, &cur2) &&
	        key_of(dir_fd, pl_rel, &pl2) == 0 && key_eq(&pl, &pl2);
	*len = n;
	free(scratch);
	scratch = NULL;
	if (!keyed) {
		/* Served, but the next request builds it again. */
		scratch = body;
		return body;
	}
	free(e->body);
	e->body = body;
	e->len = n;
	memcpy(e->channel, ch, sizeof(uuid_t));
	e->dir_fd = dir_fd;
	snprintf(e->variant, sizeof e->variant, "%s", variant);
	snprintf(e->file, sizeof e->file, "%s", file);
	snprintf(e->run, sizeof e->run, "%s", run_name);
	e->current = cur;
	e->playlist = pl;
	return body;
}
