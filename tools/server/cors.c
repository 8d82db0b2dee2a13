#include "cors.h"

#include <string.h>

int cors_header_list_ok(const char *s)
{
	size_t n = strlen(s);
	if (n > CORS_MAX_HEADERS_LIST)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!(ch == ',' || ch == ' ' || ch == '\t' ||
		      (ch > 0x20 && ch < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", ch))))
			return 0;
	}
	return 1;
}
