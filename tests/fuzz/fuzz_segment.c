/*
 * The reader side of the segment fuzzers: whatever bytes the segment holds,
 * a read-only handle must answer every call without crashing, hanging or
 * handing out an unterminated string, and must refuse every write.
 */
#include "fuzz_segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

const char *fuzz_shm_name(void)
{
	static char name[SR_NAME_MAX + 1];
	if (!name[0])
		snprintf(name, sizeof(name), "srfuzz_%d", (int)getpid());
	return name;
}

int fuzz_shm_write(const void *data, size_t size)
{
	char path[SR_NAME_MAX + 2];
	snprintf(path, sizeof(path), "/%s", fuzz_shm_name());
	int fd = shm_open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	const uint8_t *p = data;
	size_t left = size;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		p += w;
		left -= (size_t)w;
	}
	close(fd);
	return 0;
}

static void check_str(const char *s, size_t cap)
{
	FUZZ_REQUIRE(memchr(s, '\0', cap) != NULL);
}

static void check_info(const sr_session_info *in)
{
	FUZZ_REQUIRE((unsigned)in->state < SR_STATE_COUNT);
	FUZZ_REQUIRE(in->n_qualities <= SR_MAX_QUALITIES);
	check_str(in->last_error, sizeof(in->last_error));
	check_str(in->output_dir, sizeof(in->output_dir));
	check_str(in->segment_path, sizeof(in->segment_path));
	for (uint32_t i = 0; i < in->n_qualities; i++) {
		check_str(in->qualities[i].level, sizeof(in->qualities[i].level));
		check_str(in->qualities[i].codec, sizeof(in->qualities[i].codec));
		check_str(in->qualities[i].segment_path, sizeof(in->qualities[i].segment_path));
		check_str(in->qualities[i].playlist_path, sizeof(in->qualities[i].playlist_path));
	}
	char *json = NULL;
	if (sr_session_info_json(in, &json) == 0) {
		FUZZ_REQUIRE(json && json[0] == '{');
		free(json);
	}
}

static int foreach_cb(const sr_session_info *in, void *ctx)
{
	(*(unsigned *)ctx)++;
	check_info(in);
	return 0;
}

static int scan_cb(const sr_session_brief *b, void *ctx)
{
	(*(unsigned *)ctx)++;
	FUZZ_REQUIRE((unsigned)b->state < SR_STATE_COUNT);
	return 0;
}

static void read_one(sr_registry *ro, const uuid_t id)
{
	uint32_t gen, clients, errors;
	sr_state st;
	uint64_t idle;
	int rc = sr_session_find(ro, id, &gen);
	if (sr_session_get_state(ro, id, &st) == 0)
		FUZZ_REQUIRE((unsigned)st < SR_STATE_COUNT);
	sr_session_get_clients(ro, id, &clients);
	sr_session_idle_ms(ro, id, &idle);
	sr_session_should_cleanup(ro, id, 1000);
	sr_session_error_count(ro, id, &errors);
	char small[4], big[SR_ERROR_MAX + 1];
	if (sr_session_last_error(ro, id, small, sizeof(small)) == 0)
		check_str(small, sizeof(small));
	if (sr_session_last_error(ro, id, big, sizeof(big)) == 0)
		check_str(big, sizeof(big));
	sr_quality q[SR_MAX_QUALITIES];
	size_t nq = 0;
	if (sr_session_get_qualities(ro, id, q, SR_MAX_QUALITIES, &nq) == 0)
		FUZZ_REQUIRE(nq <= SR_MAX_QUALITIES);
	if (sr_session_get_qualities(ro, id, q, 1, &nq) == 0)
		FUZZ_REQUIRE(nq <= SR_MAX_QUALITIES);
	char dir[SR_PATH_MAX + 1], seg[SR_PATH_MAX + 1];
	if (sr_session_get_paths(ro, id, dir, seg) == 0) {
		check_str(dir, sizeof(dir));
		check_str(seg, sizeof(seg));
	}
	pid_t pid;
	uint64_t start;
	sr_session_get_pid(ro, id, &pid, &start);
	sr_session_info in;
	if (sr_session_snapshot(ro, id, &in) == 0)
		check_info(&in);
	/* Read-only really is read-only: every write is refused up front. */
	FUZZ_REQUIRE(sr_session_touch(ro, id) == -EROFS);
	FUZZ_REQUIRE(sr_session_add_client(ro, id) == -EROFS);
	FUZZ_REQUIRE(sr_session_transition(ro, id, SR_STATE_IDLE, SR_STATE_STARTING) == -EROFS);
	FUZZ_REQUIRE(sr_session_record_error(ro, id, "x") == -EROFS);
	FUZZ_REQUIRE(sr_session_delete(ro, id) == -EROFS);
	(void)rc;
}

void fuzz_read_everything(sr_registry *ro, const uint8_t *extra_id)
{
	sr_registry_stats st;
	if (sr_registry_stats_get(ro, &st) == 0) {
		FUZZ_REQUIRE(st.sessions <= st.capacity);
		uint64_t sum = 0;
		for (int i = 0; i < SR_STATE_COUNT; i++)
			sum += st.by_state[i];
		FUZZ_REQUIRE(sum == st.sessions);
	}
	sr_registry_verify(ro);
	sr_registry_replaced(ro);
	sr_registry_doorbell(ro);
	char *text = NULL;
	if (sr_registry_json(ro, &text) == 0) {
		FUZZ_REQUIRE(text && text[0] == '[');
		free(text);
	}
	text = NULL;
	if (sr_registry_prometheus(ro, &text) == 0)
		free(text);
	unsigned n = 0;
	sr_session_foreach(ro, foreach_cb, &n);
	n = 0;
	sr_session_scan(ro, scan_cb, &n);
	uuid_t ids[64];
	size_t total = 0;
	if (sr_session_list(ro, ids, 64, &total) == 0) {
		for (size_t i = 0; i < total && i < 64; i++)
			read_one(ro, ids[i]);
	}
	sr_session_list(ro, ids, 0, &total);
	if (extra_id)
		read_one(ro, extra_id);
	FUZZ_REQUIRE(sr_registry_recover(ro, NULL) == -EROFS);
	uuid_t zero = {0};
	FUZZ_REQUIRE(sr_session_insert(ro, zero, NULL) == -EROFS);
}
