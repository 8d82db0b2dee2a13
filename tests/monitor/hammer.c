/*
 * Writers that change every session as fast as they can, each update keeping
 * an invariant a torn read would break:
 *   - set_qualities stamps round r into every variant: n_qualities is
 *     1 + r % 8, and variant i has level "L<r>", codec "c<r>",
 *     bitrate_kbps r, width i + 1, height r % 1000, playlist "p<r>/<i>";
 *   - record_error stores "err <n>" where n is the new error count;
 *   - the state walks idle, starting, active, stopping, idle;
 *   - one viewer is added and removed in turn, so clients is 0 or 1.
 * Each writer owns its sessions, so it knows the counts it is writing.
 *
 * usage: hammer NAME WRITERS SESSIONS_PER_WRITER MAX_SECONDS
 * Prints "ready" once the table is filled; the writers then run until stdin
 * reaches EOF (or MAX_SECONDS pass), so a slow monitor gets all the time it
 * needs.  Then prints "iterations N failed K", unlinks the registry and exits
 * non-zero if any writer failed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "streamreg.h"

enum { MAX_WRITERS = 16, MAX_PER_WRITER = 64 };

static const sr_state cycle[] = {SR_STATE_STARTING, SR_STATE_ACTIVE, SR_STATE_STOPPING,
                                 SR_STATE_IDLE};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int stamp_qualities(sr_registry *reg, const uuid_t id, uint32_t r)
{
	sr_quality q[SR_MAX_QUALITIES];
	size_t n = 1 + r % SR_MAX_QUALITIES;
	memset(q, 0, sizeof q);
	for (size_t i = 0; i < n; i++) {
		snprintf(q[i].level, sizeof q[i].level, "L%u", r);
		snprintf(q[i].codec, sizeof q[i].codec, "c%u", r);
		q[i].bitrate_kbps = r;
		q[i].width = (uint32_t)i + 1;
		q[i].height = r % 1000;
		snprintf(q[i].playlist_path, sizeof q[i].playlist_path, "p%u/%zu", r, i);
		snprintf(q[i].segment_path, sizeof q[i].segment_path, "s%u/%zu", r, i);
	}
	return sr_session_set_qualities(reg, id, q, n);
}

/* One writer's loop; returns 0 or the first failing step's code. */
/* Shared with the writers: progress, and the order to stop. */
struct shared {
	uint64_t rounds;
	int stop;
};

static int write_loop(const char *name, uuid_t *ids, int n, double deadline, struct shared *sh)
{
	sr_registry *reg = NULL;
	int rc = sr_registry_attach(name, 0, &reg);
	if (rc < 0)
		return rc;
	uint32_t errors[MAX_PER_WRITER] = {0};
	int step[MAX_PER_WRITER] = {0};
	int holding[MAX_PER_WRITER] = {0};
	for (uint32_t r = 1;
	     rc == 0 && now_s() < deadline && !__atomic_load_n(&sh->stop, __ATOMIC_RELAXED); r++) {
		for (int k = 0; k < n && rc == 0; k++) {
			char msg[32];
			snprintf(msg, sizeof msg, "err %u", ++errors[k]);
			rc = stamp_qualities(reg, ids[k], r);
			if (rc == 0)
				rc = sr_session_record_error(reg, ids[k], msg);
			if (rc == 0)
				rc = sr_session_set_state(reg, ids[k], cycle[step[k]], NULL);
			step[k] = (step[k] + 1) % 4;
			if (rc == 0)
				rc = holding[k] ? sr_session_remove_client(reg, ids[k])
				                : sr_session_add_client(reg, ids[k]);
			holding[k] = !holding[k];
			if (rc == 0)
				rc = sr_session_set_restarts(reg, ids[k], r % 100);
		}
		__atomic_add_fetch(&sh->rounds, 1, __ATOMIC_RELAXED);
	}
	sr_registry_close(reg);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: hammer NAME WRITERS SESSIONS_PER_WRITER SECONDS\n");
		return 2;
	}
	const char *name = argv[1];
	int writers = atoi(argv[2]), per = atoi(argv[3]);
	double seconds = atof(argv[4]);
	if (writers < 1 || writers > MAX_WRITERS || per < 1 || per > MAX_PER_WRITER ||
	    seconds <= 0) {
		fprintf(stderr, "hammer: bad arguments\n");
		return 2;
	}
	sr_create_options opt;
	sr_create_options_init(&opt);
	opt.capacity = (uint32_t)(writers * per + 8);
	opt.mode = 0644;
	sr_registry *reg = NULL;
	int rc = sr_registry_create(name, &opt, &reg);
	if (rc < 0) {
		fprintf(stderr, "hammer: create %s: %s\n", name, sr_strerror(rc));
		return 1;
	}
	static uuid_t ids[MAX_WRITERS * MAX_PER_WRITER];
	for (int i = 0; i < writers * per && rc == 0; i++) {
		uuid_generate(ids[i]);
		rc = sr_session_insert(reg, ids[i], "/tmp/hammer");
	}
	if (rc < 0) {
		fprintf(stderr, "hammer: insert: %s\n", sr_strerror(rc));
		sr_registry_close(reg);
		sr_registry_unlink(name);
		return 1;
	}
	struct shared *sh =
	    mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	printf("ready\n");
	fflush(NULL);
	double deadline = now_s() + seconds;
	pid_t pids[MAX_WRITERS];
	pid_t parent = getpid();
	for (int w = 0; w < writers; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			/* A test killed mid-run must not leave writers spinning. */
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
				_exit(1);
			_exit(write_loop(name, &ids[w * per], per, deadline, sh) == 0 ? 0 : 1);
		}
	}
	int c;
	do
		c = getchar();
	while (c != EOF);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	int failed = 0;
	for (int w = 0; w < writers; w++) {
		int status = 0;
		if (pids[w] < 0 || waitpid(pids[w], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed++;
	}
	printf("iterations %llu failed %d\n", (unsigned long long)sh->rounds, failed);
	fflush(NULL);
	sr_registry_close(reg);
	sr_registry_unlink(name);
	return failed == 0 ? 0 : 1;
}
