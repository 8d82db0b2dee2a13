/* streamreg-server: the pre-fork HLS server.  See docs/server.md. */
#include <syslog.h>

#include "master.h"
#include "server_options.h"
#include "st_lineup.h"
#include "st_log.h"
#include "web_files.h"

int main(int argc, char **argv)
{
	struct server_options opt;
	int rc = server_options_parse(argc, argv, &opt);
	if (rc == 1)
		return 0;
	if (rc)
		return ST_EXIT_USAGE;
	st_log_init("streamreg-server", false);
	st_log_set_level(opt.verbose ? LOG_DEBUG : opt.quiet ? LOG_ERR : LOG_INFO);
	st_log_set_role("master");
	if (web_root_find(opt.web_root_opt, opt.web_root, sizeof opt.web_root) < 0) {
		if (opt.web_root_opt) {
			st_error("--web-root %s: no page/index.html there", opt.web_root_opt);
			return ST_EXIT_USAGE;
		}
		opt.web_root[0] = '\0';
		st_warn("no player page found (install it or pass --web-root): / lists the "
		        "channels as plain links");
	} else {
		st_info("player page from %s", opt.web_root);
	}
	struct st_lineup lineup;
	char err[512];
	if (st_lineup_load(opt.lineup_path, opt.lineup_flags, &lineup, err, sizeof err) < 0) {
		st_error("lineup refused: %s", err);
		return ST_EXIT_SETUP;
	}
	rc = master_run(&opt, &lineup);
	st_lineup_free(&lineup);
	return rc;
}
