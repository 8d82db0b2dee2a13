/*
 * The floor: what one shared-memory write per request costs with nothing
 * else, a fetch_add on one cache line every process shares, and on a line of
 * each process's own.  No store can do a touch for less.
 */
#include "bench.h"
#include "bench_backend_util.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct line {
	alignas(64) atomic_uint_fast64_t n;
	char pad[64 - sizeof(atomic_uint_fast64_t)];
};

struct atomic_local {
	atomic_uint_fast64_t *counter;
};

static int atomic_setup(void **shared, const struct bench_keys *k, char *err, size_t errlen)
{
	(void)k;
	void *m = mmap(NULL, sizeof(struct line) * BENCH_MAX_WORKERS, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return bench_fail(err, errlen, "mmap: out of memory");
	*shared = m;
	return 0;
}

static int open_line(void *shared, int line, void **local, char *err, size_t errlen)
{
	struct atomic_local *l = malloc(sizeof *l);
	if (!l)
		return bench_fail(err, errlen, "out of memory");
	l->counter = &((struct line *)shared)[line].n;
	*local = l;
	return 0;
}

static int shared_open(void *shared, struct worker_ctx *w, void **local, char *err, size_t errlen)
{
	(void)w;
	return open_line(shared, 0, local, err, errlen);
}

static int perproc_open(void *shared, struct worker_ctx *w, void **local, char *err, size_t errlen)
{
	return open_line(shared, w->id, local, err, errlen);
}

static long atomic_run(void *local, struct worker_ctx *w, enum op_kind k, const uint32_t *idx,
                       size_t n)
{
	(void)w;
	(void)idx;
	if (k != OP_FIND_TOUCH)
		return -1;
	atomic_uint_fast64_t *c = ((struct atomic_local *)local)->counter;
	for (size_t j = 0; j < n; j++)
		atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
	return 0;
}

static void atomic_close(void *local)
{
	free(local);
}

static void atomic_teardown(void *shared)
{
	munmap(shared, sizeof(struct line) * BENCH_MAX_WORKERS);
}

const struct backend backend_atomic_shared = {
    .name = "atomic-shared",
    .desc = "floor: fetch_add on one cache line shared by all processes",
    .ops = OP_BIT(OP_FIND_TOUCH),
    .batch = 256,
    .setup = atomic_setup,
    .open = shared_open,
    .run = atomic_run,
    .close = atomic_close,
    .teardown = atomic_teardown,
};

const struct backend backend_atomic_perproc = {
    .name = "atomic-perproc",
    .desc = "floor: fetch_add on a cache line of each process's own",
    .ops = OP_BIT(OP_FIND_TOUCH),
    .batch = 256,
    .setup = atomic_setup,
    .open = perproc_open,
    .run = atomic_run,
    .close = atomic_close,
    .teardown = atomic_teardown,
};
