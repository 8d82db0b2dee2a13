#include "monitor_attach.h"
#include "monitor_procs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum { REPLACE_TRIES = 3 };

void mon_describe_error(int rc, char *buf, size_t len)
{
	const char *detail = sr_errdetail();
	if (detail != NULL && detail[0] != '\0')
		snprintf(buf, len, "%s (%s)", sr_strerror(rc), detail);
	else
		snprintf(buf, len, "%s", sr_strerror(rc));
}

void mon_report_error(const char *cmd, const char *what, int rc)
{
	char msg[512];
	mon_describe_error(rc, msg, sizeof msg);
	fprintf(stderr, "streamreg: %s: %s: %s\n", cmd, what, msg);
}

int mon_exit_status(int rc)
{
	switch (rc) {
	case 0:
		return MON_EXIT_OK;
	case -ENOENT:
	case -SR_EBADMAGIC:
	case -SR_EVERSION:
	case -SR_ELAYOUT:
	case -SR_ETRUNCATED:
	case -SR_ECORRUPT:
		return MON_EXIT_NOREG;
	default:
		return MON_EXIT_FAILED;
	}
}

int mon_usage_error(const char *cmd, const char *msg)
{
	fprintf(stderr, "streamreg: %s: %s (see 'streamreg %s --help')\n", cmd, msg, cmd);
	return -EINVAL;
}

bool mon_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && argv[i] != NULL; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

int mon_check_name(const char *cmd, const char *name)
{
	if (name == NULL)
		return mon_usage_error(cmd, "missing registry NAME");
	int rc = sr_name_valid(name);
	if (rc < 0) {
		char msg[160];
		snprintf(msg, sizeof msg,
		         "bad registry name '%.80s': 1 to %d characters from A-Z a-z 0-9 _ -", name,
		         SR_NAME_MAX);
		return mon_usage_error(cmd, msg);
	}
	return 0;
}

int mon_attach(const char *name, sr_registry **out)
{
	*out = NULL;
	return sr_registry_attach(name, SR_ATTACH_READONLY, out);
}

bool mon_segment_shrunk(const char *name, uint64_t mapped_bytes)
{
	char path[SR_DIR_MAX + SR_NAME_MAX + 2];
	struct stat st;
	return sr_registry_path(name, path, sizeof path) == 0 && stat(path, &st) == 0 &&
	       (uint64_t)st.st_size < mapped_bytes;
}

int mon_snapshot_once(const char *cmd, const char *name, sr_registry **reg, mon_snapshot *snap)
{
	char what[128];
	snprintf(what, sizeof what, "registry '%s'", name);
	for (int attempt = 0; attempt < REPLACE_TRIES; attempt++) {
		if (*reg == NULL) {
			int rc = mon_attach(name, reg);
			if (rc < 0) {
				mon_report_error(cmd, what, rc);
				return rc;
			}
		}
		int rc = mon_snapshot_take(*reg, snap);
		if (rc < 0) {
			mon_report_error(cmd, what, rc);
			return rc;
		}
		(void)mon_procs_take(name, *reg, snap);
		if (sr_registry_replaced(*reg) != 1)
			return 0;
		sr_registry_close(*reg);
		*reg = NULL;
	}
	fprintf(stderr, "streamreg: %s: registry '%s': replaced %d times while being read\n", cmd,
	        name, REPLACE_TRIES);
	return -SR_EBUSY;
}
