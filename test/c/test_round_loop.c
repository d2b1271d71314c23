/* test_round_loop.c - unit tests for round_loop.c. The run is driven
 * through the fake rl_io (fake_io.h); the tests feed completions back by
 * hand, in whatever order they choose, and check the exact event sequence,
 * the requests and the stored outcomes. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "anthropic_codec.h"
#include "buf.h"
#include "chat.h"
#include "codec.h"
#include "fake_io.h"
#include "fixtures.h"
#include "gemini_codec.h"
#include "http_engine.h"
#include "openai_codec.h"
#include "round_loop.h"

TestSuite(round_loop, .fini = fake_free_leftovers);
TestSuite(render_request, .fini = fake_free_leftovers);

/* The start record of a seat's call in a round. */
static started *started_of(fake *f, size_t round, size_t seat) {
  for (size_t i = 0; i < f->n_calls; i++) {
    if (f->calls[i].step == round && f->calls[i].seat == seat)
      return &f->calls[i];
  }
  cr_assert_fail("seat %zu was never started in round %zu", seat, round);
  return NULL;
}

static rl_call *call_of(fake *f, size_t round, size_t seat) {
  return started_of(f, round, seat)->call;
}

/* --- Specs ---------------------------------------------------------------- */

static const rl_round_kind TWO_ROUNDS[] = {RL_ROUND_INDEPENDENT,
                                           RL_ROUND_SYNTHESIS};
static const rl_round_kind ONE_ROUND[] = {RL_ROUND_INDEPENDENT};

/* A malloc'd copy of format with its one %zu filled in. */
static char *fmt(const char *format, size_t n) {
  char tmp[128];

  snprintf(tmp, sizeof(tmp), format, n);
  return fake_copy_str(tmp);
}

/* Seat i: id "m<i>" (the chair: "chair"), model "model-<i>", its own URL,
 * two headers and timeouts that tell the seats apart; no system prompt. */
static void seat_init(rl_seat *s, size_t i, int is_chair) {
  s->id = is_chair ? fake_copy_str("chair") : fmt("m%zu", i);
  s->url = fmt("https://p%zu.example.com/v1/chat/completions", i);
  s->n_headers = 2;
  s->headers = calloc(2, sizeof(char *));
  cr_assert_not_null(s->headers);
  s->headers[0] = fmt("Authorization: Bearer sk-%zu", i);
  s->headers[1] = fake_copy_str("X-Title: CouncilEx");
  s->model = fmt("model-%zu", i);
  s->connect_timeout_ms = 1000 + (long)i;
  s->timeout_ms = 30000 + (long)i;
  s->weight = 1.0; /* the spec's default */
}

static rl_spec *spec_new_n(const char *input, size_t input_len,
                           size_t n_members, int chair,
                           const rl_round_kind *rounds, size_t n_rounds) {
  rl_spec *spec = calloc(1, sizeof(*spec));

  cr_assert_not_null(spec);
  spec->input = fake_copy_bytes(input, input_len);
  spec->input_len = input_len;
  spec->n_seats = n_members + (chair ? 1 : 0);
  spec->n_members = n_members;
  spec->has_chair = chair;
  spec->seats = calloc(spec->n_seats ? spec->n_seats : 1, sizeof(rl_seat));
  cr_assert_not_null(spec->seats);
  for (size_t i = 0; i < spec->n_seats; i++)
    seat_init(&spec->seats[i], i, chair && i == n_members);
  spec->n_rounds = n_rounds;
  spec->rounds = calloc(n_rounds ? n_rounds : 1, sizeof(rl_round));
  cr_assert_not_null(spec->rounds);
  for (size_t r = 0; r < n_rounds; r++)
    spec->rounds[r].kind = rounds[r];
  spec->max_response_bytes = 1 << 20;
  return spec;
}

static rl_spec *spec_new(const char *input, size_t n_members, int chair,
                         const rl_round_kind *rounds, size_t n_rounds) {
  return spec_new_n(input, strlen(input), n_members, chair, rounds, n_rounds);
}

/* The usual council: 3 members and a chair, INDEPENDENT then SYNTHESIS. */
static rl_spec *council(const char *input) {
  return spec_new(input, 3, 1, TWO_ROUNDS, 2);
}

static void set_str(char **field, const char *value) {
  free(*field);
  *field = fake_copy_str(value);
}

static rl_run *run_new(fake *f, rl_spec *spec) {
  rl_run *run = fake_run_new(f, spec);

  cr_assert_eq(rl_run_spec(run), spec);
  cr_assert_eq(rl_run_ctx(run), f);
  return run;
}

/* --- Completions ---------------------------------------------------------- */

/* An OpenAI chat.completion body answering `content`. */
static char *ok_body(const char *content) {
  cJSON *root = cJSON_CreateObject(), *choices, *choice, *msg, *usage;
  char *s;

  cJSON_AddStringToObject(root, "id", "chatcmpl-1");
  cJSON_AddStringToObject(root, "object", "chat.completion");
  cJSON_AddStringToObject(root, "model", "provider-model");
  choices = cJSON_AddArrayToObject(root, "choices");
  choice = cJSON_CreateObject();
  cJSON_AddItemToArray(choices, choice);
  cJSON_AddNumberToObject(choice, "index", 0);
  msg = cJSON_AddObjectToObject(choice, "message");
  cJSON_AddStringToObject(msg, "role", "assistant");
  cJSON_AddStringToObject(msg, "content", content);
  cJSON_AddStringToObject(choice, "finish_reason", "stop");
  usage = cJSON_AddObjectToObject(root, "usage");
  cJSON_AddNumberToObject(usage, "prompt_tokens", 11);
  cJSON_AddNumberToObject(usage, "completion_tokens", 7);
  cJSON_AddNumberToObject(usage, "total_tokens", 18);
  s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  cr_assert_not_null(s);
  return s;
}

/* A finished transfer whose latency names the seat, so mix-ups show. */
static http_result result(http_failure failure, const char *error, long status,
                          const char *body, size_t len, const rl_call *call) {
  http_result res = {failure,
                     error,
                     status,
                     body,
                     len,
                     -1,
                     1000 * (call->seat + 1) + call->step};
  return res;
}

static void done_body(rl_call *call, long status, const char *body,
                      size_t len) {
  http_result res = result(HTTP_OK, "", status, body, len, call);

  rl_call_done(call, &res);
}

static void done_ok(rl_call *call, const char *content) {
  char *body = ok_body(content);

  done_body(call, 200, body, strlen(body));
  free(body);
}

static void done_fail(rl_call *call, http_failure failure, const char *error) {
  http_result res = result(failure, error, 0, NULL, 0, call);

  rl_call_done(call, &res);
}

/* --- Checks --------------------------------------------------------------- */

typedef struct ev_exp {
  rl_event_type type;
  size_t round, seat;
} ev_exp;

#define EV(t, r, s)                                                            \
  { RL_EV_##t, (r), (s) }
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *ev_name(rl_event_type t) {
  static const char *const names[] = {
      "ROUND_STARTED", "MEMBER_STARTED", "MEMBER_COMPLETED", "ROUND_COMPLETED",
      "RUN_COMPLETED", "RUN_FAILED",     "RUN_CANCELLED"};
  return (size_t)t < N(names) ? names[t] : "?";
}

/* The last events as text, for failure messages. */
static const char *event_tail(const fake *f, char *out, size_t len) {
  size_t used = 0, i = f->n_events > 12 ? f->n_events - 12 : 0;

  out[0] = '\0';
  for (; i < f->n_events && used < len; i++) {
    const event_rec *e = &f->events[i];
    int n = snprintf(out + used, len - used, " [%zu]%s(%zu,%zu)", i,
                     ev_name(e->type), e->round, e->seat);
    if (n < 0)
      break;
    used += (size_t)n;
  }
  return out;
}

/* The events from index `from` on are exactly `exp`. */
static void expect_events(const fake *f, size_t from, const ev_exp *exp,
                          size_t n) {
  char tail[1024];

  fake_expect_ok(f);
  for (size_t i = 0; i < n && from + i < f->n_events; i++) {
    const event_rec *e = &f->events[from + i];
    cr_assert(e->type == exp[i].type && e->round == exp[i].round &&
                  e->seat == exp[i].seat,
              "event %zu: got %s(round %zu, seat %zu), want %s(%zu, %zu);"
              " last events:%s",
              from + i, ev_name(e->type), e->round, e->seat,
              ev_name(exp[i].type), exp[i].round, exp[i].seat,
              event_tail(f, tail, sizeof(tail)));
  }
  cr_assert_eq(f->n_events, from + n,
               "got %zu events, want %zu; last events:%s", f->n_events,
               from + n, event_tail(f, tail, sizeof(tail)));
}

static void expect_str_or_null(const char *got, const char *want) {
  if (want == NULL)
    cr_assert_null(got, "want NULL, got \"%s\"", got);
  else {
    cr_assert_not_null(got, "want \"%s\", got NULL", want);
    cr_assert_str_eq(got, want);
  }
}

static cJSON *body_json(const started *s) {
  cJSON *root = cJSON_ParseWithLength(s->body, s->body_len);

  cr_assert_not_null(root, "request body is not JSON: %.200s", s->body);
  return root;
}

/* messages[i] of a request body, checked for role; its content returned
 * (owned by root). */
static const cJSON *message_at(const cJSON *root, int i, const char *role) {
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
  const cJSON *m = cJSON_GetArrayItem(msgs, i);
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");

  cr_assert(cJSON_IsString(r) && strcmp(r->valuestring, role) == 0,
            "message %d is not a %s message", i, role);
  cr_assert(cJSON_IsString(c));
  return c;
}

static int n_messages(const cJSON *root) {
  return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "messages"));
}

/* A member's request: model, then [system?, user] with the exact input. */
static void expect_member_body(const started *s, const char *model,
                               const char *system, const char *input,
                               size_t input_len) {
  cJSON *root = body_json(s);
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
  const cJSON *user;
  int i = 0;

  cr_assert(cJSON_IsString(m));
  cr_assert_str_eq(m->valuestring, model);
  cr_assert_eq(n_messages(root), system ? 2 : 1);
  if (system)
    cr_assert_str_eq(message_at(root, i++, "system")->valuestring, system);
  user = message_at(root, i, "user");
  cr_assert_eq(strlen(user->valuestring), input_len,
               "user content has %zu bytes, want %zu",
               strlen(user->valuestring), input_len);
  cr_assert_eq(memcmp(user->valuestring, input, input_len), 0);
  cJSON_Delete(root);
}

/* The chair's user message, as a malloc'd string. */
static char *chair_prompt(const started *s) {
  cJSON *root = body_json(s);
  char *p;

  cr_assert_eq(n_messages(root), 2);
  p = fake_copy_str(message_at(root, 1, "user")->valuestring);
  cJSON_Delete(root);
  return p;
}

static void expect_contains(const char *hay, const char *needle) {
  cr_assert_not_null(strstr(hay, needle), "\"%s\" not found in:\n%.2000s",
                     needle, hay);
}

static void expect_seat_ok(const rl_run *run, size_t round, size_t seat,
                           const char *content) {
  const rl_call *c = rl_run_call(run, round, seat);

  cr_assert_not_null(c);
  cr_assert_eq(c->status, RL_SEAT_OK, "round %zu seat %zu is not OK", round,
               seat);
  cr_assert_eq(c->resp.content_len, strlen(content));
  cr_assert_str_eq(c->resp.content, content);
  cr_assert_eq(c->http_status, 200);
  cr_assert_eq(c->latency_us, 1000 * (seat + 1) + round);
  cr_assert_eq(c->resp.input_tokens, 11);
  cr_assert_eq(c->resp.output_tokens, 7);
  cr_assert_str_eq(c->resp.model, "provider-model");
  cr_assert_str_eq(c->resp.finish_reason, "stop");
}

static void expect_seat_failed(const rl_run *run, size_t round, size_t seat,
                               chat_error_kind kind, const char *reason) {
  const rl_call *c = rl_run_call(run, round, seat);

  cr_assert_not_null(c);
  cr_assert_eq(c->status, RL_SEAT_FAILED);
  cr_assert_eq(c->err.kind, kind, "kind %s, want %s",
               chat_error_kind_name(c->err.kind), chat_error_kind_name(kind));
  cr_assert_not_null(c->err.reason);
  cr_assert_str_eq(c->err.reason, reason);
  cr_assert_null(c->resp.content);
}

/* e is the MEMBER_COMPLETED of a failure. */
static void expect_failed_event(const event_rec *e, chat_error_kind kind,
                                const char *reason) {
  cr_assert_eq(e->type, RL_EV_MEMBER_COMPLETED);
  cr_assert_eq(e->status, RL_SEAT_FAILED);
  cr_assert_eq(e->err_kind, kind);
  cr_assert_str_eq(e->err_reason, reason);
}

static void expect_last_failed(const fake *f, chat_error_kind kind,
                               const char *reason) {
  cr_assert(f->n_events > 0);
  expect_failed_event(&f->events[f->n_events - 1], kind, reason);
}

static void expect_started_events(const fake *f, size_t from, size_t round,
                                  size_t lo, size_t hi) {
  ev_exp exp[hi - lo + 1];

  exp[0] = (ev_exp)EV(ROUND_STARTED, round, 0);
  for (size_t s = lo; s < hi; s++)
    exp[s - lo + 1] = (ev_exp)EV(MEMBER_STARTED, round, s);
  expect_events(f, from, exp, hi - lo + 1);
}

/* --- The two-round council ------------------------------------------------ */

static const char *const INPUT = "What is the capital of Australia?";

Test(round_loop, start_issues_one_call_per_member) {
  fake *f = fake_new();
  rl_spec *spec = council(INPUT);
  rl_run *run;

  set_str(&spec->seats[0].system_prompt, "Be brief.");
  spec->seats[1].has_temperature = 1;
  spec->seats[1].temperature = 0.2;
  spec->seats[1].max_tokens = 256;
  run = run_new(f, spec);
  cr_assert_eq(f->n_events, 0, "nothing happens before start");
  rl_run_start(run);

  cr_assert_eq(f->n_calls, 3);
  expect_started_events(f, 0, 0, 0, 3);
  for (size_t i = 0; i < 3; i++) {
    const started *s = &f->calls[i];
    char want[128];

    cr_assert_eq(s->step, 0);
    cr_assert_eq(s->seat, i, "calls start in seat order");
    cr_assert_not_null(s->handle);
    snprintf(want, sizeof(want), "https://p%zu.example.com/v1/chat/completions",
             i);
    cr_assert_str_eq(s->url, want);
    cr_assert_eq(s->n_headers, 2);
    snprintf(want, sizeof(want), "Authorization: Bearer sk-%zu", i);
    cr_assert_str_eq(s->headers[0], want);
    cr_assert_str_eq(s->headers[1], "X-Title: CouncilEx");
    cr_assert_eq(s->connect_timeout_ms, 1000 + (long)i);
    cr_assert_eq(s->timeout_ms, 30000 + (long)i);
    cr_assert_eq(s->max_response_bytes, 1 << 20);
    snprintf(want, sizeof(want), "model-%zu", i);
    expect_member_body(s, want, i == 0 ? "Be brief." : NULL, INPUT,
                       strlen(INPUT));
    /* The handle the transport gave is kept on the call. */
    cr_assert_eq(rl_run_call(run, 0, i)->handle, s->handle);
    cr_assert_eq(rl_run_call(run, 0, i)->status, RL_SEAT_RUNNING);
  }
  cr_assert_null(rl_run_call(run, 1, 3), "the chair's round has not begun");
  cr_assert_not(rl_run_finished(run));

  /* Sampling options only where the seat sets them. */
  cJSON *b1 = body_json(&f->calls[1]), *b2 = body_json(&f->calls[2]);
  cr_assert_float_eq(
      cJSON_GetObjectItemCaseSensitive(b1, "temperature")->valuedouble, 0.2,
      1e-12);
  cr_assert_eq(cJSON_GetObjectItemCaseSensitive(b1, "max_tokens")->valueint,
               256);
  cr_assert_null(cJSON_GetObjectItemCaseSensitive(b2, "temperature"));
  cr_assert_null(cJSON_GetObjectItemCaseSensitive(b2, "max_tokens"));
  cr_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(b2, "stream")));
  cJSON_Delete(b1);
  cJSON_Delete(b2);

  /* Finish the run so it can be freed with no call running. */
  rl_run_cancel(run);
  run_end(run, f);
}

Test(round_loop, two_rounds_complete_out_of_order) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  rl_run_start(run);
  cr_assert_eq(f->n_events, 4);

  done_ok(call_of(f, 0, 2), "Canberra, says two.");
  done_ok(call_of(f, 0, 0), "Canberra.");
  cr_assert_eq(f->n_calls, 3, "the chair waits for every member");
  cr_assert_not(rl_run_finished(run));
  done_ok(call_of(f, 0, 1), "It is Canberra, not Sydney.");

  static const ev_exp round0_done[] = {
      EV(MEMBER_COMPLETED, 0, 2), EV(MEMBER_COMPLETED, 0, 0),
      EV(MEMBER_COMPLETED, 0, 1), EV(ROUND_COMPLETED, 0, 0),
      EV(ROUND_STARTED, 1, 0),    EV(MEMBER_STARTED, 1, 3)};
  expect_events(f, 4, round0_done, N(round0_done));
  cr_assert_eq(f->events[4].status, RL_SEAT_OK);
  cr_assert_str_eq(f->events[4].content, "Canberra, says two.");
  cr_assert_str_eq(f->events[6].content, "It is Canberra, not Sydney.");
  cr_assert_eq(f->events[6].http_status, 200);

  /* The chair: default system prompt, the input and every answer, in seat
   * order, each labelled with the member's id and model. */
  cr_assert_eq(f->n_calls, 4);
  started *chair = started_of(f, 1, 3);
  cr_assert_str_eq(chair->url, "https://p3.example.com/v1/chat/completions");
  cr_assert_str_eq(chair->headers[0], "Authorization: Bearer sk-3");
  cJSON *root = body_json(chair);
  cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(root, "model")->valuestring,
                   "model-3");
  cr_assert_eq(strncmp(message_at(root, 0, "system")->valuestring,
                       "You are the chair of an LLM council.", 36),
               0);
  cJSON_Delete(root);
  char *prompt = chair_prompt(chair);
  expect_contains(prompt, "Question:\nWhat is the capital of Australia?\n");
  const char *a0 = strstr(prompt, "### Member m0 (model-0)\nCanberra.\n");
  const char *a1 =
      strstr(prompt, "### Member m1 (model-1)\nIt is Canberra, not Sydney.\n");
  const char *a2 =
      strstr(prompt, "### Member m2 (model-2)\nCanberra, says two.\n");
  cr_assert(a0 && a1 && a2, "an answer is missing:\n%s", prompt);
  cr_assert(a0 < a1 && a1 < a2, "answers are not in seat order");
  cr_assert_null(strstr(prompt, "no answer"));
  cr_assert_null(strstr(prompt, "### Member chair"));
  free(prompt);

  done_ok(call_of(f, 1, 3), "Canberra is the capital.");
  static const ev_exp round1_done[] = {EV(MEMBER_COMPLETED, 1, 3),
                                       EV(ROUND_COMPLETED, 1, 0),
                                       EV(RUN_COMPLETED, 1, 0)};
  expect_events(f, 10, round1_done, N(round1_done));
  cr_assert(f->events[12].finished, "finished is set before the event");
  cr_assert_not(f->events[11].finished);
  cr_assert(rl_run_finished(run));

  expect_seat_ok(run, 0, 0, "Canberra.");
  expect_seat_ok(run, 0, 1, "It is Canberra, not Sydney.");
  expect_seat_ok(run, 0, 2, "Canberra, says two.");
  expect_seat_ok(run, 1, 3, "Canberra is the capital.");
  /* Seats only exist in the rounds they sit in. */
  cr_assert_null(rl_run_call(run, 0, 3));
  cr_assert_null(rl_run_call(run, 1, 0));
  cr_assert_null(rl_run_call(run, 1, 2));
  cr_assert_null(rl_run_call(run, 2, 0));
  cr_assert_null(rl_run_call(run, 0, 4));
  cr_assert_eq(f->n_cancelled, 0);
  run_end(run, f);
}

Test(round_loop, chair_system_prompt_overrides_default) {
  fake *f = fake_new();
  rl_spec *spec = council(INPUT);
  rl_run *run;

  set_str(&spec->seats[3].system_prompt, "You chair. Be terse.");
  run = run_new(f, spec);
  rl_run_start(run);
  for (size_t s = 0; s < 3; s++)
    done_ok(call_of(f, 0, s), "Canberra.");
  cJSON *root = body_json(started_of(f, 1, 3));
  cr_assert_str_eq(message_at(root, 0, "system")->valuestring,
                   "You chair. Be terse.");
  cJSON_Delete(root);
  done_ok(call_of(f, 1, 3), "Canberra.");
  cr_assert_eq(f->events[f->n_events - 1].type, RL_EV_RUN_COMPLETED);
  run_end(run, f);
}

Test(round_loop, single_round_without_chair) {
  fake *f = fake_new();
  rl_run *run = run_new(f, spec_new(INPUT, 2, 0, ONE_ROUND, 1));

  rl_run_start(run);
  cr_assert_eq(f->n_calls, 2);
  done_ok(call_of(f, 0, 1), "one");
  done_ok(call_of(f, 0, 0), "zero");
  static const ev_exp exp[] = {
      EV(ROUND_STARTED, 0, 0),    EV(MEMBER_STARTED, 0, 0),
      EV(MEMBER_STARTED, 0, 1),   EV(MEMBER_COMPLETED, 0, 1),
      EV(MEMBER_COMPLETED, 0, 0), EV(ROUND_COMPLETED, 0, 0),
      EV(RUN_COMPLETED, 0, 0)};
  expect_events(f, 0, exp, N(exp));
  cr_assert(rl_run_finished(run));
  expect_seat_ok(run, 0, 0, "zero");
  expect_seat_ok(run, 0, 1, "one");
  cr_assert_null(rl_run_call(run, 1, 0));
  run_end(run, f);
}

/* With spec->debug every request goes out as MEMBER_REQUEST too, carrying
 * the body that was sent; without it, none does. */
Test(round_loop, debug_reports_each_request_body) {
  for (int debug = 0; debug <= 1; debug++) {
    fake *f = fake_new();
    rl_spec *spec = spec_new(INPUT, 2, 0, ONE_ROUND, 1);
    spec->debug = debug;
    rl_run *run = run_new(f, spec);
    size_t requests = 0;

    rl_run_start(run);
    cr_assert_eq(f->n_calls, 2);
    for (size_t i = 0; i < f->n_events; i++) {
      const event_rec *e = &f->events[i];
      if (e->type != RL_EV_MEMBER_REQUEST)
        continue;
      const started *s = &f->calls[requests++];
      cr_assert_eq(e->seat, s->seat);
      cr_assert_str_eq(e->content, s->body);
    }
    cr_assert_eq(requests, debug ? 2 : 0);
    done_ok(call_of(f, 0, 0), "zero");
    done_ok(call_of(f, 0, 1), "one");
    cr_assert(rl_run_finished(run));
    run_end(run, f);
  }
}

/* Two member rounds then a synthesis: members answer the bare input again
 * and the chair sees the latest member round only. */
Test(round_loop, synthesis_reads_latest_member_round) {
  static const rl_round_kind rounds[] = {
      RL_ROUND_INDEPENDENT, RL_ROUND_INDEPENDENT, RL_ROUND_SYNTHESIS};
  fake *f = fake_new();
  rl_run *run = run_new(f, spec_new(INPUT, 2, 1, rounds, 3));

  rl_run_start(run);
  done_ok(call_of(f, 0, 0), "first try zero");
  done_ok(call_of(f, 0, 1), "first try one");
  cr_assert_eq(f->n_calls, 4);
  expect_started_events(f, 6, 1, 0, 2);
  expect_member_body(started_of(f, 1, 0), "model-0", NULL, INPUT,
                     strlen(INPUT));
  done_ok(call_of(f, 1, 1), "second try one");
  done_ok(call_of(f, 1, 0), "second try zero");

  char *prompt = chair_prompt(started_of(f, 2, 2));
  expect_contains(prompt, "### Member m0 (model-0)\nsecond try zero\n");
  expect_contains(prompt, "### Member m1 (model-1)\nsecond try one\n");
  cr_assert_null(strstr(prompt, "first try"));
  free(prompt);
  done_ok(call_of(f, 2, 2), "final");
  cr_assert_eq(f->events[f->n_events - 1].type, RL_EV_RUN_COMPLETED);
  cr_assert_eq(f->events[f->n_events - 1].round, 2);
  run_end(run, f);
}

/* Two synthesis rounds in a row: the second still reads the members. */
Test(round_loop, second_synthesis_reads_member_round) {
  static const rl_round_kind rounds[] = {
      RL_ROUND_INDEPENDENT, RL_ROUND_SYNTHESIS, RL_ROUND_SYNTHESIS};
  fake *f = fake_new();
  rl_run *run = run_new(f, spec_new(INPUT, 2, 1, rounds, 3));

  rl_run_start(run);
  done_ok(call_of(f, 0, 0), "zero");
  done_ok(call_of(f, 0, 1), "one");
  done_ok(call_of(f, 1, 2), "chair draft");
  cr_assert_eq(f->n_calls, 4);
  char *prompt = chair_prompt(started_of(f, 2, 2));
  expect_contains(prompt, "### Member m0 (model-0)\nzero\n");
  expect_contains(prompt, "### Member m1 (model-1)\none\n");
  free(prompt);
  done_ok(call_of(f, 2, 2), "chair final");
  static const ev_exp tail[] = {
      EV(MEMBER_COMPLETED, 1, 2), EV(ROUND_COMPLETED, 1, 0),
      EV(ROUND_STARTED, 2, 0),    EV(MEMBER_STARTED, 2, 2),
      EV(MEMBER_COMPLETED, 2, 2), EV(ROUND_COMPLETED, 2, 0),
      EV(RUN_COMPLETED, 2, 0)};
  expect_events(f, 8, tail, N(tail));
  expect_seat_ok(run, 2, 2, "chair final");
  run_end(run, f);
}

/* A transport that reports one call twice must not move the round on. */
Test(round_loop, duplicate_completion_is_ignored) {
  fake *f = fake_new();
  rl_run *run = run_new(f, spec_new(INPUT, 2, 0, ONE_ROUND, 1));

  rl_run_start(run);
  done_ok(call_of(f, 0, 0), "zero");
  done_ok(call_of(f, 0, 0), "zero again");
  cr_assert_eq(f->n_events, 4, "the second completion emitted something");
  expect_seat_ok(run, 0, 0, "zero");
  done_ok(call_of(f, 0, 1), "one");
  static const ev_exp tail[] = {EV(MEMBER_COMPLETED, 0, 1),
                                EV(ROUND_COMPLETED, 0, 0),
                                EV(RUN_COMPLETED, 0, 0)};
  expect_events(f, 4, tail, N(tail));
  run_end(run, f);
}

/* --- Failures and their classification ----------------------------------- */

Test(round_loop, http_500_member_fails_and_chair_is_told) {
  static const char *err500 =
      "{\"error\":{\"message\":\"The server had an error while processing "
      "your request.\",\"type\":\"server_error\",\"param\":null,"
      "\"code\":null}}";
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  rl_run_start(run);
  done_ok(call_of(f, 0, 0), "Canberra.");
  rl_call *c1 = call_of(f, 0, 1);
  http_result res = result(HTTP_OK, "", 500, err500, strlen(err500), c1);
  res.retry_after_ms = 1500;
  rl_call_done(c1, &res);
  expect_last_failed(f, CHAT_ERR_TRANSIENT, "http_error");
  cr_assert_str_eq(f->events[f->n_events - 1].err_message,
                   "The server had an error while processing your request.");
  cr_assert_eq(f->events[f->n_events - 1].http_status, 500);

  const rl_call *c = rl_run_call(run, 0, 1);
  expect_seat_failed(run, 0, 1, CHAT_ERR_TRANSIENT, "http_error");
  cr_assert_str_eq(c->err.message,
                   "The server had an error while processing your request.");
  cr_assert_str_eq(c->err.type, "server_error");
  cr_assert_null(c->err.code);
  cr_assert_eq(c->err.http_status, 500);
  cr_assert_eq(c->err.retry_after_ms, 1500);
  cr_assert_eq(c->http_status, 500);
  cr_assert_eq(c->latency_us, 2000);

  done_ok(call_of(f, 0, 2), "Canberra, surely.");
  cr_assert_eq(f->n_calls, 4, "one failure does not stop the run");
  char *prompt = chair_prompt(started_of(f, 1, 3));
  expect_contains(prompt, "### Member m0 (model-0)\nCanberra.\n");
  expect_contains(prompt, "### Member m1 (model-1)\n(no answer: http_error)\n");
  expect_contains(prompt, "### Member m2 (model-2)\nCanberra, surely.\n");
  cr_assert_null(strstr(prompt, "The server had an error"),
                 "provider error text does not reach the chair");
  free(prompt);

  done_ok(call_of(f, 1, 3), "Canberra.");
  cr_assert_eq(f->events[f->n_events - 1].type, RL_EV_RUN_COMPLETED);
  run_end(run, f);
}

/* Runs 2 members + chair where member 1 answers and member 0 gets `res`;
 * checks member 0's outcome, that the chair hears of it, and that the run
 * completes. Returns nothing: everything is asserted here. */
static void check_member_outcome(const http_result *res, chat_error_kind kind,
                                 const char *reason, const char *message) {
  fake *f = fake_new();
  rl_run *run = run_new(f, spec_new(INPUT, 2, 1, TWO_ROUNDS, 2));
  char want[128];

  rl_run_start(run);
  done_ok(call_of(f, 0, 1), "one");
  rl_call_done(call_of(f, 0, 0), res);
  static const ev_exp exp[] = {
      EV(MEMBER_COMPLETED, 0, 1), EV(MEMBER_COMPLETED, 0, 0),
      EV(ROUND_COMPLETED, 0, 0), EV(ROUND_STARTED, 1, 0),
      EV(MEMBER_STARTED, 1, 2)};
  expect_events(f, 3, exp, N(exp));
  expect_failed_event(&f->events[4], kind, reason);
  expect_seat_failed(run, 0, 0, kind, reason);
  expect_str_or_null(rl_run_call(run, 0, 0)->err.message, message);
  cr_assert_eq(rl_run_call(run, 0, 0)->http_status, res->status);
  cr_assert_eq(rl_run_call(run, 0, 0)->err.http_status, res->status);
  cr_assert_eq(rl_run_call(run, 0, 0)->latency_us, res->elapsed_us);

  char *prompt = chair_prompt(started_of(f, 1, 2));
  snprintf(want, sizeof(want), "### Member m0 (model-0)\n(no answer: %s)\n",
           reason);
  expect_contains(prompt, want);
  expect_contains(prompt, "### Member m1 (model-1)\none\n");
  free(prompt);
  done_ok(call_of(f, 1, 2), "chair");
  cr_assert_eq(f->events[f->n_events - 1].type, RL_EV_RUN_COMPLETED);
  run_end(run, f);
}

static void check_status(long status, const char *body, chat_error_kind kind,
                         const char *reason, const char *message) {
  http_result res = {HTTP_OK, "", status, body, body ? strlen(body) : 0,
                     -1,      777};

  check_member_outcome(&res, kind, reason, message);
}

static void check_transport(http_failure failure, long status,
                            const char *error, chat_error_kind kind,
                            const char *reason, const char *message) {
  http_result res = {failure, error, status, NULL, 0, -1, 30000000};

  check_member_outcome(&res, kind, reason, message);
}

Test(round_loop, http_401_is_permanent) {
  check_status(401,
               "{\"error\":{\"message\":\"Incorrect API key provided.\","
               "\"type\":\"invalid_request_error\",\"param\":null,"
               "\"code\":\"invalid_api_key\"}}",
               CHAT_ERR_PERMANENT, "http_error", "Incorrect API key provided.");
}

Test(round_loop, http_429_is_transient_unless_quota) {
  check_status(429,
               "{\"error\":{\"message\":\"Rate limit reached\","
               "\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}",
               CHAT_ERR_TRANSIENT, "http_error", "Rate limit reached");
  check_status(429,
               "{\"error\":{\"message\":\"You exceeded your quota\","
               "\"type\":\"insufficient_quota\","
               "\"code\":\"insufficient_quota\"}}",
               CHAT_ERR_PERMANENT, "http_error", "You exceeded your quota");
}

Test(round_loop, http_502_html_body_is_kept_as_message) {
  check_status(502, "  <html>Bad gateway</html>\n", CHAT_ERR_TRANSIENT,
               "http_error", "<html>Bad gateway</html>");
}

Test(round_loop, transport_timeout) {
  check_transport(HTTP_FAIL_TIMEOUT, 0,
                  "Operation timed out after 30000 milliseconds",
                  CHAT_ERR_TIMEOUT, "timeout",
                  "Operation timed out after 30000 milliseconds");
}

Test(round_loop, transport_connect_failed) {
  check_transport(HTTP_FAIL_CONNECT, 0, "Could not resolve host: p0.example",
                  CHAT_ERR_TRANSIENT, "connect_failed",
                  "Could not resolve host: p0.example");
}

Test(round_loop, transport_response_too_large) {
  /* The status line arrived before the body outgrew the limit. */
  check_transport(HTTP_FAIL_TOO_LARGE, 200, "Failure writing output",
                  CHAT_ERR_PERMANENT, "response_too_large",
                  "the response body is larger than max_response_bytes");
}

Test(round_loop, transport_header_too_large) {
  /* libcurl's "Out of memory" for a header past 100 KB is the server's
   * doing: permanent, and named as such. */
  check_transport(HTTP_FAIL_HEADER_TOO_LARGE, 0, "Out of memory",
                  CHAT_ERR_PERMANENT, "response_too_large",
                  "a response header is larger than libcurl accepts (100 KB)");
}

Test(round_loop, empty_error_bodies_say_what_happened) {
  check_status(302, "", CHAT_ERR_PERMANENT, "http_error",
               "HTTP 302: the provider redirected the request, and "
               "redirects are not followed (check the provider's base_url)");
  check_status(503, "  \n", CHAT_ERR_TRANSIENT, "http_error",
               "HTTP 503 with an empty body");
}

Test(round_loop, transport_tls_and_other) {
  check_transport(HTTP_FAIL_TLS_VERIFY, 0, "SSL certificate problem",
                  CHAT_ERR_PERMANENT, "tls_verify_failed",
                  "SSL certificate problem");
  check_transport(HTTP_FAIL_OTHER, 0, "Failure when receiving data",
                  CHAT_ERR_TRANSIENT, "transport_error",
                  "Failure when receiving data");
}

Test(round_loop, malformed_200_bodies) {
  check_status(200, "this is not json", CHAT_ERR_PERMANENT, "invalid_json",
               NULL);
  check_status(200, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]} junk",
               CHAT_ERR_PERMANENT, "invalid_json", NULL);
  check_status(200, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\"}",
               CHAT_ERR_PERMANENT, "missing_field", NULL);
  check_status(200, "{\"choices\":[]}", CHAT_ERR_PERMANENT, "missing_field",
               NULL);
  check_status(200, "{\"choices\":[{\"message\":{\"content\":42}}]}",
               CHAT_ERR_PERMANENT, "missing_field", NULL);
  check_status(200, "{\"choices\":[{\"message\":{\"content\":\"caf\xe9\"}}]}",
               CHAT_ERR_PERMANENT, "invalid_utf8", NULL);
  check_status(200, "", CHAT_ERR_PERMANENT, "invalid_json", NULL);
  check_status(200, NULL, CHAT_ERR_PERMANENT, "invalid_json", NULL);
}

Test(round_loop, error_object_inside_200) {
  check_status(200,
               "{\"error\":{\"message\":\"Upstream overloaded\","
               "\"code\":503}}",
               CHAT_ERR_TRANSIENT, "provider_error", "Upstream overloaded");
}

/* A 200 whose message content is null (tool calls only) is an empty
 * answer, not a failure. */
Test(round_loop, null_content_is_an_empty_answer) {
  static const char *body =
      "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":null},"
      "\"finish_reason\":\"tool_calls\"}]}";
  fake *f = fake_new();
  rl_run *run = run_new(f, spec_new(INPUT, 1, 0, ONE_ROUND, 1));

  rl_run_start(run);
  done_body(call_of(f, 0, 0), 200, body, strlen(body));
  const rl_call *c = rl_run_call(run, 0, 0);
  cr_assert_eq(c->status, RL_SEAT_OK);
  cr_assert_str_eq(c->resp.content, "");
  cr_assert_eq(c->resp.content_len, 0);
  cr_assert_eq(c->resp.input_tokens, -1);
  cr_assert_eq(f->events[f->n_events - 1].type, RL_EV_RUN_COMPLETED);
  run_end(run, f);
}

Test(round_loop, all_members_fail_and_chair_is_never_called) {
  static const char *err = "{\"error\":{\"message\":\"boom\"}}";
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  rl_run_start(run);
  done_body(call_of(f, 0, 1), 500, err, strlen(err));
  done_fail(call_of(f, 0, 0), HTTP_FAIL_TIMEOUT, "timed out");
  done_body(call_of(f, 0, 2), 200, "{", 1);
  static const ev_exp exp[] = {EV(MEMBER_COMPLETED, 0, 1),
                               EV(MEMBER_COMPLETED, 0, 0),
                               EV(MEMBER_COMPLETED, 0, 2),
                               EV(ROUND_COMPLETED, 0, 0), EV(RUN_FAILED, 0, 0)};
  expect_events(f, 4, exp, N(exp));
  cr_assert_str_eq(f->events[8].reason, "no_member_succeeded");
  cr_assert(f->events[8].finished);
  cr_assert(rl_run_finished(run));
  cr_assert_eq(f->n_calls, 3, "the chair was called");
  cr_assert_null(rl_run_call(run, 1, 3), "the chair's round never began");
  expect_seat_failed(run, 0, 0, CHAT_ERR_TIMEOUT, "timeout");
  expect_seat_failed(run, 0, 1, CHAT_ERR_TRANSIENT, "http_error");
  expect_seat_failed(run, 0, 2, CHAT_ERR_PERMANENT, "invalid_json");
  cr_assert_eq(f->n_cancelled, 0);
  run_end(run, f);
}

Test(round_loop, chair_failure_fails_the_run) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  rl_run_start(run);
  for (size_t s = 0; s < 3; s++)
    done_ok(call_of(f, 0, s), "Canberra.");
  done_body(call_of(f, 1, 3), 503, "Service Unavailable", 19);
  static const ev_exp exp[] = {EV(MEMBER_COMPLETED, 1, 3),
                               EV(ROUND_COMPLETED, 1, 0), EV(RUN_FAILED, 1, 0)};
  expect_events(f, 10, exp, N(exp));
  cr_assert_str_eq(f->events[12].reason, "chair_failed");
  expect_seat_failed(run, 1, 3, CHAT_ERR_TRANSIENT, "http_error");
  cr_assert_str_eq(rl_run_call(run, 1, 3)->err.message, "Service Unavailable");
  /* The members' answers stay available after the failure. */
  expect_seat_ok(run, 0, 1, "Canberra.");
  run_end(run, f);
}

/* --- Calls that cannot start ---------------------------------------------- */

Test(round_loop, start_failure_fails_only_that_seat) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  f->refuse_mask = 1u << 1;
  rl_run_start(run);
  static const ev_exp started[] = {
      EV(ROUND_STARTED, 0, 0), EV(MEMBER_STARTED, 0, 0),
      EV(MEMBER_STARTED, 0, 1), EV(MEMBER_COMPLETED, 0, 1),
      EV(MEMBER_STARTED, 0, 2)};
  expect_events(f, 0, started, N(started));
  expect_failed_event(&f->events[3], CHAT_ERR_PERMANENT, "start_failed");
  expect_seat_failed(run, 0, 1, CHAT_ERR_PERMANENT, "start_failed");
  cr_assert_null(rl_run_call(run, 0, 1)->handle);
  cr_assert_not_null(rl_run_call(run, 0, 2)->handle);
  cr_assert_not(rl_run_finished(run));

  done_ok(call_of(f, 0, 2), "two");
  done_ok(call_of(f, 0, 0), "zero");
  static const ev_exp rest[] = {
      EV(MEMBER_COMPLETED, 0, 2), EV(MEMBER_COMPLETED, 0, 0),
      EV(ROUND_COMPLETED, 0, 0), EV(ROUND_STARTED, 1, 0),
      EV(MEMBER_STARTED, 1, 3)};
  expect_events(f, 5, rest, N(rest));
  char *prompt = chair_prompt(started_of(f, 1, 3));
  expect_contains(prompt,
                  "### Member m1 (model-1)\n(no answer: start_failed)\n");
  free(prompt);
  done_ok(call_of(f, 1, 3), "chair");
  cr_assert_eq(f->events[f->n_events - 1].type, RL_EV_RUN_COMPLETED);
  run_end(run, f);
}

Test(round_loop, no_call_can_start) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  f->refuse_all = 1;
  rl_run_start(run);
  static const ev_exp exp[] = {
      EV(ROUND_STARTED, 0, 0),    EV(MEMBER_STARTED, 0, 0),
      EV(MEMBER_COMPLETED, 0, 0), EV(MEMBER_STARTED, 0, 1),
      EV(MEMBER_COMPLETED, 0, 1), EV(MEMBER_STARTED, 0, 2),
      EV(MEMBER_COMPLETED, 0, 2), EV(ROUND_COMPLETED, 0, 0),
      EV(RUN_FAILED, 0, 0)};
  expect_events(f, 0, exp, N(exp));
  cr_assert_str_eq(f->events[8].reason, "no_member_succeeded");
  cr_assert(rl_run_finished(run));
  cr_assert_eq(f->n_calls, 3, "the chair was tried");
  for (size_t s = 0; s < 3; s++)
    expect_seat_failed(run, 0, s, CHAT_ERR_PERMANENT, "start_failed");
  /* A late start request does nothing on a finished run. */
  rl_run_start(run);
  cr_assert_eq(f->n_events, 9);
  run_end(run, f);
}

Test(round_loop, chair_cannot_start) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  f->refuse_mask = 1u << 3;
  rl_run_start(run);
  for (size_t s = 0; s < 3; s++)
    done_ok(call_of(f, 0, s), "Canberra.");
  static const ev_exp exp[] = {
      EV(ROUND_COMPLETED, 0, 0), EV(ROUND_STARTED, 1, 0),
      EV(MEMBER_STARTED, 1, 3),  EV(MEMBER_COMPLETED, 1, 3),
      EV(ROUND_COMPLETED, 1, 0), EV(RUN_FAILED, 1, 0)};
  expect_events(f, 7, exp, N(exp));
  cr_assert_str_eq(f->events[12].reason, "chair_failed");
  expect_seat_failed(run, 1, 3, CHAT_ERR_PERMANENT, "start_failed");
  run_end(run, f);
}

/* Seat text that is not UTF-8 could never be rendered into a request (nor
 * into the chair's prompt): the spec is refused before any call is paid. */
Test(round_loop, non_utf8_seat_text_is_refused) {
  const char *bad = "bad \xc3\x28 text";
  char why[128];

  for (int field = 0; field < 3; field++) {
    rl_spec *spec = spec_new(INPUT, 2, 0, ONE_ROUND, 1);
    char **target = field == 0   ? &spec->seats[1].system_prompt
                    : field == 1 ? &spec->seats[1].model
                                 : &spec->seats[1].id;
    free(*target);
    *target = fake_copy_bytes(bad, strlen(bad));
    why[0] = '\0';
    cr_assert_eq(rl_spec_check(spec, why, sizeof(why)), -1, "field %d", field);
    cr_assert(strstr(why, "not valid UTF-8"), "why: %s", why);
    rl_spec_free(spec);
  }
}

/* --- Cancellation --------------------------------------------------------- */

Test(round_loop, cancel_mid_round) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  rl_run_start(run);
  done_ok(call_of(f, 0, 1), "one");
  void *h0 = started_of(f, 0, 0)->handle, *h2 = started_of(f, 0, 2)->handle;
  rl_run_cancel(run);

  cr_assert_eq(f->n_cancelled, 2, "cancelled %zu handles", f->n_cancelled);
  cr_assert_eq(f->cancelled[0], h0);
  cr_assert_eq(f->cancelled[1], h2);
  static const ev_exp exp[] = {EV(MEMBER_COMPLETED, 0, 0),
                               EV(MEMBER_COMPLETED, 0, 2),
                               EV(RUN_CANCELLED, 0, 0)};
  expect_events(f, 5, exp, N(exp));
  cr_assert_eq(f->events[5].err_kind, CHAT_ERR_CANCELLED);
  cr_assert_str_eq(f->events[5].err_reason, "cancelled");
  cr_assert_eq(f->events[6].err_kind, CHAT_ERR_CANCELLED);
  cr_assert(f->events[7].finished);
  cr_assert(rl_run_finished(run));
  expect_seat_failed(run, 0, 0, CHAT_ERR_CANCELLED, "cancelled");
  expect_seat_failed(run, 0, 2, CHAT_ERR_CANCELLED, "cancelled");
  expect_seat_ok(run, 0, 1, "one");

  /* A completion racing the cancel is dropped without a trace. */
  done_ok(call_of(f, 0, 0), "too late");
  done_fail(call_of(f, 0, 2), HTTP_FAIL_CONNECT, "reset");
  cr_assert_eq(f->n_events, 8);
  expect_seat_failed(run, 0, 0, CHAT_ERR_CANCELLED, "cancelled");
  cr_assert_eq(rl_run_call(run, 0, 0)->latency_us, 0);

  rl_run_cancel(run);
  cr_assert_eq(f->n_events, 8, "a second cancel emitted something");
  cr_assert_eq(f->n_cancelled, 2);
  cr_assert_eq(f->n_calls, 3);
  run_end(run, f);
}

Test(round_loop, cancel_during_synthesis) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  rl_run_start(run);
  for (size_t s = 0; s < 3; s++)
    done_ok(call_of(f, 0, s), "Canberra.");
  rl_run_cancel(run);
  cr_assert_eq(f->n_cancelled, 1);
  cr_assert_eq(f->cancelled[0], started_of(f, 1, 3)->handle);
  static const ev_exp exp[] = {EV(MEMBER_COMPLETED, 1, 3),
                               EV(RUN_CANCELLED, 1, 0)};
  expect_events(f, 10, exp, N(exp));
  expect_seat_failed(run, 1, 3, CHAT_ERR_CANCELLED, "cancelled");
  expect_seat_ok(run, 0, 2, "Canberra.");
  run_end(run, f);
}

/* Seats that never started hold no handle: only real ones are cancelled. */
Test(round_loop, cancel_skips_seats_that_did_not_start) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  f->refuse_mask = 1u << 0;
  rl_run_start(run);
  rl_run_cancel(run);
  cr_assert_eq(f->n_cancelled, 2);
  cr_assert_eq(f->cancelled[0], started_of(f, 0, 1)->handle);
  cr_assert_eq(f->cancelled[1], started_of(f, 0, 2)->handle);
  static const ev_exp exp[] = {EV(MEMBER_COMPLETED, 0, 1),
                               EV(MEMBER_COMPLETED, 0, 2),
                               EV(RUN_CANCELLED, 0, 0)};
  expect_events(f, 5, exp, N(exp));
  expect_seat_failed(run, 0, 0, CHAT_ERR_PERMANENT, "start_failed");
  run_end(run, f);
}

Test(round_loop, cancel_before_start) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  rl_run_cancel(run);
  static const ev_exp exp[] = {EV(RUN_CANCELLED, 0, 0)};
  expect_events(f, 0, exp, N(exp));
  cr_assert(f->events[0].finished);
  cr_assert(rl_run_finished(run));
  rl_run_start(run);
  rl_run_cancel(run);
  cr_assert_eq(f->n_calls, 0, "a cancelled run started calls");
  cr_assert_eq(f->n_events, 1);
  cr_assert_eq(f->n_cancelled, 0);
  run_end(run, f);
}

Test(round_loop, cancel_after_completion_is_a_no_op) {
  fake *f = fake_new();
  rl_run *run = run_new(f, spec_new(INPUT, 1, 0, ONE_ROUND, 1));

  rl_run_start(run);
  done_ok(call_of(f, 0, 0), "zero");
  cr_assert_eq(f->n_events, 5);
  rl_run_cancel(run);
  cr_assert_eq(f->n_events, 5);
  cr_assert_eq(f->n_cancelled, 0);
  expect_seat_ok(run, 0, 0, "zero");
  run_end(run, f);
}

/* A run freed without ever being started owns nothing else. */
Test(round_loop, free_unstarted_run) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  cr_assert_eq(f->n_events, 0);
  run_end(run, f);
  rl_run_free(NULL);
}

/* --- Cancel from inside an event (re-entrant) ----------------------------- */

static void hook_cancel(fake *f, rl_run *run, const rl_event *ev) {
  (void)f;
  (void)ev;
  rl_run_cancel(run);
}

/* The index of the first terminal event, or n_events. */
static size_t first_terminal(const fake *f) {
  for (size_t i = 0; i < f->n_events; i++) {
    rl_event_type t = f->events[i].type;
    if (t == RL_EV_RUN_COMPLETED || t == RL_EV_RUN_FAILED ||
        t == RL_EV_RUN_CANCELLED)
      return i;
  }
  return f->n_events;
}

/* The tests below cancel from inside io->emit, which the contract allows
 * (one thread, no rule against re-entry). The run must then stop at once:
 * RUN_CANCELLED is the last event and no call starts after it. */

/* BUG (c_src/round_loop.c, call_finished, lines 298-300): a cancel issued
 * from the emit of the round's last MEMBER_COMPLETED emits RUN_CANCELLED,
 * then call_finished goes on into round_finish and emits ROUND_COMPLETED
 * and RUN_COMPLETED after the terminal event. */
Test(round_loop, cancel_from_last_member_completed_event) {
  fake *f = fake_new();
  rl_run *run = run_new(f, spec_new(INPUT, 2, 0, ONE_ROUND, 1));

  f->hook = hook_cancel;
  f->hook_type = RL_EV_MEMBER_COMPLETED;
  f->hook_seat = 1;
  rl_run_start(run);
  done_ok(call_of(f, 0, 0), "zero");
  done_ok(call_of(f, 0, 1), "one");
  cr_assert(f->hook_fired);
  static const ev_exp exp[] = {EV(MEMBER_COMPLETED, 0, 0),
                               EV(MEMBER_COMPLETED, 0, 1),
                               EV(RUN_CANCELLED, 0, 0)};
  expect_events(f, 3, exp, N(exp));
  run_end(run, f);
}

/* BUG (same as above, c_src/round_loop.c lines 298-300): with a chair,
 * ROUND_COMPLETED and ROUND_STARTED of round 1 follow RUN_CANCELLED. */
Test(round_loop, cancel_from_completed_event_stops_next_round) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  f->hook = hook_cancel;
  f->hook_type = RL_EV_MEMBER_COMPLETED;
  f->hook_seat = 2;
  rl_run_start(run);
  done_ok(call_of(f, 0, 0), "zero");
  done_ok(call_of(f, 0, 1), "one");
  done_ok(call_of(f, 0, 2), "two");
  cr_assert_eq(f->n_calls, 3, "the chair was called after the cancel");
  char tail[1024];
  cr_assert_eq(first_terminal(f), f->n_events - 1,
               "events follow the terminal event:%s",
               event_tail(f, tail, sizeof(tail)));
  cr_assert_eq(f->events[f->n_events - 1].type, RL_EV_RUN_CANCELLED);
  run_end(run, f);
}

/* BUG (c_src/round_loop.c, round_finish, lines 274-290): a cancel issued
 * from the emit of ROUND_COMPLETED emits RUN_CANCELLED, then round_finish
 * goes on and starts the next round (ROUND_STARTED after the terminal
 * event). */
Test(round_loop, cancel_from_round_completed_event) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  f->hook = hook_cancel;
  f->hook_type = RL_EV_ROUND_COMPLETED;
  f->hook_seat = 0;
  rl_run_start(run);
  for (size_t s = 0; s < 3; s++)
    done_ok(call_of(f, 0, s), "Canberra.");
  cr_assert(f->hook_fired);
  cr_assert_eq(f->n_calls, 3, "the chair was called after the cancel");
  static const ev_exp exp[] = {EV(ROUND_COMPLETED, 0, 0),
                               EV(RUN_CANCELLED, 0, 0)};
  expect_events(f, 7, exp, N(exp));
  run_end(run, f);
}

/* BUG (c_src/round_loop.c, round_start, lines 324-341): a cancel issued
 * from the emit of MEMBER_STARTED marks that seat cancelled, but
 * round_start goes on to call start_call for it (the fake io asserts the
 * call is still running); the handle is stored on a finished call and never
 * cancelled, so the transfer outlives the run. */
Test(round_loop, cancel_from_member_started_event) {
  fake *f = fake_new();
  rl_run *run = run_new(f, council(INPUT));

  f->hook = hook_cancel;
  f->hook_type = RL_EV_MEMBER_STARTED;
  f->hook_seat = 0;
  rl_run_start(run);
  cr_assert(f->hook_fired);
  /* Every handle handed out must have been cancelled. */
  for (size_t i = 0; i < f->n_calls; i++) {
    int found = 0;
    for (size_t k = 0; k < f->n_cancelled; k++)
      found |= f->cancelled[k] == f->calls[i].handle;
    cr_assert(!f->calls[i].handle || found,
              "seat %zu's call started after the cancel and was never "
              "cancelled",
              f->calls[i].seat);
  }
  static const ev_exp exp[] = {
      EV(ROUND_STARTED, 0, 0), EV(MEMBER_STARTED, 0, 0),
      EV(MEMBER_COMPLETED, 0, 0), EV(RUN_CANCELLED, 0, 0)};
  expect_events(f, 0, exp, N(exp));
  run_end(run, f);
}

/* --- Inputs that need escaping, and big ones ------------------------------ */

Test(round_loop, input_is_sent_exactly) {
  static const char input[] =
      "He said \"hi\" \\ then left.\nLine two\r\n\ttabbed \x01\x1f "
      "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89 "
      "sep\xe2\x80\xa8par\xe2\x80\xa9 </script>";
  fake *f = fake_new();
  rl_spec *spec = spec_new(input, 2, 1, TWO_ROUNDS, 2);
  rl_run *run;

  set_str(&spec->seats[1].system_prompt, "Quote \"this\"\n\xe2\x9c\x93");
  run = run_new(f, spec);
  rl_run_start(run);
  expect_member_body(started_of(f, 0, 0), "model-0", NULL, input,
                     sizeof(input) - 1);
  expect_member_body(started_of(f, 0, 1), "model-1",
                     "Quote \"this\"\n\xe2\x9c\x93", input, sizeof(input) - 1);
  done_ok(call_of(f, 0, 0), "answer \"quoted\"\n\xf0\x9f\x8e\x89");
  done_ok(call_of(f, 0, 1), "plain");

  char *prompt = chair_prompt(started_of(f, 1, 2));
  size_t head = strlen("Question:\n");
  cr_assert_eq(strncmp(prompt, "Question:\n", head), 0);
  cr_assert_eq(memcmp(prompt + head, input, sizeof(input) - 1), 0,
               "the chair does not see the input as sent");
  expect_contains(prompt, "### Member m0 (model-0)\n"
                          "answer \"quoted\"\n\xf0\x9f\x8e\x89\n");
  free(prompt);
  done_ok(call_of(f, 1, 2), "done");
  cr_assert_eq(f->events[f->n_events - 1].type, RL_EV_RUN_COMPLETED);
  run_end(run, f);
}

/* 1 MiB of text full of characters that must be escaped. */
static char *big_input(size_t size) {
  static const char chunk[] = "\"quote\" back\\slash\nnew\ttab "
                              "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \x02 ";
  char *p = malloc(size + 1);
  size_t n = 0;

  cr_assert_not_null(p);
  while (size - n >= sizeof(chunk) - 1) {
    memcpy(p + n, chunk, sizeof(chunk) - 1);
    n += sizeof(chunk) - 1;
  }
  memset(p + n, 'x', size - n); /* ASCII pad: no character is cut */
  p[size] = '\0';
  return p;
}

Test(round_loop, one_megabyte_input) {
  size_t size = 1 << 20;
  char *input = big_input(size);
  fake *f = fake_new();
  rl_run *run = run_new(f, spec_new_n(input, size, 2, 1, TWO_ROUNDS, 2));

  rl_run_start(run);
  cr_assert_eq(f->n_calls, 2);
  expect_member_body(started_of(f, 0, 0), "model-0", NULL, input, size);
  expect_member_body(started_of(f, 0, 1), "model-1", NULL, input, size);
  done_ok(call_of(f, 0, 0), "zero");
  done_ok(call_of(f, 0, 1), "one");
  char *prompt = chair_prompt(started_of(f, 1, 2));
  cr_assert_eq(memcmp(prompt + strlen("Question:\n"), input, size), 0);
  expect_contains(prompt + size, "### Member m1 (model-1)\none\n");
  free(prompt);
  done_ok(call_of(f, 1, 2), "chair");
  cr_assert_eq(f->events[f->n_events - 1].type, RL_EV_RUN_COMPLETED);
  free(input);
  run_end(run, f);
}

Test(round_loop, three_hundred_members) {
  enum { M = 300 };
  fake *f = fake_new();
  rl_run *run = run_new(f, spec_new(INPUT, M, 1, TWO_ROUNDS, 2));
  char want[128];

  rl_run_start(run);
  cr_assert_eq(f->n_calls, M);
  expect_started_events(f, 0, 0, 0, M);
  for (size_t i = 0; i < M; i++) {
    cr_assert_eq(f->calls[i].seat, i);
    cr_assert_not_null(f->calls[i].handle);
  }
  for (size_t k = 0; k < M; k++) {
    size_t s = M - 1 - k;
    snprintf(want, sizeof(want), "answer %zu", s);
    done_ok(call_of(f, 0, s), want);
    cr_assert_eq(f->events[1 + M + k].type, RL_EV_MEMBER_COMPLETED);
    cr_assert_eq(f->events[1 + M + k].seat, s);
  }
  static const ev_exp tail[] = {EV(ROUND_COMPLETED, 0, 0),
                                EV(ROUND_STARTED, 1, 0),
                                EV(MEMBER_STARTED, 1, M)};
  expect_events(f, 1 + 2 * M, tail, N(tail));

  char *prompt = chair_prompt(started_of(f, 1, M));
  for (size_t s = 0; s < M; s++) {
    snprintf(want, sizeof(want), "### Member m%zu (model-%zu)\nanswer %zu\n", s,
             s, s);
    expect_contains(prompt, want);
  }
  free(prompt);
  done_ok(call_of(f, 1, M), "chair");
  cr_assert_eq(f->n_events, 2 * M + 7);
  cr_assert_eq(f->events[f->n_events - 1].type, RL_EV_RUN_COMPLETED);
  expect_seat_ok(run, 0, 123, "answer 123");
  run_end(run, f);
}

/* --- rl_spec_check -------------------------------------------------------- */

static void expect_rejected(rl_spec *spec, const char *fragment) {
  char why[200] = "";

  cr_assert_eq(rl_spec_check(spec, why, sizeof(why)), -1,
               "accepted a spec that %s", fragment);
  expect_contains(why, fragment);
  rl_spec_free(spec);
}

/* --- Dialects ------------------------------------------------------------ */

Test(dialects, seats_speak_their_codec) {
  fake *f = fake_new();
  rl_spec *spec = council(INPUT);
  chat_endpoint anthropic = {.api_key = "sk-ant", .model = "claude-x"};
  chat_endpoint gemini = {.base_url = "http://127.0.0.1:9/v1beta",
                          .api_key = "g-key",
                          .model = "gemini-x"};
  rl_run *run;
  size_t len;
  char *body;
  cJSON *json;

  set_str(&spec->seats[0].model, "claude-x");
  set_str(&spec->seats[0].system_prompt, "Be brief.");
  cr_assert_eq(
      rl_seat_connect(&spec->seats[0], &chat_codec_anthropic, &anthropic), 0);
  set_str(&spec->seats[1].model, "gemini-x");
  cr_assert_eq(rl_seat_connect(&spec->seats[1], &chat_codec_gemini, &gemini),
               0);
  run = run_new(f, spec);
  rl_run_start(run);

  /* Anthropic: its URL, its auth, the seat's extra headers kept after. */
  const started *a = started_of(f, 0, 0);
  cr_assert_str_eq(a->url, "https://api.anthropic.com/v1/messages");
  cr_assert_str_eq(a->headers[0], "x-api-key: sk-ant");
  cr_assert_str_eq(a->headers[a->n_headers - 1], "X-Title: CouncilEx");
  json = cJSON_ParseWithLength(a->body, a->body_len);
  cr_assert_str_eq(cJSON_GetObjectItem(json, "system")->valuestring,
                   "Be brief.");
  cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(json, "max_tokens")));
  cJSON_Delete(json);

  /* Gemini: the model is in the path. */
  const started *g = started_of(f, 0, 1);
  cr_assert_str_eq(g->url,
                   "http://127.0.0.1:9/v1beta/models/gemini-x:generateContent");
  cr_assert_not_null(strstr(g->body, "\"contents\""));

  /* Replies are parsed by the seat's codec. */
  body = fixture_load("anthropic/text_response.json", &len);
  done_body(call_of(f, 0, 0), 200, body, len);
  free(body);
  cr_assert_eq(rl_run_call(run, 0, 0)->status, RL_SEAT_OK);
  cr_assert_gt(rl_run_call(run, 0, 0)->resp.content_len, 0);
  body = fixture_load("gemini/error_429.json", &len);
  done_body(call_of(f, 0, 1), 429, body, len);
  free(body);
  expect_seat_failed(run, 0, 1, CHAT_ERR_TRANSIENT, "http_error");
  cr_assert_gt(rl_run_call(run, 0, 1)->err.retry_after_ms, 0,
               "Gemini's RetryInfo read by its codec");
  rl_run_cancel(run);
  run_end(run, f);
}

/* The codec is the one home of Content-Type (the HTTP engine adds none),
 * so every dialect's request carries exactly one, whatever its case. */
Test(dialects, every_request_carries_one_content_type) {
  static const char *const names[] = {"openai", "openrouter", "anthropic",
                                      "gemini", "ollama"};

  for (size_t d = 0; d < sizeof(names) / sizeof(names[0]); d++) {
    fake *f = fake_new();
    rl_spec *spec = spec_new(INPUT, 1, 0, ONE_ROUND, 1);
    chat_endpoint ep = {.base_url = "http://127.0.0.1:9/v1",
                        .api_key = "key",
                        .model = "model-0",
                        .referer = "https://example.com",
                        .title = "CouncilEx"};
    size_t n = 0;
    rl_run *run;

    cr_assert_eq(rl_seat_connect(&spec->seats[0], codec_find(names[d]), &ep), 0,
                 "%s", names[d]);
    run = run_new(f, spec);
    rl_run_start(run);
    const started *s = started_of(f, 0, 0);
    for (size_t h = 0; h < s->n_headers; h++)
      n += strncasecmp(s->headers[h], "content-type:", 13) == 0;
    cr_assert_eq(n, 1, "%s sends %zu Content-Type headers", names[d], n);
    rl_run_cancel(run);
    run_end(run, f);
  }
}

Test(dialects, connect_refuses_a_bad_endpoint_and_keeps_the_seat) {
  rl_spec *spec = council(INPUT);
  chat_endpoint bad = {.base_url = "http://x\r\nInjected: 1", .model = "m"};

  cr_assert_eq(rl_seat_connect(&spec->seats[0], &chat_codec_openai, &bad), -1);
  cr_assert_str_eq(spec->seats[0].url,
                   "https://p0.example.com/v1/chat/completions");
  cr_assert_null(spec->seats[0].codec);
  rl_spec_free(spec);
}

/* --- Streaming ----------------------------------------------------------- */

static void done_status(rl_call *call, long status, long retry_after_ms) {
  static const char body[] = "{\"error\":{\"message\":\"busy\"}}";
  http_result res = result(HTTP_OK, "", status, body, strlen(body), call);

  res.retry_after_ms = retry_after_ms;
  rl_call_done(call, &res);
}

static const char SSE_HELLO[] =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
    ": keep-alive\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,"
    "\"completion_tokens\":2}}\n\n"
    "data: [DONE]\n\n";

static size_t count_tokens(const fake *f, size_t seat, char *joined,
                           size_t cap) {
  size_t n = 0;

  joined[0] = '\0';
  for (size_t i = 0; i < f->n_events; i++) {
    const event_rec *e = &f->events[i];
    if (e->type != RL_EV_MEMBER_TOKEN || e->seat != seat)
      continue;
    cr_assert_eq(e->token, n, "token indexes count up");
    strncat(joined, e->content, cap - strlen(joined) - 1);
    n++;
  }
  return n;
}

Test(streaming, tokens_arrive_as_events_and_the_answer_is_assembled) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 2, 0, TWO_ROUNDS, 1);
  rl_run *run;
  rl_call *c0;
  char joined[64];
  size_t len = strlen(SSE_HELLO);

  spec->seats[0].stream = 1;
  run = run_new(f, spec);
  rl_run_start(run);
  cr_assert_not_null(strstr(started_of(f, 0, 0)->body, "\"stream\":true"));
  cr_assert_null(strstr(started_of(f, 0, 1)->body, "\"stream\":true"));

  /* Cut mid-event: the first delta only shows once its event is whole. */
  c0 = call_of(f, 0, 0);
  rl_call_chunk(c0, SSE_HELLO, 30);
  cr_assert_eq(count_tokens(f, 0, joined, sizeof(joined)), 0);
  rl_call_chunk(c0, SSE_HELLO + 30, 60);
  cr_assert_eq(count_tokens(f, 0, joined, sizeof(joined)), 1);
  rl_call_chunk(c0, SSE_HELLO + 90, len - 90);
  cr_assert_eq(count_tokens(f, 0, joined, sizeof(joined)), 2);
  cr_assert_str_eq(joined, "Hello");

  done_body(c0, 200, SSE_HELLO, len);
  cr_assert_eq(rl_run_call(run, 0, 0)->status, RL_SEAT_OK);
  cr_assert_str_eq(rl_run_call(run, 0, 0)->resp.content, "Hello");
  cr_assert_eq(rl_run_call(run, 0, 0)->resp.output_tokens, 2);
  cr_assert_eq(rl_run_call(run, 0, 0)->resp.stop, CHAT_STOP_END);
  rl_run_cancel(run);
  run_end(run, f);
}

Test(streaming, a_cut_stream_is_a_transient_failure_and_errors_read_the_body) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 2, 0, TWO_ROUNDS, 1);
  rl_run *run;
  size_t cut = strlen(SSE_HELLO) - strlen("data: [DONE]\n\n");

  spec->seats[0].stream = 1;
  spec->seats[1].stream = 1;
  run = run_new(f, spec);
  rl_run_start(run);
  rl_call_chunk(call_of(f, 0, 0), SSE_HELLO, cut);
  done_body(call_of(f, 0, 0), 200, SSE_HELLO, cut);
  expect_seat_failed(run, 0, 0, CHAT_ERR_TRANSIENT, "truncated_stream");

  done_status(call_of(f, 0, 1), 401, -1);
  expect_seat_failed(run, 0, 1, CHAT_ERR_PERMANENT, "http_error");
  cr_assert_str_eq(rl_run_call(run, 0, 1)->err.message, "busy");
  run_end(run, f);
}

Test(streaming, cancel_mid_stream_frees_the_stream) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 1, 0, TWO_ROUNDS, 1);
  rl_run *run;

  spec->seats[0].stream = 1;
  run = run_new(f, spec);
  rl_run_start(run);
  rl_call_chunk(call_of(f, 0, 0), SSE_HELLO, 60);
  rl_run_cancel(run);
  cr_assert_null(rl_run_call(run, 0, 0)->stream);
  /* A chunk racing the cancel does nothing. */
  rl_call_chunk(call_of(f, 0, 0), SSE_HELLO + 60, 20);
  run_end(run, f);
}

/* --- Structured output --------------------------------------------------- */

static const char VERDICT_SCHEMA[] =
    "{\"type\":\"object\",\"required\":[\"verdict\"],"
    "\"properties\":{\"verdict\":{\"enum\":[\"yes\",\"no\"]}},"
    "\"additionalProperties\":false}";

Test(structured, answers_are_validated_against_the_seat_schema) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 3, 0, TWO_ROUNDS, 1);
  char why[200] = "";
  rl_run *run;
  cJSON *body;

  json_schema *schema = json_schema_compile(
      VERDICT_SCHEMA, strlen(VERDICT_SCHEMA), why, sizeof(why));

  cr_assert_not_null(schema, "%s", why);
  /* One compiled schema, shared: each seat holds its own reference. */
  for (size_t i = 0; i < 3; i++)
    spec->seats[i].schema = json_schema_ref(schema);
  json_schema_free(schema);
  run = run_new(f, spec);
  rl_run_start(run);
  body = body_json(&f->calls[0]);
  cr_assert_not_null(cJSON_GetObjectItem(body, "response_format"),
                     "the schema is sent the provider's way");
  cJSON_Delete(body);

  done_ok(call_of(f, 0, 0), "{\"verdict\":\"yes\"}");
  done_ok(call_of(f, 0, 1), "Sure:\n```json\n{\"verdict\": \"no\"}\n```\n");
  done_ok(call_of(f, 0, 2), "{\"verdict\":\"maybe\",\"why\":1}");

  const rl_call *c1 = rl_run_call(run, 0, 1);
  cr_assert_eq(rl_run_call(run, 0, 0)->status, RL_SEAT_OK);
  cr_assert_eq(c1->status, RL_SEAT_OK);
  cr_assert_eq(strncmp(c1->resp.content + c1->json_start,
                       "{\"verdict\": \"no\"}", c1->json_end - c1->json_start),
               0, "the fenced JSON is located");
  const rl_call *c2 = rl_run_call(run, 0, 2);
  cr_assert_eq(c2->status, RL_SEAT_FAILED);
  cr_assert_str_eq(c2->err.reason, "invalid_output");
  cr_assert_not_null(c2->resp.content, "the broken answer is kept");
  cr_assert_eq(c2->schema_errs.total, 2);
  cr_assert_str_eq(c2->schema_errs.items[0].path, "/verdict");
  cr_assert(rl_run_finished(run));
  run_end(run, f);
}

Test(structured, the_accepted_answer_keeps_its_parsed_tree) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 2, 0, TWO_ROUNDS, 1);
  char why[200] = "";
  rl_run *run;
  json_schema *schema = json_schema_compile(
      VERDICT_SCHEMA, strlen(VERDICT_SCHEMA), why, sizeof(why));

  cr_assert_not_null(schema, "%s", why);
  spec->seats[0].schema = schema; /* seat 1 has none */
  run = run_new(f, spec);
  rl_run_start(run);
  done_ok(call_of(f, 0, 0), "Sure:\n```json\n{\"verdict\": \"no\"}\n```\n");
  done_ok(call_of(f, 0, 1), "{\"verdict\":\"yes\"}");

  const rl_call *c0 = rl_run_call(run, 0, 0);
  cr_assert_eq(c0->status, RL_SEAT_OK);
  cr_assert_not_null(c0->parsed, "parsed once, kept with the call");
  cr_assert_str_eq(
      cJSON_GetStringValue(cJSON_GetObjectItem(c0->parsed, "verdict")), "no");
  cr_assert_null(rl_run_call(run, 0, 1)->parsed, "no schema, no tree");
  run_end(run, f); /* frees the tree with the call (ASan would tell) */

  /* A broken answer keeps none. */
  f = fake_new();
  spec = spec_new(INPUT, 1, 0, TWO_ROUNDS, 1);
  spec->seats[0].schema =
      json_schema_compile(VERDICT_SCHEMA, strlen(VERDICT_SCHEMA), why, 200);
  run = run_new(f, spec);
  rl_run_start(run);
  done_ok(call_of(f, 0, 0), "{\"verdict\":\"maybe\"}");
  cr_assert_eq(rl_run_call(run, 0, 0)->status, RL_SEAT_FAILED);
  cr_assert_null(rl_run_call(run, 0, 0)->parsed);
  run_end(run, f);
}

/* A self-reported confidence trailer is not part of the answer, so it is
 * cut before the answer's JSON is looked for: the span the owner reads
 * (content[json_start..json_end)) always lies inside what is left. A
 * reply that is nothing but the trailer used to validate as the object
 * and keep a span of 17 bytes in a content cut to 0. */
Test(structured, a_confidence_trailer_is_cut_before_the_json_is_found) {
  static const char OBJECT_SCHEMA[] = "{\"type\":\"object\"}";
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 2, 0, ONE_ROUND, 1);
  char why[200] = "";
  rl_run *run;
  const rl_call *c0, *c1;

  for (size_t i = 0; i < 2; i++) {
    spec->seats[i].schema = json_schema_compile(
        OBJECT_SCHEMA, strlen(OBJECT_SCHEMA), why, sizeof(why));
    cr_assert_not_null(spec->seats[i].schema, "%s", why);
    spec->seats[i].confidence = RL_CONF_SELF_REPORT;
  }
  run = run_new(f, spec);
  rl_run_start(run);
  done_ok(call_of(f, 0, 0), "{\"confidence\": 0}");
  done_ok(call_of(f, 0, 1), "{\"answer\": 42}\n{\"confidence\": 0.9}");

  c0 = rl_run_call(run, 0, 0);
  cr_assert_eq(c0->resp.content_len, 0, "the trailer is cut");
  cr_assert_str_eq(c0->resp.content, "");
  cr_assert_leq(c0->json_start, c0->json_end);
  cr_assert_leq(c0->json_end, c0->resp.content_len,
                "the span [%zu, %zu) lies in the %zu bytes left",
                c0->json_start, c0->json_end, c0->resp.content_len);
  cr_assert_eq(c0->status, RL_SEAT_FAILED, "no answer is left to validate");
  cr_assert_str_eq(c0->err.reason, "invalid_output");
  cr_assert_null(c0->parsed);

  c1 = rl_run_call(run, 0, 1);
  cr_assert_eq(c1->status, RL_SEAT_OK);
  cr_assert_str_eq(c1->resp.content, "{\"answer\": 42}");
  cr_assert_float_eq(c1->confidence, 0.9, 1e-12);
  cr_assert_leq(c1->json_end, c1->resp.content_len);
  cr_assert_eq(c1->json_end - c1->json_start, strlen("{\"answer\": 42}"));
  cr_assert_not_null(c1->parsed);
  cr_assert_not_null(cJSON_GetObjectItem(c1->parsed, "answer"));
  cr_assert_null(cJSON_GetObjectItem(c1->parsed, "confidence"),
                 "the tree is the answer's, not the trailer's");
  run_end(run, f);
}

/* --- Tools ---------------------------------------------------------------- */

static size_t starts_of(const fake *f, size_t round, size_t seat) {
  size_t n = 0;

  for (size_t i = 0; i < f->n_calls; i++)
    n += f->calls[i].step == round && f->calls[i].seat == seat;
  return n;
}

static void give_tools(rl_seat *seat, unsigned max_turns) {
  seat->tools = calloc(1, sizeof(chat_tool));
  cr_assert_not_null(seat->tools);
  seat->tools[0].name = fake_copy_str("get_current_weather");
  seat->tools[0].description = fake_copy_str("Weather by city.");
  seat->tools[0].parameters = fake_copy_str("{\"type\":\"object\"}");
  seat->n_tools = 1;
  seat->max_tool_turns = max_turns;
}

static size_t events_of(const fake *f, rl_event_type type, size_t seat) {
  size_t n = 0;

  for (size_t i = 0; i < f->n_events; i++)
    n += f->events[i].type == type && f->events[i].seat == seat;
  return n;
}

static void done_fixture(rl_call *call, const char *name) {
  size_t len;
  char *body = fixture_read(name, &len);

  cr_assert_not_null(body);
  done_body(call, 200, body, len);
  free(body);
}

Test(tools, a_tool_round_trip_continues_the_conversation) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 2, 0, TWO_ROUNDS, 1);
  static const char *results[] = {"{\"temp_c\":21}"};
  size_t lens[] = {strlen(results[0])};
  rl_run *run;
  rl_call *c0;
  cJSON *body, *msgs, *m;

  give_tools(&spec->seats[0], 0);
  run = run_new(f, spec);
  rl_run_start(run);
  cr_assert_not_null(
      strstr(started_of(f, 0, 0)->body, "\"get_current_weather\""));
  cr_assert_null(strstr(started_of(f, 0, 1)->body, "\"tools\""));

  c0 = call_of(f, 0, 0);
  cr_assert_eq(rl_call_tool_results(run, 0, 0, results, lens, 1), -1,
               "nothing asked yet");
  done_fixture(c0, "openai/tool_call_response.json");
  cr_assert_eq(events_of(f, RL_EV_TOOL_CALLS, 0), 1);
  cr_assert_eq(events_of(f, RL_EV_MEMBER_COMPLETED, 0), 0);
  cr_assert(c0->awaiting_tools);
  cr_assert_str_eq(conversation_pending(&c0->conv)->calls[0].id, "call_abc123");
  /* A stray reply while the tools run is dropped. */
  done_ok(c0, "stray");
  cr_assert(c0->awaiting_tools);

  cr_assert_eq(rl_call_tool_results(run, 0, 0, results, lens, 2), -1,
               "one result per call");
  cr_assert_eq(rl_call_tool_results(run, 0, 0, results, lens, 1), 0);
  cr_assert_eq(starts_of(f, 0, 0), 2, "the conversation goes on");
  body = body_json(&f->calls[f->n_calls - 1]);
  msgs = cJSON_GetObjectItem(body, "messages");
  cr_assert_eq(cJSON_GetArraySize(msgs), 3);
  m = cJSON_GetArrayItem(msgs, 1);
  cr_assert_str_eq(cJSON_GetObjectItem(m, "role")->valuestring, "assistant");
  cr_assert_not_null(cJSON_GetObjectItem(m, "tool_calls"));
  m = cJSON_GetArrayItem(msgs, 2);
  cr_assert_str_eq(cJSON_GetObjectItem(m, "role")->valuestring, "tool");
  cr_assert_str_eq(cJSON_GetObjectItem(m, "tool_call_id")->valuestring,
                   "call_abc123");
  cr_assert_str_eq(cJSON_GetObjectItem(m, "content")->valuestring, results[0]);
  cJSON_Delete(body);

  done_ok(c0, "It is 21 C in Boston.");
  expect_seat_ok(run, 0, 0, "It is 21 C in Boston.");
  cr_assert_eq(rl_call_tool_results(run, 0, 0, results, lens, 1), -1);
  rl_run_cancel(run);
  run_end(run, f);
}

Test(tools, turns_are_bounded_and_a_seat_without_tools_ignores_calls) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 2, 0, TWO_ROUNDS, 1);
  static const char *results[] = {"sunny"};
  size_t lens[] = {5};
  rl_run *run;

  give_tools(&spec->seats[0], 1);
  run = run_new(f, spec);
  rl_run_start(run);
  done_fixture(call_of(f, 0, 0), "openai/tool_call_response.json");
  cr_assert_eq(rl_call_tool_results(run, 0, 0, results, lens, 1), 0);
  done_fixture(call_of(f, 0, 0), "openai/tool_call_response.json");
  expect_seat_failed(run, 0, 0, CHAT_ERR_PERMANENT, "too_many_tool_turns");

  /* Seat 1 has no tools: calls in its answer are just an (empty) answer. */
  done_fixture(call_of(f, 0, 1), "openai/tool_call_response.json");
  cr_assert_eq(rl_run_call(run, 0, 1)->status, RL_SEAT_OK);
  cr_assert_eq(events_of(f, RL_EV_TOOL_CALLS, 1), 0);
  run_end(run, f);
}

Test(tools, cancel_while_tools_run) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 1, 0, TWO_ROUNDS, 1);
  static const char *results[] = {"late"};
  size_t lens[] = {4};
  rl_run *run;

  give_tools(&spec->seats[0], 0);
  run = run_new(f, spec);
  rl_run_start(run);
  done_fixture(call_of(f, 0, 0), "openai/tool_call_response.json");
  cr_assert_eq(f->n_timers, 1, "the turn's deadline timer");
  rl_run_cancel(run);
  cr_assert_eq(f->n_cancelled, 0, "no transfer was running");
  cr_assert_not(f->timers[0].pending, "the deadline timer was cancelled");
  expect_seat_failed(run, 0, 0, CHAT_ERR_CANCELLED, "cancelled");
  cr_assert_eq(rl_call_tool_results(run, 0, 0, results, lens, 1), -1);
  run_end(run, f);
}

/* --- Retries ------------------------------------------------------------- */

/* Makes seat s answered by the owner process: no URL, no headers. */
static void make_external_seat(rl_spec *spec, size_t s) {
  rl_seat *seat = &spec->seats[s];

  free(seat->url);
  seat->url = NULL;
  for (size_t h = 0; h < seat->n_headers; h++)
    free(seat->headers[h]);
  free(seat->headers);
  seat->headers = NULL;
  seat->n_headers = 0;
  seat->external = 1;
}

static size_t completions_of(const fake *f, size_t seat) {
  size_t n = 0;

  for (size_t i = 0; i < f->n_events; i++)
    n += f->events[i].type == RL_EV_MEMBER_COMPLETED &&
         f->events[i].seat == seat;
  return n;
}

static rl_spec *retrying_spec(unsigned max, long base_ms) {
  rl_spec *spec = spec_new(INPUT, 2, 0, TWO_ROUNDS, 1);

  for (size_t i = 0; i < 2; i++) {
    spec->seats[i].retry_max_attempts = max;
    spec->seats[i].retry_base_ms = base_ms;
  }
  spec->seed = 42;
  return spec;
}

static rl_run *retrying_run(fake *f, unsigned max, long base_ms) {
  return run_new(f, retrying_spec(max, base_ms));
}

Test(retry, transient_failures_back_off_exponentially_then_succeed) {
  fake *f = fake_new();
  rl_run *run = retrying_run(f, 3, 100);
  rl_call *c0;

  rl_run_start(run);
  done_ok(call_of(f, 0, 1), "one");
  c0 = call_of(f, 0, 0);
  done_status(c0, 503, -1);
  cr_assert_eq(f->n_timers, 1);
  cr_assert(f->timers[0].delay_ms >= 50 && f->timers[0].delay_ms <= 100,
            "first backoff %ld", f->timers[0].delay_ms);
  cr_assert_eq(completions_of(f, 0), 0, "no completion while retrying");
  cr_assert_eq(c0->status, RL_SEAT_RUNNING);
  cr_assert_not(rl_run_finished(run));

  fake_fire_timer(f, 0);
  cr_assert_eq(starts_of(f, 0, 0), 2);
  cr_assert_eq(c0->attempts, 2);
  done_fail(c0, HTTP_FAIL_CONNECT, "refused");
  cr_assert_eq(f->n_timers, 2);
  cr_assert(f->timers[1].delay_ms >= 100 && f->timers[1].delay_ms <= 200,
            "second backoff %ld", f->timers[1].delay_ms);

  fake_fire_timer(f, 1);
  cr_assert_eq(starts_of(f, 0, 0), 3);
  /* The retried request is the same request. */
  cr_assert_str_eq(f->calls[f->n_calls - 1].body, started_of(f, 0, 0)->body);
  done_ok(c0, "zero");
  expect_seat_ok(run, 0, 0, "zero");
  cr_assert_eq(c0->attempts, 3);
  cr_assert_eq(completions_of(f, 0), 1);
  cr_assert(rl_run_finished(run));
  run_end(run, f);
}

Test(retry, a_retry_after_hint_sets_the_delay) {
  fake *f = fake_new();
  rl_spec *spec = retrying_spec(2, 100);
  rl_run *run;

  /* Budgets long enough for the hints (see the deadline suite). */
  spec->seats[0].timeout_ms = 60000;
  spec->seats[1].timeout_ms = 2 * 3600 * 1000;
  run = run_new(f, spec);

  rl_run_start(run);
  done_status(call_of(f, 0, 0), 429, 1500);
  cr_assert_eq(f->n_timers, 1);
  cr_assert_eq(f->timers[0].delay_ms, 1500);
  done_status(call_of(f, 0, 1), 429, 99999999);
  cr_assert_eq(f->timers[1].delay_ms, 600000, "hints are capped at 10 min");
  rl_run_cancel(run);
  run_end(run, f);
}

Test(retry, permanent_failures_and_exhausted_attempts_are_final) {
  fake *f = fake_new();
  rl_run *run = retrying_run(f, 2, 10);
  rl_call *c0, *c1;

  rl_run_start(run);
  c0 = call_of(f, 0, 0);
  c1 = call_of(f, 0, 1);
  done_status(c0, 401, -1);
  cr_assert_eq(f->n_timers, 0, "a 401 is not retried");
  expect_seat_failed(run, 0, 0, CHAT_ERR_PERMANENT, "http_error");
  cr_assert_eq(c0->attempts, 1);

  done_status(c1, 500, -1);
  fake_fire_timer(f, 0);
  done_status(c1, 500, -1);
  cr_assert_eq(f->n_timers, 1, "two attempts in all");
  expect_seat_failed(run, 0, 1, CHAT_ERR_TRANSIENT, "http_error");
  cr_assert_eq(c1->attempts, 2);
  cr_assert(rl_run_finished(run));
  run_end(run, f);
}

Test(retry, cancel_during_backoff_cancels_the_timer) {
  fake *f = fake_new();
  rl_run *run = retrying_run(f, 3, 100);
  rl_call *c0;

  rl_run_start(run);
  c0 = call_of(f, 0, 0);
  done_status(c0, 503, -1);
  cr_assert(f->timers[0].pending);
  rl_run_cancel(run);
  cr_assert_not(f->timers[0].pending, "the backoff timer was cancelled");
  cr_assert_eq(f->n_cancelled, 1, "only seat 1's transfer was running");
  expect_seat_failed(run, 0, 0, CHAT_ERR_CANCELLED, "cancelled");
  /* A retry racing the cancel does nothing. */
  rl_call_timer(c0);
  cr_assert_eq(starts_of(f, 0, 0), 1);
  run_end(run, f);
}

Test(retry, no_timer_means_no_retry) {
  fake *f = fake_new();
  rl_run *run = retrying_run(f, 3, 100);

  f->refuse_timers = 1;
  rl_run_start(run);
  done_status(call_of(f, 0, 0), 503, -1);
  expect_seat_failed(run, 0, 0, CHAT_ERR_TRANSIENT, "http_error");
  rl_run_cancel(run);
  run_end(run, f);
}

Test(retry, external_transient_errors_are_retried_too) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 1, 0, TWO_ROUNDS, 1);
  rl_run *run;
  chat_error e;

  make_external_seat(spec, 0);
  spec->seats[0].retry_max_attempts = 2;
  spec->seats[0].retry_base_ms = 10;
  run = run_new(f, spec);
  rl_run_start(run);
  chat_error_init(&e);
  chat_error_set(&e, CHAT_ERR_TRANSIENT, "external_error", "rate limited");
  cr_assert_eq(rl_call_complete(run, 0, 0, NULL, &e, 5), 0);
  cr_assert_eq(f->n_timers, 1);
  /* While backing off, a stray reply is dropped. */
  chat_error_init(&e);
  chat_error_set(&e, CHAT_ERR_PERMANENT, "external_error", "stray");
  cr_assert_eq(rl_call_complete(run, 0, 0, NULL, &e, 5), -1);
  fake_fire_timer(f, 0);
  cr_assert_eq(starts_of(f, 0, 0), 2);
  rl_run_cancel(run);
  run_end(run, f);
}

/* --- Deadlines: timeout_ms is the whole budget of a member call ---------- */

TestSuite(deadline, .fini = fake_free_leftovers);
TestSuite(max_tool_calls, .fini = fake_free_leftovers);

Test(deadline, arithmetic) {
  cr_assert_eq(rl_deadline(1000, 500), 1500);
  cr_assert_eq(rl_deadline(0, 1), 1, "a budget from clock 0 is a deadline");
  cr_assert_eq(rl_deadline(1000, 0), 0, "no budget, no deadline");
  cr_assert_eq(rl_deadline(1000, -5), 0);
  cr_assert_eq(rl_deadline(UINT64_MAX - 10, 100), UINT64_MAX, "saturates");

  cr_assert_eq(rl_remaining_ms(0, 12345), LONG_MAX, "no deadline");
  cr_assert_eq(rl_remaining_ms(1500, 1000), 500);
  cr_assert_eq(rl_remaining_ms(1500, 1500), 0);
  cr_assert_eq(rl_remaining_ms(1500, 9000), 0, "passed long ago");
  cr_assert_eq(rl_remaining_ms(UINT64_MAX, 0), LONG_MAX, "saturates");

  cr_assert_eq(rl_attempt_timeout_ms(0, 500), 500, "the rest of the budget");
  cr_assert_eq(rl_attempt_timeout_ms(-1, 500), 500);
  cr_assert_eq(rl_attempt_timeout_ms(200, 500), 200, "the attempt's own");
  cr_assert_eq(rl_attempt_timeout_ms(500, 500), 500);
  cr_assert_eq(rl_attempt_timeout_ms(800, 500), 500, "never past the budget");
  cr_assert_eq(rl_attempt_timeout_ms(0, LONG_MAX), 0, "unbounded");
  cr_assert_eq(rl_attempt_timeout_ms(200, LONG_MAX), 200);

  cr_assert(rl_wait_fits(100, 500));
  cr_assert(rl_wait_fits(0, 1));
  cr_assert_not(rl_wait_fits(500, 500), "no time left for the attempt");
  cr_assert_not(rl_wait_fits(20000, 1000));
  cr_assert_not(rl_wait_fits(0, 0));
  cr_assert(rl_wait_fits(600000, LONG_MAX), "no deadline");
}

/* Issue 12's case: a 429 asking for 20 s with a 1 s budget. The call does
 * not sleep on the hint: it fails now, as a timeout that says why and
 * keeps the 429's status and hint. A hint that fits is slept on. */
Test(deadline, a_retry_hint_past_the_deadline_fails_the_call_now) {
  fake *f = fake_new();
  rl_spec *spec = retrying_spec(3, 100);
  const rl_call *c;
  rl_run *run;

  spec->seats[0].timeout_ms = 1000;
  run = run_new(f, spec);
  rl_run_start(run);
  f->now_ms = 20;
  done_status(call_of(f, 0, 0), 429, 20000);
  cr_assert_eq(f->n_timers, 0, "no sleep on a hint past the deadline");
  expect_seat_failed(run, 0, 0, CHAT_ERR_TIMEOUT, "timeout");
  c = rl_run_call(run, 0, 0);
  cr_assert_eq(c->attempts, 1);
  cr_assert_eq(c->err.http_status, 429);
  cr_assert_eq(c->err.retry_after_ms, 20000);
  expect_contains(c->err.message, "retry hint (20000 ms) exceeds the "
                                  "remaining budget (980 ms left");
  expect_contains(c->err.message, "the last attempt: busy");
  cr_assert_eq(completions_of(f, 0), 1);

  done_status(call_of(f, 0, 1), 429, 1500);
  cr_assert_eq(f->n_timers, 1, "seat 1's budget (30 s) has room");
  cr_assert_eq(f->timers[0].delay_ms, 1500);
  rl_run_cancel(run);
  run_end(run, f);
}

Test(deadline, a_backoff_past_the_deadline_fails_the_call_now) {
  fake *f = fake_new();
  rl_spec *spec = retrying_spec(3, 5000);
  rl_run *run;

  spec->seats[0].timeout_ms = 1000;
  run = run_new(f, spec);
  rl_run_start(run);
  done_status(call_of(f, 0, 0), 503, -1);
  cr_assert_eq(f->n_timers, 0);
  expect_seat_failed(run, 0, 0, CHAT_ERR_TIMEOUT, "timeout");
  expect_contains(rl_run_call(run, 0, 0)->err.message,
                  "the backoff before the next attempt");
  cr_assert_eq(rl_run_call(run, 0, 0)->err.http_status, 503);
  rl_run_cancel(run);
  run_end(run, f);
}

/* Each attempt's transport timeout is what is left of the budget; one that
 * runs out of it is final, however many attempts remain. */
Test(deadline, every_attempt_gets_what_is_left_of_the_budget) {
  fake *f = fake_new();
  rl_spec *spec = retrying_spec(3, 100);
  rl_call *c0;
  rl_run *run;

  spec->seats[0].timeout_ms = 10000;
  run = run_new(f, spec);
  f->now_ms = 7;
  rl_run_start(run);
  c0 = call_of(f, 0, 0);
  cr_assert_eq(c0->deadline_ms, 10007, "fixed when the call starts");
  cr_assert_eq(started_of(f, 0, 0)->timeout_ms, 10000);
  f->now_ms = 4007;
  done_status(c0, 503, -1);
  cr_assert_eq(f->n_timers, 1);
  f->now_ms = 4107;
  fake_fire_timer(f, 0);
  cr_assert_eq(starts_of(f, 0, 0), 2);
  cr_assert_eq(f->calls[f->n_calls - 1].timeout_ms, 5900);
  f->now_ms = 10007;
  done_fail(c0, HTTP_FAIL_TIMEOUT, "Operation timed out");
  cr_assert_eq(f->n_timers, 1, "the budget is spent: no retry");
  expect_seat_failed(run, 0, 0, CHAT_ERR_TIMEOUT, "timeout");
  cr_assert_eq(c0->attempts, 2);
  rl_run_cancel(run);
  run_end(run, f);
}

/* request_timeout_ms bounds one attempt; an attempt it cut short is
 * retried while the budget lasts, and the last attempt gets only what is
 * left. */
Test(deadline, request_timeout_ms_bounds_one_attempt_and_is_retried) {
  fake *f = fake_new();
  rl_spec *spec = retrying_spec(3, 10);
  rl_call *c0;
  rl_run *run;

  spec->seats[0].timeout_ms = 5000;
  spec->seats[0].request_timeout_ms = 2000;
  run = run_new(f, spec);
  rl_run_start(run);
  c0 = call_of(f, 0, 0);
  cr_assert_eq(started_of(f, 0, 0)->timeout_ms, 2000);
  cr_assert_eq(started_of(f, 0, 1)->timeout_ms, 30001, "seat 1: its budget");
  f->now_ms = 2000;
  done_fail(c0, HTTP_FAIL_TIMEOUT, "Operation timed out");
  cr_assert_eq(f->n_timers, 1, "cut short by request_timeout_ms: retried");
  cr_assert_eq(c0->status, RL_SEAT_RUNNING);
  f->now_ms = 2010;
  fake_fire_timer(f, 0);
  cr_assert_eq(f->calls[f->n_calls - 1].timeout_ms, 2000);
  f->now_ms = 4010;
  done_fail(c0, HTTP_FAIL_TIMEOUT, "Operation timed out");
  cr_assert_eq(f->n_timers, 2);
  f->now_ms = 4030;
  fake_fire_timer(f, 1);
  cr_assert_eq(f->calls[f->n_calls - 1].timeout_ms, 970, "what is left");
  done_ok(c0, "third time");
  expect_seat_ok(run, 0, 0, "third time");
  cr_assert_eq(c0->attempts, 3);
  rl_run_cancel(run);
  run_end(run, f);

  /* Without retries left, the attempt's timeout is the call's. */
  f = fake_new();
  spec = retrying_spec(1, 10);
  spec->seats[0].request_timeout_ms = 2000;
  run = run_new(f, spec);
  rl_run_start(run);
  done_fail(call_of(f, 0, 0), HTTP_FAIL_TIMEOUT, "Operation timed out");
  cr_assert_eq(f->n_timers, 0);
  expect_seat_failed(run, 0, 0, CHAT_ERR_TIMEOUT, "timeout");
  rl_run_cancel(run);
  run_end(run, f);
}

/* The owner runs the tools while a timer holds the deadline: a turn that
 * outlives the budget fails the call as a timeout (the owner then stops
 * its tools, seeing the call completed), and late results are dropped. */
Test(deadline, a_tool_turn_that_outlives_the_budget_fails_the_call) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 1, 0, TWO_ROUNDS, 1);
  static const char *results[] = {"late"};
  size_t lens[] = {4};
  rl_run *run;

  give_tools(&spec->seats[0], 0);
  spec->seats[0].timeout_ms = 5000;
  run = run_new(f, spec);
  rl_run_start(run);
  f->now_ms = 1000;
  done_fixture(call_of(f, 0, 0), "openai/tool_call_response.json");
  cr_assert_eq(events_of(f, RL_EV_TOOL_CALLS, 0), 1);
  cr_assert_eq(f->n_timers, 1);
  cr_assert_eq(f->timers[0].delay_ms, 4000, "what is left of the budget");
  f->now_ms = 5000;
  fake_fire_timer(f, 0);
  expect_seat_failed(run, 0, 0, CHAT_ERR_TIMEOUT, "timeout");
  expect_contains(rl_run_call(run, 0, 0)->err.message, "tool calls outlived");
  cr_assert_eq(completions_of(f, 0), 1);
  cr_assert_eq(rl_call_tool_results(run, 0, 0, results, lens, 1), -1);
  cr_assert_eq(starts_of(f, 0, 0), 1);
  cr_assert(rl_run_finished(run));
  run_end(run, f);
}

Test(deadline, tool_results_in_time_stop_the_timer_and_the_budget_goes_on) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 1, 0, TWO_ROUNDS, 1);
  static const char *results[] = {"{\"temp_c\":21}"};
  size_t lens[] = {strlen(results[0])};
  rl_run *run;

  give_tools(&spec->seats[0], 0);
  spec->seats[0].timeout_ms = 5000;
  run = run_new(f, spec);
  rl_run_start(run);
  f->now_ms = 1000;
  done_fixture(call_of(f, 0, 0), "openai/tool_call_response.json");
  f->now_ms = 3000;
  cr_assert_eq(rl_call_tool_results(run, 0, 0, results, lens, 1), 0);
  cr_assert_not(f->timers[0].pending, "the deadline timer was cancelled");
  cr_assert_eq(starts_of(f, 0, 0), 2);
  cr_assert_eq(f->calls[f->n_calls - 1].timeout_ms, 2000);
  done_ok(call_of(f, 0, 0), "21 C");
  expect_seat_ok(run, 0, 0, "21 C");
  run_end(run, f);

  /* Tool calls that arrive with the budget spent fail the call at once. */
  f = fake_new();
  spec = spec_new(INPUT, 1, 0, TWO_ROUNDS, 1);
  give_tools(&spec->seats[0], 0);
  spec->seats[0].timeout_ms = 1000;
  run = run_new(f, spec);
  rl_run_start(run);
  f->now_ms = 1000;
  done_fixture(call_of(f, 0, 0), "openai/tool_call_response.json");
  cr_assert_eq(events_of(f, RL_EV_TOOL_CALLS, 0), 0);
  cr_assert_eq(f->n_timers, 0);
  expect_seat_failed(run, 0, 0, CHAT_ERR_TIMEOUT, "timeout");
  run_end(run, f);
}

/* An external seat's attempts are bounded the same way: the owner is told
 * the attempt's timeout, and a timeout it reports for an attempt cut short
 * by request_timeout_ms is retried. */
Test(deadline, external_attempts_get_the_same_bounds) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 1, 0, TWO_ROUNDS, 1);
  rl_run *run;
  chat_error e;

  make_external_seat(spec, 0);
  spec->seats[0].retry_max_attempts = 2;
  spec->seats[0].retry_base_ms = 10;
  spec->seats[0].timeout_ms = 1000;
  spec->seats[0].request_timeout_ms = 100;
  run = run_new(f, spec);
  rl_run_start(run);
  cr_assert_eq(started_of(f, 0, 0)->timeout_ms, 100);
  chat_error_init(&e);
  chat_error_set(&e, CHAT_ERR_TIMEOUT, "external_error", "took too long");
  f->now_ms = 100;
  cr_assert_eq(rl_call_complete(run, 0, 0, NULL, &e, 5), 0);
  cr_assert_eq(f->n_timers, 1, "retried");
  f->now_ms = 120;
  fake_fire_timer(f, 0);
  cr_assert_eq(starts_of(f, 0, 0), 2);
  cr_assert_eq(f->calls[f->n_calls - 1].timeout_ms, 100);
  rl_run_cancel(run);
  run_end(run, f);
}

/* --- max_tool_calls: a reply with more tool calls fails the call --------- */

static char *calls_body(size_t n) {
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(buf_puts(&b, "{\"model\":\"m\",\"choices\":[{\"message\":{"
                            "\"content\":null,\"tool_calls\":["),
               0);
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(buf_printf(&b,
                            "%s{\"id\":\"c%zu\",\"type\":\"function\","
                            "\"function\":{\"name\":\"get_current_weather\","
                            "\"arguments\":\"{}\"}}",
                            i ? "," : "", i),
                 0);
  cr_assert_eq(buf_puts(&b, "]},\"finish_reason\":\"tool_calls\"}]}"), 0);
  return b.data;
}

static char *calls_stream(size_t n) {
  buf b;

  buf_init(&b, 0);
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(
        buf_printf(&b,
                   "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":"
                   "[{\"index\":%zu,\"id\":\"c%zu\",\"function\":{\"name\":"
                   "\"get_current_weather\",\"arguments\":\"{}\"}}]}}]}\n\n",
                   i, i),
        0);
  cr_assert_eq(buf_puts(&b, "data: {\"choices\":[{\"index\":0,\"delta\":{},"
                            "\"finish_reason\":\"tool_calls\"}]}\n\n"
                            "data: [DONE]\n\n"),
               0);
  return b.data;
}

Test(max_tool_calls, a_reply_past_the_seats_cap_fails_the_call) {
  fake *f = fake_new();
  rl_spec *spec = retrying_spec(3, 10);
  char *two = calls_body(2), *one = calls_body(1);
  rl_run *run;

  give_tools(&spec->seats[0], 0);
  give_tools(&spec->seats[1], 0);
  spec->seats[0].max_tool_calls = 1;
  spec->seats[1].max_tool_calls = 2;
  run = run_new(f, spec);
  rl_run_start(run);
  done_body(call_of(f, 0, 0), 200, two, strlen(two));
  cr_assert_eq(f->n_timers, 0, "permanent: not retried");
  expect_seat_failed(run, 0, 0, CHAT_ERR_PERMANENT, "too_many_tool_calls");
  expect_contains(rl_run_call(run, 0, 0)->err.message,
                  "more than 1 tool calls (max_tool_calls)");
  cr_assert_eq(events_of(f, RL_EV_TOOL_CALLS, 0), 0);
  /* At the cap is fine. */
  done_body(call_of(f, 0, 1), 200, two, strlen(two));
  cr_assert_eq(events_of(f, RL_EV_TOOL_CALLS, 1), 1);
  cr_assert_eq(conversation_pending(&call_of(f, 0, 1)->conv)->n_calls, 2);
  rl_run_cancel(run);
  run_end(run, f);
  free(two);
  free(one);
}

Test(max_tool_calls, a_streamed_reply_past_the_cap_fails_the_call) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 1, 0, TWO_ROUNDS, 1);
  char *three = calls_stream(3);
  size_t len = strlen(three);
  rl_run *run;

  give_tools(&spec->seats[0], 0);
  spec->seats[0].stream = 1;
  spec->seats[0].max_tool_calls = 2;
  run = run_new(f, spec);
  rl_run_start(run);
  rl_call_chunk(call_of(f, 0, 0), three, len);
  done_body(call_of(f, 0, 0), 200, three, len);
  expect_seat_failed(run, 0, 0, CHAT_ERR_PERMANENT, "too_many_tool_calls");
  expect_contains(rl_run_call(run, 0, 0)->err.message,
                  "more than 2 tool calls (max_tool_calls)");
  cr_assert_eq(events_of(f, RL_EV_TOOL_CALLS, 0), 0);
  run_end(run, f);
  free(three);
}

Test(max_tool_calls, the_spec_refuses_a_cap_past_the_ceiling) {
  rl_spec *spec = spec_new(INPUT, 1, 0, TWO_ROUNDS, 1);
  char why[200] = "";

  spec->seats[0].max_tool_calls = CHAT_MAX_TOOL_CALLS;
  cr_assert_eq(rl_spec_check(spec, why, sizeof(why)), 0, "%s", why);
  spec->seats[0].max_tool_calls = CHAT_MAX_TOOL_CALLS + 1;
  cr_assert_eq(rl_spec_check(spec, why, sizeof(why)), -1);
  expect_contains(why, "more than 1024 tool calls");
  rl_spec_free(spec);
}

/* --- External seats --------------------------------------------------------
 */

static chat_response reply(const char *content) {
  chat_response r;

  chat_response_init(&r);
  r.content = fake_copy_str(content);
  r.content_len = strlen(content);
  r.model = fake_copy_str("mock");
  r.input_tokens = 3;
  r.output_tokens = 4;
  return r;
}

static void expect_external_ok(const rl_run *run, size_t round, size_t seat,
                               const char *content, uint64_t latency_us) {
  const rl_call *c = rl_run_call(run, round, seat);

  cr_assert_eq(c->status, RL_SEAT_OK, "round %zu seat %zu is not OK", round,
               seat);
  cr_assert_str_eq(c->resp.content, content);
  cr_assert_eq(c->http_status, 0);
  cr_assert_eq(c->latency_us, latency_us);
  cr_assert_eq(c->resp.output_tokens, 4);
  cr_assert_str_eq(c->resp.model, "mock");
}

Test(external, mixed_council_completes) {
  fake *f = fake_new();
  rl_spec *spec = council(INPUT);
  rl_run *run;
  chat_response r;
  chat_error e;

  make_external_seat(spec, 1);
  make_external_seat(spec, 3); /* the chair */
  run = run_new(f, spec);
  rl_run_start(run);
  cr_assert_eq(f->n_calls, 3, "external seats start through start_call too");
  cr_assert_null(started_of(f, 0, 1)->url);
  expect_member_body(started_of(f, 0, 1), "model-1", NULL, INPUT,
                     strlen(INPUT));

  done_ok(call_of(f, 0, 0), "zero");
  r = reply("one");
  cr_assert_eq(rl_call_complete(run, 0, 1, &r, NULL, 42), 0);
  cr_assert_null(r.content, "the reply's contents were moved");
  chat_error_init(&e);
  chat_error_set(&e, CHAT_ERR_TRANSIENT, "external_error", "rate limited");
  /* An HTTP seat can't be answered this way. */
  cr_assert_eq(rl_call_complete(run, 0, 2, NULL, &e, 1), -1);
  cr_assert_null(e.message, "a dropped error is freed");
  done_fail(call_of(f, 0, 2), HTTP_FAIL_CONNECT, "refused");
  expect_external_ok(run, 0, 1, "one", 42);

  /* The chair, external too, sees every member's answer. */
  cr_assert_eq(f->n_calls, 4);
  cr_assert_not_null(strstr(started_of(f, 1, 3)->body, "one"));
  r = reply("final");
  cr_assert_eq(rl_call_complete(run, 1, 0, &r, NULL, 7),
               0); /* call 0: the chair */
  cr_assert(rl_run_finished(run));
  cr_assert_eq(f->events[f->n_events - 1].type, RL_EV_RUN_COMPLETED);
  expect_external_ok(run, 1, 3, "final", 7);
  run_end(run, f);
}

Test(external, failure_and_bad_replies) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 2, 0, TWO_ROUNDS, 1);
  rl_run *run;
  chat_response r;
  chat_error e;

  make_external_seat(spec, 0);
  make_external_seat(spec, 1);
  run = run_new(f, spec);
  rl_run_start(run);

  /* Neither or both of resp and err, a seat or round out of range, or a
   * round that is not running: dropped. */
  r = reply("x");
  cr_assert_eq(rl_call_complete(run, 0, 0, NULL, NULL, 0), -1);
  cr_assert_eq(rl_call_complete(run, 0, 9, &r, NULL, 0), -1);
  r = reply("x");
  cr_assert_eq(rl_call_complete(run, 5, 0, &r, NULL, 0), -1);
  cr_assert_null(r.content);
  cr_assert_eq(rl_run_call(run, 0, 0)->status, RL_SEAT_RUNNING);

  /* Text that is not UTF-8 fails the call. */
  r = reply("caf\xc3");
  cr_assert_eq(rl_call_complete(run, 0, 0, &r, NULL, 0), 0);
  expect_seat_failed(run, 0, 0, CHAT_ERR_PERMANENT, "invalid_utf8");

  chat_error_init(&e);
  chat_error_set(&e, CHAT_ERR_PERMANENT, "external_error", "no script");
  cr_assert_eq(rl_call_complete(run, 0, 1, NULL, &e, 0), 0);
  expect_seat_failed(run, 0, 1, CHAT_ERR_PERMANENT, "external_error");
  cr_assert(rl_run_finished(run));
  cr_assert_str_eq(f->events[f->n_events - 1].reason, "no_member_succeeded");

  /* A second answer for a finished call is dropped. */
  r = reply("late");
  cr_assert_eq(rl_call_complete(run, 0, 1, &r, NULL, 0), -1);
  run_end(run, f);
}

Test(external, cancel_reaches_the_transport_and_drops_late_replies) {
  fake *f = fake_new();
  rl_spec *spec = spec_new(INPUT, 2, 0, TWO_ROUNDS, 1);
  rl_run *run;
  chat_response r;

  make_external_seat(spec, 0);
  run = run_new(f, spec);
  rl_run_start(run);
  void *h0 = started_of(f, 0, 0)->handle;
  rl_run_cancel(run);
  cr_assert_eq(f->n_cancelled, 2);
  cr_assert_eq(f->cancelled[0], h0);
  r = reply("late");
  cr_assert_eq(rl_call_complete(run, 0, 0, &r, NULL, 0), -1);
  expect_seat_failed(run, 0, 0, CHAT_ERR_CANCELLED, "cancelled");
  run_end(run, f);
}

Test(spec_check, external_seats_need_no_url) {
  rl_spec *spec = council(INPUT);
  char why[200] = "";

  make_external_seat(spec, 0);
  cr_assert_eq(rl_spec_check(spec, why, sizeof(why)), 0, "%s", why);
  rl_spec_free(spec);
}

Test(spec_check, accepts_valid_councils) {
  char why[200] = "untouched";
  rl_spec *a = council(INPUT), *b = spec_new("", 1, 0, ONE_ROUND, 1);

  cr_assert_eq(rl_spec_check(a, why, sizeof(why)), 0, "%s", why);
  cr_assert_eq(rl_spec_check(b, why, sizeof(why)), 0, "%s", why);
  cr_assert_str_eq(why, "untouched");
  rl_spec_free(a);
  rl_spec_free(b);
  rl_spec_free(NULL);
}

Test(spec_check, rejects_no_seats) {
  expect_rejected(spec_new(INPUT, 0, 0, ONE_ROUND, 1), "at least one member");
}

Test(spec_check, rejects_chair_without_members) {
  expect_rejected(spec_new(INPUT, 0, 1, TWO_ROUNDS, 2), "at least one member");
}

Test(spec_check, rejects_no_rounds) {
  expect_rejected(spec_new(INPUT, 2, 1, TWO_ROUNDS, 0), "at least one round");
}

Test(spec_check, rejects_synthesis_first) {
  static const rl_round_kind rounds[] = {RL_ROUND_SYNTHESIS,
                                         RL_ROUND_INDEPENDENT};
  expect_rejected(spec_new(INPUT, 2, 1, rounds, 2), "round before it");
}

Test(spec_check, rejects_synthesis_without_chair) {
  expect_rejected(spec_new(INPUT, 3, 0, TWO_ROUNDS, 2), "no chair");
}

Test(spec_check, rejects_seat_without_model) {
  rl_spec *spec = council(INPUT);

  set_str(&spec->seats[1].model, NULL);
  expect_rejected(spec, "seat m1 has no model");
  spec = council(INPUT);
  set_str(&spec->seats[3].model, "");
  expect_rejected(spec, "seat chair has no model");
}

Test(spec_check, rejects_seat_without_url) {
  rl_spec *spec = council(INPUT);

  set_str(&spec->seats[2].url, NULL);
  expect_rejected(spec, "seat m2 has no url");
  spec = council(INPUT);
  set_str(&spec->seats[0].url, "");
  expect_rejected(spec, "seat m0 has no url");
}

Test(spec_check, rejects_seat_without_id) {
  rl_spec *spec = council(INPUT);

  set_str(&spec->seats[1].id, NULL);
  expect_rejected(spec, "seat 1 has no id");
  spec = council(INPUT);
  set_str(&spec->seats[0].id, "");
  expect_rejected(spec, "seat 0 has no id");
}

Test(spec_check, rejects_missing_header) {
  rl_spec *spec = council(INPUT);

  set_str(&spec->seats[2].headers[1], NULL);
  expect_rejected(spec, "seat m2 has a missing header");
}

Test(spec_check, rejects_invalid_utf8_input) {
  expect_rejected(spec_new_n("caf\xe9", 4, 2, 1, TWO_ROUNDS, 2),
                  "not valid UTF-8");
  expect_rejected(spec_new_n("\xed\xa0\x80", 3, 2, 1, TWO_ROUNDS, 2),
                  "not valid UTF-8"); /* a UTF-16 surrogate */
  expect_rejected(spec_new_n("ab\xe2\x82", 4, 2, 1, TWO_ROUNDS, 2),
                  "not valid UTF-8"); /* cut mid-character */
  rl_spec *spec = council(INPUT);
  set_str(&spec->input, NULL);
  spec->input_len = 0;
  expect_rejected(spec, "not valid UTF-8");
}

/* --- rl_render_request ---------------------------------------------------- */

Test(render_request, member_request_matches_what_was_sent) {
  fake *f = fake_new();
  rl_spec *spec = council(INPUT);
  rl_run *run;
  size_t len = 0;

  set_str(&spec->seats[2].system_prompt, "Think first.");
  run = run_new(f, spec);
  cr_assert_null(rl_render_request(run, 0, 2, &len), "no step yet");
  rl_run_start(run);
  char *body = rl_render_request(run, 0, 2, &len);
  cr_assert_not_null(body);
  cr_assert_eq(len, strlen(body));
  const started *s = started_of(f, 0, 2);
  cr_assert_eq(s->body_len, len);
  cr_assert_eq(memcmp(s->body, body, len), 0);
  expect_member_body(s, "model-2", "Think first.", INPUT, strlen(INPUT));
  free(body);
  rl_run_cancel(run);
  run_end(run, f);
}
