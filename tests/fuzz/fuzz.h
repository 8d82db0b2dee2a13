/*
 * libFuzzer entry points of the targets in this directory.  Each target is
 * built twice: with clang and -fsanitize=fuzzer,address,undefined as a fuzzer,
 * and with any compiler against replay.c, which feeds it the committed seed
 * corpus and every regression input (tests/fuzz/regress/<target>/).
 */
#ifndef SR_FUZZ_H
#define SR_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A bug the sanitizers cannot see (a broken promise of an API): abort, so
 * libFuzzer saves the input and replay fails. */
#define FUZZ_REQUIRE(cond)                                                                         \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, #cond);                                      \
	} while (0)

void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* Copy data into a NUL-terminated heap string (free it). */
char *fuzz_strdup(const uint8_t *data, size_t size);

#endif
