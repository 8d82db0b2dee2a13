/*
 * Target names: the library's parsers of hostile text: channel UUIDs
 * (sr_uuid_parse, which the server and the CLI feed with request and
 * command-line text), registry names and state names.  An accepted UUID
 * must round-trip through sr_uuid_format to its lower-case text.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <streamreg.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strdup(data, size);
	uuid_t id = {0};
	if (sr_uuid_parse(s, id) == 0) {
		FUZZ_REQUIRE(strlen(s) == SR_UUID_STR_LEN);
		char back[SR_UUID_STR_LEN + 1];
		sr_uuid_format(id, back);
		for (size_t i = 0; i < SR_UUID_STR_LEN; i++)
			FUZZ_REQUIRE(back[i] == tolower((unsigned char)s[i]));
	}
	int rc = sr_name_valid(s);
	if (rc == 0) {
		size_t n = strlen(s);
		FUZZ_REQUIRE(n >= 1 && n <= SR_NAME_MAX);
		FUZZ_REQUIRE(strchr(s, '/') == NULL && strchr(s, '.') == NULL);
	}
	sr_state st;
	if (sr_state_parse(s, &st) == 0)
		FUZZ_REQUIRE((unsigned)st < SR_STATE_COUNT);
	FUZZ_REQUIRE(sr_strerror(size > 0 ? -(int)data[0] * 37 : 0) != NULL);
	free(s);
	return 0;
}
