#include "monitor_format.h"
#include "monitor_output.h"

#include <errno.h>

enum { LINE_MAX_BYTES = 1024 };

int mon_text_document(FILE *f, const char *name, const mon_snapshot *snap, const mon_view *view,
                      int state_filter, mon_sort sort)
{
	char line[LINE_MAX_BYTES];
	mon_format_registry_line(name, snap, line, sizeof line);
	fprintf(f, "%s\n", line);
	mon_format_sessions_line(snap, line, sizeof line);
	fprintf(f, "%s\n", line);
	mon_format_procs_line(snap, line, sizeof line);
	fprintf(f, "%s\n", line);
	fprintf(f, "showing %zu of %zu (filter %s, sort %s)\n\n", view->n, snap->n,
	        mon_filter_name(state_filter), mon_sort_name(sort));
	mon_format_columns(line, sizeof line);
	fprintf(f, "%s\n", line);
	for (size_t i = 0; i < view->n; i++) {
		mon_format_row(view->rows[i], snap->taken_mono_ns, line, sizeof line);
		fprintf(f, "%s\n", line);
	}
	return ferror(f) ? -EIO : 0;
}
