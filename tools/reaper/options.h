/* Command line of streamreg-reaper. */
#ifndef RP_OPTIONS_H
#define RP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ladder.h"

struct rp_config {
	const char *registry;
	const char *lineup_path;
	const char *output_dir;
	const char *ladder_spec;
	struct rp_ladder ladder;
	char ffmpeg[4096]; /* absolute, resolved through PATH */
	uint64_t idle_grace_ms;
	uint64_t stop_timeout_ms;
	uint64_t start_timeout_ms;
	uint64_t backoff_min_ms;
	uint64_t backoff_max_ms;
	uint64_t healthy_ms; /* a run this long resets the failure count */
	uint64_t
	    stall_ms; /* an active run whose playlists stop changing this long failed; 0: off */
	uint64_t scan_interval_ms;
	unsigned max_restarts;
	unsigned hls_time;
	unsigned hls_list_size;
	unsigned fps;
	unsigned audio_kbps;
	bool create;
	uint32_t capacity;
	bool capacity_set; /* given on the command line, so never raised */
	mode_t mode;
	const char *user;
	bool use_syslog;
	unsigned lineup_flags; /* ST_LINEUP_* */
};

/** Usage text for --help. */
void rp_usage(FILE *out);

/**
 * Parse argv into *cfg.  Returns 0 to run, 1 when --help was given (usage
 * printed), or -EINVAL with a message in err.
 */
int rp_options_parse(int argc, char **argv, struct rp_config *cfg, char *err, size_t errlen);

#endif
