#include "server_options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <streamreg.h>

#include "st_chandir.h"
#include "st_lineup.h"
#include "st_num.h"
#include "viewers.h"

static const char usage[] =
    "Usage: streamreg-server --registry NAME --lineup FILE --output-dir DIR [options]\n"
    "\n"
    "Pre-fork HLS server: a master binds the socket and supervises N workers that\n"
    "answer on it with libmicrohttpd.  Channels are started by moving their session\n"
    "to `starting` in the registry; streamreg-reaper runs the transcoders.\n"
    "\n"
    "  --registry NAME         registry to attach (read-write)\n"
    "  --lineup FILE           IPTV M3U lineup (the reaper's, read by the same rules)\n"
    "  --lavfi-any             accept lavfi graphs beyond generator sources (give it\n"
    "                          to both when the reaper runs with --lavfi-any)\n"
    "  --output-dir DIR        where the reaper writes DIR/<channel-uuid>/\n"
    "  --listen HOST:PORT      address to bind (default 127.0.0.1:8080)\n"
    "  --workers N             worker processes, 1 to 254 (default: number of CPUs)\n"
    "  --threads N             HTTP threads per worker (default 1)\n"
    "  --reuseport             one SO_REUSEPORT listen socket per worker instead of\n"
    "                          one shared socket: connections spread evenly\n"
    "  --viewer-timeout S      a viewer without a request for S seconds stops\n"
    "                          counting (default 10; fractions allowed)\n"
    "  --start-timeout S       longest wait of master.m3u8 for a start (default 15)\n"
    "  --conn-timeout S        close connections idle for S seconds (default 10)\n"
    "  --header-timeout S      close connections that take longer than S seconds\n"
    "                          to send their request headers (default 10)\n"
    "  --max-connections N     connections per worker (default 1024)\n"
    "  --max-header-bytes N    memory per connection, which bounds request\n"
    "                          headers; larger requests get 431 (default 16384)\n"
    "  --max-viewers N         viewer table size (default 16384)\n"
    "  --web-root DIR          the player page's files (DIR/page/ and\n"
    "                          DIR/node_modules/hls.js/; default: the installed\n"
    "                          share/streamreg/web, else the source tree's web/)\n"
    "  --sendfile-playlists    send variant playlists with sendfile() like segments\n"
    "                          (default: small playlists go out in one write with\n"
    "                          the headers, which is cheaper)\n"
    "  --create                create the registry if it does not exist (and\n"
    "                          unlink it at exit if this process created it)\n"
    "  --capacity N            session capacity with --create (default 1024)\n"
    "  -v, --verbose           log every request\n"
    "  -q, --quiet             log errors only\n"
    "  -h, --help              this help\n"
    "  -V, --version           version\n"
    "\n"
    "Signals to the master: SIGTERM or SIGINT stop the workers cleanly and exit 0;\n"
    "SIGHUP re-reads the lineup and replaces the workers.\n"
    "Exit status: 0 after SIGTERM/SIGINT, 1 setup failed (registry, lineup,\n"
    "socket), 2 usage error.\n"
    "Environment: STREAMREG_SERVER_NO_REGISTRY=1 skips the registry calls of the\n"
    "file endpoints (benchmark baseline only).\n";

enum {
	OPT_REGISTRY = 256,
	OPT_LINEUP,
	OPT_OUTPUT,
	OPT_LISTEN,
	OPT_WORKERS,
	OPT_THREADS,
	OPT_VIEWER_TIMEOUT,
	OPT_START_TIMEOUT,
	OPT_CONN_TIMEOUT,
	OPT_HEADER_TIMEOUT,
	OPT_MAX_CONN,
	OPT_MAX_HEADER,
	OPT_MAX_VIEWERS,
	OPT_CREATE,
	OPT_SENDFILE_PLAYLISTS,
	OPT_REUSEPORT,
	OPT_CAPACITY,
	OPT_LAVFI_ANY,
	OPT_WEB_ROOT,
};

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	fprintf(stderr, "streamreg-server: %s (see --help)\n", msg);
	return 2;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	uint64_t v;
	if (st_parse_u64(s, min, max, &v) < 0)
		return -1;
	*out = (unsigned long)v;
	return 0;
}

/* Seconds with an optional fraction ("0.5"), into milliseconds. */
static int parse_seconds_ms(const char *s, unsigned min_ms, unsigned max_ms, unsigned *out)
{
	uint64_t v;
	if (st_parse_seconds_ms(s, min_ms, max_ms, &v) < 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_listen(const char *s, struct server_options *o)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof o->host)
		return -1;
	unsigned long port;
	if (parse_uint(colon + 1, 0, 65535, &port) < 0)
		return -1;
	memcpy(o->host, s, (size_t)(colon - s));
	o->host[colon - s] = '\0';
	o->port = (uint16_t)port;
	return 0;
}

int server_options_parse(int argc, char **argv, struct server_options *o)
{
	static const struct option longopts[] = {
	    {"registry", required_argument, NULL, OPT_REGISTRY},
	    {"lineup", required_argument, NULL, OPT_LINEUP},
	    {"output-dir", required_argument, NULL, OPT_OUTPUT},
	    {"listen", required_argument, NULL, OPT_LISTEN},
	    {"workers", required_argument, NULL, OPT_WORKERS},
	    {"threads", required_argument, NULL, OPT_THREADS},
	    {"viewer-timeout", required_argument, NULL, OPT_VIEWER_TIMEOUT},
	    {"start-timeout", required_argument, NULL, OPT_START_TIMEOUT},
	    {"conn-timeout", required_argument, NULL, OPT_CONN_TIMEOUT},
	    {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
	    {"max-connections", required_argument, NULL, OPT_MAX_CONN},
	    {"max-header-bytes", required_argument, NULL, OPT_MAX_HEADER},
	    {"max-viewers", required_argument, NULL, OPT_MAX_VIEWERS},
	    {"create", no_argument, NULL, OPT_CREATE},
	    {"sendfile-playlists", no_argument, NULL, OPT_SENDFILE_PLAYLISTS},
	    {"reuseport", no_argument, NULL, OPT_REUSEPORT},
	    {"capacity", required_argument, NULL, OPT_CAPACITY},
	    {"lavfi-any", no_argument, NULL, OPT_LAVFI_ANY},
	    {"web-root", required_argument, NULL, OPT_WEB_ROOT},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	memset(o, 0, sizeof *o);
	snprintf(o->host, sizeof o->host, "127.0.0.1");
	o->port = 8080;
	o->workers = ncpu > 0 ? (unsigned)ncpu : 2;
	o->threads = 1;
	o->viewer_timeout_ms = 10000;
	o->start_timeout_ms = 15000;
	o->conn_timeout_s = 10;
	o->header_timeout_ms = 10000;
	o->max_connections = 1024;
	o->conn_memory = 16384;
	o->max_viewers = 16384;
	o->capacity = 1024;
	bool capacity_set = false;
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":vqhV", longopts, NULL)) != -1) {
		unsigned long v;
		const char *arg = optarg;
		switch (c) {
		case OPT_REGISTRY:
			if (sr_name_valid(arg) < 0)
				return bad(
				    "bad registry name '%s': 1-64 characters of [A-Za-z0-9_-]",
				    arg);
			o->registry = arg;
			break;
		case OPT_LINEUP:
			o->lineup_path = arg;
			break;
		case OPT_OUTPUT:
			if (!*arg || strlen(arg) > ST_OUTPUT_DIR_MAX)
				return bad("bad --output-dir (1 to %d characters): '%.40s%s'",
				           ST_OUTPUT_DIR_MAX, arg, strlen(arg) > 40 ? "..." : "");
			o->output_dir = arg;
			break;
		case OPT_LISTEN:
			if (parse_listen(arg, o) < 0)
				return bad("bad --listen '%s': expected HOST:PORT", arg);
			break;
		case OPT_WORKERS:
			if (parse_uint(arg, 1, VIEWERS_MAX_WORKERS - 1, &v) < 0)
				return bad("bad --workers '%s': expected 1..254", arg);
			o->workers = (unsigned)v;
			break;
		case OPT_THREADS:
			if (parse_uint(arg, 1, 64, &v) < 0)
				return bad("bad --threads '%s': expected 1..64", arg);
			o->threads = (unsigned)v;
			break;
		case OPT_VIEWER_TIMEOUT:
			if (parse_seconds_ms(arg, 100, 3600000, &o->viewer_timeout_ms) < 0)
				return bad("bad --viewer-timeout '%s': expected 0.1..3600 seconds",
				           arg);
			break;
		case OPT_START_TIMEOUT:
			if (parse_seconds_ms(arg, 100, 600000, &o->start_timeout_ms) < 0)
				return bad("bad --start-timeout '%s': expected 0.1..600 seconds",
				           arg);
			break;
		case OPT_CONN_TIMEOUT:
			if (parse_uint(arg, 1, 3600, &v) < 0)
				return bad("bad --conn-timeout '%s': expected 1..3600 seconds",
				           arg);
			o->conn_timeout_s = (unsigned)v;
			break;
		case OPT_HEADER_TIMEOUT:
			if (parse_seconds_ms(arg, 100, 3600000, &o->header_timeout_ms) < 0)
				return bad("bad --header-timeout '%s': expected 0.1..3600 seconds",
				           arg);
			break;
		case OPT_MAX_CONN:
			if (parse_uint(arg, 1, 100000, &v) < 0)
				return bad("bad --max-connections '%s': expected 1..100000", arg);
			o->max_connections = (unsigned)v;
			break;
		case OPT_MAX_HEADER:
			if (parse_uint(arg, 2048, 1u << 20, &v) < 0)
				return bad("bad --max-header-bytes '%s': expected 2048..1048576",
				           arg);
			o->conn_memory = v;
			break;
		case OPT_MAX_VIEWERS:
			if (parse_uint(arg, 1, 1u << 24, &v) < 0)
				return bad("bad --max-viewers '%s': expected 1..16777216", arg);
			o->max_viewers = (unsigned)v;
			break;
		case OPT_WEB_ROOT:
			if (!*arg)
				return bad("%s", "--web-root needs a directory");
			o->web_root_opt = arg;
			break;
		case OPT_CREATE:
			o->create = true;
			break;
		case OPT_REUSEPORT:
			o->reuseport = true;
			break;
		case OPT_SENDFILE_PLAYLISTS:
			o->sendfile_playlists = true;
			break;
		case OPT_CAPACITY:
			if (parse_uint(arg, 1, SR_CAPACITY_MAX, &v) < 0)
				return bad("bad --capacity '%s'", arg);
			o->capacity = (uint32_t)v;
			capacity_set = true;
			break;
		case OPT_LAVFI_ANY:
			o->lineup_flags |= ST_LINEUP_LAVFI_ANY;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case 'V':
			printf("streamreg-server %d.%d\n", SR_VERSION_MAJOR, SR_VERSION_MINOR);
			return 1;
		case ':':
			return bad("option '%s' needs a value", argv[optind - 1]);
		default:
			return bad("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (!o->registry)
		return bad("%s", "--registry NAME is required");
	if (!o->lineup_path)
		return bad("%s", "--lineup FILE is required");
	if (!o->output_dir)
		return bad("%s", "--output-dir DIR is required");
	if (capacity_set && !o->create)
		return bad("%s", "--capacity only makes sense with --create");
	return 0;
}
