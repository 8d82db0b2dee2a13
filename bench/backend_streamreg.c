/* The library under test, through its public API only. */
#include "bench.h"
#include "bench_backend_util.h"
#include "bench_interrupt.h"
#include "scenarios.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "streamreg.h"

struct sr_shared {
	char name[SR_NAME_MAX + 1];
	sr_registry *reg; /* the parent's handle, kept so the figures stay readable */
};

struct sr_local {
	sr_registry *reg;
	const struct bench_keys *keys;
	sr_session_info info; /* snapshot target, reused */
	bool reported;
};

int bench_sr_unique_name(char *buf, size_t len)
{
	static atomic_uint counter;
	char path[SR_DIR_MAX + SR_NAME_MAX + 2];
	int n = snprintf(buf, len, "srbench-%d-%u", (int)getpid(), atomic_fetch_add(&counter, 1));
	if (sr_registry_path(buf, path, sizeof path) == 0)
		bench_scratch_add(path);
	return n;
}

static int sr_setup(void **shared, const struct bench_keys *k, char *err, size_t errlen)
{
	struct sr_shared *s = calloc(1, sizeof *s);
	if (!s)
		return bench_fail(err, errlen, "out of memory");
	bench_sr_unique_name(s->name, sizeof s->name);
	sr_create_options opt;
	sr_create_options_init(&opt);
	opt.capacity = k->capacity;
	int rc = sr_registry_create(s->name, &opt, &s->reg);
	if (rc < 0) {
		bench_fail(err, errlen, "sr_registry_create(capacity %u): %s (%s)", k->capacity,
		           sr_strerror(rc), sr_errdetail());
		bench_sr_unlink(s->name);
		free(s);
		return -1;
	}
	for (uint32_t i = 0; i < k->n_live; i++) {
		/* Half a million sessions take a while: Ctrl-C must not wait for them. */
		if (i % 65536 == 0)
			bench_interrupt_point();
		if ((rc = sr_session_insert(s->reg, k->ids[i], NULL)) < 0) {
			bench_fail(err, errlen, "sr_session_insert #%u: %s (%s)", i,
			           sr_strerror(rc), sr_errdetail());
			sr_registry_close(s->reg);
			bench_sr_unlink(s->name);
			free(s);
			return -1;
		}
	}
	*shared = s;
	return 0;
}

static int sr_open(void *shared, struct worker_ctx *w, void **local, char *err, size_t errlen)
{
	struct sr_shared *s = shared;
	struct sr_local *l = calloc(1, sizeof *l);
	if (!l)
		return bench_fail(err, errlen, "out of memory");
	/* Each worker attaches on its own: client leases belong to a process. */
	int rc = sr_registry_attach(s->name, 0, &l->reg);
	if (rc < 0) {
		bench_fail(err, errlen, "sr_registry_attach(%s): %s (%s)", s->name, sr_strerror(rc),
		           sr_errdetail());
		free(l);
		return -1;
	}
	l->keys = w->keys;
	*local = l;
	return 0;
}

static long sr_broken(struct sr_local *l, const char *what, int rc)
{
	if (!l->reported)
		fprintf(stderr, "streamreg-bench: streamreg %s: %s (%s)\n", what, sr_strerror(rc),
		        sr_errdetail());
	l->reported = true;
	return -1;
}

static sr_state cas_next(sr_state s)
{
	switch (s) {
	case SR_STATE_IDLE:
		return SR_STATE_STARTING;
	case SR_STATE_STARTING:
		return SR_STATE_ACTIVE;
	case SR_STATE_ACTIVE:
		return SR_STATE_STOPPING;
	default:
		return SR_STATE_IDLE;
	}
}

/* Another worker may have moved the state first: that is a lost race, not a fault. */
static long sr_cas(struct sr_local *l, struct worker_ctx *w, uint32_t i)
{
	sr_state from = (sr_state)w->cas_state[i];
	int rc = sr_session_transition(l->reg, l->keys->ids[i], from, cas_next(from));
	if (rc == 0) {
		w->cas_state[i] = (uint8_t)cas_next(from);
		return 0;
	}
	if (rc != -SR_ESTATE && rc != -SR_EBADTRANS)
		return sr_broken(l, "transition", rc);
	sr_state now;
	if ((rc = sr_session_get_state(l->reg, l->keys->ids[i], &now)) < 0)
		return sr_broken(l, "get_state", rc);
	w->cas_state[i] = (uint8_t)now;
	return 1;
}

/* Four lookups: find, add_client, get_state, remove_client each hash the UUID. */
static long sr_request_uuid(struct sr_local *l, const uint8_t *id)
{
	int rc = sr_session_find(l->reg, id, NULL);
	if (rc == -ENOENT)
		rc = sr_session_insert(l->reg, id, NULL);
	if (rc < 0 && rc != -EEXIST)
		return sr_broken(l, "find", rc);
	if ((rc = sr_session_add_client(l->reg, id)) < 0)
		return sr_broken(l, "add_client", rc);
	sr_state st;
	if ((rc = sr_session_get_state(l->reg, id, &st)) < 0)
		return sr_broken(l, "get_state", rc);
	if ((rc = sr_session_remove_client(l->reg, id)) < 0)
		return sr_broken(l, "remove_client", rc);
	return 0;
}

/* One lookup, then the reference. */
static long sr_request_ref(struct sr_local *l, const uint8_t *id)
{
	sr_session_ref ref;
	int rc = sr_session_find_or_insert(l->reg, id, NULL, &ref);
	if (rc < 0)
		return sr_broken(l, "find_or_insert", rc);
	if ((rc = sr_ref_add_client(l->reg, ref)) < 0)
		return sr_broken(l, "ref_add_client", rc);
	sr_state st;
	if ((rc = sr_ref_get_state(l->reg, ref, &st)) < 0)
		return sr_broken(l, "ref_get_state", rc);
	if ((rc = sr_ref_remove_client(l->reg, ref)) < 0)
		return sr_broken(l, "ref_remove_client", rc);
	return 0;
}

static long sr_run(void *local, struct worker_ctx *w, enum op_kind k, const uint32_t *idx, size_t n)
{
	struct sr_local *l = local;
	const struct bench_keys *keys = l->keys;
	long failed = 0, r;
	int rc;
	for (size_t j = 0; j < n; j++) {
		const uint8_t *id = keys->ids[idx[j]];
		switch (k) {
		case OP_FIND_TOUCH:
			if ((rc = sr_session_touch(l->reg, id)) < 0)
				return sr_broken(l, "touch", rc);
			break;
		case OP_FIND:
			if ((rc = sr_session_find(l->reg, id, NULL)) < 0)
				return sr_broken(l, "find", rc);
			break;
		case OP_ADD_REMOVE:
			if ((rc = sr_session_add_client(l->reg, id)) < 0)
				return sr_broken(l, "add_client", rc);
			if ((rc = sr_session_remove_client(l->reg, id)) < 0)
				return sr_broken(l, "remove_client", rc);
			break;
		case OP_STATE_CAS:
			if ((r = sr_cas(l, w, idx[j])) < 0)
				return -1;
			failed += r;
			break;
		case OP_SNAPSHOT:
			if ((rc = sr_session_snapshot(l->reg, id, &l->info)) < 0) {
				if (rc != -SR_EBUSY)
					return sr_broken(l, "snapshot", rc);
				failed++;
			}
			break;
		case OP_INSERT_DELETE: {
			const uint8_t *sp =
			    keys->ids[bench_spare_index(keys, w->id, w->spare_next++)];
			if ((rc = sr_session_insert(l->reg, sp, NULL)) < 0)
				return sr_broken(l, "insert", rc);
			if ((rc = sr_session_delete(l->reg, sp)) < 0)
				return sr_broken(l, "delete", rc);
			break;
		}
		case OP_REQUEST_UUID:
			if (sr_request_uuid(l, id) < 0)
				return -1;
			break;
		case OP_REQUEST_REF:
			if (sr_request_ref(l, id) < 0)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return failed;
}

static void sr_close(void *local)
{
	struct sr_local *l = local;
	sr_registry_close(l->reg);
	free(l);
}

static void sr_teardown(void *shared)
{
	struct sr_shared *s = shared;
	sr_registry_close(s->reg);
	bench_sr_unlink(s->name);
	free(s);
}

const struct backend backend_streamreg = {
    .name = "streamreg",
    .desc = "this library through its public API (libstreamreg)",
    .ops = OP_BIT(OP_FIND_TOUCH) | OP_BIT(OP_FIND) | OP_BIT(OP_ADD_REMOVE) | OP_BIT(OP_STATE_CAS) |
           OP_BIT(OP_SNAPSHOT) | OP_BIT(OP_INSERT_DELETE) | OP_BIT(OP_MIXED) |
           OP_BIT(OP_REQUEST_UUID) | OP_BIT(OP_REQUEST_REF),
    .batch = 256,
    .setup = sr_setup,
    .open = sr_open,
    .run = sr_run,
    .close = sr_close,
    .teardown = sr_teardown,
};

sr_registry *bench_sr_handle(void *shared)
{
	return ((struct sr_shared *)shared)->reg;
}

const char *bench_sr_name(void *shared)
{
	return ((struct sr_shared *)shared)->name;
}
