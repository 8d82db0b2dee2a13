/* The master process: binds, forks and supervises the workers. */
#ifndef SRV_MASTER_H
#define SRV_MASTER_H

#include "server_options.h"
#include "st_lineup.h"

/* Run until SIGTERM/SIGINT; returns the exit status. Takes the lineup. */
int master_run(const struct server_options *opt, struct st_lineup *lineup);

#endif
