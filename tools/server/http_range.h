/*
 * Byte ranges (RFC 9110 §14): which part of a file a GET with a Range
 * header gets.  Pure, so it is unit-tested on its own.
 */
#ifndef SRV_HTTP_RANGE_H
#define SRV_HTTP_RANGE_H

#include <stdint.h>

enum range_kind {
	RANGE_FULL,          /* no usable Range: 200 with the whole file */
	RANGE_PARTIAL,       /* 206 with bytes [first, first + len) */
	RANGE_UNSATISFIABLE, /* 416 with Content-Range: bytes * / size */
};

/*
 * Decide the answer to the Range header `hdr` (NULL when absent) for a file
 * of `size` bytes.  One range-spec is served (int-range "a-b", "a-" or
 * suffix-range "-n", §14.1.2); a syntactically invalid header, another
 * unit, several range-specs or an empty file get the whole file (§14.2
 * lets a server ignore Range).  Unsatisfiable: a first-pos at or past the
 * end, or a suffix of 0 bytes.
 */
enum range_kind range_select(const char *hdr, uint64_t size, uint64_t *first, uint64_t *len);

#endif
