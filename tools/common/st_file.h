/* Reading a small file whole (a lineup, a playlist), with a size cap. */
#ifndef ST_FILE_H
#define ST_FILE_H

#include <stddef.h>

/**
 * Read fd to its end into a malloc'd buffer with a NUL after the data (the
 * caller frees it and closes fd).  *len gets the data's length.  NULL with
 * errno set on a read error, ENOMEM, or EFBIG when there is more than max
 * bytes; a file that grows while read is caught by the same cap.
 */
char *st_read_fd(int fd, size_t max, size_t *len);

#endif
