/*
 * Target server_lineup: the server's own reading of the lineup
 * (tools/server/lineup.c), which decides what is a 404 before the registry
 * is touched.  Whatever it accepts must be sorted, found again and hold
 * terminated names.
 */
#include <stdlib.h>
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
	char *text = fuzz_strdup(data, size);
	struct lineup l;
	char err[256];
	memset(&l, 0, sizeof(l));
	if (lineup_parse(text, "fuzz.m3u", &l, err, sizeof(err)) == 0) {
		FUZZ_REQUIRE(l.n <= LINEUP_MAX_CHANNELS);
		for (size_t i = 0; i < l.n; i++) {
			const struct lineup_channel *c = &l.channels[i];
			FUZZ_REQUIRE(memchr(c->name, '\0', sizeof(c->name)) != NULL);
			FUZZ_REQUIRE(lineup_find(&l, c->id) == c);
			if (i > 0)
				FUZZ_REQUIRE(uuid_compare(l.channels[i - 1].id, c->id) < 0);
		}
		lineup_free(&l);
	} else {
		FUZZ_REQUIRE(memchr(err, '\0', sizeof(err)) != NULL);
	}
	free(text);
	return 0;
}
