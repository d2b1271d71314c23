/* fake_io.h - the fake rl_io both round-loop suites drive runs through
 * (test_round_loop.c, test_rounds.c). It records every started call (with
 * copies of the request: the run frees its buffers as soon as start_call
 * returns), every cancelled handle, every timer (backoffs, tool-turn
 * deadlines) and every event, and checks each event's shape as it goes
 * out. Its clock (now_ms) stands still unless a test moves it. Tests then
 * answer calls by hand, in whatever order they choose. */
#ifndef CX_TEST_FAKE_IO_H
#define CX_TEST_FAKE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "round_loop.h"

/* One start_call invocation. */
typedef struct started {
  rl_call *call;
  void *handle; /* what start_call returned; NULL when refused */
  size_t step, index, seat;
  char *url;
  char **headers;
  size_t n_headers;
  char *body;
  size_t body_len;
  long connect_timeout_ms, timeout_ms;
  size_t max_response_bytes;
} started;

/* One emitted event, with what the tests read of its call at that time;
 * for MEMBER_COMPLETED a copy of the outcome. */
typedef struct event_rec {
  rl_event_type type;
  size_t round, seat;    /* the event's step and seat */
  size_t index;          /* the call's index in its step (member events) */
  size_t token;          /* MEMBER_TOKEN: the token's index */
  size_t pair_a, pair_b; /* JUDGE_NEEDED */
  int finished;          /* rl_run_finished() while the event was emitted */
  const char *reason;
  rl_seat_status status;
  char *content; /* MEMBER_COMPLETED (when OK), MEMBER_TOKEN text and
                    MEMBER_REQUEST body */
  const char *err_reason;
  chat_error_kind err_kind;
  char *err_message;
  long http_status;
} event_rec;

typedef struct fake fake;
/* Runs after an event is recorded: lets a test re-enter the run. */
typedef void (*emit_hook)(fake *f, rl_run *run, const rl_event *ev);

struct fake {
  started *calls;
  size_t n_calls, cap_calls;
  void **cancelled;
  size_t n_cancelled, cap_cancelled;
  event_rec *events;
  size_t n_events, cap_events;
  unsigned long refuse_mask; /* bit s set: start_call for seat s fails */
  int refuse_all;
  uintptr_t next_handle;
  /* Timers started (backoffs, tool-turn deadlines): the call, its delay,
   * and whether it is still pending (not fired or cancelled). */
  struct {
    rl_call *call;
    long delay_ms;
    int pending;
  } timers[16];
  size_t n_timers;
  int refuse_timers;
  int forbid_timers; /* a timer is a broken rule (no retries expected) */
  uint64_t now_ms;   /* the io's clock (rl_io.now_ms); tests move it */
  emit_hook hook;
  rl_event_type hook_type;
  size_t hook_seat;
  int hook_fired;
  int ended; /* a RUN_* event went out */
  /* The first broken rule seen inside a callback. Asserting there would
   * unwind through the run and leak its buffers, so it is recorded and
   * checked by fake_expect_ok and run_end. */
  char violation[256];
};

/* A new fake, remembered (with the run fake_run_new makes) so the suites'
 * fini can free them when a failed assertion ends a test early. */
fake *fake_new(void);
/* A run of spec (which must pass rl_spec_check) on f. */
rl_run *fake_run_new(fake *f, rl_spec *spec);
/* Fails the test when a callback broke a rule. */
void fake_expect_ok(const fake *f);
/* The normal end of a test: checks the rules, frees the run (no call may
 * be running) and the fake. */
void run_end(rl_run *run, fake *f);
/* A suite's .fini: cancels and frees what a failed test left. */
void fake_free_leftovers(void);
/* Fires timer i as the engine would. */
void fake_fire_timer(fake *f, size_t i);

/* A malloc'd copy of s[0..len) (NUL added); never NULL. */
char *fake_copy_bytes(const char *s, size_t len);
/* fake_copy_bytes of a C string; NULL stays NULL. */
char *fake_copy_str(const char *s);

#endif
