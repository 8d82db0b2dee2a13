/*
 * Target lineup: the one M3U lineup parser of the tools
 * (tools/common/st_lineup.c, read by the reaper and the server) over
 * arbitrary bytes.  A parsed lineup must keep its promises: sorted unique
 * canonical ids that it finds again, inputs that classify as accepted, no
 * input starting with '-' (ffmpeg option injection), lavfi graphs of
 * generators only unless ST_LINEUP_LAVFI_ANY, and a playlist order that is
 * a permutation in line order.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "st_lineup.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int check(const uint8_t *data, size_t size, unsigned flags)
{
	struct st_lineup l;
	char err[256];
	memset(&l, 0, sizeof(l));
	int rc = st_lineup_parse((const char *)data, size, flags, &l, err, sizeof(err));
	if (rc != 0) {
		FUZZ_REQUIRE(rc < 0);
		FUZZ_REQUIRE(memchr(err, '\0', sizeof(err)) != NULL);
		st_lineup_free(&l);
		return rc;
	}
	FUZZ_REQUIRE(l.n <= ST_LINEUP_MAX_CHANNELS);
	for (size_t i = 0; i < l.n; i++) {
		const struct st_channel *c = &l.ch[i];
		FUZZ_REQUIRE(c->input != NULL);
		FUZZ_REQUIRE(c->input[0] != '-');
		FUZZ_REQUIRE(strlen(c->input) <= ST_INPUT_MAX);
		FUZZ_REQUIRE(c->kind != ST_INPUT_BAD);
		FUZZ_REQUIRE(st_input_classify(c->input, NULL) == c->kind);
		if (c->kind == ST_INPUT_LAVFI && !(flags & ST_LINEUP_LAVFI_ANY))
			FUZZ_REQUIRE(st_lavfi_allowed(c->input + 6, NULL) == 0);
		FUZZ_REQUIRE(memchr(c->name, '\0', sizeof(c->name)) != NULL);
		FUZZ_REQUIRE(st_uuid_canonical(c->id_str, strlen(c->id_str)));
		FUZZ_REQUIRE(st_lineup_find(&l, c->id) == c);
		if (i > 0)
			FUZZ_REQUIRE(uuid_compare(l.ch[i - 1].id, c->id) < 0);
		FUZZ_REQUIRE(l.order[i] < l.n);
		if (i > 0)
			FUZZ_REQUIRE(l.ch[l.order[i - 1]].line < l.ch[l.order[i]].line);
	}
	st_lineup_free(&l);
	st_lineup_free(&l);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The allow-list only ever narrows: what passes it passes without it. */
	if (check(data, size, 0) == 0)
		FUZZ_REQUIRE(check(data, size, ST_LINEUP_LAVFI_ANY) == 0);
	else
		(void)check(data, size, ST_LINEUP_LAVFI_ANY);
	return 0;
}
