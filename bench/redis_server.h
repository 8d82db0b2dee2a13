/* A private redis-server for the Redis comparators. */
#ifndef SR_BENCH_REDIS_SERVER_H
#define SR_BENCH_REDIS_SERVER_H

#include <stddef.h>

#ifdef SR_BENCH_HAVE_HIREDIS
/* Start the server once (later calls reuse it); its port, or -1 with err set. */
int redis_server_port(char *err, size_t errlen);

/* Stop it and remove its scratch directory; safe to call when not started. */
void redis_server_stop(void);
#else
/* Built without hiredis: there is never a server to stop. */
static inline void redis_server_stop(void)
{
}
#endif

#endif
