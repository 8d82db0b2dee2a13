/* Command line of streamreg-server. */
#ifndef SRV_OPTIONS_H
#define SRV_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server_options {
	const char *registry;
	const char *lineup_path;
	const char *output_dir;
	const char *web_root_opt; /* --web-root, or NULL */
	char web_root[4096];      /* the one in use (web_root_find()); "" if none */
	char host[64];
	uint16_t port;
	unsigned workers;
	unsigned threads;           /* libmicrohttpd threads per worker */
	unsigned viewer_timeout_ms; /* a viewer expires after this without a request */
	unsigned start_timeout_ms;  /* longest wait of master.m3u8 for `active` */
	unsigned conn_timeout_s;    /* idle connection timeout */
	unsigned header_timeout_ms; /* whole-request-header deadline (slowloris) */
	unsigned max_connections;   /* per worker */
	size_t conn_memory;         /* per-connection memory: caps header size */
	unsigned max_viewers;
	bool reuseport;          /* one SO_REUSEPORT socket per worker */
	bool sendfile_playlists; /* playlists too, not only segments */
	bool create;
	uint32_t capacity;
	unsigned lineup_flags; /* ST_LINEUP_* */
	bool verbose;
	bool quiet;
};

/*
 * Parse argv.  Returns 0 to run, 1 after printing --help or --version (exit
 * 0), 2 after printing a usage error (exit 2).
 */
int server_options_parse(int argc, char **argv, struct server_options *o);

#endif
