/* A private tmpfs mounted with huge=within_size (bench_hugedir.c). */
#ifndef SR_BENCH_HUGEDIR_H
#define SR_BENCH_HUGEDIR_H

#include <stdbool.h>
#include <stddef.h>

/* Mount it in a private mount namespace under /tmp; its path into dir
 * (64 bytes are enough).  0, or -1 with the reason in why (not root, a kernel
 * policy, a failure). */
int bench_huge_dir_open(char *dir, size_t len, char *why, size_t whylen);
/* Unmount it and remove its mount point; nothing when none is mounted. */
void bench_huge_dir_close(void);

#endif
