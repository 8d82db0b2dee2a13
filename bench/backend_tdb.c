/*
 * Samba's TDB on tmpfs: the shared database smbd's pre-fork workers use,
 * with robust-mutex chain locks (TDB_MUTEX_LOCKING) when the platform has
 * them.  A 256-byte record per session.  Changes are done the way Samba's
 * dbwrap does a locked fetch: chain lock, read, modify, store, unlock, so
 * concurrent workers never lose an update.  Reads use tdb_parse_record
 * (no malloc'd copy), TDB's cheapest read.
 *
 * TDB_MUTEX_LOCKING requires TDB_CLEAR_IF_FIRST, so the parent keeps its
 * handle open for the whole measurement: workers that open later are not
 * "first" and find the data in place.
 */
#include "bench.h"
#include "bench_backend_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tdb.h>

struct tdb_shared {
	char dir[128];
	char path[160];
	int flags;
	int hash_size;
	struct tdb_context *keep; /* the parent's handle; see above */
};

struct tdb_local {
	struct tdb_context *t;
	struct record copy;
};

static TDB_DATA key_of(const uint8_t *id)
{
	return (TDB_DATA){(unsigned char *)id, 16};
}

static int tdb_setup_store(void **shared, const struct bench_keys *k, char *err, size_t errlen)
{
	struct tdb_shared *s = calloc(1, sizeof *s);
	if (!s)
		return bench_fail(err, errlen, "out of memory");
	if (bench_tmpfs_dir(s->dir, sizeof s->dir, "tdb", err, errlen)) {
		free(s);
		return -1;
	}
	snprintf(s->path, sizeof s->path, "%s/sessions.tdb", s->dir);
	s->flags = TDB_NOSYNC | TDB_INCOMPATIBLE_HASH | TDB_CLEAR_IF_FIRST;
	if (tdb_runtime_check_for_robust_mutexes())
		s->flags |= TDB_MUTEX_LOCKING;
	s->hash_size = k->n_live > 131 ? (int)(k->n_live | 1) : 131;
	s->keep = tdb_open(s->path, s->hash_size, s->flags, O_RDWR | O_CREAT, 0600);
	if (!s->keep) {
		bench_fail(err, errlen, "tdb_open %s failed", s->path);
		goto fail;
	}
	struct record rec = {0};
	memset(rec.info, '-', sizeof rec.info);
	TDB_DATA val = {(unsigned char *)&rec, sizeof rec};
	for (uint32_t i = 0; i < k->n_live; i++) {
		if (tdb_store(s->keep, key_of(k->ids[i]), val, TDB_INSERT) != 0) {
			bench_fail(err, errlen, "tdb_store #%u: %s", i, tdb_errorstr(s->keep));
			tdb_close(s->keep);
			goto fail;
		}
	}
	*shared = s;
	return 0;
fail:
	bench_rm_dir(s->dir);
	free(s);
	return -1;
}

/*
 * A forked worker inherits the parent's handle, and TDB refuses a second
 * open of a file a process already has open, so the worker reopens the
 * inherited handle: tdb_reopen() is TDB's documented after-fork call.
 */
static int tdb_open_worker(void *shared, struct worker_ctx *w, void **local, char *err,
                           size_t errlen)
{
	(void)w;
	struct tdb_shared *s = shared;
	struct tdb_local *l = calloc(1, sizeof *l);
	if (!l)
		return bench_fail(err, errlen, "out of memory");
	if (tdb_reopen(s->keep) != 0) {
		free(l);
		return bench_fail(err, errlen, "tdb_reopen %s in worker failed", s->path);
	}
	l->t = s->keep;
	*local = l;
	return 0;
}

static int copy_record(TDB_DATA key, TDB_DATA data, void *priv)
{
	(void)key;
	if (data.dsize != sizeof(struct record))
		return -1;
	memcpy(priv, data.dptr, sizeof(struct record));
	return 0;
}

/* Locked read-modify-write; 0 done, 1 lost CAS (*from updated), -1 failed. */
static int tdb_change(struct tdb_local *l, const uint8_t *id, enum change c, uint32_t *from)
{
	TDB_DATA key = key_of(id);
	struct record rec;
	if (tdb_chainlock(l->t, key) != 0)
		return -1;
	int rc = tdb_parse_record(l->t, key, copy_record, &rec);
	if (rc == 0) {
		if (!bench_apply_change(&rec, c, from)) {
			tdb_chainunlock(l->t, key);
			return 1;
		}
		rc =
		    tdb_store(l->t, key, (TDB_DATA){(unsigned char *)&rec, sizeof rec}, TDB_MODIFY);
	}
	tdb_chainunlock(l->t, key);
	return rc == 0 ? 0 : -1;
}

static long tdb_run(void *local, struct worker_ctx *w, enum op_kind k, const uint32_t *idx,
                    size_t n)
{
	struct tdb_local *l = local;
	long failed = 0;
	int rc = 0;
	for (size_t j = 0; j < n && rc == 0; j++) {
		const uint8_t *id = w->keys->ids[idx[j]];
		switch (k) {
		case OP_FIND:
			rc = tdb_exists(l->t, key_of(id)) ? 0 : -1;
			break;
		case OP_SNAPSHOT:
			rc = tdb_parse_record(l->t, key_of(id), copy_record, &l->copy);
			break;
		case OP_FIND_TOUCH:
			rc = tdb_change(l, id, CH_TOUCH, NULL);
			break;
		case OP_ADD_REMOVE:
			if ((rc = tdb_change(l, id, CH_CLIENT_UP, NULL)) == 0)
				rc = tdb_change(l, id, CH_CLIENT_DOWN, NULL);
			break;
		case OP_STATE_CAS: {
			uint32_t from = w->cas_state[idx[j]];
			rc = tdb_change(l, id, CH_CAS, &from);
			if (rc == 1) {
				failed++;
				rc = 0;
				w->cas_state[idx[j]] = (uint8_t)from;
			} else if (rc == 0) {
				w->cas_state[idx[j]] = (uint8_t)(from == 3 ? 0 : from + 1);
			}
			break;
		}
		case OP_INSERT_DELETE: {
			struct record rec = {0};
			TDB_DATA key = key_of(
			    w->keys->ids[bench_spare_index(w->keys, w->id, w->spare_next++)]);
			rc = tdb_store(l->t, key, (TDB_DATA){(unsigned char *)&rec, sizeof rec},
			               TDB_INSERT);
			if (rc == 0)
				rc = tdb_delete(l->t, key);
			break;
		}
		default:
			return -1;
		}
	}
	if (rc) {
		fprintf(stderr, "streamreg-bench: tdb %s: %s\n", op_name(k), tdb_errorstr(l->t));
		return -1;
	}
	return failed;
}

/* The handle is the inherited one: the worker process exits right after. */
static void tdb_close_worker(void *local)
{
	free(local);
}

static void tdb_teardown(void *shared)
{
	struct tdb_shared *s = shared;
	tdb_close(s->keep);
	bench_rm_dir(s->dir);
	free(s);
}

const struct backend backend_tdb = {
    .name = "tdb",
    .desc = "Samba TDB on tmpfs (robust-mutex chain locks): parse_record reads, locked "
            "read-modify-write changes",
    .ops = OP_BIT(OP_FIND_TOUCH) | OP_BIT(OP_FIND) | OP_BIT(OP_ADD_REMOVE) | OP_BIT(OP_STATE_CAS) |
           OP_BIT(OP_SNAPSHOT) | OP_BIT(OP_INSERT_DELETE) | OP_BIT(OP_MIXED),
    .batch = 128,
    .setup = tdb_setup_store,
    .open = tdb_open_worker,
    .run = tdb_run,
    .close = tdb_close_worker,
    .teardown = tdb_teardown,
};
