/* engine_floor.c - the engine's HTTP layer alone, no BEAM: how many calls
 * per second http_engine.c (libcurl multi on engine threads) completes
 * against one endpoint with `concurrency` transfers always in flight.
 * `make bench` runs it beside wrk, :httpc and the full engine, so the
 * report shows what the BEAM side and the round loop add on top of libcurl.
 *
 *   engine_floor URL SECONDS CONCURRENCY ENGINES BODY
 *
 * Prints one line: "calls=N seconds=S errors=E cpu_us=U", U being the CPU
 * time the process used (its engine threads, nearly all of it). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>

#include "http_engine.h"

typedef struct slot {
  http_engine *eng;
  http_request req;
} slot;

static atomic_long calls, errors;
static atomic_int stopping;

static void start(http_engine *eng, slot *s);

static void done(http_engine *eng, void *ud, const http_result *res) {
  if (res->failure == HTTP_OK && res->status == 200)
    atomic_fetch_add(&calls, 1);
  else
    atomic_fetch_add(&errors, 1);
  if (!atomic_load(&stopping))
    start(eng, ud);
}

static void start(http_engine *eng, slot *s) {
  if (!http_transfer_start(eng, &s->req, done, s))
    atomic_fetch_add(&errors, 1);
}

static void task_start(http_engine *eng, void *arg) {
  if (eng)
    start(eng, arg);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s URL SECONDS CONCURRENCY ENGINES BODY\n",
            argv[0]);
    return 2;
  }
  int seconds = atoi(argv[2]), concurrency = atoi(argv[3]);
  int n_eng = atoi(argv[4]);
  if (seconds < 1 || concurrency < 1 || n_eng < 1 || n_eng > 16)
    return 2;
  /* Once, before any thread: libcurl's global setup is not thread-safe. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;

  static const char *const headers[] = {"Authorization: Bearer bench-key",
                                        "Content-Type: application/json"};
  http_engine *engines[16];
  slot *slots = calloc((size_t)concurrency, sizeof(slot));
  if (!slots)
    return 1;
  for (int i = 0; i < n_eng; i++) {
    engines[i] = http_engine_start(NULL);
    if (!engines[i])
      return 1;
  }

  double t0 = now_s();
  for (int i = 0; i < concurrency; i++) {
    slots[i].eng = engines[i % n_eng];
    slots[i].req = (http_request){.url = argv[1],
                                  .headers = headers,
                                  .n_headers = 2,
                                  .body = argv[5],
                                  .body_len = strlen(argv[5])};
    http_engine_post(slots[i].eng, task_start, &slots[i]);
  }
  struct timespec sleep = {seconds, 0};
  nanosleep(&sleep, NULL);
  long n = atomic_load(&calls);
  double elapsed = now_s() - t0;
  atomic_store(&stopping, 1);
  for (int i = 0; i < n_eng; i++)
    http_engine_stop(engines[i]);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  long cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L +
                ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  printf("calls=%ld seconds=%.3f errors=%ld cpu_us=%ld\n", n, elapsed,
         atomic_load(&errors), cpu_us);
  free(slots);
  curl_global_cleanup();
  return 0;
}
