/* http_pool.h - the library's engine threads: a fixed pool of http_engines
 * that runs are dealt to round-robin. One pool per process (libcurl's
 * global state is set up with it). Pure C, no NIF calls. */
#ifndef CX_HTTP_POOL_H
#define CX_HTTP_POOL_H

#include "http_engine.h"

#define HTTP_POOL_MAX 16

/* Starts n engines (1..HTTP_POOL_MAX), each limited to max_host
 * connections per host (0: libcurl's default), after curl_global_init.
 * 0, or -1 with nothing left running. Not thread-safe: call once, before
 * any other http_pool call. */
int http_pool_start(int n, long max_host);
/* Stops every engine (their pending tasks run with eng NULL) and cleans
 * libcurl up. Safe when the pool is not running. */
void http_pool_stop(void);
/* The next engine, round-robin (thread-safe); NULL when none runs. */
http_engine *http_pool_next(void);
/* Transfers in flight over every engine. */
long http_pool_in_flight(void);

#endif
