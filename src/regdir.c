/*
 * Where registry files live and what pages back them.  /dev/shm by default;
 * STREAMREG_DIR names another directory, typically a tmpfs mounted with
 * huge=within_size, where the kernel backs the segment with 2 MiB pages
 * (Debian leaves /dev/shm on 4 KiB pages).  Every process reads the same
 * variable, so creators, attachers and tools agree without a flag.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sr_internal.h"

int sr__dir(char *out, size_t len)
{
	const char *d = getenv(SR_DIR_ENV);
	if (!d || !*d)
		d = SR_DIR_DEFAULT;
	size_t n = strnlen(d, SR_DIR_MAX + 1);
	if (n > SR_DIR_MAX)
		return sr__fail(-ENAMETOOLONG, "%s is longer than %d characters", SR_DIR_ENV,
		                SR_DIR_MAX);
	if (d[0] != '/')
		return sr__fail(-EINVAL, "%s must be an absolute path, not '%.*s'", SR_DIR_ENV,
		                (int)n, d);
	/* A trailing slash would only double in every path and message. */
	while (n > 1 && d[n - 1] == '/')
		n--;
	if (n + 1 > len)
		return sr__fail(-ENAMETOOLONG, "registry directory does not fit");
	memcpy(out, d, n);
	out[n] = '\0';
	return 0;
}

int sr_registry_path(const char *name, char *buf, size_t len)
{
	int rc = sr_name_valid(name);
	if (rc)
		return rc;
	if (!buf)
		return sr__fail(-EINVAL, "buffer is NULL");
	char dir[SR_DIR_MAX + 1];
	if ((rc = sr__dir(dir, sizeof(dir))))
		return rc;
	int n = snprintf(buf, len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = '\0';
		return sr__fail(-ENAMETOOLONG,
		                "path of registry '%s' needs %d bytes, buffer has %zu", name, n + 1,
		                len);
	}
	return 0;
}

/* Ask for huge pages where the mount leaves it to the process (huge=advise);
 * mounts with huge=within_size or always give them anyway, and /dev/shm on
 * Debian (huge=never) ignores it. */
void sr__advise_huge(void *base, size_t size)
{
#ifdef MADV_HUGEPAGE
	(void)madvise(base, size, MADV_HUGEPAGE);
#else
	(void)base;
	(void)size;
#endif
}

static uint64_t smaps_kb(const char *line, const char *key)
{
	size_t k = strlen(key);
	if (strncmp(line, key, k) != 0 || line[k] != ':')
		return UINT64_MAX;
	return strtoull(line + k + 1, NULL, 10);
}

static size_t pmd_size(void)
{
	unsigned long long v = 0;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "re");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v ? (size_t)v : (size_t)2 << 20;
}

int sr_registry_page_size(sr_registry *reg, size_t *page_size)
{
	SR_CHECK_REG(reg);
	if (!page_size)
		return sr__fail(-EINVAL, "output is NULL");
	/* Fault the first hot record in: a huge page is only mapped once touched. */
	(void)sr__ld(&reg->hot[0].state);
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f) {
		int e = errno;
		return sr__fail(-e, "cannot read /proc/self/smaps: %s", strerror(e));
	}
	uintptr_t base = (uintptr_t)reg->base;
	char line[256];
	bool inside = false, found = false;
	uint64_t pmd_kb = 0, kernel_kb = 0;
	while (fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2) {
			if (found && inside)
				break;
			inside = lo <= base && base < hi;
			found |= inside;
			continue;
		}
		if (!inside)
			continue;
		uint64_t v;
		if ((v = smaps_kb(line, "ShmemPmdMapped")) != UINT64_MAX ||
		    (v = smaps_kb(line, "FilePmdMapped")) != UINT64_MAX)
			pmd_kb += v;
		else if ((v = smaps_kb(line, "KernelPageSize")) != UINT64_MAX)
			kernel_kb = v;
	}
	fclose(f);
	if (!found || !kernel_kb)
		return sr__fail(-SR_ECORRUPT, "mapping not found in /proc/self/smaps");
	/* Transparent huge pages show as PMD mappings of the base page size. */
	*page_size = pmd_kb ? pmd_size() : (size_t)kernel_kb << 10;
	return 0;
}
