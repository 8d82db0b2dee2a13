/* Error codes and the per-thread detail message. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sr_internal.h"

static _Thread_local char detail[320];

static const char *const messages[] = {
    [SR_EBADMAGIC - SR_EBASE] = "not a streamreg registry (bad magic)",
    [SR_EVERSION - SR_EBASE] = "registry has another layout version",
    [SR_ELAYOUT - SR_EBASE] = "registry was built with another struct layout",
    [SR_ETRUNCATED - SR_EBASE] = "registry segment is truncated",
    [SR_ECORRUPT - SR_EBASE] = "registry header or record is corrupt",
    [SR_EFULL - SR_EBASE] = "session table is full (raise the capacity)",
    [SR_EPROCFULL - SR_EBASE] = "process table is full (raise max_procs)",
    [SR_ELEASEFULL - SR_EBASE] =
        "this process counts viewers on too many channels (raise leases_per_proc)",
    [SR_EBADTRANS - SR_EBASE] = "state transition not allowed",
    [SR_ESTATE - SR_EBASE] = "session is not in the expected state",
    [SR_ENOCLIENT - SR_EBASE] = "this process holds no client on the session",
    [SR_EBUSY - SR_EBASE] = "record kept changing under the reader; retry",
    [SR_EOWNER - SR_EBASE] = "registry is owned by another user",
    [SR_ENOTOWNER - SR_EBASE] = "this process does not hold the registry's owner record",
    [SR_ESTALE - SR_EBASE] = "session reference is stale: its session was deleted",
};

const char *sr_strerror(int err)
{
	if (err == INT_MIN)
		return "unknown streamreg error";
	if (err < 0)
		err = -err;
	if (err == 0)
		return "success";
	if (err > SR_EBASE && err < SR_ELAST)
		return messages[err - SR_EBASE];
	switch (err) {
	case EINVAL:
		return "invalid argument";
	case ENOENT:
		return "no such session or registry";
	case EEXIST:
		return "already exists";
	case ENAMETOOLONG:
		return "string longer than its documented maximum";
	case EROFS:
		return "registry handle is read-only";
	case ETIMEDOUT:
		return "registry lock held too long by a live process";
	case EBUSY:
		return "owner record held by another live process";
	default:
		break;
	}
	if (err < SR_EBASE)
		return strerror(err);
	return "unknown streamreg error";
}

static const char *const names[] = {
    [SR_EBADMAGIC - SR_EBASE] = "SR_EBADMAGIC", [SR_EVERSION - SR_EBASE] = "SR_EVERSION",
    [SR_ELAYOUT - SR_EBASE] = "SR_ELAYOUT",     [SR_ETRUNCATED - SR_EBASE] = "SR_ETRUNCATED",
    [SR_ECORRUPT - SR_EBASE] = "SR_ECORRUPT",   [SR_EFULL - SR_EBASE] = "SR_EFULL",
    [SR_EPROCFULL - SR_EBASE] = "SR_EPROCFULL", [SR_ELEASEFULL - SR_EBASE] = "SR_ELEASEFULL",
    [SR_EBADTRANS - SR_EBASE] = "SR_EBADTRANS", [SR_ESTATE - SR_EBASE] = "SR_ESTATE",
    [SR_ENOCLIENT - SR_EBASE] = "SR_ENOCLIENT", [SR_EBUSY - SR_EBASE] = "SR_EBUSY",
    [SR_EOWNER - SR_EBASE] = "SR_EOWNER",       [SR_ENOTOWNER - SR_EBASE] = "SR_ENOTOWNER",
    [SR_ESTALE - SR_EBASE] = "SR_ESTALE",
};
_Static_assert(sizeof(names) / sizeof(names[0]) == SR_ELAST - SR_EBASE,
               "every library error code has a name");

const char *sr_err_name(int err)
{
	if (err == INT_MIN)
		return "UNKNOWN";
	if (err < 0)
		err = -err;
	if (err == 0)
		return "OK";
	if (err > SR_EBASE && err < SR_ELAST)
		return names[err - SR_EBASE];
	/* glibc knows every errno's symbolic name (since 2.32). */
	const char *n = err < SR_EBASE ? strerrorname_np(err) : NULL;
	return n ? n : "UNKNOWN";
}

const char *sr_errdetail(void)
{
	return detail;
}

void sr__set_detail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
}
