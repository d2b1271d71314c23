/* fake_io.c - the fake rl_io of the round-loop suites (see fake_io.h). */
#include "fake_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

static fake *live_fake;
static rl_run *live_run;

static void violated(fake *f, const char *what, const rl_event *ev) {
  if (f->violation[0] == '\0')
    snprintf(f->violation, sizeof(f->violation),
             "%s (event %d, step %zu, seat %zu)", what, ev ? (int)ev->type : -1,
             ev ? ev->round : 0, ev ? ev->seat : 0);
}

/* Makes room for one more element of an array that grows by doubling. */
static void *grow(void *p, size_t *cap, size_t n, size_t size) {
  if (n < *cap)
    return p;
  *cap = *cap ? *cap * 2 : 16;
  p = realloc(p, *cap * size);
  cr_assert_not_null(p, "out of memory in the fake io");
  return p;
}

char *fake_copy_bytes(const char *s, size_t len) {
  char *p = str_ndup(s, len);

  cr_assert_not_null(p);
  return p;
}

char *fake_copy_str(const char *s) {
  return s ? fake_copy_bytes(s, strlen(s)) : NULL;
}

static void *fake_start(void *ctx, rl_call *call, const http_request *req) {
  fake *f = ctx;
  started *s;

  /* The run hands over a call that is marked running and not yet done. */
  if (call->status != RL_SEAT_RUNNING || call->handle)
    violated(f, "start_call for a call that is not running, or has a handle",
             NULL);
  f->calls = grow(f->calls, &f->cap_calls, f->n_calls, sizeof(*f->calls));
  s = &f->calls[f->n_calls++];
  memset(s, 0, sizeof(*s));
  s->call = call;
  s->step = call->step;
  s->index = call->index;
  s->seat = call->seat;
  s->url = fake_copy_str(req->url);
  s->n_headers = req->n_headers;
  s->headers = calloc(req->n_headers + 1, sizeof(char *));
  cr_assert_not_null(s->headers);
  for (size_t h = 0; h < req->n_headers; h++)
    s->headers[h] = fake_copy_str(req->headers[h]);
  s->body = fake_copy_bytes(req->body, req->body_len);
  s->body_len = req->body_len;
  s->connect_timeout_ms = req->connect_timeout_ms;
  s->timeout_ms = req->timeout_ms;
  s->max_response_bytes = req->max_response_bytes;
  if (f->refuse_all || (call->seat < 64 && (f->refuse_mask >> call->seat) & 1))
    return NULL;
  s->handle = (void *)(0x1000 + ++f->next_handle);
  return s->handle;
}

static void fake_cancel(void *ctx, rl_call *call) {
  fake *f = ctx;

  f->cancelled = grow(f->cancelled, &f->cap_cancelled, f->n_cancelled,
                      sizeof(*f->cancelled));
  f->cancelled[f->n_cancelled++] = call->handle;
}

static void *fake_start_timer(void *ctx, rl_call *call, long delay_ms) {
  fake *f = ctx;

  if (f->forbid_timers)
    violated(f, "a timer was asked for", NULL);
  if (f->refuse_timers || f->n_timers == 16)
    return NULL;
  f->timers[f->n_timers].call = call;
  f->timers[f->n_timers].delay_ms = delay_ms;
  f->timers[f->n_timers].pending = 1;
  return (void *)(0x9000 + ++f->n_timers);
}

static void fake_cancel_timer(void *ctx, void *handle) {
  fake *f = ctx;
  size_t i = (size_t)((uintptr_t)handle - 0x9000) - 1;

  if (i >= f->n_timers || !f->timers[i].pending)
    violated(f, "cancel of a timer that is not pending", NULL);
  else
    f->timers[i].pending = 0;
}

void fake_fire_timer(fake *f, size_t i) {
  cr_assert_lt(i, f->n_timers);
  cr_assert(f->timers[i].pending, "timer %zu is not pending", i);
  f->timers[i].pending = 0;
  rl_call_timer(f->timers[i].call);
}

static uint64_t fake_now(void *ctx) { return ((fake *)ctx)->now_ms; }

static int member_event(rl_event_type t) {
  return t == RL_EV_MEMBER_STARTED || t == RL_EV_MEMBER_COMPLETED ||
         t == RL_EV_MEMBER_TOKEN || t == RL_EV_MEMBER_REQUEST ||
         t == RL_EV_TOOL_CALLS || t == RL_EV_JUDGE_NEEDED;
}

/* What every event must satisfy, whatever the test; NULL when it does.
 * Pairwise calls share their judge's seat, so a call is checked against
 * its step by index. */
static const char *shape_error(const fake *f, rl_run *run, const rl_event *ev) {
  const rl_call *c = ev->call;
  const rl_step *st = rl_run_step(run, ev->round);

  if (f->ended)
    return "an event after the run ended";
  if ((ev->type == RL_EV_RUN_FAILED) != (ev->reason != NULL))
    return "only RUN_FAILED carries a reason, and it always does";
  if (!member_event(ev->type))
    return c ? "only member events carry a call" : NULL;
  if (!c || !st || c->index >= st->n_calls || c != &st->calls[c->index])
    return "a member event does not carry a call of its step";
  if (c->step != ev->round || c->seat != ev->seat)
    return "the call's step or seat differs from the event's";
  if (ev->type == RL_EV_TOOL_CALLS &&
      !(c->awaiting_tools && conversation_pending(&c->conv)))
    return "TOOL_CALLS without a call awaiting tools";
  if (ev->type == RL_EV_MEMBER_STARTED && c->status != RL_SEAT_RUNNING)
    return "a started call is not running";
  if (ev->type == RL_EV_MEMBER_COMPLETED &&
      (c->handle || (c->status != RL_SEAT_OK && c->status != RL_SEAT_FAILED &&
                     c->status != RL_SEAT_SKIPPED)))
    return "a completed call still holds its handle, or is still running";
  return NULL;
}

static void record(event_rec *e, rl_run *run, const rl_event *ev) {
  const rl_call *c = ev->call;

  memset(e, 0, sizeof(*e));
  e->type = ev->type;
  e->round = ev->round;
  e->seat = ev->seat;
  e->finished = rl_run_finished(run);
  e->reason = ev->reason;
  if (ev->type == RL_EV_MEMBER_TOKEN || ev->type == RL_EV_MEMBER_REQUEST) {
    e->content = fake_copy_bytes(ev->text, ev->text_len);
    e->token = ev->index;
  }
  if (!c)
    return;
  e->index = c->index;
  e->pair_a = c->pair_a;
  e->pair_b = c->pair_b;
  e->status = c->status;
  e->err_reason = c->err.reason;
  if (ev->type != RL_EV_MEMBER_COMPLETED)
    return;
  if (c->status == RL_SEAT_OK)
    e->content = fake_copy_bytes(c->resp.content, c->resp.content_len);
  e->err_kind = c->err.kind;
  e->err_message = fake_copy_str(c->err.message);
  e->http_status = c->http_status;
}

static void fake_emit(void *ctx, rl_run *run, const rl_event *ev) {
  fake *f = ctx;
  const char *bad = shape_error(f, run, ev);

  if (bad)
    violated(f, bad, ev);
  f->events = grow(f->events, &f->cap_events, f->n_events, sizeof(*f->events));
  record(&f->events[f->n_events++], run, ev);
  if (ev->type == RL_EV_RUN_COMPLETED || ev->type == RL_EV_RUN_FAILED ||
      ev->type == RL_EV_RUN_CANCELLED)
    f->ended = 1;
  if (f->hook && !f->hook_fired && ev->type == f->hook_type &&
      ev->seat == f->hook_seat) {
    f->hook_fired = 1;
    f->hook(f, run, ev);
  }
}

static void fake_free(fake *f) {
  for (size_t i = 0; i < f->n_calls; i++) {
    started *s = &f->calls[i];
    for (size_t h = 0; h < s->n_headers; h++)
      free(s->headers[h]);
    free(s->headers);
    free(s->url);
    free(s->body);
  }
  for (size_t i = 0; i < f->n_events; i++) {
    free(f->events[i].content);
    free(f->events[i].err_message);
  }
  free(f->calls);
  free(f->cancelled);
  free(f->events);
  free(f);
}

fake *fake_new(void) {
  fake *f = calloc(1, sizeof(*f));

  cr_assert_not_null(f);
  live_fake = f;
  return f;
}

rl_run *fake_run_new(fake *f, rl_spec *spec) {
  char why[200] = "";
  rl_io io = {.ctx = f,
              .start_call = fake_start,
              .cancel_call = fake_cancel,
              .start_timer = fake_start_timer,
              .cancel_timer = fake_cancel_timer,
              .emit = fake_emit,
              .now_ms = fake_now};
  rl_run *run;

  cr_assert_eq(rl_spec_check(spec, why, sizeof(why)), 0, "spec: %s", why);
  run = rl_run_new(spec, &io);
  cr_assert_not_null(run);
  live_run = run;
  return run;
}

void fake_expect_ok(const fake *f) {
  cr_assert_eq(f->violation[0], '\0', "fake io: %s", f->violation);
}

void run_end(rl_run *run, fake *f) {
  fake_expect_ok(f);
  rl_run_free(run);
  fake_free(f);
  live_run = NULL;
  live_fake = NULL;
}

void fake_free_leftovers(void) {
  if (live_run && !rl_run_finished(live_run))
    rl_run_cancel(live_run);
  rl_run_free(live_run);
  if (live_fake)
    fake_free(live_fake);
  live_run = NULL;
  live_fake = NULL;
}
