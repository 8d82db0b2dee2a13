/*
 * Target range: the server's Range header decision (tools/server/http_range.c,
 * RFC 9110 §14).  Whatever the header, a partial answer names bytes inside
 * the file, at least one, and the same header decides the same way again.
 * The input's first 8 bytes are the file size (bounded to 2^40, so the
 * edge sizes 0, 1 and huge all occur), the rest is the header text.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http_range.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t file = 0;
	size_t k = size < 8 ? size : 8;
	memcpy(&file, data, k);
	file %= (1ull << 40);
	char *hdr = fuzz_strdup(data + k, size - k);
	uint64_t first = 0, len = 0, first2 = 0, len2 = 0;
	enum range_kind r = range_select(hdr, file, &first, &len);
	FUZZ_REQUIRE(r == RANGE_FULL || r == RANGE_PARTIAL || r == RANGE_UNSATISFIABLE);
	if (r == RANGE_PARTIAL) {
		FUZZ_REQUIRE(len >= 1 && first < file && len <= file - first);
	}
	if (file == 0)
		FUZZ_REQUIRE(r == RANGE_FULL);
	FUZZ_REQUIRE(range_select(hdr, file, &first2, &len2) == r);
	if (r == RANGE_PARTIAL)
		FUZZ_REQUIRE(first2 == first && len2 == len);
	FUZZ_REQUIRE(range_select(NULL, file, &first2, &len2) == RANGE_FULL);
	free(hdr);
	return 0;
}
