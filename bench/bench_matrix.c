/*
 * The throughput matrix: every (backend, operation, processes, distribution)
 * cell of the operation and scaling scenarios.  All backends are set up
 * first, and each repetition runs every cell once, in turn: on a shared,
 * noisy machine a burst of background load then hits all cells alike instead
 * of ruining one of them, and the ratios stay honest.  Scaling factors are
 * the median over repetitions of the per-repetition ratio P procs / 1 proc.
 */
#include "bench_matrix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPS 64

struct cell {
	const struct backend *b;
	void *shared;
	enum op_kind op;
	enum dist_kind dist;
	int procs;
	size_t row;       /* index of its result: the results array moves as it grows */
	struct cell *one; /* same backend, op and distribution with 1 process */
	double v[MAX_REPS];
	double cpu[MAX_REPS]; /* CPU ns per op */
	uint64_t failed;
	int n;
	bool dead;
};

struct matrix {
	struct cell *c;
	size_t n, cap;
};

static struct cell *add_cell(struct matrix *m, const char *scenario, const struct backend *b,
                             void *shared, const struct bench_keys *k, enum op_kind op,
                             enum dist_kind d, int procs)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 128;
		m->c = realloc(m->c, m->cap * sizeof *m->c);
		if (!m->c)
			abort();
	}
	struct cell *c = &m->c[m->n++];
	memset(c, 0, sizeof *c);
	c->b = b;
	c->shared = shared;
	c->op = op;
	c->dist = d;
	c->procs = procs;
	struct result *r = report_add();
	c->row = report_count() - 1;
	snprintf(r->scenario, sizeof r->scenario, "%s", scenario);
	snprintf(r->backend, sizeof r->backend, "%s", b->name);
	snprintf(r->op, sizeof r->op, "%s", op_name(op));
	snprintf(r->dist, sizeof r->dist, "%s", dist_name(d));
	r->procs = procs;
	r->capacity = k->capacity;
	r->sessions = k->n_live;
	return c;
}

static bool is_floor(const struct backend *b)
{
	return !strncmp(b->name, "atomic", 6);
}

/* Distributions matter where workers can collide: streamreg and the shared rwlock map. */
static bool all_dists(const struct backend *b)
{
	return !strcmp(b->name, "streamreg") || !strcmp(b->name, "rwlock-shared");
}

static void plan_backend(struct matrix *m, const struct backend *b, void *shared,
                         const struct bench_keys *k, const struct matrix_opts *o)
{
	if (o->ops) {
		int two = o->ncpus < o->procs_max ? o->ncpus : o->procs_max;
		for (int op = 0; op < OP_COUNT; op++) {
			if (!(b->ops & OP_BIT(op)) || (o->op_mask && !(o->op_mask & OP_BIT(op))))
				continue;
			char name[32];
			snprintf(name, sizeof name, "%s%s", op_name((enum op_kind)op),
			         o->suffix ? o->suffix : "");
			add_cell(m, name, b, shared, k, (enum op_kind)op, DIST_UNIFORM, 1);
			if (!o->quick && two > 1)
				add_cell(m, name, b, shared, k, (enum op_kind)op, DIST_UNIFORM,
				         two);
		}
	}
	if (o->scaling) {
		for (int d = 0; d < DIST_COUNT; d++) {
			if (d != DIST_UNIFORM && (is_floor(b) || !all_dists(b)))
				continue;
			struct cell *one = NULL;
			for (int p = 1; p <= o->procs_max; p++) {
				struct cell *c = add_cell(m, "scaling", b, shared, k, OP_FIND_TOUCH,
				                          (enum dist_kind)d, p);
				if (p == 1)
					one = c;
				c->one = one; /* fixed up below: realloc may move cells */
			}
		}
	}
}

static void run_cell(struct cell *c, const struct bench_keys *k, const struct matrix_opts *o,
                     int rep)
{
	struct run_params p = {.b = c->b,
	                       .shared = c->shared,
	                       .keys = k,
	                       .op = c->op,
	                       .dist = c->dist,
	                       .nworkers = c->procs,
	                       .pin = o->pin,
	                       .duration_ns = o->duration_ns,
	                       .seed = o->seed};
	struct run_result res;
	if (bench_run_once(&p, &res) < 0) {
		struct result *r = report_get(c->row);
		c->dead = true;
		r->kind = RK_SKIPPED;
		snprintf(r->note, sizeof r->note, "%s %s with %d procs failed in repetition %d: %s",
		         c->b->name, op_name(c->op), c->procs, rep + 1, res.msg);
		fprintf(stderr, "streamreg-bench: %s\n", r->note);
		return;
	}
	c->cpu[c->n] = res.cpu_ns_per_op;
	c->v[c->n++] = res.ops_per_sec;
	c->failed += res.failed;
}

static void finish_cell(struct cell *c, int ncpus)
{
	struct result *r = report_get(c->row);
	if (c->dead || c->n == 0)
		return;
	double v[MAX_REPS];
	memcpy(v, c->v, sizeof v);
	r->kind = RK_THROUGHPUT;
	r->reps = c->n;
	r->ops_per_sec = bench_median(v, (size_t)c->n);
	r->ops_min = v[0];
	r->ops_max = v[c->n - 1];
	r->ns_per_op = c->procs * 1e9 / r->ops_per_sec;
	memcpy(v, c->cpu, sizeof v);
	r->cpu_ns_per_op = bench_median(v, (size_t)c->n);
	r->failed = c->failed;
	if (c->failed)
		snprintf(r->note, sizeof r->note,
		         "%llu CAS attempts found another state (another worker won, or an earlier "
		         "run left it) and were counted as ops",
		         (unsigned long long)c->failed);
	if (c->one && c->one != c && !c->one->dead && c->one->n == c->n) {
		double s[MAX_REPS];
		for (int i = 0; i < c->n; i++)
			s[i] = c->v[i] / c->one->v[i];
		r->scale = bench_median(s, (size_t)c->n);
		/*
		 * On a loaded machine, wall-clock scaling mostly measures the
		 * scheduler.  With no more workers than cores, P workers that each
		 * keep their CPU cost per op would do P times the work of one: so
		 * P x (CPU ns/op with 1) / (CPU ns/op with P) estimates the scaling
		 * of an idle machine, contention (cache-line transfers) included.
		 */
		if (c->procs <= ncpus) {
			for (int i = 0; i < c->n; i++)
				s[i] = c->cpu[i] > 0 ? c->procs * c->one->cpu[i] / c->cpu[i] : 0;
			r->cpu_scale = bench_median(s, (size_t)c->n);
		}
	}
}

void bench_matrix_run(const struct backend *const *backends, size_t n_backends,
                      const struct bench_keys *k, const struct matrix_opts *o)
{
	struct matrix m = {NULL, 0, 0};
	void *shared[64];
	bool ready[64] = {false};
	if (n_backends > 64)
		n_backends = 64;
	for (size_t i = 0; i < n_backends; i++) {
		const struct backend *b = backends[i];
		char err[256];
		fprintf(stderr, "%s: %s\n", b->name, b->desc);
		if (b->setup(&shared[i], k, err, sizeof err) < 0) {
			struct result *r = report_add();
			r->kind = RK_SKIPPED;
			snprintf(r->scenario, sizeof r->scenario, "find_touch");
			snprintf(r->backend, sizeof r->backend, "%s", b->name);
			snprintf(r->note, sizeof r->note, "skipped: %s", err);
			fprintf(stderr, "streamreg-bench: %s: %s\n", b->name, r->note);
			continue;
		}
		ready[i] = true;
		plan_backend(&m, b, shared[i], k, o);
	}
	/* Cells moved while the array grew: point each at its 1-process sibling again. */
	for (size_t i = 0; i < m.n; i++) {
		struct cell *c = &m.c[i];
		c->one = NULL;
		if (strcmp(report_get(c->row)->scenario, "scaling") != 0)
			continue;
		for (size_t j = 0; j < m.n && !c->one; j++) {
			struct cell *d = &m.c[j];
			if (d->b == c->b && d->dist == c->dist && d->procs == 1 &&
			    !strcmp(report_get(d->row)->scenario, "scaling"))
				c->one = d;
		}
	}
	for (int rep = 0; rep < o->reps && rep < MAX_REPS; rep++) {
		for (size_t i = 0; i < m.n; i++)
			if (!m.c[i].dead)
				run_cell(&m.c[i], k, o, rep);
		fprintf(stderr, "  repetition %d of %d done (%zu cells)\n", rep + 1, o->reps, m.n);
	}
	for (size_t i = 0; i < m.n; i++) {
		finish_cell(&m.c[i], o->ncpus);
		const struct result *r = report_get(m.c[i].row);
		if (r->kind == RK_THROUGHPUT)
			fprintf(stderr, "  %-18s %-15s p=%d %-8s %10.1f ns/op %9.3f Mops/s\n",
			        r->scenario, r->backend, r->procs, r->dist, r->ns_per_op,
			        r->ops_per_sec / 1e6);
	}
	for (size_t i = 0; i < n_backends; i++)
		if (ready[i])
			backends[i]->teardown(shared[i]);
	free(m.c);
}
