/* http_engine.h - the HTTP engine: a thread that owns a libcurl multi handle
 * and runs every transfer, plus a queue of tasks other threads post to it.
 *
 * Everything that touches the multi handle or the state of the runs it
 * serves happens on the engine thread; other threads only post tasks. This
 * header exposes no libcurl or erl_nif types. */
#ifndef CX_HTTP_ENGINE_H
#define CX_HTTP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct http_engine http_engine;
typedef struct http_transfer http_transfer;
typedef struct http_timer http_timer;

typedef struct http_engine_config {
  long max_host_connections;  /* 0 = libcurl's default (no limit) */
  long max_total_connections; /* 0 = libcurl's default (no limit) */
  size_t stack_size;          /* engine thread stack, 0 = 4 MiB */
} http_engine_config;

/* One POST. The engine copies everything it needs before
 * http_transfer_start returns. */
typedef struct http_request {
  const char *url;
  const char *const *headers; /* "Name: value" lines, Content-Type
                                 included: the engine adds none */
  size_t n_headers;
  const char *body;
  size_t body_len;
  long connect_timeout_ms;   /* <= 0: 10 s */
  long timeout_ms;           /* <= 0: no total limit */
  size_t max_response_bytes; /* <= 0: 8 MiB */
  /* Called on the engine thread with each piece of a 2xx body as it
   * arrives (streamed replies), with the ud given to http_transfer_start;
   * the body is still kept for the result. NULL: none. */
  void (*on_chunk)(void *ud, const char *data, size_t len);
} http_request;

typedef enum http_failure {
  HTTP_OK = 0,                /* a response arrived (any status) */
  HTTP_FAIL_TIMEOUT,          /* connect or total timeout */
  HTTP_FAIL_CONNECT,          /* DNS, refused, reset, TLS handshake */
  HTTP_FAIL_TOO_LARGE,        /* the body passed max_response_bytes */
  HTTP_FAIL_HEADER_TOO_LARGE, /* a header passed libcurl's 100 KB limit */
  HTTP_FAIL_TLS_VERIFY,       /* the peer certificate did not verify */
  HTTP_FAIL_OTHER             /* anything else libcurl reported */
} http_failure;

/* What a finished transfer reports; valid only during the callback. */
typedef struct http_result {
  http_failure failure;
  const char *error; /* libcurl's error text, "" when failure == HTTP_OK */
  long status;       /* HTTP status, 0 when none arrived */
  const char *body;  /* NUL-terminated, may be NULL when body_len == 0 */
  size_t body_len;
  long retry_after_ms; /* from retry-after-ms or retry-after, else -1 */
  uint64_t elapsed_us; /* from start to the last byte */
} http_result;

/* Runs on the engine thread when a transfer ends (never for a cancelled
 * one, and never from inside http_transfer_start). */
typedef void (*http_done_fn)(http_engine *eng, void *ud,
                             const http_result *res);
/* A task posted from any thread, run on the engine thread. */
typedef void (*http_task_fn)(http_engine *eng, void *arg);
/* A timer firing, on the engine thread. */
typedef void (*http_timer_fn)(http_engine *eng, void *ud);

/* Starts the engine thread. Returns NULL if libcurl or the thread cannot be
 * set up. curl_global_init must have been called by the caller. */
http_engine *http_engine_start(const http_engine_config *cfg);

/* Stops the thread, aborting transfers still running (their done callbacks
 * are not called) and running the tasks still queued with eng == NULL, so
 * their owners can release what they hold. Then frees the engine. */
void http_engine_stop(http_engine *eng);

/* Thread-safe. Queues fn(eng, arg) to run on the engine thread and wakes
 * it. Returns 0, or -1 if the engine is stopping or memory ran out (fn will
 * then never run). */
int http_engine_post(http_engine *eng, http_task_fn fn, void *arg);

/* Thread-safe. Transfers currently in the engine. */
long http_engine_in_flight(http_engine *eng);

/* Engine thread only. Starts a transfer; NULL when it cannot be set up
 * (out of memory, bad URL): done will not be called then. */
http_transfer *http_transfer_start(http_engine *eng, const http_request *req,
                                   http_done_fn done, void *ud);

/* Engine thread only. Stops a running transfer; done will not be called. */
void http_transfer_cancel(http_engine *eng, http_transfer *t);

/* Engine thread only. Calls fn(eng, ud) on the engine thread once delay_ms
 * have passed (retry backoff, a call's deadline). NULL on out-of-memory. Timers
 * still pending when the engine stops are dropped without firing. */
http_timer *http_timer_start(http_engine *eng, long delay_ms, http_timer_fn fn,
                             void *ud);

/* Engine thread only. Drops a pending timer; fn will not be called. */
void http_timer_cancel(http_engine *eng, http_timer *t);

/* Thread-safe. Milliseconds on the monotonic clock timers run on. */
uint64_t http_clock_ms(void);

#endif
