/* The cold fields of a session: errors, variants, paths, transcoder pid. */
#include <errno.h>
#include <string.h>

#include "sr_internal.h"

typedef int (*cold_edit)(struct sr_cold_data *d, const void *arg);

/* Read-modify-write of one cold record under the writer lock.  The edit
 * runs on a private copy, so a refused edit changes nothing. */
static int cold_update(struct sr_registry *r, const uuid_t id, cold_edit edit, const void *arg)
{
	SR_CHECK_RW(r);
	if (!id)
		return sr__fail(-EINVAL, "channel id is NULL");
	int rc = sr__lock(r);
	if (rc)
		return rc;
	uint32_t slot = 0, gen = 0;
	struct sr_cold_copy c;
	sr__cold_copy_init(&c);
	if ((rc = sr__resolve(r, id, &slot, &gen)) == 0 &&
	    (rc = sr__cold_read(r, slot, gen, &c, SR_TRIES_FULL)) == 0 &&
	    (sr__cold_unpack(&c), rc = edit(&c.d, arg)) == 0) {
		uint64_t u[2];
		sr__uuid_words(id, u);
		sr__wip_begin(r, SR_WIP_COLD, slot, u);
		sr__cold_write(r, slot, &c.d);
		sr__wip_end(r);
	}
	sr__unlock(r);
	return rc;
}

/* A cold copy of the session in (slot, gen), c initialised here; -ENOENT
 * once the session is gone. */
static int cold_of_slot(struct sr_registry *r, uint32_t slot, uint32_t gen, struct sr_cold_copy *c)
{
	sr__cold_copy_init(c);
	int rc = sr__cold_read(r, slot, gen, c, SR_TRIES_FULL);
	if (rc == -SR_EBUSY && !r->readonly) {
		/* Stuck odd sequence: its writer may be dead; taking the lock
		 * repairs that, then one more read settles it. */
		if (sr__lock(r) == 0)
			sr__unlock(r);
		rc = sr__cold_read(r, slot, gen, c, SR_TRIES_FULL);
	}
	return rc;
}

/* c is initialised here; its record is c->d. */
static int read_cold(struct sr_registry *r, const uuid_t id, struct sr_cold_copy *c)
{
	SR_CHECK_REG(r);
	if (!id)
		return sr__fail(-EINVAL, "channel id is NULL");
	uint32_t slot = 0, gen = 0;
	int rc = sr__resolve(r, id, &slot, &gen);
	if (rc)
		return rc;
	rc = cold_of_slot(r, slot, gen, c);
	if (rc == 0)
		sr__cold_unpack(c);
	return rc;
}

static int edit_error(struct sr_cold_data *d, const void *arg)
{
	int rc = sr__copy_str(d->last_error, sizeof(d->last_error), arg, "error message");
	if (rc)
		return rc;
	if (d->error_count < UINT32_MAX)
		d->error_count++;
	d->last_error_wall_ns = sr__now_wall_ns();
	return 0;
}

int sr_session_record_error(sr_registry *reg, const uuid_t id, const char *msg)
{
	if (!msg)
		return sr__fail(-EINVAL, "error message is NULL");
	if (strnlen(msg, SR_ERROR_MAX + 1) > SR_ERROR_MAX)
		return sr__fail(-ENAMETOOLONG, "error message longer than %d characters",
		                SR_ERROR_MAX);
	return cold_update(reg, id, edit_error, msg);
}

int sr_session_error_count(sr_registry *reg, const uuid_t id, uint32_t *out)
{
	if (!out)
		return sr__fail(-EINVAL, "output is NULL");
	struct sr_cold_copy c;
	const struct sr_cold_data *d = &c.d;
	int rc = read_cold(reg, id, &c);
	if (rc == 0)
		*out = d->error_count;
	return rc;
}

int sr_session_last_error(sr_registry *reg, const uuid_t id, char *buf, size_t len)
{
	if (!buf || len == 0)
		return sr__fail(-EINVAL, "buffer is NULL or empty");
	struct sr_cold_copy c;
	const struct sr_cold_data *d = &c.d;
	int rc = read_cold(reg, id, &c);
	if (rc)
		return rc;
	size_t n = strlen(d->last_error);
	if (n >= len) {
		buf[0] = '\0';
		return sr__fail(-ENAMETOOLONG, "last error needs %zu bytes, buffer has %zu", n + 1,
		                len);
	}
	memcpy(buf, d->last_error, n + 1);
	return 0;
}

struct qualities_arg {
	const sr_quality *q;
	size_t n;
};

static int edit_qualities(struct sr_cold_data *d, const void *arg)
{
	const struct qualities_arg *a = arg;
	struct sr_quality_data q[SR_MAX_QUALITIES];
	memset(q, 0, sizeof(q));
	for (size_t i = 0; i < a->n; i++) {
		const sr_quality *in = &a->q[i];
		int rc;
		if (!in->level[0])
			return sr__fail(-EINVAL, "quality %zu has an empty level", i);
		if ((rc = sr__copy_str(q[i].level, sizeof(q[i].level), in->level,
		                       "quality level")) ||
		    (rc = sr__copy_str(q[i].codec, sizeof(q[i].codec), in->codec, "codec")) ||
		    (rc = sr__copy_str(q[i].segment_path, sizeof(q[i].segment_path),
		                       in->segment_path, "variant segment path")) ||
		    (rc = sr__copy_str(q[i].playlist_path, sizeof(q[i].playlist_path),
		                       in->playlist_path, "variant playlist path")))
			return rc;
		q[i].bitrate_kbps = in->bitrate_kbps;
		q[i].width = in->width;
		q[i].height = in->height;
	}
	memcpy(d->q, q, sizeof(q));
	d->n_qualities = (uint32_t)a->n;
	return 0;
}

int sr_session_set_qualities(sr_registry *reg, const uuid_t id, const sr_quality *q, size_t n)
{
	if (n > SR_MAX_QUALITIES)
		return sr__fail(-EINVAL, "%zu qualities, at most %d", n, SR_MAX_QUALITIES);
	if (n && !q)
		return sr__fail(-EINVAL, "qualities array is NULL");
	struct qualities_arg a = {q, n};
	return cold_update(reg, id, edit_qualities, &a);
}

static void quality_out(const struct sr_quality_data *in, sr_quality *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->level, in->level, sizeof(out->level));
	memcpy(out->codec, in->codec, sizeof(out->codec));
	memcpy(out->segment_path, in->segment_path, sizeof(out->segment_path));
	memcpy(out->playlist_path, in->playlist_path, sizeof(out->playlist_path));
	out->bitrate_kbps = in->bitrate_kbps;
	out->width = in->width;
	out->height = in->height;
}

int sr_session_get_qualities(sr_registry *reg, const uuid_t id, sr_quality *q, size_t cap,
                             size_t *n)
{
	if (!n || (cap && !q))
		return sr__fail(-EINVAL, "output is NULL");
	struct sr_cold_copy c;
	const struct sr_cold_data *d = &c.d;
	int rc = read_cold(reg, id, &c);
	if (rc)
		return rc;
	for (size_t i = 0; i < d->n_qualities && i < cap; i++)
		quality_out(&d->q[i], &q[i]);
	*n = d->n_qualities;
	return 0;
}

struct paths_arg {
	const char *output_dir, *segment_path;
};

static int edit_paths(struct sr_cold_data *d, const void *arg)
{
	const struct paths_arg *a = arg;
	char od[SR_PATH_MAX + 1], sp[SR_PATH_MAX + 1];
	int rc;
	memcpy(od, d->output_dir, sizeof(od));
	memcpy(sp, d->segment_path, sizeof(sp));
	if (a->output_dir && (rc = sr__copy_str(od, sizeof(od), a->output_dir, "output_dir")))
		return rc;
	if (a->segment_path && (rc = sr__copy_str(sp, sizeof(sp), a->segment_path, "segment_path")))
		return rc;
	memcpy(d->output_dir, od, sizeof(od));
	memcpy(d->segment_path, sp, sizeof(sp));
	return 0;
}

int sr_session_set_paths(sr_registry *reg, const uuid_t id, const char *output_dir,
                         const char *segment_path)
{
	struct paths_arg a = {output_dir, segment_path};
	return cold_update(reg, id, edit_paths, &a);
}

int sr_session_get_paths(sr_registry *reg, const uuid_t id, char *output_dir, char *segment_path)
{
	struct sr_cold_copy c;
	const struct sr_cold_data *d = &c.d;
	int rc = read_cold(reg, id, &c);
	if (rc)
		return rc;
	if (output_dir)
		memcpy(output_dir, d->output_dir, SR_PATH_MAX + 1);
	if (segment_path)
		memcpy(segment_path, d->segment_path, SR_PATH_MAX + 1);
	return 0;
}

struct pid_arg {
	pid_t pid;
	uint64_t start;
};

static int edit_pid(struct sr_cold_data *d, const void *arg)
{
	const struct pid_arg *a = arg;
	d->pid = a->pid;
	d->pid_start = a->start;
	return 0;
}

int sr_session_set_pid(sr_registry *reg, const uuid_t id, pid_t pid, uint64_t pid_start)
{
	if (pid < 0)
		return sr__fail(-EINVAL, "pid %d is negative", (int)pid);
	struct pid_arg a = {pid, pid ? pid_start : 0};
	return cold_update(reg, id, edit_pid, &a);
}

int sr_session_get_pid(sr_registry *reg, const uuid_t id, pid_t *pid, uint64_t *pid_start)
{
	struct sr_cold_copy c;
	const struct sr_cold_data *d = &c.d;
	int rc = read_cold(reg, id, &c);
	if (rc)
		return rc;
	if (pid)
		*pid = d->pid;
	if (pid_start)
		*pid_start = d->pid_start;
	return 0;
}

struct restarts_arg {
	uint32_t to;
	uint32_t *rise; /* out: how much the count went up (the edit's argument is const) */
};

static int edit_restarts(struct sr_cold_data *d, const void *arg)
{
	const struct restarts_arg *a = arg;
	*a->rise = a->to > d->restart_count ? a->to - d->restart_count : 0;
	d->restart_count = a->to;
	return 0;
}

int sr_session_set_restarts(sr_registry *reg, const uuid_t id, uint32_t restarts)
{
	uint32_t rise = 0;
	struct restarts_arg a = {restarts, &rise};
	int rc = cold_update(reg, id, edit_restarts, &a);
	if (rc == 0 && rise) {
		uint32_t slot = 0, gen = 0;
		if (sr__resolve(reg, id, &slot, &gen) == 0)
			sr__stats_add_restarts(reg, slot, gen, rise);
	}
	return rc;
}

void sr__info_out_init(struct sr_info_out *o, sr_session_info *info)
{
	memset(info, 0, sizeof(*info));
	memset(o, 0, sizeof(*o));
	o->info = info;
	o->now = sr_now_mono_ns();
	o->wall = sr__now_wall_ns();
}

/* A snapshot of the session in (slot, gen); like cold_of_slot, a read-write
 * handle repairs a record stuck mid-update by taking the lock once. */
static int snapshot_of_slot(struct sr_registry *r, uint32_t slot, uint32_t gen,
                            sr_session_info *out)
{
	struct sr_cold_copy c;
	struct sr_info_out o;
	uint32_t clients = sr__clients_of(r, slot, gen);
	sr__info_out_init(&o, out);
	int rc = sr__snapshot_slot(r, slot, gen, clients, &c, &o, SR_TRIES_FULL);
	if (rc == -SR_EBUSY && !r->readonly) {
		if (sr__lock(r) == 0)
			sr__unlock(r);
		rc = sr__snapshot_slot(r, slot, gen, clients, &c, &o, SR_TRIES_FULL);
	}
	return rc;
}

int sr_session_snapshot(sr_registry *reg, const uuid_t id, sr_session_info *out)
{
	if (!out)
		return sr__fail(-EINVAL, "output is NULL");
	SR_CHECK_REG(reg);
	if (!id)
		return sr__fail(-EINVAL, "channel id is NULL");
	uint32_t slot = 0, gen = 0;
	int rc = sr__resolve(reg, id, &slot, &gen);
	if (rc)
		return rc;
	return snapshot_of_slot(reg, slot, gen, out);
}

/* A walk met a record stuck mid-update.  A read-write handle takes the lock
 * once, which repairs a dead writer's record, and keeps full patience;
 * otherwise the rest of the walk gets few tries.  Returns 1 to retry. */
int sr__walk_busy(struct sr_registry *r, unsigned *tries)
{
	if (!r->readonly && *tries == SR_TRIES_FULL) {
		if (sr__lock(r) == 0)
			sr__unlock(r);
		*tries = SR_TRIES_FULL - 1;
		return 1;
	}
	*tries = SR_TRIES_WALK_BUSY;
	return 0;
}

int sr_ref_snapshot(sr_registry *reg, sr_session_ref ref, sr_session_info *out)
{
	SR_CHECK_REG(reg);
	if (!out)
		return sr__fail(-EINVAL, "output is NULL");
	int rc = sr__ref_check(reg, ref, NULL);
	if (rc)
		return rc;
	rc = snapshot_of_slot(reg, ref.slot, ref.generation, out);
	return rc == -ENOENT ? sr__fail(-SR_ESTALE, "session of slot %u generation %u was deleted",
	                                ref.slot, ref.generation)
	                     : rc;
}
