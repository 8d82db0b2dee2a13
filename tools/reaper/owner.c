#include "owner.h"

#include <errno.h>

#include "st_log.h"

int rp_claim_owner(sr_registry *reg, const char *name, const char *outdir)
{
	sr_owner_info holder;
	int rc = sr_registry_claim_owner(reg, outdir, &holder);
	if (rc == 0) {
		st_log(LOG_INFO,
		       "registry %s: this reaper is its owner (pid + start time recorded)", name);
		return 0;
	}
	if (rc == -EBUSY) {
		st_log(LOG_ERR,
		       "registry %s is already served by another reaper: pid %ld, output directory "
		       "%s (heartbeat %llu ms ago); stop it first, one reaper per registry",
		       name, (long)holder.pid, holder.info[0] ? holder.info : "(unknown)",
		       (unsigned long long)holder.heartbeat_age_ms);
		return -1;
	}
	st_log(LOG_ERR, "registry %s: cannot claim its owner record: %s (%s)", name,
	       sr_strerror(rc), sr_errdetail());
	return -1;
}

int rp_owner_heartbeat(sr_registry *reg, const char *name)
{
	int rc = sr_registry_owner_heartbeat(reg);
	if (rc == 0)
		return 0;
	if (rc == -SR_ENOTOWNER) {
		st_log(LOG_ERR, "registry %s: this reaper no longer holds its owner record", name);
		return -1;
	}
	/* a transient failure: the next scan tries again */
	st_log(LOG_WARNING, "registry %s: owner heartbeat: %s", name, sr_strerror(rc));
	return 0;
}
