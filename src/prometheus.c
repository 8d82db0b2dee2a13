/* Placeholder: the monitor engineer replaces this file. */
#include <errno.h>

#include "sr_internal.h"

int sr_registry_prometheus(sr_registry *reg, char **out)
{
	(void)reg;
	(void)out;
	return sr__fail(-ENOSYS, "prometheus output not built yet");
}
