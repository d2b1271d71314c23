/* http_engine.c - the HTTP engine thread.
 *
 * One thread owns one libcurl multi handle (libcurl handles must never be
 * shared between threads) and drives it event by event, like libcurl's
 * ephiperfifo example: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when its next timeout is due
 * (CURLMOPT_TIMERFUNCTION); the thread sleeps in epoll_wait and hands curl
 * only the socket that fired, so the cost of an event does not grow with
 * the number of transfers (curl_multi_perform walks all of them). An
 * eventfd in the same epoll set wakes the thread for posted tasks. Pure C:
 * no erl_nif, and nothing here blocks other than in epoll_wait. */
#include "http_engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_RESPONSE (8u * 1024u * 1024u)
#define DEFAULT_STACK (4u * 1024u * 1024u)
#define POOL_MAX 256     /* idle easy handles kept for reuse */
#define MAX_WAIT_MS 1000 /* an upper bound on one sleep, as a safety net */
#define MAX_EVENTS 256
#define CONNECTION_CACHE 1024  /* idle connections kept per engine */
#define PRESIZE_MAX (1u << 20) /* largest body buffer sized from its header */

struct http_transfer {
  CURL *easy;
  struct curl_slist *headers;
  char *body; /* our copy of the request body */
  buf resp;   /* response body, capped at max_response_bytes */
  int too_large;
  long retry_after_ms; /* -1 until a header says otherwise */
  uint64_t started_us;
  http_done_fn done;
  void (*on_chunk)(void *ud, const char *data, size_t len);
  int status_2xx; /* -1 until the status is known */
  void *ud;
  struct http_transfer *prev, *next; /* the engine's live list */
  char errbuf[CURL_ERROR_SIZE];
};

/* Pending timers form a list sorted by due time: there are at most a few
 * per running call, so a list beats a heap on simplicity. */
struct http_timer {
  uint64_t due_us;
  http_timer_fn fn;
  void *ud;
  struct http_timer *prev, *next;
};

typedef struct task {
  http_task_fn fn;
  void *arg;
  struct task *next;
} task;

struct http_engine {
  CURLM *multi;
  int epfd;          /* epoll set: curl's sockets and wakefd */
  int wakefd;        /* eventfd written by http_engine_post */
  uint64_t timer_us; /* when curl wants CURL_SOCKET_TIMEOUT; 0 = never */
  pthread_t thread;
  pthread_mutex_t lock; /* guards head, tail, stopping and the wakeup */
  task *head, *tail;
  int stopping;
  atomic_long in_flight;
  http_transfer *live;  /* engine thread only */
  http_timer *timers;   /* engine thread only, soonest first */
  CURL *pool[POOL_MAX]; /* engine thread only */
  int pool_len;
};

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t http_clock_ms(void) { return now_us() / 1000u; }

/* ---- Response callbacks --------------------------------------------------*/

/* CURLOPT_WRITEFUNCTION: returning less than given aborts the transfer. */
static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp) {
  http_transfer *t = userp;
  size_t n = size * nmemb;

  if (buf_append(&t->resp, data, n) != 0) {
    t->too_large = 1; /* over the cap (or out of memory) */
    return 0;
  }
  if (t->on_chunk) {
    if (t->status_2xx < 0) {
      long status = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
      t->status_2xx = status >= 200 && status < 300;
    }
    if (t->status_2xx)
      t->on_chunk(t->ud, data, n);
  }
  return n;
}

/* Parses a retry-after value: seconds (fractions allowed) or an HTTP date.
 * Returns milliseconds, or -1 when the value is neither. */
static long parse_retry_after(const char *v, int is_ms) {
  char *end;
  double d = strtod(v, &end);

  if (end != v) {
    while (*end == ' ' || *end == '\t')
      end++;
    if (*end == '\0' && d >= 0 && d < 1e9)
      return (long)(is_ms ? d : d * 1000.0);
    return -1;
  }
  if (is_ms)
    return -1;
  time_t when = curl_getdate(v, NULL);
  if (when < 0)
    return -1;
  double delta = difftime(when, time(NULL));
  return delta > 0 ? (long)(delta * 1000.0) : 0;
}

/* Copies a header's value (after "name:") without surrounding blanks. */
static void header_value(const char *line, size_t len, size_t skip, char *out,
                         size_t outlen) {
  size_t i = skip, j;

  while (i < len && (line[i] == ' ' || line[i] == '\t'))
    i++;
  j = len;
  while (j > i && (line[j - 1] == '\r' || line[j - 1] == '\n' ||
                   line[j - 1] == ' ' || line[j - 1] == '\t'))
    j--;
  size_t n = j - i < outlen - 1 ? j - i : outlen - 1;
  memcpy(out, line + i, n);
  out[n] = '\0';
}

/* CURLOPT_HEADERFUNCTION: picks up retry hints and refuses bodies that
 * announce themselves as larger than the cap. */
static size_t header_cb(char *line, size_t size, size_t nmemb, void *userp) {
  http_transfer *t = userp;
  size_t len = size * nmemb;
  char value[128];

  if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
    t->retry_after_ms = -1; /* a new response (after 1xx or a redirect) */
  } else if (len > 15 && strncasecmp(line, "retry-after-ms:", 15) == 0) {
    header_value(line, len, 15, value, sizeof(value));
    long ms = parse_retry_after(value, 1);
    if (ms >= 0)
      t->retry_after_ms = ms;
  } else if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0) {
    header_value(line, len, 12, value, sizeof(value));
    long ms = parse_retry_after(value, 0);
    if (ms >= 0 && t->retry_after_ms < 0)
      t->retry_after_ms = ms;
  } else if (len > 15 && strncasecmp(line, "content-length:", 15) == 0) {
    header_value(line, len, 15, value, sizeof(value));
    char *end;
    unsigned long long cl = strtoull(value, &end, 10);
    if (end != value && t->resp.limit && cl > t->resp.limit) {
      t->too_large = 1;
      return 0;
    }
    /* The whole body in one allocation rather than by doubling (up to a
     * point: a server may announce more than it sends). */
    if (end != value && t->resp.len == 0 && cl <= PRESIZE_MAX)
      buf_reserve(&t->resp, (size_t)cl);
  }
  return len;
}

/* ---- Transfers -----------------------------------------------------------*/

static CURL *easy_get(http_engine *eng) {
  /* No curl_easy_reset: transfer_setup sets every option we use on every
   * transfer, and a reset would free and rebuild curl's per-handle state. */
  if (eng->pool_len > 0)
    return eng->pool[--eng->pool_len];
  return curl_easy_init();
}

static void easy_put(http_engine *eng, CURL *e) {
  if (eng->pool_len < POOL_MAX)
    eng->pool[eng->pool_len++] = e;
  else
    curl_easy_cleanup(e);
}

/* Unlinks t (already removed from the multi) from the live list, recycles
 * its handle and frees it. */
static void transfer_free(http_engine *eng, http_transfer *t) {
  easy_put(eng, t->easy);
  if (t->prev)
    t->prev->next = t->next;
  else
    eng->live = t->next;
  if (t->next)
    t->next->prev = t->prev;
  atomic_fetch_sub(&eng->in_flight, 1);
  curl_slist_free_all(t->headers);
  buf_free(&t->resp);
  free(t->body);
  free(t);
}

static int transfer_setup(http_transfer *t, const http_request *req) {
  CURL *e = t->easy;
  long connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                : DEFAULT_CONNECT_TIMEOUT_MS;

  for (size_t i = 0; i < req->n_headers; i++) {
    struct curl_slist *l = curl_slist_append(t->headers, req->headers[i]);
    if (!l)
      return -1;
    t->headers = l;
  }
  /* No "Expect: 100-continue" round trip for large prompts. The
   * Content-Type is the caller's (each codec names it in its headers). */
  struct curl_slist *l = curl_slist_append(t->headers, "Expect:");
  if (!l)
    return -1;
  t->headers = l;

  int bad = 0;
  bad |= curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, t) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                          (curl_off_t)req->body_len) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, t) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, t) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK;
  bad |=
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                       req->timeout_ms > 0 ? req->timeout_ms : 0L) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
  /* HTTP/2 where TLS negotiates it. Over TLS, wait for a connection to the
   * same host to tell (by ALPN) whether it multiplexes rather than opening
   * one per call. Never on plain http: there libcurl only learns it after
   * the first response, which would queue every call behind it. */
  bad |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                          (long)CURL_HTTP_VERSION_2TLS) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_PIPEWAIT,
                          strncasecmp(req->url, "https:", 6) == 0 ? 1L : 0L) !=
         CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "council_ex/0.1") != CURLE_OK;
  return bad ? -1 : 0;
}

http_transfer *http_transfer_start(http_engine *eng, const http_request *req,
                                   http_done_fn done, void *ud) {
  http_transfer *t = calloc(1, sizeof(*t));
  if (!t)
    return NULL;
  size_t cap = req->max_response_bytes > 0 ? req->max_response_bytes
                                           : DEFAULT_MAX_RESPONSE;
  buf_init(&t->resp, cap);
  t->retry_after_ms = -1;
  t->done = done;
  t->on_chunk = req->on_chunk;
  t->status_2xx = -1;
  t->ud = ud;
  t->body = malloc(req->body_len + 1);
  t->easy = easy_get(eng);
  if (!t->body || !t->easy)
    goto err;
  if (req->body_len)
    memcpy(t->body, req->body, req->body_len);
  t->body[req->body_len] = '\0';
  if (transfer_setup(t, req) != 0)
    goto err;
  if (curl_multi_add_handle(eng->multi, t->easy) != CURLM_OK)
    goto err;

  t->started_us = now_us();
  t->next = eng->live;
  if (eng->live)
    eng->live->prev = t;
  eng->live = t;
  atomic_fetch_add(&eng->in_flight, 1);
  return t;

err:
  if (t->easy)
    easy_put(eng, t->easy);
  curl_slist_free_all(t->headers);
  free(t->body);
  free(t);
  return NULL;
}

void http_transfer_cancel(http_engine *eng, http_transfer *t) {
  curl_multi_remove_handle(eng->multi, t->easy);
  transfer_free(eng, t);
}

static http_failure classify(CURLcode rc, const http_transfer *t) {
  if (rc == CURLE_OK)
    return HTTP_OK;
  if (t->too_large)
    return HTTP_FAIL_TOO_LARGE;
  switch (rc) {
  case CURLE_OPERATION_TIMEDOUT:
    return HTTP_FAIL_TIMEOUT;
  case CURLE_PEER_FAILED_VERIFICATION:
    return HTTP_FAIL_TLS_VERIFY;
  /* libcurl refuses a header past CURL_MAX_HTTP_HEADER with this code; it
   * is the server's doing, not this process running out of memory. */
  case CURLE_OUT_OF_MEMORY:
    return HTTP_FAIL_HEADER_TOO_LARGE;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return HTTP_FAIL_CONNECT;
  default:
    return HTTP_FAIL_OTHER;
  }
}

/* Reaps finished transfers and reports each to its owner. */
static void check_multi_info(http_engine *eng) {
  CURLMsg *msg;
  int left;

  while ((msg = curl_multi_info_read(eng->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    http_transfer *t = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    CURLcode rc = msg->data.result;
    http_result res;
    memset(&res, 0, sizeof(res));
    res.failure = classify(rc, t);
    res.error = rc == CURLE_OK ? ""
                : t->errbuf[0] ? t->errbuf
                               : curl_easy_strerror(rc);
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &res.status);
    res.body = t->resp.data;
    res.body_len = t->resp.len;
    res.retry_after_ms = t->retry_after_ms;
    res.elapsed_us = now_us() - t->started_us;

    /* Detach first, so a transfer the callback starts (the chair, after
     * the last member) can reuse this connection. The result still points
     * into t, so free t only afterwards. */
    curl_multi_remove_handle(eng->multi, t->easy);
    t->done(eng, t->ud, &res);
    transfer_free(eng, t);
  }
}

/* ---- The loop -----------------------------------------------------------*/

/* Takes the whole queue under the lock; runs it outside. */
static int run_tasks(http_engine *eng) {
  pthread_mutex_lock(&eng->lock);
  task *t = eng->head;
  int stopping = eng->stopping;
  eng->head = eng->tail = NULL;
  pthread_mutex_unlock(&eng->lock);

  while (t) {
    task *next = t->next;
    t->fn(stopping ? NULL : eng, t->arg);
    free(t);
    t = next;
  }
  return stopping;
}

/* CURLMOPT_SOCKETFUNCTION: mirror curl's interest in a socket into epoll.
 * The socket may already be closed on REMOVE, and a number curl closed
 * behind our back may come back as a new socket, hence MOD-else-ADD and an
 * unchecked DEL (epoll drops closed descriptors by itself). */
static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
                     void *socketp) {
  http_engine *eng = userp;
  struct epoll_event ev;
  (void)easy;
  (void)socketp;

  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(eng->epfd, EPOLL_CTL_DEL, s, NULL);
    return 0;
  }
  memset(&ev, 0, sizeof(ev));
  ev.data.fd = s;
  if (what & CURL_POLL_IN)
    ev.events |= EPOLLIN;
  if (what & CURL_POLL_OUT)
    ev.events |= EPOLLOUT;
  if (epoll_ctl(eng->epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
    epoll_ctl(eng->epfd, EPOLL_CTL_ADD, s, &ev);
  return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer; never call curl from here. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  http_engine *eng = userp;
  (void)multi;

  eng->timer_us = timeout_ms < 0 ? 0 : now_us() + (uint64_t)timeout_ms * 1000u;
  return 0;
}

/* How long epoll_wait may sleep: until curl's timer or ours, at most
 * MAX_WAIT_MS. */
static int wait_ms(const http_engine *eng) {
  uint64_t due = eng->timer_us;

  if (eng->timers && (due == 0 || eng->timers->due_us < due))
    due = eng->timers->due_us;
  if (due == 0)
    return MAX_WAIT_MS;
  uint64_t now = now_us();
  if (due <= now)
    return 0;
  uint64_t ms = (due - now + 999) / 1000;
  return ms < MAX_WAIT_MS ? (int)ms : MAX_WAIT_MS;
}

/* ---- Timers --------------------------------------------------------------*/

http_timer *http_timer_start(http_engine *eng, long delay_ms, http_timer_fn fn,
                             void *ud) {
  http_timer *t = calloc(1, sizeof(*t)), *at, *prev = NULL;

  if (!t)
    return NULL;
  t->due_us = now_us() + (uint64_t)(delay_ms > 0 ? delay_ms : 0) * 1000u;
  t->fn = fn;
  t->ud = ud;
  for (at = eng->timers; at && at->due_us <= t->due_us; at = at->next)
    prev = at;
  t->prev = prev;
  t->next = at;
  if (at)
    at->prev = t;
  if (prev)
    prev->next = t;
  else
    eng->timers = t;
  return t;
}

void http_timer_cancel(http_engine *eng, http_timer *t) {
  if (t->prev)
    t->prev->next = t->next;
  else
    eng->timers = t->next;
  if (t->next)
    t->next->prev = t->prev;
  free(t);
}

/* Fires the timers that are due. A timer's fn may start or cancel others. */
static void run_timers(http_engine *eng) {
  uint64_t now = now_us();

  while (eng->timers && eng->timers->due_us <= now) {
    http_timer *t = eng->timers;
    http_timer_fn fn = t->fn;
    void *ud = t->ud;

    http_timer_cancel(eng, t);
    fn(eng, ud);
  }
}

static void process_events(http_engine *eng) {
  struct epoll_event evs[MAX_EVENTS];
  int running;
  int n = epoll_wait(eng->epfd, evs, MAX_EVENTS, wait_ms(eng));

  for (int i = 0; i < n; i++) {
    int fd = evs[i].data.fd;
    if (fd == eng->wakefd) {
      uint64_t count;
      if (read(fd, &count, sizeof(count)) < 0) {
        /* EAGAIN: another wakeup was already consumed */
      }
      continue;
    }
    int flags = 0;
    if (evs[i].events & (EPOLLIN | EPOLLHUP))
      flags |= CURL_CSELECT_IN;
    if (evs[i].events & EPOLLOUT)
      flags |= CURL_CSELECT_OUT;
    if (evs[i].events & EPOLLERR)
      flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(eng->multi, fd, flags, &running);
  }
  if (eng->timer_us != 0 && eng->timer_us <= now_us()) {
    eng->timer_us = 0;
    curl_multi_socket_action(eng->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  check_multi_info(eng);
  run_timers(eng);
}

static void *engine_main(void *arg) {
  http_engine *eng = arg;

  while (!run_tasks(eng))
    process_events(eng);
  while (eng->live)
    http_transfer_cancel(eng, eng->live);
  while (eng->timers)
    http_timer_cancel(eng, eng->timers);
  run_tasks(eng); /* anything posted while stopping: eng is passed as NULL */
  return NULL;
}

/* Wakes the engine thread; called with eng->lock held. */
static void wake(http_engine *eng) {
  uint64_t one = 1;
  if (write(eng->wakefd, &one, sizeof(one)) < 0) {
    /* EAGAIN: the counter is saturated, so a wakeup is pending anyway */
  }
}

/* Frees what http_engine_start set up, in any state of completion. */
static void engine_free(http_engine *eng) {
  if (eng->multi)
    curl_multi_cleanup(eng->multi);
  if (eng->epfd >= 0)
    close(eng->epfd);
  if (eng->wakefd >= 0)
    close(eng->wakefd);
  free(eng);
}

static int engine_setup(http_engine *eng, const http_engine_config *cfg) {
  struct epoll_event ev;

  eng->epfd = epoll_create1(EPOLL_CLOEXEC);
  eng->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  eng->multi = curl_multi_init();
  if (eng->epfd < 0 || eng->wakefd < 0 || !eng->multi)
    return -1;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  ev.data.fd = eng->wakefd;
  if (epoll_ctl(eng->epfd, EPOLL_CTL_ADD, eng->wakefd, &ev) != 0)
    return -1;
  curl_multi_setopt(eng->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(eng->multi, CURLMOPT_SOCKETDATA, eng);
  curl_multi_setopt(eng->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(eng->multi, CURLMOPT_TIMERDATA, eng);
  /* libcurl sizes its idle-connection cache from the transfers added at
   * the moment: after a burst (a council's members) it shrinks and closes
   * connections the next burst must open again. Keep them. */
  curl_multi_setopt(eng->multi, CURLMOPT_MAXCONNECTS, (long)CONNECTION_CACHE);
  if (cfg && cfg->max_host_connections > 0)
    curl_multi_setopt(eng->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      cfg->max_host_connections);
  if (cfg && cfg->max_total_connections > 0)
    curl_multi_setopt(eng->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      cfg->max_total_connections);
  return 0;
}

http_engine *http_engine_start(const http_engine_config *cfg) {
  http_engine *eng = calloc(1, sizeof(*eng));
  if (!eng)
    return NULL;
  eng->epfd = eng->wakefd = -1;
  atomic_init(&eng->in_flight, 0);
  if (engine_setup(eng, cfg) != 0) {
    engine_free(eng);
    return NULL;
  }
  if (pthread_mutex_init(&eng->lock, NULL) != 0) {
    engine_free(eng);
    return NULL;
  }

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, cfg && cfg->stack_size ? cfg->stack_size
                                                          : DEFAULT_STACK);
  int rc = pthread_create(&eng->thread, &attr, engine_main, eng);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    pthread_mutex_destroy(&eng->lock);
    engine_free(eng);
    return NULL;
  }
  pthread_setname_np(eng->thread, "cx_engine");
  return eng;
}

void http_engine_stop(http_engine *eng) {
  if (!eng)
    return;
  pthread_mutex_lock(&eng->lock);
  eng->stopping = 1;
  wake(eng);
  pthread_mutex_unlock(&eng->lock);
  pthread_join(eng->thread, NULL);

  while (eng->pool_len > 0)
    curl_easy_cleanup(eng->pool[--eng->pool_len]);
  pthread_mutex_destroy(&eng->lock);
  engine_free(eng);
}

int http_engine_post(http_engine *eng, http_task_fn fn, void *arg) {
  task *t = malloc(sizeof(*t));
  if (!t)
    return -1;
  t->fn = fn;
  t->arg = arg;
  t->next = NULL;

  pthread_mutex_lock(&eng->lock);
  if (eng->stopping) {
    pthread_mutex_unlock(&eng->lock);
    free(t);
    return -1;
  }
  if (eng->tail)
    eng->tail->next = t;
  else
    eng->head = t;
  eng->tail = t;
  /* Woken under the lock so http_engine_stop cannot close the eventfd
   * between our check of `stopping` and this write. */
  wake(eng);
  pthread_mutex_unlock(&eng->lock);
  return 0;
}

long http_engine_in_flight(http_engine *eng) {
  return atomic_load(&eng->in_flight);
}
