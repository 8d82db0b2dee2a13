#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <streamreg.h>

#include "st_chandir.h"
#include "st_lineup.h"
#include "st_num.h"

void rp_usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: streamreg-reaper --registry NAME --lineup FILE --output-dir DIR [options]\n"
	    "\n"
	    "Owns the ffmpeg transcoders of a streamreg registry: starts one when a worker\n"
	    "moves a channel to 'starting', watches it, restarts it after failures and stops\n"
	    "it once no client has used the channel for the idle grace period.\n"
	    "\n"
	    "Required:\n"
	    "  --registry NAME         registry: the file $STREAMREG_DIR/NAME, by default\n"
	    "                          /dev/shm/NAME\n"
	    "  --lineup FILE           IPTV M3U playlist: #EXTINF:-1 tvg-id=\"<uuid>\",Name\n"
	    "                          then the input (http(s)/rtsp/rtmp/udp/rtp/srt URL,\n"
	    "                          absolute file path, or lavfi:GRAPH of generator\n"
	    "                          sources such as testsrc2, smptebars, sine)\n"
	    "  --output-dir DIR        HLS output goes to DIR/<channel-uuid>/\n"
	    "Lineup:\n"
	    "  --lavfi-any             allow any lavfi graph, including filters that read\n"
	    "                          files (movie=, subtitles=, ...)\n"
	    "Transcoding:\n"
	    "  --ladder SPEC           variants, default \"%s\"\n"
	    "  --ffmpeg PATH           ffmpeg binary (default: ffmpeg from PATH)\n"
	    "  --hls-time SECONDS      segment duration, whole seconds 1 to 60 (default 2)\n"
	    "  --hls-list-size N       segments per playlist (default 6)\n"
	    "  --fps N                 output frame rate (default 25)\n"
	    "  --audio-bitrate KBPS    AAC bitrate (default 64)\n"
	    "Lifecycle (SECONDS may have decimals):\n"
	    "  --idle-grace SECONDS    stop a channel without clients idle this long\n"
	    "                          (default 30; keep it above 3 segment durations)\n"
	    "  --start-timeout SECONDS a start not producing playlists by then fails (15)\n"
	    "  --stop-timeout SECONDS  SIGKILL a transcoder still alive this long after\n"
	    "                          SIGTERM (default 5)\n"
	    "  --max-restarts N        automatic restarts after consecutive failures (5)\n"
	    "  --backoff-min SECONDS   first restart delay, doubled per failure (1)\n"
	    "  --backoff-max SECONDS   restart delay cap (60)\n"
	    "  --healthy-after SECONDS a run this long resets the failure count (30)\n"
	    "  --stall-timeout SECONDS an active transcoder whose playlists stop changing this\n"
	    "                          long has failed (default 5 segments but at least\n"
	    "                          10; refused under 2 segments; 0: off)\n"
	    "  --scan-interval SECONDS idle scan period (default 0.25)\n"
	    "Registry and process:\n"
	    "  --create                create the registry if it does not exist\n"
	    "  --capacity N            its session capacity (default 1024, or the\n"
	    "                          lineup's channel count if larger)\n"
	    "  --mode OCTAL            its permission bits (default 0600)\n"
	    "  --user NAME             drop privileges to NAME after setup\n"
	    "  --syslog                log to syslog instead of stderr\n"
	    "  --help                  this text\n"
	    "\n"
	    "One reaper serves a registry: a second one exits 1 naming the first one's\n"
	    "pid and output directory; a dead one is taken over at once.\n"
	    "\n"
	    "Signals: SIGTERM/SIGINT stop every transcoder and exit 0; channels with\n"
	    "viewers keep their state and current run for the next reaper, which restarts\n"
	    "them at once (restart or upgrade without cutting viewers).  SIGHUP reloads\n"
	    "the lineup (a broken lineup is reported and the old one kept).\n"
	    "Exit status: 0 after SIGTERM/SIGINT, 1 setup failed (lineup, output\n"
	    "directory, registry, another reaper), 2 usage error.\n",
	    RP_LADDER_DEFAULT);
}

static int bad(char *err, size_t errlen, const char *opt, const char *val, const char *want)
{
	snprintf(err, errlen, "%s: invalid value \"%s\" (%s)", opt, val, want);
	return -EINVAL;
}

/* min and max in ms; 86400 s is the longest duration any option takes. */
static int parse_seconds(const char *opt, const char *s, uint64_t min_ms, uint64_t *ms, char *err,
                         size_t errlen)
{
	if (st_parse_seconds_ms(s, min_ms, 86400000, ms) < 0) {
		char want[96];
		snprintf(want, sizeof want, "seconds from %.3g to 86400, such as 30 or 0.5",
		         (double)min_ms / 1000.0);
		return bad(err, errlen, opt, s, want);
	}
	return 0;
}

static int parse_uint(const char *opt, const char *s, unsigned long min, unsigned long max,
                      unsigned long *out, char *err, size_t errlen)
{
	uint64_t v;
	if (st_parse_u64(s, min, max, &v) < 0) {
		char want[64];
		snprintf(want, sizeof want, "a whole number from %lu to %lu", min, max);
		return bad(err, errlen, opt, s, want);
	}
	*out = (unsigned long)v;
	return 0;
}

static int find_in_path(const char *prog, char *out, size_t len)
{
	if (strchr(prog, '/')) {
		if (prog[0] != '/') {
			char cwd[2048];
			if (!getcwd(cwd, sizeof cwd))
				return -errno;
			if ((size_t)snprintf(out, len, "%s/%s", cwd, prog) >= len)
				return -ENAMETOOLONG;
		} else if ((size_t)snprintf(out, len, "%s", prog) >= len) {
			return -ENAMETOOLONG;
		}
		return access(out, X_OK) == 0 ? 0 : -errno;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t n = colon ? (size_t)(colon - path) : strlen(path);
		if (n && (size_t)snprintf(out, len, "%.*s/%s", (int)n, path, prog) < len &&
		    out[0] == '/' && access(out, X_OK) == 0)
			return 0;
		path += n + (colon ? 1 : 0);
	}
	return -ENOENT;
}

enum {
	OPT_REGISTRY = 256,
	OPT_LINEUP,
	OPT_OUTPUT,
	OPT_GRACE,
	OPT_LADDER,
	OPT_FFMPEG,
	OPT_MAXRESTARTS,
	OPT_STOPTO,
	OPT_STARTTO,
	OPT_BOFFMIN,
	OPT_BOFFMAX,
	OPT_HEALTHY,
	OPT_STALL,
	OPT_SCAN,
	OPT_HLSTIME,
	OPT_LISTSIZE,
	OPT_FPS,
	OPT_ABR,
	OPT_CREATE,
	OPT_CAPACITY,
	OPT_MODE,
	OPT_USER,
	OPT_SYSLOG,
	OPT_LAVFI_ANY,
	OPT_HELP
};

int rp_options_parse(int argc, char **argv, struct rp_config *cfg, char *err, size_t errlen)
{
	static const struct option opts[] = {
	    {"registry", required_argument, NULL, OPT_REGISTRY},
	    {"lineup", required_argument, NULL, OPT_LINEUP},
	    {"output-dir", required_argument, NULL, OPT_OUTPUT},
	    {"idle-grace", required_argument, NULL, OPT_GRACE},
	    {"ladder", required_argument, NULL, OPT_LADDER},
	    {"ffmpeg", required_argument, NULL, OPT_FFMPEG},
	    {"max-restarts", required_argument, NULL, OPT_MAXRESTARTS},
	    {"stop-timeout", required_argument, NULL, OPT_STOPTO},
	    {"start-timeout", required_argument, NULL, OPT_STARTTO},
	    {"backoff-min", required_argument, NULL, OPT_BOFFMIN},
	    {"backoff-max", required_argument, NULL, OPT_BOFFMAX},
	    {"healthy-after", required_argument, NULL, OPT_HEALTHY},
	    {"stall-timeout", required_argument, NULL, OPT_STALL},
	    {"scan-interval", required_argument, NULL, OPT_SCAN},
	    {"hls-time", required_argument, NULL, OPT_HLSTIME},
	    {"hls-list-size", required_argument, NULL, OPT_LISTSIZE},
	    {"fps", required_argument, NULL, OPT_FPS},
	    {"audio-bitrate", required_argument, NULL, OPT_ABR},
	    {"create", no_argument, NULL, OPT_CREATE},
	    {"capacity", required_argument, NULL, OPT_CAPACITY},
	    {"mode", required_argument, NULL, OPT_MODE},
	    {"user", required_argument, NULL, OPT_USER},
	    {"syslog", no_argument, NULL, OPT_SYSLOG},
	    {"lavfi-any", no_argument, NULL, OPT_LAVFI_ANY},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	const char *ffmpeg = "ffmpeg";
	unsigned long u;
	int rc;

	memset(cfg, 0, sizeof *cfg);
	cfg->ladder_spec = RP_LADDER_DEFAULT;
	cfg->idle_grace_ms = 30000;
	cfg->stop_timeout_ms = 5000;
	cfg->start_timeout_ms = 15000;
	cfg->backoff_min_ms = 1000;
	cfg->backoff_max_ms = 60000;
	cfg->healthy_ms = 30000;
	cfg->scan_interval_ms = 250;
	cfg->max_restarts = 5;
	cfg->hls_time = 2;
	cfg->hls_list_size = 6;
	cfg->fps = 25;
	cfg->audio_kbps = 64;
	cfg->capacity = 1024;
	cfg->mode = 0600;

	bool stall_set = false;
	optind = 1;
	opterr = 0;
	for (;;) {
		int o = getopt_long(argc, argv, ":h", opts, NULL);
		if (o == -1)
			break;
		const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "option";
		switch (o) {
		case OPT_REGISTRY:
			/* A bad name is a usage error (exit 2) as in every tool,
			 * not a setup failure found later at attach. */
			if (sr_name_valid(optarg) < 0)
				return bad(err, errlen, "--registry", optarg,
				           "1 to 64 characters from A-Z a-z 0-9 _ -");
			cfg->registry = optarg;
			break;
		case OPT_LINEUP:
			cfg->lineup_path = optarg;
			break;
		case OPT_OUTPUT:
			/* The session records DIR/<uuid>: the server refuses a
			 * longer DIR, so the pair must agree. */
			if (!*optarg || strlen(optarg) > ST_OUTPUT_DIR_MAX) {
				char want[48];
				snprintf(want, sizeof want, "1 to %d characters",
				         ST_OUTPUT_DIR_MAX);
				return bad(err, errlen, "--output-dir", optarg, want);
			}
			cfg->output_dir = optarg;
			break;
		case OPT_LADDER:
			cfg->ladder_spec = optarg;
			break;
		case OPT_FFMPEG:
			ffmpeg = optarg;
			break;
		case OPT_GRACE:
			rc = parse_seconds("--idle-grace", optarg, 0, &cfg->idle_grace_ms, err,
			                   errlen);
			if (rc)
				return rc;
			break;
		case OPT_STOPTO:
			rc = parse_seconds("--stop-timeout", optarg, 10, &cfg->stop_timeout_ms, err,
			                   errlen);
			if (rc)
				return rc;
			break;
		case OPT_STARTTO:
			rc = parse_seconds("--start-timeout", optarg, 100, &cfg->start_timeout_ms,
			                   err, errlen);
			if (rc)
				return rc;
			break;
		case OPT_BOFFMIN:
			rc = parse_seconds("--backoff-min", optarg, 0, &cfg->backoff_min_ms, err,
			                   errlen);
			if (rc)
				return rc;
			break;
		case OPT_BOFFMAX:
			rc = parse_seconds("--backoff-max", optarg, 0, &cfg->backoff_max_ms, err,
			                   errlen);
			if (rc)
				return rc;
			break;
		case OPT_HEALTHY:
			rc = parse_seconds("--healthy-after", optarg, 0, &cfg->healthy_ms, err,
			                   errlen);
			if (rc)
				return rc;
			break;
		case OPT_STALL:
			rc = parse_seconds("--stall-timeout", optarg, 0, &cfg->stall_ms, err,
			                   errlen);
			if (rc)
				return rc;
			stall_set = true;
			break;
		case OPT_SCAN:
			rc = parse_seconds("--scan-interval", optarg, 5, &cfg->scan_interval_ms,
			                   err, errlen);
			if (rc)
				return rc;
			break;
		case OPT_MAXRESTARTS:
			if ((rc = parse_uint("--max-restarts", optarg, 0, 1000, &u, err, errlen)))
				return rc;
			cfg->max_restarts = (unsigned)u;
			break;
		case OPT_HLSTIME:
			if ((rc = parse_uint("--hls-time", optarg, 1, 60, &u, err, errlen)))
				return rc;
			cfg->hls_time = (unsigned)u;
			break;
		case OPT_LISTSIZE:
			if ((rc = parse_uint("--hls-list-size", optarg, 1, 1000, &u, err, errlen)))
				return rc;
			cfg->hls_list_size = (unsigned)u;
			break;
		case OPT_FPS:
			if ((rc = parse_uint("--fps", optarg, 1, 120, &u, err, errlen)))
				return rc;
			cfg->fps = (unsigned)u;
			break;
		case OPT_ABR:
			if ((rc = parse_uint("--audio-bitrate", optarg, 8, 512, &u, err, errlen)))
				return rc;
			cfg->audio_kbps = (unsigned)u;
			break;
		case OPT_CAPACITY:
			if ((rc = parse_uint("--capacity", optarg, 1, 1u << 24, &u, err, errlen)))
				return rc;
			cfg->capacity = (uint32_t)u;
			cfg->capacity_set = true;
			break;
		case OPT_MODE: {
			unsigned m;
			if (st_parse_mode(optarg, &m) < 0 || (m & 0600) != 0600)
				return bad(err, errlen, "--mode", optarg,
				           "octal permission bits including 0600");
			cfg->mode = (mode_t)m;
			break;
		}
		case OPT_CREATE:
			cfg->create = true;
			break;
		case OPT_USER:
			cfg->user = optarg;
			break;
		case OPT_SYSLOG:
			cfg->use_syslog = true;
			break;
		case OPT_LAVFI_ANY:
			cfg->lineup_flags |= ST_LINEUP_LAVFI_ANY;
			break;
		case OPT_HELP:
		case 'h':
			rp_usage(stdout);
			return 1;
		case ':':
			snprintf(err, errlen, "%s needs a value", name);
			return -EINVAL;
		default:
			snprintf(err, errlen, "unknown option %s (see --help)", name);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", argv[optind]);
		return -EINVAL;
	}
	if (!cfg->registry || !cfg->lineup_path || !cfg->output_dir) {
		snprintf(err, errlen,
		         "--registry, --lineup and --output-dir are required "
		         "(see --help)");
		return -EINVAL;
	}
	/* ffmpeg rewrites every variant playlist once per segment: five missed
	 * segments is no hiccup, and 10 s covers a slow start of the encoder. */
	if (!stall_set) {
		cfg->stall_ms = 5000ull * cfg->hls_time;
		if (cfg->stall_ms < 10000)
			cfg->stall_ms = 10000;
	}
	/* A healthy ffmpeg rewrites each playlist once per segment, so a
	 * playlist is routinely almost one segment old: a shorter timeout would
	 * fail every channel right after it goes active. */
	if (cfg->stall_ms && cfg->stall_ms < 2000ull * cfg->hls_time) {
		snprintf(err, errlen,
		         "--stall-timeout %.3g s is shorter than two segment durations "
		         "(--hls-time %u: %u s): healthy transcoders rewrite their playlists "
		         "only once per segment; use at least %u, or 0 to turn it off",
		         (double)cfg->stall_ms / 1000.0, cfg->hls_time, 2 * cfg->hls_time,
		         2 * cfg->hls_time);
		return -EINVAL;
	}
	if (cfg->backoff_max_ms < cfg->backoff_min_ms) {
		snprintf(err, errlen, "--backoff-max must not be below --backoff-min");
		return -EINVAL;
	}
	char lerr[256];
	if (rp_ladder_parse(cfg->ladder_spec, &cfg->ladder, lerr, sizeof lerr) != 0) {
		snprintf(err, errlen, "--ladder: %s", lerr);
		return -EINVAL;
	}
	rc = find_in_path(ffmpeg, cfg->ffmpeg, sizeof cfg->ffmpeg);
	if (rc) {
		snprintf(err, errlen, "--ffmpeg: cannot find an executable \"%s\": %s", ffmpeg,
		         strerror(-rc));
		return -EINVAL;
	}
	return 0;
}
