/* Which comparators this build has; a missing library is reported, never faked. */
#include "bench.h"

#include <string.h>

const char *bench_missing_reason(const char *name)
{
#ifndef SR_BENCH_HAVE_HIREDIS
	if (!strncmp(name, "redis", 5))
		return "skipped: hiredis (Debian libhiredis-dev) not found by pkg-config at build "
		       "time";
#endif
#ifndef SR_BENCH_HAVE_LMDB
	if (!strcmp(name, "lmdb"))
		return "skipped: lmdb (Debian liblmdb-dev) not found by pkg-config at build time";
#endif
#ifndef SR_BENCH_HAVE_TDB
	if (!strcmp(name, "tdb"))
		return "skipped: tdb (Debian libtdb-dev) not found by pkg-config at build time";
#endif
	(void)name;
	return NULL;
}
