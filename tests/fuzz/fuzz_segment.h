/* Putting fuzz bytes into a shm object, and every read-only reader over it. */
#ifndef SR_FUZZ_SEGMENT_H
#define SR_FUZZ_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include <streamreg.h>

/* This process's registry name for the fuzzed segment. */
const char *fuzz_shm_name(void);

/* Replace the shm object with exactly these bytes; 0 or -1. */
int fuzz_shm_write(const void *data, size_t size);

/* Every read-only operation of the API over the handle; extra_id (16 bytes,
 * may be NULL) is looked up as well.  Aborts on a broken API promise. */
void fuzz_read_everything(sr_registry *ro, const uint8_t *extra_id);

#endif
