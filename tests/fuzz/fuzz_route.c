/*
 * Target route: the server's request path handling (tools/server/route.c):
 * percent-decoding, then parsing.  What parses must be safe to join to a
 * channel's directory: the variant and file names are single components,
 * never "." or "..", and only from [A-Za-z0-9._-].  The input is split at
 * its first NUL: before it, a raw path through route_unescape; after it, a
 * decoded path straight to route_parse.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "route.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_name(const char *s)
{
	FUZZ_REQUIRE(memchr(s, '\0', ROUTE_NAME_MAX + 1) != NULL);
	FUZZ_REQUIRE(strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
	for (const char *p = s; *p; p++)
		FUZZ_REQUIRE((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		             (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-');
}

static void parse_one(const char *path)
{
	struct route r;
	const char *why = NULL;
	memset(&r, 0, sizeof(r));
	int rc = route_parse(path, &r, &why);
	if (rc != 0) {
		FUZZ_REQUIRE(rc == 400 || rc == 404 || rc == 405 || rc == 414);
		FUZZ_REQUIRE(why != NULL);
		return;
	}
	if (r.kind == ROUTE_FILE) {
		FUZZ_REQUIRE(r.variant[0] != '\0' || r.file[0] != '\0');
		check_name(r.variant);
		check_name(r.file);
		FUZZ_REQUIRE(route_content_type(r.file_type) != NULL);
	}
	if (r.kind == ROUTE_STATIC)
		check_name(r.file); /* joined to the web root the same way */
	if (r.has_token) {
		char tok[ROUTE_TOKEN_LEN + 1];
		route_format_token(r.token_slot, r.token_nonce, tok);
		FUZZ_REQUIRE(strlen(tok) == ROUTE_TOKEN_LEN);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strdup(data, size);
	size_t first = strlen(s);
	char *raw = strdup(s);
	if (!raw)
		abort();
	size_t n = route_unescape(raw);
	FUZZ_REQUIRE(n <= first);
	parse_one(raw);
	if (first < size)
		parse_one(s + first + 1);
	free(raw);
	free(s);
	return 0;
}
