/* http_pool.c - the pool of engine threads (see http_pool.h). */
#include "http_pool.h"

#include <stdatomic.h>

#include <curl/curl.h>

static http_engine *engines[HTTP_POOL_MAX];
static int n_engines;
static atomic_uint next_engine;

int http_pool_start(int n, long max_host) {
  http_engine_config cfg = {max_host, 0, 0};

  if (n < 1 || n > HTTP_POOL_MAX || max_host < 0 ||
      curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return -1;
  for (n_engines = 0; n_engines < n; n_engines++) {
    engines[n_engines] = http_engine_start(&cfg);
    if (!engines[n_engines]) {
      http_pool_stop();
      return -1;
    }
  }
  return 0;
}

void http_pool_stop(void) {
  while (n_engines > 0)
    http_engine_stop(engines[--n_engines]);
  curl_global_cleanup();
}

http_engine *http_pool_next(void) {
  if (n_engines == 0)
    return NULL;
  return engines[atomic_fetch_add(&next_engine, 1) % (unsigned)n_engines];
}

long http_pool_in_flight(void) {
  long n = 0;

  for (int i = 0; i < n_engines; i++)
    n += http_engine_in_flight(engines[i]);
  return n;
}
