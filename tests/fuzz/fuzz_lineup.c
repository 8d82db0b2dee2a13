/*
 * Target lineup: the reaper's M3U lineup parser (tools/reaper/lineup.c) over
 * arbitrary bytes.  A parsed lineup must keep its promises: sorted unique
 * canonical ids that it finds again, inputs that classify as accepted, and
 * no input starting with '-' (ffmpeg option injection).
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "lineup.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp_lineup l;
	char err[256];
	memset(&l, 0, sizeof(l));
	int rc = rp_lineup_parse((const char *)data, size, &l, err, sizeof(err));
	if (rc != 0) {
		FUZZ_REQUIRE(rc < 0);
		FUZZ_REQUIRE(memchr(err, '\0', sizeof(err)) != NULL);
		rp_lineup_free(&l);
		return 0;
	}
	FUZZ_REQUIRE(l.n <= RP_LINEUP_MAX_CHANNELS);
	for (size_t i = 0; i < l.n; i++) {
		const struct rp_channel *c = &l.ch[i];
		FUZZ_REQUIRE(c->input != NULL);
		FUZZ_REQUIRE(c->input[0] != '-');
		FUZZ_REQUIRE(strlen(c->input) <= RP_INPUT_MAX);
		FUZZ_REQUIRE(c->kind != RP_INPUT_BAD);
		FUZZ_REQUIRE(rp_input_classify(c->input, NULL) == c->kind);
		FUZZ_REQUIRE(memchr(c->name, '\0', sizeof(c->name)) != NULL);
		FUZZ_REQUIRE(rp_uuid_canonical(c->id_str, strlen(c->id_str)));
		FUZZ_REQUIRE(rp_lineup_find(&l, c->id) == c);
		if (i > 0)
			FUZZ_REQUIRE(uuid_compare(l.ch[i - 1].id, c->id) < 0);
	}
	rp_lineup_free(&l);
	rp_lineup_free(&l);
	return 0;
}
