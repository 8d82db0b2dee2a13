/*
 * Checks the reaper makes before it serves, so that a setup that cannot
 * work fails at once with the reason instead of at the first start.
 */
#ifndef RP_SETUP_CHECKS_H
#define RP_SETUP_CHECKS_H

#include <stddef.h>

#include "streamreg.h"

/**
 * Whether the transcoders can write into the output directory: a forked
 * child takes the identity they will have (user, or the current one when
 * NULL), then creates and removes a probe directory and a probe file in
 * it, as a transcoder start does.  0, or a negative errno with the reason
 * in err.
 */
int rp_probe_outdir(int outfd, const char *outdir, const char *user, char *err, size_t errlen);

/**
 * Whether the registry can hold a session per lineup channel.  0, or
 * -ENOSPC with the numbers and what to do in err.
 */
int rp_check_capacity(sr_registry *reg, const char *name, size_t channels, char *err,
                      size_t errlen);

#endif
