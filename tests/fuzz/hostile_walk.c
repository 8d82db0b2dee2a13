/*
 * A hostile writer leaves every cold record "being written" (odd sequence):
 * a read-only reader must still walk the table in bounded time, since a
 * monitor refreshes it every second, and must not present the records it
 * skipped as an empty, healthy table.  Finding F1 (fixed in ec2eb84): each
 * record cost up to 2000 sched_yield() retries, so a walk of 1024 records
 * took 17 s and returned 0 having visited none.  The time bound is generous
 * (about 2 ms a record).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "sr_internal.h"

#define CAPACITY 1024
#define BOUND_S  2.0

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int count(const sr_session_info *in, void *ctx)
{
	(void)in;
	(*(unsigned *)ctx)++;
	return 0;
}

int main(void)
{
	char name[SR_NAME_MAX + 1];
	snprintf(name, sizeof(name), "hostilewalk_%d", (int)getpid());
	sr_create_options o;
	sr_create_options_init(&o);
	o.capacity = CAPACITY;
	sr_registry *rw = NULL, *ro = NULL;
	if (sr_registry_create(name, &o, &rw) != 0) {
		fprintf(stderr, "create: %s\n", sr_errdetail());
		return 2;
	}
	for (unsigned i = 0; i < CAPACITY; i++) {
		uuid_t id;
		uuid_generate_random(id);
		if (sr_session_insert(rw, id, NULL) != 0)
			return 2;
	}
	/* The hostile writer: every record marked as being written, forever. */
	for (unsigned i = 0; i < CAPACITY; i++)
		atomic_fetch_add(&rw->cold[i].seq, 1);
	if (sr_registry_attach(name, SR_ATTACH_READONLY, &ro) != 0)
		return 2;
	int failed = 0;
	unsigned seen = 0;
	double t = now_s();
	int rc = sr_session_foreach(ro, count, &seen);
	double foreach_s = now_s() - t;
	char *json = NULL;
	t = now_s();
	int jrc = sr_registry_json(ro, &json);
	double json_s = now_s() - t;
	free(json);
	printf("foreach: rc %d, %u sessions visited, %.3f s; json: rc %d, %.3f s (bound %.1f s)\n",
	       rc, seen, foreach_s, jrc, json_s, BOUND_S);
	if (foreach_s > BOUND_S || json_s > BOUND_S) {
		printf("FAIL: a read-only walk over %d busy records exceeds %.1f s\n", CAPACITY,
		       BOUND_S);
		failed = 1;
	}
	if ((rc == 0 && seen < CAPACITY) || (jrc == 0 && seen < CAPACITY)) {
		printf("FAIL: the walk skipped %u busy records and reported success\n",
		       CAPACITY - seen);
		failed = 1;
	}
	sr_registry_close(ro);
	sr_registry_close(rw);
	sr_registry_unlink(name);
	return failed;
}
