/*
 * A registry with one record left as a writer killed inside an update leaves
 * it: its seqlock odd.  Monitors must leave that record out, say so, and show
 * the others.  Uses the library's internals (streamreg_static) because no
 * public call can stop half-way.
 *
 * usage: stuck NAME SESSIONS STUCK_INDEX
 * Prints "ready ID..." (every session, in insertion order), then waits for EOF
 * on stdin and unlinks the registry.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "sr_internal.h"

enum { MAX_SESSIONS = 16 };

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: stuck NAME SESSIONS STUCK_INDEX\n");
		return 2;
	}
	const char *name = argv[1];
	int n = atoi(argv[2]), stuck = atoi(argv[3]);
	if (n < 1 || n > MAX_SESSIONS || stuck < 0 || stuck >= n)
		return 2;
	sr_create_options opt;
	sr_create_options_init(&opt);
	opt.capacity = 32;
	sr_registry *reg = NULL;
	int rc = sr_registry_create(name, &opt, &reg);
	if (rc < 0) {
		fprintf(stderr, "stuck: create %s: %s\n", name, sr_strerror(rc));
		return 1;
	}
	uuid_t ids[MAX_SESSIONS];
	for (int i = 0; i < n && rc == 0; i++) {
		uuid_generate(ids[i]);
		rc = sr_session_insert(reg, ids[i], NULL);
		if (rc == 0)
			rc = sr_session_record_error(reg, ids[i], "something");
	}
	uint32_t slot = 0, gen = 0;
	if (rc == 0)
		rc = sr__resolve(reg, ids[stuck], &slot, &gen);
	if (rc < 0) {
		fprintf(stderr, "stuck: %s\n", sr_strerror(rc));
		sr_registry_close(reg);
		sr_registry_unlink(name);
		return 1;
	}
	/* What sr__cold_write leaves behind when its process dies mid-copy. */
	atomic_fetch_add_explicit(&reg->cold[slot].seq, 1, memory_order_release);
	printf("ready");
	for (int i = 0; i < n; i++) {
		char text[SR_UUID_STR_LEN + 1];
		sr_uuid_format(ids[i], text);
		printf(" %s", text);
	}
	printf("\n");
	fflush(stdout);
	int c;
	do
		c = getchar();
	while (c != EOF);
	sr_registry_unlink(name);
	sr_registry_close(reg);
	return 0;
}
