/* One worker process: libmicrohttpd on the inherited listen socket. */
#ifndef SRV_WORKER_H
#define SRV_WORKER_H

#include <sys/types.h>

#include "http_metrics.h"
#include "server_options.h"
#include "st_lineup.h"
#include "viewers.h"

struct worker_config {
	const struct server_options *opt;
	const struct st_lineup *lineup;
	struct viewer_table *vt;
	struct http_metrics *hm;
	unsigned index; /* 0..workers-1, stable across replacements */
	int listen_fd;
	pid_t master_pid;
};

/* Run a worker in the freshly forked child; returns its exit status. */
int worker_run(const struct worker_config *cfg);

#endif
