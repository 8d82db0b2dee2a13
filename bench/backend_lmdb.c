/*
 * LMDB on tmpfs, the best-known shared-memory store: a 256-byte record per
 * session.  Reads are a read transaction kept for reuse (renew + get +
 * reset, LMDB's fastest read path); every change is a write transaction
 * (MDB_NOSYNC: tmpfs has nothing to sync to, so the comparator pays no
 * flush it would not pay here anyway).  Each worker opens the environment
 * after fork, as LMDB requires.
 */
#include "bench.h"
#include "bench_backend_util.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lmdb_shared {
	char dir[128];
	size_t mapsize;
};

struct lmdb_local {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *rd; /* reset read transaction, renewed per read */
	struct record copy;
};

#define ENV_FLAGS (MDB_NOSYNC | MDB_NOMETASYNC)

static int env_open(const struct lmdb_shared *s, MDB_env **env, MDB_dbi *dbi, char *err,
                    size_t errlen)
{
	int rc;
	MDB_txn *t;
	if ((rc = mdb_env_create(env)) != 0)
		return bench_fail(err, errlen, "mdb_env_create: %s", mdb_strerror(rc));
	mdb_env_set_maxreaders(*env, 2 * BENCH_MAX_WORKERS + 2);
	mdb_env_set_mapsize(*env, s->mapsize);
	if ((rc = mdb_env_open(*env, s->dir, ENV_FLAGS, 0600)) != 0 ||
	    (rc = mdb_txn_begin(*env, NULL, 0, &t)) != 0) {
		mdb_env_close(*env);
		return bench_fail(err, errlen, "mdb_env_open %s: %s", s->dir, mdb_strerror(rc));
	}
	if ((rc = mdb_dbi_open(t, NULL, 0, dbi)) != 0 || (rc = mdb_txn_commit(t)) != 0) {
		mdb_env_close(*env);
		return bench_fail(err, errlen, "mdb_dbi_open: %s", mdb_strerror(rc));
	}
	return 0;
}

static int lmdb_setup(void **shared, const struct bench_keys *k, char *err, size_t errlen)
{
	struct lmdb_shared *s = calloc(1, sizeof *s);
	if (!s)
		return bench_fail(err, errlen, "out of memory");
	if (bench_tmpfs_dir(s->dir, sizeof s->dir, "lmdb", err, errlen)) {
		free(s);
		return -1;
	}
	s->mapsize = ((size_t)k->n_live + 65536) * 2048 + (64u << 20);
	MDB_env *env = NULL;
	MDB_dbi dbi = 0;
	MDB_txn *t = NULL;
	if (env_open(s, &env, &dbi, err, errlen) < 0)
		goto fail;
	int rc = mdb_txn_begin(env, NULL, 0, &t);
	struct record rec = {0};
	memset(rec.info, '-', sizeof rec.info);
	for (uint32_t i = 0; i < k->n_live && rc == 0; i++) {
		MDB_val key = {16, k->ids[i]}, val = {sizeof rec, &rec};
		rc = mdb_put(t, dbi, &key, &val, 0);
	}
	rc = rc ? rc : mdb_txn_commit(t);
	mdb_env_close(env);
	if (rc) {
		bench_fail(err, errlen, "lmdb load: %s", mdb_strerror(rc));
		goto fail;
	}
	*shared = s;
	return 0;
fail:
	bench_rm_dir(s->dir);
	free(s);
	return -1;
}

static int lmdb_open(void *shared, struct worker_ctx *w, void **local, char *err, size_t errlen)
{
	(void)w;
	struct lmdb_local *l = calloc(1, sizeof *l);
	if (!l)
		return bench_fail(err, errlen, "out of memory");
	if (env_open(shared, &l->env, &l->dbi, err, errlen) < 0) {
		free(l);
		return -1;
	}
	int rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->rd);
	if (rc) {
		mdb_env_close(l->env);
		free(l);
		return bench_fail(err, errlen, "mdb_txn_begin: %s", mdb_strerror(rc));
	}
	mdb_txn_reset(l->rd);
	*local = l;
	return 0;
}

static long lmdb_broken(const char *what, int rc)
{
	fprintf(stderr, "streamreg-bench: lmdb %s: %s\n", what, mdb_strerror(rc));
	return -1;
}

static int lmdb_read(struct lmdb_local *l, const uint8_t *id, bool copy)
{
	MDB_val key = {16, (void *)id}, val;
	int rc = mdb_txn_renew(l->rd);
	if (rc)
		return rc;
	rc = mdb_get(l->rd, l->dbi, &key, &val);
	if (rc == 0 && copy)
		memcpy(&l->copy, val.mv_data, sizeof l->copy);
	mdb_txn_reset(l->rd);
	return rc;
}

/* One write transaction: read the record, change it, write it back.  A CAS
 * that loses its race sets *lost and returns -(the current state) - 1. */
static int lmdb_change(struct lmdb_local *l, const uint8_t *id, enum change c, uint32_t from,
                       bool *lost)
{
	MDB_txn *t;
	MDB_val key = {16, (void *)id}, val;
	int rc = mdb_txn_begin(l->env, NULL, 0, &t);
	if (rc)
		return rc;
	if ((rc = mdb_get(t, l->dbi, &key, &val)) != 0) {
		mdb_txn_abort(t);
		return rc;
	}
	struct record rec;
	memcpy(&rec, val.mv_data, sizeof rec);
	if (!bench_apply_change(&rec, c, &from)) {
		*lost = true;
		mdb_txn_abort(t);
		return -(int)from - 1;
	}
	val.mv_data = &rec;
	val.mv_size = sizeof rec;
	if ((rc = mdb_put(t, l->dbi, &key, &val, 0)) != 0) {
		mdb_txn_abort(t);
		return rc;
	}
	return mdb_txn_commit(t);
}

static int lmdb_insert_delete(struct lmdb_local *l, const uint8_t *id)
{
	MDB_txn *t;
	struct record rec = {0};
	MDB_val key = {16, (void *)id}, val = {sizeof rec, &rec};
	int rc = mdb_txn_begin(l->env, NULL, 0, &t);
	if (rc || (rc = mdb_put(t, l->dbi, &key, &val, MDB_NOOVERWRITE)) != 0 ||
	    (rc = mdb_txn_commit(t)) != 0)
		return rc;
	if ((rc = mdb_txn_begin(l->env, NULL, 0, &t)) != 0 ||
	    (rc = mdb_del(t, l->dbi, &key, NULL)) != 0)
		return rc;
	return mdb_txn_commit(t);
}

static long lmdb_run(void *local, struct worker_ctx *w, enum op_kind k, const uint32_t *idx,
                     size_t n)
{
	struct lmdb_local *l = local;
	long failed = 0;
	int rc = 0;
	bool lost = false;
	for (size_t j = 0; j < n && rc == 0; j++) {
		const uint8_t *id = w->keys->ids[idx[j]];
		switch (k) {
		case OP_FIND:
		case OP_SNAPSHOT:
			rc = lmdb_read(l, id, k == OP_SNAPSHOT);
			break;
		case OP_FIND_TOUCH:
			rc = lmdb_change(l, id, CH_TOUCH, 0, &lost);
			break;
		case OP_ADD_REMOVE:
			if ((rc = lmdb_change(l, id, CH_CLIENT_UP, 0, &lost)) == 0)
				rc = lmdb_change(l, id, CH_CLIENT_DOWN, 0, &lost);
			break;
		case OP_STATE_CAS: {
			uint32_t from = w->cas_state[idx[j]];
			lost = false;
			rc = lmdb_change(l, id, CH_CAS, from, &lost);
			if (lost) {
				w->cas_state[idx[j]] = (uint8_t)(-rc - 1);
				failed++;
				rc = 0;
			} else if (rc == 0) {
				w->cas_state[idx[j]] = (uint8_t)(from == 3 ? 0 : from + 1);
			}
			break;
		}
		case OP_INSERT_DELETE:
			rc = lmdb_insert_delete(
			    l, w->keys->ids[bench_spare_index(w->keys, w->id, w->spare_next++)]);
			break;
		default:
			return -1;
		}
	}
	return rc ? lmdb_broken(op_name(k), rc) : failed;
}

static void lmdb_close(void *local)
{
	struct lmdb_local *l = local;
	mdb_txn_abort(l->rd);
	mdb_env_close(l->env);
	free(l);
}

static void lmdb_teardown(void *shared)
{
	struct lmdb_shared *s = shared;
	bench_rm_dir(s->dir);
	free(s);
}

const struct backend backend_lmdb = {
    .name = "lmdb",
    .desc = "LMDB on tmpfs: read txn renew+get+reset; changes are write txns",
    .ops = OP_BIT(OP_FIND_TOUCH) | OP_BIT(OP_FIND) | OP_BIT(OP_ADD_REMOVE) | OP_BIT(OP_STATE_CAS) |
           OP_BIT(OP_SNAPSHOT) | OP_BIT(OP_INSERT_DELETE) | OP_BIT(OP_MIXED),
    .batch = 64,
    .setup = lmdb_setup,
    .open = lmdb_open,
    .run = lmdb_run,
    .close = lmdb_close,
    .teardown = lmdb_teardown,
};
