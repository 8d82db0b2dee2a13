/* streamreg-server: the pre-fork HLS server.  See docs/server.md. */
#include <stdio.h>

#include "lineup.h"
#include "log.h"
#include "master.h"
#include "server_options.h"

int main(int argc, char **argv)
{
	struct server_options opt;
	int rc = server_options_parse(argc, argv, &opt);
	if (rc == 1)
		return 0;
	if (rc)
		return 2;
	srv_log_set_level(opt.verbose ? SRV_LOG_DEBUG : opt.quiet ? SRV_LOG_ERROR : SRV_LOG_INFO);
	struct lineup lineup;
	char err[512];
	if (lineup_load(opt.lineup_path, &lineup, err, sizeof err) < 0) {
		fprintf(stderr, "streamreg-server: bad lineup: %s\n", err);
		return 2;
	}
	rc = master_run(&opt, &lineup);
	lineup_free(&lineup);
	return rc;
}
