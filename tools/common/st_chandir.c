#include "st_chandir.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void st_chan_name(char *out, const uuid_t id)
{
	uuid_unparse_lower(id, out);
}

int st_chan_dir(char *out, size_t len, const char *output_dir, const uuid_t id)
{
	char name[ST_CHAN_NAME_LEN + 1];
	st_chan_name(name, id);
	int n = snprintf(out, len, "%s/%s", output_dir, name);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			out[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

bool st_chan_name_valid(const char *name)
{
	if (!name || strlen(name) != ST_CHAN_NAME_LEN)
		return false;
	for (size_t i = 0; i < ST_CHAN_NAME_LEN; i++) {
		char c = name[i];
		bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}
