/*
 * Test helper: attach a registry read-write, count CLIENTS viewers on a
 * session (leases of this process), optionally set quality variants and
 * record itself as the transcoder, print "ready" and sleep until killed.
 * The tests SIGKILL it to leave leases behind for `streamreg check --recover`.
 *
 *   lease_holder NAME UUID CLIENTS [LEVEL...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "streamreg.h"

static int fail(const char *what, int err)
{
	fprintf(stderr, "lease_holder: %s: %s (%s)\n", what, sr_strerror(err), sr_errdetail());
	return 1;
}

static int set_variants(sr_registry *reg, const uuid_t id, int n, char **levels)
{
	sr_quality q[SR_MAX_QUALITIES];
	if (n > SR_MAX_QUALITIES)
		n = SR_MAX_QUALITIES;
	memset(q, 0, sizeof(q));
	for (int i = 0; i < n; i++) {
		snprintf(q[i].level, sizeof(q[i].level), "%s", levels[i]);
		q[i].bitrate_kbps = 1000u * (unsigned)(i + 1);
		q[i].width = 160u * (unsigned)(i + 1);
		q[i].height = 90u * (unsigned)(i + 1);
		snprintf(q[i].codec, sizeof(q[i].codec), "h264");
		snprintf(q[i].playlist_path, sizeof(q[i].playlist_path), "%s/index.m3u8",
		         levels[i]);
		snprintf(q[i].segment_path, sizeof(q[i].segment_path), "%s/seg_%%05d.ts",
		         levels[i]);
	}
	int err = sr_session_set_qualities(reg, id, q, (size_t)n);
	if (err < 0)
		return fail("set qualities", err);
	pid_t self = getpid();
	if ((err = sr_session_set_pid(reg, id, self, sr_pid_start_time(self))) < 0)
		return fail("set pid", err);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: lease_holder NAME UUID CLIENTS [LEVEL...]\n");
		return 2;
	}
	uuid_t id = {0};
	int clients = atoi(argv[3]);
	if (sr_uuid_parse(argv[2], id) < 0 || clients < 0) {
		fprintf(stderr, "lease_holder: bad UUID or CLIENTS\n");
		return 2;
	}
	sr_registry *reg = NULL;
	int err = sr_registry_attach(argv[1], 0, &reg);
	if (err < 0)
		return fail("attach", err);
	if (argc > 4 && set_variants(reg, id, argc - 4, argv + 4) != 0)
		return 1;
	for (int i = 0; i < clients; i++)
		if ((err = sr_session_add_client(reg, id)) < 0)
			return fail("add client", err);
	printf("ready\n");
	fflush(stdout);
	/* A test that dies before killing us must not leave us behind forever. */
	alarm(120);
	for (;;)
		pause();
}
