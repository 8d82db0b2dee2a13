/*
 * Target ladder: the reaper's quality ladder parser (tools/reaper/ladder.c).
 * Every accepted variant must fit the registry's limits, since the reaper
 * stores it with sr_session_set_qualities, and name a level directory that
 * stays a single path component.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ladder.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = fuzz_strdup(data, size);
	struct rp_ladder lad;
	char err[256];
	int rc = rp_ladder_parse(spec, &lad, err, sizeof(err));
	if (rc != 0) {
		FUZZ_REQUIRE(rc < 0);
		FUZZ_REQUIRE(memchr(err, '\0', sizeof(err)) != NULL);
	} else {
		FUZZ_REQUIRE(lad.n >= 1 && lad.n <= SR_MAX_QUALITIES);
		for (size_t i = 0; i < lad.n; i++) {
			const sr_quality *q = &lad.q[i];
			FUZZ_REQUIRE(memchr(q->level, '\0', sizeof(q->level)) != NULL);
			FUZZ_REQUIRE(q->level[0] != '\0');
			FUZZ_REQUIRE(strchr(q->level, '/') == NULL);
			FUZZ_REQUIRE(strcmp(q->level, ".") != 0 && strcmp(q->level, "..") != 0);
			FUZZ_REQUIRE(memchr(q->codec, '\0', sizeof(q->codec)) != NULL);
			FUZZ_REQUIRE(memchr(q->segment_path, '\0', sizeof(q->segment_path)));
			FUZZ_REQUIRE(memchr(q->playlist_path, '\0', sizeof(q->playlist_path)));
			FUZZ_REQUIRE(q->width > 0 && q->height > 0 && q->bitrate_kbps > 0);
		}
	}
	free(spec);
	return 0;
}
