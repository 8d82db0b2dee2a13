/*
 * Redis on loopback through hiredis: how pre-fork servers share session
 * state today.  One hash per session (state, clients, last access, a
 * 256-byte info blob).  "redis-rt" waits for each reply; "redis-pipe"
 * keeps 16 operations in flight per worker.
 *
 * Mapping: find + touch = HSET last_access (creates a missing key rather
 * than failing, which only flatters Redis); find = EXISTS; add + remove
 * client = two HINCRBY; state CAS = a server-side Lua script (one round
 * trip); snapshot = HGETALL; insert + delete = HSET of all fields + DEL.
 */
#include "bench.h"
#include "bench_backend_util.h"
#include "redis_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis.h>

#define PIPE_DEPTH 16

static const char cas_script[] = "local s = redis.call('HGET', KEYS[1], 'state') "
                                 "if s == ARGV[1] then redis.call('HSET', KEYS[1], 'state', "
                                 "ARGV[2]) return ARGV[2] end return s";

struct redis_shared {
	int port;
	int depth;
};

struct redis_local {
	redisContext *c;
	int depth;
	char blob[256];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void make_key(char out[18], const uint8_t *id)
{
	out[0] = 's';
	out[1] = ':';
	memcpy(out + 2, id, 16);
}

static int append_insert(redisContext *c, const uint8_t *id, const char *blob)
{
	char key[18];
	make_key(key, id);
	return redisAppendCommand(c, "HSET %b state 0 clients 0 last_access 0 info %b", key,
	                          sizeof key, blob, (size_t)256);
}

static int check_replies(redisContext *c, int n, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
		redisReply *r;
		if (redisGetReply(c, (void **)&r) != REDIS_OK)
			return bench_fail(err, errlen, "redis: %s", c->errstr);
		bool bad = r->type == REDIS_REPLY_ERROR;
		if (bad)
			bench_fail(err, errlen, "redis: %s", r->str);
		freeReplyObject(r);
		if (bad)
			return -1;
	}
	return 0;
}

static int redis_setup(void **shared, const struct bench_keys *k, int depth, char *err,
                       size_t errlen)
{
	int port = redis_server_port(err, errlen);
	if (port < 0)
		return -1;
	struct timeval tv = {5, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	if (!c || c->err) {
		bench_fail(err, errlen, "redis connect: %s", c ? c->errstr : "out of memory");
		redisFree(c);
		return -1;
	}
	char blob[256] = {0};
	int rc = check_replies(c, redisAppendCommand(c, "FLUSHALL") == REDIS_OK, err, errlen);
	for (uint32_t i = 0; i < k->n_live && rc == 0; i += 256) {
		int n = 0;
		for (uint32_t j = i; j < k->n_live && j < i + 256; j++, n++)
			append_insert(c, k->ids[j], blob);
		rc = check_replies(c, n, err, errlen);
	}
	redisFree(c);
	if (rc < 0)
		return -1;
	struct redis_shared *s = malloc(sizeof *s);
	if (!s)
		return bench_fail(err, errlen, "out of memory");
	s->port = port;
	s->depth = depth;
	*shared = s;
	return 0;
}

static int rt_setup(void **shared, const struct bench_keys *k, char *err, size_t errlen)
{
	return redis_setup(shared, k, 1, err, errlen);
}

static int pipe_setup(void **shared, const struct bench_keys *k, char *err, size_t errlen)
{
	return redis_setup(shared, k, PIPE_DEPTH, err, errlen);
}

static int redis_open(void *shared, struct worker_ctx *w, void **local, char *err, size_t errlen)
{
	(void)w;
	struct redis_shared *s = shared;
	struct redis_local *l = calloc(1, sizeof *l);
	if (!l)
		return bench_fail(err, errlen, "out of memory");
	struct timeval tv = {5, 0};
	l->c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
	if (!l->c || l->c->err) {
		bench_fail(err, errlen, "redis connect: %s", l->c ? l->c->errstr : "out of memory");
		redisFree(l->c);
		free(l);
		return -1;
	}
	l->depth = s->depth;
	*local = l;
	return 0;
}

/* Queue the commands of one op; returns how many replies it will produce. */
static int append_op(struct redis_local *l, struct worker_ctx *w, enum op_kind k, uint32_t i)
{
	char key[18];
	make_key(key, w->keys->ids[i]);
	switch (k) {
	case OP_FIND_TOUCH:
		redisAppendCommand(l->c, "HSET %b last_access %llu", key, sizeof key,
		                   (unsigned long long)now_ns());
		return 1;
	case OP_FIND:
		redisAppendCommand(l->c, "EXISTS %b", key, sizeof key);
		return 1;
	case OP_ADD_REMOVE:
		redisAppendCommand(l->c, "HINCRBY %b clients 1", key, sizeof key);
		redisAppendCommand(l->c, "HINCRBY %b clients -1", key, sizeof key);
		return 2;
	case OP_STATE_CAS: {
		int from = w->cas_state[i], to = from == 3 ? 0 : from + 1;
		redisAppendCommand(l->c, "EVAL %s 1 %b %d %d", cas_script, key, sizeof key, from,
		                   to);
		return 1;
	}
	case OP_SNAPSHOT:
		redisAppendCommand(l->c, "HGETALL %b", key, sizeof key);
		return 1;
	case OP_INSERT_DELETE: {
		const uint8_t *sp =
		    w->keys->ids[bench_spare_index(w->keys, w->id, w->spare_next++)];
		append_insert(l->c, sp, l->blob);
		make_key(key, sp);
		redisAppendCommand(l->c, "DEL %b", key, sizeof key);
		return 2;
	}
	default:
		return -1;
	}
}

/* Read one op's replies; 0 done, 1 lost CAS race, -1 broken. */
static long finish_op(struct redis_local *l, struct worker_ctx *w, enum op_kind k, uint32_t i,
                      int replies)
{
	long failed = 0;
	for (int r = 0; r < replies; r++) {
		redisReply *rep;
		if (redisGetReply(l->c, (void **)&rep) != REDIS_OK) {
			fprintf(stderr, "streamreg-bench: redis: %s\n", l->c->errstr);
			return -1;
		}
		bool bad = rep->type == REDIS_REPLY_ERROR;
		if (bad)
			fprintf(stderr, "streamreg-bench: redis: %s\n", rep->str);
		if (k == OP_STATE_CAS && rep->type == REDIS_REPLY_STRING) {
			int from = w->cas_state[i], now = atoi(rep->str);
			failed = now != (from == 3 ? 0 : from + 1);
			w->cas_state[i] = (uint8_t)now;
		}
		freeReplyObject(rep);
		if (bad)
			return -1;
	}
	return failed;
}

static long redis_run(void *local, struct worker_ctx *w, enum op_kind k, const uint32_t *idx,
                      size_t n)
{
	struct redis_local *l = local;
	long failed = 0;
	int replies[PIPE_DEPTH];
	for (size_t j = 0; j < n; j += (size_t)l->depth) {
		size_t m = n - j < (size_t)l->depth ? n - j : (size_t)l->depth;
		for (size_t q = 0; q < m; q++)
			if ((replies[q] = append_op(l, w, k, idx[j + q])) < 0)
				return -1;
		for (size_t q = 0; q < m; q++) {
			long r = finish_op(l, w, k, idx[j + q], replies[q]);
			if (r < 0)
				return -1;
			failed += r;
		}
	}
	return failed;
}

static void redis_close(void *local)
{
	struct redis_local *l = local;
	redisFree(l->c);
	free(l);
}

static void redis_teardown(void *shared)
{
	free(shared);
}

#define REDIS_OPS                                                                                  \
	(OP_BIT(OP_FIND_TOUCH) | OP_BIT(OP_FIND) | OP_BIT(OP_ADD_REMOVE) | OP_BIT(OP_STATE_CAS) |  \
	 OP_BIT(OP_SNAPSHOT) | OP_BIT(OP_INSERT_DELETE) | OP_BIT(OP_MIXED))

const struct backend backend_redis_rt = {
    .name = "redis-rt",
    .desc = "Redis on loopback via hiredis, one round trip per operation",
    .ops = REDIS_OPS,
    .batch = 16,
    .setup = rt_setup,
    .open = redis_open,
    .run = redis_run,
    .close = redis_close,
    .teardown = redis_teardown,
};

const struct backend backend_redis_pipe = {
    .name = "redis-pipe",
    .desc = "Redis on loopback via hiredis, pipelined 16 operations deep",
    .ops = REDIS_OPS,
    .batch = 64,
    .setup = pipe_setup,
    .open = redis_open,
    .run = redis_run,
    .close = redis_close,
    .teardown = redis_teardown,
};
