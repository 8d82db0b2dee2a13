/*
 * Target attach_raw: the fuzz input is the whole segment.  Attaching must
 * refuse it with a clear code (almost always: the header has a checksum) or,
 * should it pass, every reader must survive it.  Read-write attach is tried
 * too: validation comes before anything is trusted.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "fuzz_segment.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_shm_write(data, size) != 0)
		return 0;
	sr_registry *reg = NULL;
	int rc = sr_registry_attach(fuzz_shm_name(), SR_ATTACH_READONLY, &reg);
	if (rc == 0) {
		fuzz_read_everything(reg, size >= 16 ? data : NULL);
		sr_registry_close(reg);
	} else {
		FUZZ_REQUIRE(rc < 0 && reg == NULL);
		FUZZ_REQUIRE(sr_errdetail()[0] != '\0');
	}
	reg = NULL;
	rc = sr_registry_attach(fuzz_shm_name(), 0, &reg);
	if (rc == 0)
		sr_registry_close(reg);
	else
		FUZZ_REQUIRE(reg == NULL);
	sr_registry_unlink(fuzz_shm_name());
	return 0;
}
