/* test_rounds.c - every round kind of the round loop (round_loop.c,
 * round_prompt.c, round_tally.c, round_spec.c): what each call is shown,
 * how ballots are read and aggregated, iteration, the owner's hooks
 * (router, judge function, until), quorum, chair fallback, spec checks and
 * hostile ballots.
 *
 * Runs go through the fake rl_io (fake_io.h). Tests answer calls by hand
 * and read the request bodies back with cJSON. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "aggregate.h"
#include "ballot.h"
#include "confidence.h"
#include "buf.h"
#include "http_engine.h"
#include "ranking.h"
#include "fake_io.h"
#include "round_loop.h"

/* A malloc'd printf. */
static char *strf(const char *format, ...) {
  char tmp[512];
  va_list ap;

  va_start(ap, format);
  vsnprintf(tmp, sizeof(tmp), format, ap);
  va_end(ap);
  return fake_copy_str(tmp);
}

TestSuite(rounds_visibility, .fini = fake_free_leftovers);
TestSuite(rounds_ballots, .fini = fake_free_leftovers);
TestSuite(rounds_synthesis, .fini = fake_free_leftovers);
TestSuite(rounds_iteration, .fini = fake_free_leftovers);
TestSuite(rounds_pairwise, .fini = fake_free_leftovers);
TestSuite(rounds_router, .fini = fake_free_leftovers);
TestSuite(rounds_quorum, .fini = fake_free_leftovers);
TestSuite(rounds_spec, .fini = fake_free_leftovers);
TestSuite(rounds_hostile, .fini = fake_free_leftovers);

/* --- Specs ---------------------------------------------------------------- */

#define INPUT "Which river is the longest?"
#define N(a) (sizeof(a) / sizeof((a)[0]))
/* A round kinds array and its length, as spec_make takes them. */
#define KINDS(...)                                                             \
  (rl_round_kind[]){__VA_ARGS__}, N(((rl_round_kind[]){__VA_ARGS__}))

/* Member ids appear in no prompt template and no answer, so a test can
 * tell exactly where they are shown. */
static const char *const NAMES[] = {"alpha", "bravo", "charlie",
                                    "delta", "echo",  "foxtrot"};

/* n_members members (ids from NAMES, or "m000".. past six), then the chair
 * ("chair") when asked, then n_judges judge-only seats ("judge0"..). Each
 * seat has its own URL and model "model-<seat>", no headers, no prompt. */
static rl_spec *spec_make(size_t n_members, int chair, size_t n_judges,
                          const rl_round_kind *kinds, size_t n_rounds) {
  rl_spec *spec = calloc(1, sizeof(*spec));

  cr_assert_not_null(spec);
  spec->input = fake_copy_str(INPUT);
  spec->input_len = strlen(INPUT);
  spec->n_members = n_members;
  spec->has_chair = chair;
  spec->n_seats = n_members + (chair ? 1 : 0) + n_judges;
  spec->seats = calloc(spec->n_seats, sizeof(rl_seat));
  cr_assert_not_null(spec->seats);
  for (size_t i = 0; i < spec->n_seats; i++) {
    rl_seat *s = &spec->seats[i];
    if (i < n_members)
      s->id =
          n_members <= N(NAMES) ? fake_copy_str(NAMES[i]) : strf("m%03zu", i);
    else if (chair && i == n_members)
      s->id = fake_copy_str("chair");
    else
      s->id = strf("judge%zu", i - n_members - (chair ? 1 : 0));
    s->url = strf("https://p%zu.example.com/v1/chat/completions", i);
    s->model = strf("model-%zu", i);
    s->weight = 1.0; /* the spec's default */
  }
  spec->n_rounds = n_rounds;
  spec->rounds = calloc(n_rounds, sizeof(rl_round));
  cr_assert_not_null(spec->rounds);
  for (size_t r = 0; r < n_rounds; r++)
    spec->rounds[r].kind = kinds[r];
  spec->max_response_bytes = 1 << 24;
  spec->seed = 1;
  return spec;
}

static void set_str(char **field, const char *value) {
  free(*field);
  *field = value ? fake_copy_str(value) : NULL;
}

/* No retries in these tests: every seat has one attempt. */
static rl_run *make_run(fake *f, rl_spec *spec) {
  f->forbid_timers = 1;
  return fake_run_new(f, spec);
}

/* --- Answering calls ------------------------------------------------------ */

/* An OpenAI chat.completion body answering `content`. */
static char *ok_body(const char *content) {
  cJSON *root = cJSON_CreateObject(), *choices, *choice, *msg;
  char *s;

  cJSON_AddStringToObject(root, "model", "provider-model");
  choices = cJSON_AddArrayToObject(root, "choices");
  choice = cJSON_CreateObject();
  cJSON_AddItemToArray(choices, choice);
  msg = cJSON_AddObjectToObject(choice, "message");
  cJSON_AddStringToObject(msg, "role", "assistant");
  cJSON_AddStringToObject(msg, "content", content);
  cJSON_AddStringToObject(choice, "finish_reason", "stop");
  s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  cr_assert_not_null(s);
  return s;
}

static void done_raw(rl_call *call, long status, const char *body, size_t len) {
  http_result res = {HTTP_OK, "", status, body, len, -1, 1000};

  rl_call_done(call, &res);
}

/* The latest start of call `index` of step `step`. */
static started *started_at(fake *f, size_t step, size_t index) {
  for (size_t i = f->n_calls; i > 0; i--) {
    if (f->calls[i - 1].step == step && f->calls[i - 1].index == index)
      return &f->calls[i - 1];
  }
  cr_assert_fail("call %zu of step %zu was never started", index, step);
  return NULL;
}

static int was_started(const fake *f, size_t step, size_t index) {
  for (size_t i = 0; i < f->n_calls; i++) {
    if (f->calls[i].step == step && f->calls[i].index == index)
      return 1;
  }
  return 0;
}

static rl_call *call_at(fake *f, size_t step, size_t index) {
  return started_at(f, step, index)->call;
}

static void reply(fake *f, size_t step, size_t index, const char *text) {
  char *body = ok_body(text);

  done_raw(call_at(f, step, index), 200, body, strlen(body));
  free(body);
}

/* A permanent failure (an HTTP 401). */
static void reply_401(fake *f, size_t step, size_t index) {
  static const char body[] =
      "{\"error\":{\"message\":\"bad key\",\"type\":\"invalid_request_error\","
      "\"code\":\"invalid_api_key\"}}";

  done_raw(call_at(f, step, index), 401, body, strlen(body));
}

/* Every call of the step that is running answers "ANS-<seat>". */
static void answer_step(fake *f, rl_run *run, size_t step) {
  const rl_step *st = rl_run_step(run, step);

  cr_assert_not_null(st, "step %zu has not begun", step);
  for (size_t i = 0; i < st->n_calls; i++) {
    char text[32];
    if (st->calls[i].status != RL_SEAT_RUNNING)
      continue;
    snprintf(text, sizeof(text), "ANS-%zu", st->calls[i].seat);
    reply(f, step, i, text);
  }
}

/* Call i of the step answers texts[i] (NULL: left alone). */
static void reply_each(fake *f, size_t step, const char *const *texts,
                       size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (texts[i])
      reply(f, step, i, texts[i]);
  }
}

/* --- Reading requests and events ------------------------------------------ */

/* A malloc'd copy of the content of the last message with `role` in a
 * request body, or NULL when there is none. */
static char *message_of(const char *body, size_t len, const char *role) {
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *m, *found = NULL;
  char *out = NULL;

  cr_assert_not_null(root, "request body is not JSON: %.200s", body);
  cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "messages")) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (cJSON_IsString(r) && strcmp(r->valuestring, role) == 0)
      found = cJSON_GetObjectItemCaseSensitive(m, "content");
  }
  if (found) {
    cr_assert(cJSON_IsString(found));
    out = fake_copy_str(found->valuestring);
  }
  cJSON_Delete(root);
  return out;
}

static char *user_of(fake *f, size_t step, size_t index) {
  const started *s = started_at(f, step, index);
  char *u = message_of(s->body, s->body_len, "user");

  cr_assert_not_null(u, "no user message in call %zu of step %zu", index, step);
  return u;
}

static char *system_of(fake *f, size_t step, size_t index) {
  const started *s = started_at(f, step, index);

  return message_of(s->body, s->body_len, "system");
}

static char *model_of(fake *f, size_t step, size_t index) {
  const started *s = started_at(f, step, index);
  cJSON *root = cJSON_ParseWithLength(s->body, s->body_len);
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
  char *out;

  cr_assert(cJSON_IsString(m));
  out = fake_copy_str(m->valuestring);
  cJSON_Delete(root);
  return out;
}

/* The user message rl_render_request renders for a call now. */
static char *rendered_user(const rl_run *run, size_t step, size_t index) {
  size_t len = 0;
  char *body = rl_render_request(run, step, index, &len), *u;

  cr_assert_not_null(body);
  u = message_of(body, len, "user");
  free(body);
  cr_assert_not_null(u);
  return u;
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0, nl = strlen(needle);

  for (const char *p = strstr(hay, needle); p; p = strstr(p + nl, needle))
    n++;
  return n;
}

static void expect_contains(const char *hay, const char *needle) {
  cr_assert_not_null(strstr(hay, needle), "\"%s\" not found in:\n%.3000s",
                     needle, hay);
}

static void expect_lacks(const char *hay, const char *needle) {
  cr_assert_null(strstr(hay, needle), "\"%s\" found in:\n%.3000s", needle, hay);
}

/* No member id appears in text. */
static void expect_no_ids(const rl_run *run, const char *text) {
  const rl_spec *spec = rl_run_spec(run);

  for (size_t s = 0; s < spec->n_members; s++)
    expect_lacks(text, spec->seats[s].id);
}

static size_t events_of(const fake *f, rl_event_type t) {
  size_t n = 0;

  for (size_t i = 0; i < f->n_events; i++)
    n += f->events[i].type == t;
  return n;
}

static const event_rec *last_event(const fake *f) {
  cr_assert_gt(f->n_events, 0);
  return &f->events[f->n_events - 1];
}

static void expect_completed(const fake *f, const rl_run *run) {
  cr_assert_eq(f->violation[0], '\0', "fake io: %s", f->violation);
  cr_assert(rl_run_finished(run), "the run has not finished");
  cr_assert_eq(last_event(f)->type, RL_EV_RUN_COMPLETED,
               "the run ended with event %d (%s)", (int)last_event(f)->type,
               last_event(f)->reason ? last_event(f)->reason : "");
}

static void expect_failed_run(const fake *f, const rl_run *run,
                              const char *reason) {
  cr_assert(rl_run_finished(run));
  cr_assert_eq(last_event(f)->type, RL_EV_RUN_FAILED);
  cr_assert_str_eq(last_event(f)->reason, reason);
}

/* The last event is `t` for step `round`. */
static void expect_last(const fake *f, rl_event_type t, size_t round) {
  const event_rec *e = last_event(f);

  cr_assert(e->type == t && e->round == round,
            "last event is %d for step %zu, want %d for step %zu", (int)e->type,
            e->round, (int)t, round);
}

static const rl_call *call_of_step(const rl_run *run, size_t step,
                                   size_t index) {
  const rl_step *st = rl_run_step(run, step);

  cr_assert_not_null(st, "step %zu has not begun", step);
  cr_assert_lt(index, st->n_calls);
  return &st->calls[index];
}

static void expect_ordering(const rl_call *c, const size_t *want, size_t n) {
  cr_assert_null(c->ballot_error, "ballot error %s", c->ballot_error);
  cr_assert_eq(c->n_ordering, n, "ordering has %zu items, want %zu",
               c->n_ordering, n);
  for (size_t k = 0; k < n; k++)
    cr_assert_eq(c->ordering[k], want[k], "ordering[%zu] = %zu, want %zu", k,
                 c->ordering[k], want[k]);
}

static const agg_result *agg_of(const rl_run *run, size_t step) {
  const rl_step *st = rl_run_step(run, step);

  cr_assert_not_null(st);
  cr_assert(st->has_agg, "step %zu has no aggregate", step);
  cr_assert_not_null(st->agg);
  return st->agg;
}

static void expect_scores(const agg_result *a, const double *want, size_t n) {
  cr_assert_eq(a->n, n);
  for (size_t k = 0; k < n; k++)
    cr_assert_float_eq(a->scores[k], want[k], 1e-9, "scores[%zu] = %g, want %g",
                       k, a->scores[k], want[k]);
}

/* --- Visibility ----------------------------------------------------------- */

static const char PEER_TAIL[] =
    "\nReview these answers: what each gets right, and what it gets wrong or "
    "leaves out. Then give your own improved answer to the question.\n";

Test(rounds_visibility, peer_review_shows_the_others_by_id_never_the_own) {
  fake *f = fake_new();
  rl_run *run = make_run(
      f, spec_make(3, 0, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_PEER_REVIEW)));
  char *u, *want;

  rl_run_start(run);
  reply(f, 0, 0, "ANS-0");
  reply(f, 0, 1, "ANS-1");
  reply(f, 0, 2, "ANS-2");
  cr_assert_eq(rl_run_n_steps(run), 2);
  cr_assert_eq(f->n_calls, 6, "every member reviews");

  u = user_of(f, 1, 0);
  want = strf("Question:\n" INPUT "\n\nOther members of the council answered "
              "it:\n\n### bravo\nANS-1\n\n### charlie\nANS-2\n%s",
              PEER_TAIL);
  cr_assert_str_eq(u, want);
  free(want);
  free(u);
  for (size_t i = 0; i < 3; i++) {
    char own[16], *r = rendered_user(run, 1, i);
    u = user_of(f, 1, i);
    cr_assert_str_eq(u, r, "rl_render_request renders what was sent");
    snprintf(own, sizeof(own), "ANS-%zu", i);
    expect_lacks(u, own);
    expect_lacks(u, NAMES[i]);
    for (size_t o = 0; o < 3; o++) {
      char head[32];
      snprintf(head, sizeof(head), "### %s\nANS-%zu\n", NAMES[o], o);
      if (o != i)
        cr_assert_eq(count_of(u, head), 1);
    }
    free(r);
    free(u);
  }
  answer_step(f, run, 1);
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_visibility, peer_review_reads_the_latest_answers_only) {
  fake *f = fake_new();
  rl_run *run =
      make_run(f, spec_make(3, 0, 0,
                            KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_PEER_REVIEW,
                                  RL_ROUND_PEER_REVIEW)));
  char *u, *want;

  rl_run_start(run);
  answer_step(f, run, 0);
  reply(f, 1, 0, "second-0");
  reply_401(f, 1, 1);
  reply(f, 1, 2, "second-2");
  /* Step 2 reads step 1: bravo failed there, so it is not shown, and the
   * first round's answers are not either. */
  u = user_of(f, 2, 2);
  want = strf("Question:\n" INPUT "\n\nOther members of the council answered "
              "it:\n\n### alpha\nsecond-0\n%s",
              PEER_TAIL);
  cr_assert_str_eq(u, want);
  free(want);
  free(u);
  u = user_of(f, 2, 1); /* a member who failed still reviews */
  expect_contains(u, "### alpha\nsecond-0\n");
  expect_contains(u, "### charlie\nsecond-2\n");
  expect_lacks(u, "ANS-");
  free(u);
  answer_step(f, run, 2);
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_visibility, critique_shows_the_own_previous_answer_and_the_others) {
  fake *f = fake_new();
  rl_run *run = make_run(
      f, spec_make(3, 0, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_CRITIQUE)));
  static const char tail[] =
      "\nCritique these answers and your own: find errors, gaps and weak "
      "arguments. Then write your revised answer.\n";
  char *u, *want;

  rl_run_start(run);
  reply(f, 0, 0, "ANS-0");
  reply(f, 0, 1, "ANS-1");
  reply_401(f, 0, 2);
  u = user_of(f, 1, 1);
  want = strf("Question:\n" INPUT "\n\nYour previous answer:\nANS-1\n\nThe "
              "other members' answers:\n\n### alpha\nANS-0\n%s",
              tail);
  cr_assert_str_eq(u, want);
  free(want);
  free(u);
  u = user_of(f, 1, 2);
  want = strf("Question:\n" INPUT "\n\nYour previous answer:\n(you gave "
              "none)\n\nThe other members' answers:\n\n### alpha\nANS-0\n\n"
              "### bravo\nANS-1\n%s",
              tail);
  cr_assert_str_eq(u, want);
  free(want);
  free(u);
  answer_step(f, run, 1);
  expect_completed(f, run);
  run_end(run, f);
}

/* The anonymized review prompt up to the responses. */
#define ANON_HEAD                                                              \
  "You are evaluating different responses to the following question:\n\n"      \
  "Question: " INPUT "\n\nHere are the responses, anonymized:\n"

#define ANON_TASK                                                              \
  "\nYour task:\n1. Evaluate each response on its own: what it does well "     \
  "and what it does poorly.\n2. Then, at the very end of your reply, give "    \
  "your final ranking.\n\nIMPORTANT: the final ranking MUST be formatted "     \
  "EXACTLY like this:\n- Start with the line \"FINAL RANKING:\" (all caps, "   \
  "with a colon)\n- Then list the responses from best to worst as a "          \
  "numbered list\n- Each line: a number, a period, a space, then ONLY the "    \
  "response label (e.g., \"1. Response A\")\n- Rank every response exactly "   \
  "once; add no other text after the list\n\nExample of the ending:\n\n"       \
  "FINAL RANKING:\n"

/* [INDEPENDENT, ANON_REVIEW] over n members, the review round set up. */
static rl_spec *anon_spec(size_t n, rl_order order, int include_self,
                          uint64_t seed) {
  rl_spec *spec =
      spec_make(n, 0, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_ANON_REVIEW));

  spec->rounds[1].order = order;
  spec->rounds[1].include_self = include_self;
  spec->rounds[1].aggregator = RL_AGG_PEER_RANKING;
  spec->seed = seed;
  return spec;
}

/* Judge `index` of anonymized review step `step` saw each candidate in its
 * labels once, under its label, and nothing else: no ids, no own answer
 * (unless include_self), no label past its last. */
static void expect_anon_view(fake *f, const rl_run *run, size_t step,
                             size_t index, int include_self) {
  const rl_call *c = call_of_step(run, step, index);
  const rl_step *st = rl_run_step(run, step);
  char *u = user_of(f, step, index);
  char piece[64];

  cr_assert_eq(c->n_labels, st->n_cands - (include_self ? 0 : 1));
  for (size_t k = 0; k < c->n_labels; k++) {
    cr_assert(include_self || c->labels[k] != c->seat,
              "judge %zu was dealt its own answer", c->seat);
    for (size_t j = 0; j < k; j++)
      cr_assert_neq(c->labels[j], c->labels[k], "a candidate dealt twice");
    snprintf(piece, sizeof(piece), "\nResponse %c:\nANS-%zu\n", (int)('A' + k),
             c->labels[k]);
    cr_assert_eq(count_of(u, piece), 1, "\"%s\" not shown once in:\n%s", piece,
                 u);
    snprintf(piece, sizeof(piece), "ANS-%zu\n", c->labels[k]);
    cr_assert_eq(count_of(u, piece), 1);
  }
  snprintf(piece, sizeof(piece), "ANS-%zu", c->seat);
  if (!include_self)
    expect_lacks(u, piece);
  snprintf(piece, sizeof(piece), "Response %c", (int)('A' + c->n_labels));
  expect_lacks(u, piece);
  expect_no_ids(run, u);
  free(u);
}

Test(rounds_visibility, anon_review_shows_labels_not_ids_nor_the_own_answer) {
  fake *f = fake_new();
  rl_run *run = make_run(f, anon_spec(3, RL_ORDER_STABLE, 0, 1));
  char *u;

  rl_run_start(run);
  answer_step(f, run, 0);
  u = user_of(f, 1, 0);
  cr_assert_str_eq(u, ANON_HEAD
                   "\nResponse A:\nANS-1\n\nResponse B:\nANS-2\n" ANON_TASK
                   "1. Response B\n2. Response A\n\nNow provide "
                   "your evaluation and ranking:\n");
  free(u);
  for (size_t i = 0; i < 3; i++)
    expect_anon_view(f, run, 1, i, 0);
  /* Stable: member order without the judge. */
  cr_assert_eq(call_of_step(run, 1, 1)->labels[0], 0);
  cr_assert_eq(call_of_step(run, 1, 1)->labels[1], 2);
  rl_run_cancel(run);
  run_end(run, f);
}

Test(rounds_visibility, anon_review_include_self_shows_the_own_answer_too) {
  fake *f = fake_new();
  rl_run *run = make_run(f, anon_spec(3, RL_ORDER_STABLE, 1, 1));
  char *u;

  rl_run_start(run);
  answer_step(f, run, 0);
  for (size_t i = 0; i < 3; i++) {
    expect_anon_view(f, run, 1, i, 1);
    for (size_t k = 0; k < 3; k++)
      cr_assert_eq(call_of_step(run, 1, i)->labels[k], k);
  }
  u = user_of(f, 1, 2);
  expect_contains(u, "\nResponse C:\nANS-2\n");
  expect_contains(u, "FINAL RANKING:\n1. Response C\n2. Response B\n3. "
                     "Response A\n\nNow provide");
  free(u);
  rl_run_cancel(run);
  run_end(run, f);
}

Test(rounds_visibility, anon_review_members_that_failed_are_not_candidates) {
  fake *f = fake_new();
  rl_run *run = make_run(f, anon_spec(4, RL_ORDER_STABLE, 0, 1));

  rl_run_start(run);
  reply(f, 0, 0, "ANS-0");
  reply_401(f, 0, 1);
  reply(f, 0, 2, "ANS-2");
  reply(f, 0, 3, "ANS-3");
  cr_assert_eq(rl_run_step(run, 1)->n_cands, 3);
  for (size_t i = 0; i < 4; i++) {
    char *u = user_of(f, 1, i);
    expect_lacks(u, "ANS-1");
    free(u);
  }
  /* bravo failed but still judges, all three answers. */
  cr_assert_eq(call_of_step(run, 1, 1)->n_labels, 3);
  rl_run_cancel(run);
  run_end(run, f);
}

/* The candidates judge a saw that judge b saw too, in a's label order. */
static size_t common_order(const rl_call *a, const rl_call *b, size_t *out) {
  size_t n = 0;

  for (size_t k = 0; k < a->n_labels; k++) {
    int in_b = 0;
    for (size_t j = 0; j < b->n_labels; j++)
      in_b |= b->labels[j] == a->labels[k];
    if (in_b)
      out[n++] = a->labels[k];
  }
  return n;
}

/* 1 when judges a and b saw their common candidates in the same order. */
static int same_relative_order(const rl_call *a, const rl_call *b) {
  size_t x[16], y[16], n = common_order(a, b, x);

  cr_assert_eq(common_order(b, a, y), n);
  return memcmp(x, y, n * sizeof(size_t)) == 0;
}

/* Runs a 4-member anonymized review with `seed` up to its labels; returns
 * whether all judges saw the same relative order, and checks every view. */
static int deal(rl_order order, int include_self, uint64_t seed,
                size_t *labels0) {
  fake *f = fake_new();
  rl_run *run = make_run(f, anon_spec(4, order, include_self, seed));
  int same = 1;

  rl_run_start(run);
  answer_step(f, run, 0);
  for (size_t i = 0; i < 4; i++) {
    expect_anon_view(f, run, 1, i, include_self);
    for (size_t j = 0; j < i; j++)
      same &=
          same_relative_order(call_of_step(run, 1, i), call_of_step(run, 1, j));
  }
  if (labels0)
    memcpy(labels0, call_of_step(run, 1, 0)->labels,
           call_of_step(run, 1, 0)->n_labels * sizeof(size_t));
  rl_run_cancel(run);
  run_end(run, f);
  return same;
}

Test(rounds_visibility, per_judge_order_differs_across_judges_for_some_seed) {
  size_t differing = 0, a[4], b[4];

  for (uint64_t seed = 1; seed <= 32; seed++)
    differing += !deal(RL_ORDER_PER_JUDGE, 0, seed, NULL);
  cr_assert_gt(differing, 0, "no seed dealt judges different orders");
  /* The same seed deals the same labels. */
  deal(RL_ORDER_PER_JUDGE, 0, 7, a);
  deal(RL_ORDER_PER_JUDGE, 0, 7, b);
  cr_assert_eq(memcmp(a, b, 3 * sizeof(size_t)), 0);
}

Test(rounds_visibility, shuffle_order_is_one_order_shared_by_all_judges) {
  size_t shuffled = 0, first[4];

  for (uint64_t seed = 1; seed <= 32; seed++) {
    cr_assert(deal(RL_ORDER_SHUFFLE, 0, seed, first),
              "seed %llu: judges saw different orders",
              (unsigned long long)seed);
    /* Judge 0 sees 1, 2, 3: was that order shuffled? */
    shuffled += !(first[0] == 1 && first[1] == 2 && first[2] == 3);
  }
  cr_assert_gt(shuffled, 0, "shuffle never changed the member order");
}

Test(rounds_visibility, shuffle_with_include_self_deals_identical_labels) {
  fake *f = fake_new();
  rl_run *run = make_run(f, anon_spec(4, RL_ORDER_SHUFFLE, 1, 5));

  rl_run_start(run);
  answer_step(f, run, 0);
  for (size_t i = 1; i < 4; i++) {
    const rl_call *c = call_of_step(run, 1, i), *c0 = call_of_step(run, 1, 0);
    cr_assert_eq(c->n_labels, 4);
    cr_assert_eq(memcmp(c->labels, c0->labels, 4 * sizeof(size_t)), 0);
  }
  rl_run_cancel(run);
  run_end(run, f);
}

Test(rounds_visibility, stable_order_is_member_order_for_every_seed) {
  for (uint64_t seed = 1; seed <= 8; seed++) {
    fake *f = fake_new();
    rl_run *run = make_run(f, anon_spec(4, RL_ORDER_STABLE, 0, seed));

    rl_run_start(run);
    answer_step(f, run, 0);
    for (size_t i = 0; i < 4; i++) {
      const rl_call *c = call_of_step(run, 1, i);
      for (size_t k = 0, want = 0; k < c->n_labels; k++, want++) {
        want += want == i;
        cr_assert_eq(c->labels[k], want);
      }
    }
    rl_run_cancel(run);
    run_end(run, f);
  }
}

/* The members' answers as ranking and vote rounds show them. */
#define BY_MEMBER                                                              \
  "The council's answers, by member:\n\n### alpha\nANS-0\n\n### bravo\n"       \
  "ANS-1\n\n### charlie\nANS-2\n"

Test(rounds_visibility, ranking_shows_every_answer_by_id) {
  fake *f = fake_new();
  rl_run *run = make_run(
      f, spec_make(3, 0, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_RANKING)));
  char *u;

  rl_run_start(run);
  answer_step(f, run, 0);
  for (size_t i = 0; i < 3; i++) {
    u = user_of(f, 1, i);
    cr_assert_str_eq(
        u, "Question:\n" INPUT "\n\n" BY_MEMBER
           "\nRank these answers from best to worst. End your reply with the "
           "line \"FINAL RANKING:\" and a numbered list of member ids, best "
           "first (e.g. \"1. alpha\"), naming each of \"alpha\", \"bravo\", "
           "\"charlie\" exactly once. Alternatively reply with a JSON object "
           "{\"ordering\": [ids, best first], \"rationale\": \"...\"}.\n");
    free(u);
  }
  rl_run_cancel(run);
  run_end(run, f);
}

static const char VOTE_TAIL[] =
    "Reply with a JSON object: {\"choice\": \"<your choice>\", \"rationale\": "
    "\"<why>\", \"confidence\": <0 to 1>}\n";

Test(rounds_visibility, vote_shows_answers_by_id_or_just_the_options) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(
      3, 0, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_VOTE, RL_ROUND_VOTE));
  rl_run *run;
  char *u, *want;

  spec->rounds[2].n_options = 2;
  spec->rounds[2].options = calloc(2, sizeof(char *));
  cr_assert_not_null(spec->rounds[2].options);
  spec->rounds[2].options[0] = fake_copy_str("yes");
  spec->rounds[2].options[1] = fake_copy_str("no");
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  u = user_of(f, 1, 1);
  want = strf("Question:\n" INPUT "\n\n" BY_MEMBER "\nVote for the best "
              "answer, by member id: one of \"alpha\", \"bravo\", \"charlie\"."
              " A vote for your own answer is not counted.\n%s",
              VOTE_TAIL);
  cr_assert_str_eq(u, want);
  free(want);
  free(u);
  reply_each(f, 1,
             (const char *const[]){"{\"choice\": \"bravo\"}",
                                   "{\"choice\": \"alpha\"}",
                                   "{\"choice\": \"alpha\"}"},
             3);
  u = user_of(f, 2, 0);
  want = strf("Question:\n" INPUT "\n\nVote for exactly one of these options:"
              " \"yes\", \"no\".\n%s",
              VOTE_TAIL);
  cr_assert_str_eq(u, want, "a vote on options shows no answers");
  free(want);
  free(u);
  rl_run_cancel(run);
  run_end(run, f);
}

static const char PAIR_TAIL[] =
    "\nReply with a JSON object: {\"choice\": \"A\" or \"B\", \"rationale\": "
    "\"<why>\"}\n";

static const char JUDGE_PROMPT[] =
    "You are an impartial judge. You compare two answers to the same "
    "question on correctness, completeness and clarity, and pick the better "
    "one. Length and style are not merit.";

Test(rounds_visibility, pairwise_shows_only_answer_a_and_b) {
  fake *f = fake_new();
  rl_spec *spec =
      spec_make(4, 1, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_PAIRWISE));
  rl_run *run;
  char *u, *want, *sys;

  spec->rounds[1].judge_seat = 4; /* the chair judges */
  set_str(&spec->seats[4].system_prompt, "You chair the council.");
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  cr_assert_eq(rl_run_step(run, 1)->n_calls, 2);
  for (size_t i = 0; i < 2; i++) {
    u = user_of(f, 1, i);
    want = strf("Question:\n" INPUT "\n\nTwo answers compete. Pick the better "
                "one.\n\n### Answer A\nANS-%zu\n\n### Answer B\nANS-%zu\n%s",
                2 * i, 2 * i + 1, PAIR_TAIL);
    cr_assert_str_eq(u, want);
    expect_no_ids(run, u);
    free(want);
    free(u);
    /* The chair judges as a judge: its synthesis prompt is not used. */
    sys = system_of(f, 1, i);
    cr_assert_str_eq(sys, JUDGE_PROMPT);
    free(sys);
    cr_assert_eq(started_at(f, 1, i)->seat, 4);
  }
  rl_run_cancel(run);
  run_end(run, f);
}

/* --- Ballots -------------------------------------------------------------- */

Test(rounds_ballots, final_ranking_replies_become_member_orderings) {
  fake *f = fake_new();
  rl_run *run = make_run(f, anon_spec(3, RL_ORDER_STABLE, 0, 1));
  const rl_call *c;

  rl_run_start(run);
  answer_step(f, run, 0);
  /* Judge 0 saw A = bravo, B = charlie; judge 1 A = alpha, B = charlie. */
  reply(f, 1, 0,
        "B is fuller.\n\nFINAL RANKING:\n1. Response B\n2. Response A");
  reply(f, 1, 1, "**Final ranking:**\n1. **Response A**\n2) `Response B`\n");
  reply(f, 1, 2, "I cannot decide between them.");
  expect_ordering(call_of_step(run, 1, 0), (size_t[]){2, 1}, 2);
  expect_ordering(call_of_step(run, 1, 1), (size_t[]){0, 2}, 2);
  cr_assert_eq(call_of_step(run, 1, 0)->status, RL_SEAT_OK);

  /* The unreadable ballot fails its call, and the answer is kept. */
  c = call_of_step(run, 1, 2);
  cr_assert_eq(c->status, RL_SEAT_FAILED);
  cr_assert_eq(c->err.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(c->err.reason, "invalid_output");
  cr_assert_str_eq(c->ballot_error, "unparseable");
  cr_assert_str_eq(c->resp.content, "I cannot decide between them.");
  cr_assert_null(c->ordering);
  for (size_t i = 0; i < f->n_events; i++) {
    const event_rec *e = &f->events[i];
    if (e->type == RL_EV_MEMBER_COMPLETED && e->round == 1 && e->seat == 2) {
      cr_assert_eq(e->status, RL_SEAT_FAILED);
      cr_assert_str_eq(e->err_reason, "invalid_output");
    }
  }
  /* The two readable ballots still count: alpha, first on bravo's, wins. */
  cr_assert_eq(agg_of(run, 1)->counted, 2);
  cr_assert_eq(rl_run_step(run, 1)->winner, 0);
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_ballots, ranking_rounds_read_ids_lists_and_json) {
  fake *f = fake_new();
  rl_spec *spec =
      spec_make(3, 0, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_RANKING));
  rl_run *run;

  spec->rounds[1].aggregator = RL_AGG_BORDA;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  reply(f, 1, 0, "FINAL RANKING:\n1. charlie\n2. alpha\n3. bravo\n");
  reply(f, 1, 1,
        "{\"ordering\": [\"bravo\", \"charlie\", \"alpha\"], "
        "\"rationale\": \"clear\"}");
  reply(f, 1, 2, "FINAL RANKING:\n1. charlie\n");
  expect_ordering(call_of_step(run, 1, 0), (size_t[]){2, 0, 1}, 3);
  expect_ordering(call_of_step(run, 1, 1), (size_t[]){1, 2, 0}, 3);
  cr_assert_eq(call_of_step(run, 1, 2)->status, RL_SEAT_FAILED);
  cr_assert_str_eq(call_of_step(run, 1, 2)->ballot_error, "incomplete");
  /* Borda over 3 with the judges' own places dropped: alpha's ballot
   * counts charlie 2, bravo 1; bravo's counts charlie 2, alpha 1. */
  expect_scores(agg_of(run, 1), (double[]){1, 1, 4}, 3);
  cr_assert_eq(rl_run_step(run, 1)->winner, 2);
  expect_completed(f, run);
  run_end(run, f);
}

/* A 4-member [INDEPENDENT, VOTE] run whose votes are `votes`. */
static rl_run *vote_run(fake *f, int include_self, rl_agg_kind agg,
                        const char *const *votes) {
  rl_spec *spec =
      spec_make(4, 0, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_VOTE));
  rl_run *run;

  spec->rounds[1].aggregator = agg;
  spec->rounds[1].include_self = include_self;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  reply_each(f, 1, votes, 4);
  return run;
}

static const char *const VOTES[] = {
    "{\"choice\": \"alpha\", \"rationale\": \"mine is best\"}",
    "{\"choice\": \"charlie\", \"rationale\": \"sound\", \"confidence\": 0.7}",
    "Weighing them up.\nFINAL VOTE: alpha",
    "```json\n{\"choice\": \"Charlie\", \"confidence\": \"0.4\"}\n```"};

Test(rounds_ballots, votes_are_read_and_a_self_vote_is_not_counted) {
  fake *f = fake_new();
  rl_run *run = vote_run(f, 0, RL_AGG_PLURALITY, VOTES);
  const rl_call *c;

  c = call_of_step(run, 1, 0);
  cr_assert_eq(c->status, RL_SEAT_OK, "a self-vote is read, not failed");
  cr_assert_eq(c->choice, 0);
  cr_assert_str_eq(c->ballot_error, "self_vote");
  c = call_of_step(run, 1, 1);
  cr_assert_eq(c->choice, 2);
  cr_assert_null(c->ballot_error);
  cr_assert_float_eq(c->confidence, 0.7, 1e-12);
  cr_assert_eq(call_of_step(run, 1, 2)->choice, 0);
  cr_assert(isnan(call_of_step(run, 1, 2)->confidence));
  cr_assert_eq(call_of_step(run, 1, 3)->choice, 2, "matched without case");
  cr_assert_float_eq(call_of_step(run, 1, 3)->confidence, 0.4, 1e-12);

  /* Counted: charlie 2, alpha 1. Alpha's own vote would have tied it with
   * charlie, and a tie goes to the lowest index (alpha). */
  expect_scores(agg_of(run, 1), (double[]){1, 0, 2, 0}, 4);
  cr_assert_eq(agg_of(run, 1)->n_ballots, 3);
  cr_assert_eq(rl_run_step(run, 1)->winner, 2);
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_ballots, include_self_counts_a_self_vote) {
  fake *f = fake_new();
  rl_run *run = vote_run(f, 1, RL_AGG_PLURALITY, VOTES);

  cr_assert_null(call_of_step(run, 1, 0)->ballot_error);
  expect_scores(agg_of(run, 1), (double[]){2, 0, 2, 0}, 4);
  cr_assert(agg_of(run, 1)->tie);
  cr_assert_eq(rl_run_step(run, 1)->winner, 0, "ties go to the first");
  run_end(run, f);
}

Test(rounds_ballots, weighted_mean_weighs_votes_by_confidence) {
  fake *f = fake_new();
  rl_run *run = vote_run(f, 0, RL_AGG_WEIGHTED_MEAN, VOTES);

  /* charlie: 0.7 + 0.4; alpha: 1 (no confidence weighs as full). */
  expect_scores(agg_of(run, 1), (double[]){1.0, 0, 1.1, 0}, 4);
  cr_assert_eq(rl_run_step(run, 1)->winner, 2);
  run_end(run, f);
}

Test(rounds_ballots, votes_on_options_and_unknown_choices) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(4, 0, 0, KINDS(RL_ROUND_VOTE));
  rl_run *run;
  const rl_call *c;

  spec->rounds[0].n_options = 2;
  spec->rounds[0].options = calloc(2, sizeof(char *));
  cr_assert_not_null(spec->rounds[0].options);
  spec->rounds[0].options[0] = fake_copy_str("yes");
  spec->rounds[0].options[1] = fake_copy_str("no");
  spec->rounds[0].aggregator = RL_AGG_PLURALITY;
  run = make_run(f, spec);
  rl_run_start(run); /* a vote on options needs no earlier answers */
  reply_each(f, 0,
             (const char *const[]){"{\"choice\": \"no\"}", "FINAL VOTE: yes",
                                   "{\"choice\": \"No.\"}",
                                   "{\"choice\": \"maybe\"}"},
             4);
  cr_assert_eq(call_of_step(run, 0, 0)->choice, 1);
  cr_assert_eq(call_of_step(run, 0, 1)->choice, 0);
  cr_assert_eq(call_of_step(run, 0, 2)->choice, 1);
  c = call_of_step(run, 0, 3);
  cr_assert_eq(c->status, RL_SEAT_FAILED);
  cr_assert_str_eq(c->err.reason, "invalid_output");
  cr_assert_str_eq(c->ballot_error, "unknown_choice");
  cr_assert_eq(c->choice, -1);
  expect_scores(agg_of(run, 0), (double[]){1, 2}, 2);
  cr_assert_eq(rl_run_step(run, 0)->winner, 1, "the winner is an option");
  expect_completed(f, run);
  run_end(run, f);
}

/* The test vector of provider_formats.md 7.1 (karpathy/llm-council): with
 * A = m1, B = m2, C = m3, the judges rank C A B, C B A and A C B. Without
 * include_self each judge keeps its preferences but loses itself: m1 ranks
 * m3 > m2, m2 ranks m3 > m1, m3 ranks m1 > m2. */
static rl_run *llm_council_run(fake *f, int include_self, rl_agg_kind agg) {
  rl_spec *spec = spec_make(
      3, 1, 0,
      KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_ANON_REVIEW, RL_ROUND_SYNTHESIS));
  rl_run *run;

  for (size_t i = 0; i < 3; i++)
    set_str(&spec->seats[i].id, (const char *[]){"m1", "m2", "m3"}[i]);
  spec->rounds[1].order = RL_ORDER_STABLE;
  spec->rounds[1].include_self = include_self;
  spec->rounds[1].aggregator = agg;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  if (include_self)
    reply_each(
        f, 1,
        (const char *const[]){
            "C is best.\n\nFINAL RANKING:\n1. Response C\n2. Response A\n3. "
            "Response B",
            "FINAL RANKING:\n1. Response C\n2. Response B\n3. Response A",
            "FINAL RANKING:\n1. Response A\n2. Response C\n3. Response B"},
        3);
  else
    reply_each(f, 1,
               (const char *const[]){
                   "FINAL RANKING:\n1. Response B\n2. Response A",  /* m3, m2 */
                   "FINAL RANKING:\n1. Response B\n2. Response A",  /* m3, m1 */
                   "FINAL RANKING:\n1. Response A\n2. Response B"}, /* m1, m2 */
               3);
  return run;
}

Test(rounds_ballots, peer_ranking_matches_the_llm_council_example) {
  fake *f = fake_new();
  rl_run *run = llm_council_run(f, 1, RL_AGG_PEER_RANKING);
  const agg_result *a = agg_of(run, 1);

  expect_ordering(call_of_step(run, 1, 0), (size_t[]){2, 0, 1}, 3);
  expect_ordering(call_of_step(run, 1, 1), (size_t[]){2, 1, 0}, 3);
  expect_ordering(call_of_step(run, 1, 2), (size_t[]){0, 2, 1}, 3);
  cr_assert_float_eq(a->avg_position[2], 4.0 / 3, 1e-9); /* m3: 1.33 */
  cr_assert_float_eq(a->avg_position[0], 2.0, 1e-9);     /* m1 */
  cr_assert_float_eq(a->avg_position[1], 8.0 / 3, 1e-9); /* m2: 2.67 */
  for (size_t k = 0; k < 3; k++)
    cr_assert_eq(a->votes[k], 3);
  cr_assert_eq(a->order[0], 2);
  cr_assert_eq(a->order[1], 0);
  cr_assert_eq(a->order[2], 1);
  /* Normalized Borda: places earn 1, 0.5, 0. */
  expect_scores(a, (double[]){0.5, 1.0 / 6, 5.0 / 6}, 3);
  cr_assert_eq(rl_run_step(run, 1)->winner, 2);
  rl_run_cancel(run);
  run_end(run, f);
}

Test(rounds_ballots, peer_ranking_with_self_excluded) {
  fake *f = fake_new();
  rl_run *run = llm_council_run(f, 0, RL_AGG_PEER_RANKING);
  const agg_result *a = agg_of(run, 1);

  expect_ordering(call_of_step(run, 1, 0), (size_t[]){2, 1}, 2);
  expect_ordering(call_of_step(run, 1, 1), (size_t[]){2, 0}, 2);
  expect_ordering(call_of_step(run, 1, 2), (size_t[]){0, 1}, 2);
  cr_assert_float_eq(a->avg_position[0], 1.5, 1e-9);
  cr_assert_float_eq(a->avg_position[1], 2.0, 1e-9);
  cr_assert_float_eq(a->avg_position[2], 1.0, 1e-9);
  for (size_t k = 0; k < 3; k++)
    cr_assert_eq(a->votes[k], 2);
  expect_scores(a, (double[]){0.5, 0, 1}, 3);
  cr_assert_eq(rl_run_step(run, 1)->winner, 2);
  rl_run_cancel(run);
  run_end(run, f);
}

Test(rounds_ballots, borda_plurality_and_condorcet_over_the_same_ballots) {
  static const struct {
    int include_self;
    rl_agg_kind agg;
    double scores[3];
  } cases[] = {
      /* Places earn 2, 1, 0 (n - k): C 2+2+1, A 1+0+2, B 0+1+0. */
      {1, RL_AGG_BORDA, {3, 1, 5}},
      /* Two places each: m1 1+2, m2 1+1, m3 2+2. */
      {0, RL_AGG_BORDA, {3, 2, 4}},
      /* First places: C, C, A either way. */
      {1, RL_AGG_PLURALITY, {1, 0, 2}},
      {0, RL_AGG_PLURALITY, {1, 0, 2}},
      /* m3 beats both pairwise: Copeland 2. */
      {1, RL_AGG_CONDORCET, {1, 0, 2}},
  };

  for (size_t i = 0; i < N(cases); i++) {
    fake *f = fake_new();
    rl_run *run = llm_council_run(f, cases[i].include_self, cases[i].agg);
    expect_scores(agg_of(run, 1), cases[i].scores, 3);
    cr_assert_eq(rl_run_step(run, 1)->winner, 2, "case %zu", i);
    rl_run_cancel(run);
    run_end(run, f);
  }
}

/* A ranking round shows every answer, the judge's own included, and asks
 * for all of them; without include_self a judge's own first place must
 * not become its plurality vote (as its own place is dropped for Borda
 * and peer ranking, and a self-vote is not counted in a vote round). */
Test(rounds_ballots, a_ranking_round_plurality_skips_the_judges_own_place) {
  fake *f = fake_new();
  rl_spec *spec =
      spec_make(3, 0, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_RANKING));
  rl_run *run;

  spec->rounds[1].aggregator = RL_AGG_PLURALITY;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  reply_each(
      f, 1,
      (const char *const[]){
          "FINAL RANKING:\n1. alpha\n2. bravo\n3. charlie", /* votes bravo */
          "FINAL RANKING:\n1. bravo\n2. charlie\n3. alpha", /* votes charlie */
          "FINAL RANKING:\n1. bravo\n2. charlie\n3. alpha"},
      3);
  expect_scores(agg_of(run, 1), (double[]){0, 2, 1}, 3);
  cr_assert_eq(rl_run_step(run, 1)->winner, 1);
  run_end(run, f);

  f = fake_new();
  spec = spec_make(3, 0, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_RANKING));
  spec->rounds[1].aggregator = RL_AGG_PLURALITY;
  spec->rounds[1].include_self = 1;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  reply_each(
      f, 1,
      (const char *const[]){"FINAL RANKING:\n1. alpha\n2. bravo\n3. charlie",
                            "FINAL RANKING:\n1. bravo\n2. charlie\n3. alpha",
                            "FINAL RANKING:\n1. bravo\n2. charlie\n3. alpha"},
      3);
  expect_scores(agg_of(run, 1), (double[]){1, 2, 0}, 3);
  run_end(run, f);
}

/* --- Synthesis ------------------------------------------------------------ */

Test(rounds_synthesis, the_chair_sees_the_label_mapping_and_the_aggregate) {
  fake *f = fake_new();
  rl_run *run = llm_council_run(f, 1, RL_AGG_PEER_RANKING);
  char *u;

  cr_assert_eq(rl_run_n_steps(run), 3);
  u = user_of(f, 2, 0);
  expect_contains(u, "Question:\n" INPUT "\n\nThe council's members answered "
                     "independently:\n\n### Member m1 (model-0)\nANS-0\n\n"
                     "### Member m2 (model-1)\nANS-1\n\n### Member m3 "
                     "(model-2)\nANS-2\n");
  expect_contains(u, "\n## Anonymized peer review\n\n### Reviewer m1\nIts "
                     "labels: Response A = m1, Response B = m2, Response C = "
                     "m3\nC is best.\n\nFINAL RANKING:\n1. Response C\n");
  expect_contains(u, "\n### Reviewer m3\nIts labels: Response A = m1, "
                     "Response B = m2, Response C = m3\nFINAL RANKING:\n1. "
                     "Response A\n");
  expect_contains(u, "Aggregate ranking (average position, lower is better; "
                     "normalized Borda score, 1 is best):\n1. m3: 1.33 (0.83)"
                     "\n2. m1: 2.00 (0.50)\n3. m2: 2.67 (0.17)\nWinner: m3\n");
  expect_contains(u, "\nWrite the council's final answer.");
  free(u);
  reply(f, 2, 0, "The Nile, narrowly.");
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_synthesis, self_excluded_labels_differ_per_reviewer) {
  fake *f = fake_new();
  rl_run *run = llm_council_run(f, 0, RL_AGG_PEER_RANKING);
  char *u = user_of(f, 2, 0);

  expect_contains(u, "### Reviewer m1\nIts labels: Response A = m2, Response "
                     "B = m3\n");
  expect_contains(u, "### Reviewer m2\nIts labels: Response A = m1, Response "
                     "B = m3\n");
  expect_contains(u, "### Reviewer m3\nIts labels: Response A = m1, Response "
                     "B = m2\n");
  expect_contains(u, "1. m3: 1.00 (1.00)\n2. m1: 1.50 (0.50)\n3. m2: 2.00 "
                     "(0.00)\nWinner: m3\n");
  free(u);
  rl_run_cancel(run);
  run_end(run, f);
}

Test(rounds_synthesis, per_judge_labels_and_failed_reviews_reach_the_chair) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(
      4, 1, 0,
      KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_ANON_REVIEW, RL_ROUND_SYNTHESIS));
  rl_run *run;
  char *u;

  spec->rounds[1].aggregator = RL_AGG_BORDA;
  spec->seed = 99;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  reply(f, 1, 0, "FINAL RANKING:\n1. Response A\n2. Response B\n3. Response C");
  reply(f, 1, 1, "FINAL RANKING:\n1. Response C\n2. Response B\n3. Response A");
  reply(f, 1, 2, "no ranking here");
  reply_401(f, 1, 3);
  u = user_of(f, 2, 0);
  for (size_t i = 0; i < 4; i++) {
    const rl_call *c = call_of_step(run, 1, i);
    char line[256];
    int n =
        snprintf(line, sizeof(line), "### Reviewer %s\nIts labels: ", NAMES[i]);
    for (size_t k = 0; k < c->n_labels; k++)
      n += snprintf(line + n, sizeof(line) - (size_t)n, "%sResponse %c = %s",
                    k ? ", " : "", (int)('A' + k), NAMES[c->labels[k]]);
    expect_contains(u, line);
  }
  /* A failed ballot's text is still shown; a failed call says why. */
  expect_contains(u, "\nno ranking here\n");
  expect_contains(u, "(no review: http_error)\n");
  expect_contains(u, "Aggregate (score, higher is better):\n1. ");
  free(u);
  rl_run_cancel(run);
  run_end(run, f);
}

/* [INDEPENDENT, WEIGHTED_SYNTHESIS] with weights 1, 2 and 1. */
static rl_run *weighted_run(fake *f, int self_report, int expose) {
  rl_spec *spec = spec_make(
      3, 1, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_WEIGHTED_SYNTHESIS));
  rl_run *run;

  spec->seats[0].weight = 1;
  spec->seats[1].weight = 2;
  for (size_t i = 0; self_report && i < 3; i++)
    spec->seats[i].confidence = RL_CONF_SELF_REPORT;
  spec->rounds[1].expose_confidence = expose;
  run = make_run(f, spec);
  rl_run_start(run);
  return run;
}

Test(rounds_synthesis, weighted_synthesis_shows_normalized_weights) {
  fake *f = fake_new();
  rl_run *run = weighted_run(f, 0, 1);
  char *u;

  answer_step(f, run, 0);
  u = user_of(f, 1, 0);
  expect_contains(u, "### Member alpha (model-0) - weight 0.25\nANS-0\n\n"
                     "### Member bravo (model-1) - weight 0.50\nANS-1\n\n"
                     "### Member charlie (model-2) - weight 0.25\nANS-2\n");
  expect_lacks(u, "confidence");
  free(u);
  rl_run_cancel(run);
  run_end(run, f);
}

Test(rounds_synthesis, weight_zero_is_honoured) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(
      3, 1, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_WEIGHTED_SYNTHESIS));
  rl_run *run;
  char *u;

  spec->seats[1].weight = 2;
  spec->seats[2].weight = 0; /* answers, but counts for nothing */
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  u = user_of(f, 1, 0);
  expect_contains(u, "### Member alpha (model-0) - weight 0.33\nANS-0\n\n"
                     "### Member bravo (model-1) - weight 0.67\nANS-1\n\n"
                     "### Member charlie (model-2) - weight 0.00\nANS-2\n");
  free(u);
  rl_run_cancel(run);
  run_end(run, f);

  /* Every weight 0: nobody's answer outweighs another's. */
  f = fake_new();
  spec = spec_make(3, 1, 0,
                   KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_WEIGHTED_SYNTHESIS));
  for (size_t i = 0; i < 3; i++)
    spec->seats[i].weight = 0;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  u = user_of(f, 1, 0);
  expect_contains(u, "(model-0) - weight 0.00\n");
  expect_contains(u, "(model-2) - weight 0.00\n");
  free(u);
  rl_run_cancel(run);
  run_end(run, f);
}

Test(rounds_synthesis, weights_scale_by_confidence_which_is_shown_on_request) {
  fake *f = fake_new();
  rl_run *run = weighted_run(f, 1, 1);
  char *u;

  reply(f, 0, 0, "ANS-0\n{\"confidence\": 0.5}");
  reply(f, 0, 1, "ANS-1\n{\"confidence\": 1}");
  reply(f, 0, 2, "ANS-2"); /* none given: full weight, nothing shown */
  /* 0.5, 2 and 1 out of 3.5. */
  u = user_of(f, 1, 0);
  expect_contains(u, "### Member alpha (model-0) - weight 0.14, confidence "
                     "0.50\nANS-0\n\n### Member bravo (model-1) - weight "
                     "0.57, confidence 1.00\nANS-1\n\n### Member charlie "
                     "(model-2) - weight 0.29\nANS-2\n");
  free(u);
  rl_run_cancel(run);
  run_end(run, f);

  f = fake_new();
  run = weighted_run(f, 1, 0);
  reply(f, 0, 0, "ANS-0\n{\"confidence\": 0.5}");
  reply_401(f, 0, 1);
  reply(f, 0, 2, "ANS-2");
  u = user_of(f, 1, 0);
  /* Not exposed; a member without an answer has no weight. */
  expect_contains(u, "### Member alpha (model-0) - weight 0.33\nANS-0\n\n"
                     "### Member bravo (model-1)\n(no answer: http_error)\n\n"
                     "### Member charlie (model-2) - weight 0.67\nANS-2\n");
  expect_lacks(u, "confidence");
  free(u);
  rl_run_cancel(run);
  run_end(run, f);
}

/* --- Iteration ------------------------------------------------------------ */

/* Call i of the step answers "<prefix><i>". */
static void answer_with(fake *f, rl_run *run, size_t step, const char *prefix) {
  const rl_step *st = rl_run_step(run, step);

  cr_assert_not_null(st, "step %zu has not begun", step);
  for (size_t i = 0; i < st->n_calls; i++) {
    char text[64];
    snprintf(text, sizeof(text), "%s%zu", prefix, i);
    reply(f, step, i, text);
  }
}

static void expect_step(const rl_run *run, size_t step, size_t round,
                        unsigned iteration) {
  const rl_step *st = rl_run_step(run, step);

  cr_assert_not_null(st, "step %zu has not begun", step);
  cr_assert_eq(st->round, round, "step %zu is round %zu, want %zu", step,
               st->round, round);
  cr_assert_eq(st->iteration, iteration);
}

Test(rounds_iteration, max_iterations_bounds_the_steps) {
  fake *f = fake_new();
  rl_spec *spec =
      spec_make(2, 1, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_SYNTHESIS));
  rl_run *run;
  char *u;

  spec->rounds[0].max_iterations = 3;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_with(f, run, 0, "first-");
  answer_with(f, run, 1, "second-");
  answer_with(f, run, 2, "third-");
  cr_assert_eq(rl_run_n_steps(run), 4);
  for (unsigned it = 0; it < 3; it++)
    expect_step(run, it, 0, it);
  expect_step(run, 3, 1, 0);
  cr_assert_eq(events_of(f, RL_EV_ITERATION_DONE), 0);
  u = user_of(f, 3, 0);
  expect_contains(u, "### Member alpha (model-0)\nthird-0\n");
  expect_lacks(u, "second-");
  free(u);
  reply(f, 3, 0, "done");
  expect_completed(f, run);
  cr_assert_eq(events_of(f, RL_EV_ROUND_STARTED), 4);
  run_end(run, f);
}

Test(rounds_iteration, unchanged_answers_stop_the_iteration) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(
      2, 1, 0,
      KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_PEER_REVIEW, RL_ROUND_SYNTHESIS));
  rl_run *run;
  char *u;

  spec->rounds[1].max_iterations = 6;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_with(f, run, 0, "a");
  reply_each(f, 1, (const char *const[]){"b0", "b1"}, 2);
  /* Iteration 1 reads iteration 0's answers. */
  u = user_of(f, 2, 0);
  expect_contains(u, "### bravo\nb1\n");
  expect_lacks(u, "a1");
  free(u);
  reply_each(f, 2, (const char *const[]){"b0", "c1"}, 2); /* bravo moved */
  expect_step(run, 3, 1, 2);
  /* Only whitespace changed: converged. */
  reply_each(f, 3, (const char *const[]){"  b0\n", "c1 \n\n"}, 2);
  cr_assert_eq(rl_run_n_steps(run), 5);
  expect_step(run, 4, 2, 0);
  reply(f, 4, 0, "done");
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_iteration, ask_until_waits_for_the_owner_each_iteration) {
  fake *f = fake_new();
  rl_spec *spec =
      spec_make(2, 1, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_SYNTHESIS));
  rl_run *run;
  size_t n_calls;

  spec->rounds[0].max_iterations = 5;
  spec->rounds[0].ask_until = 1;
  run = make_run(f, spec);
  cr_assert_eq(rl_run_continue(run, 0, 0), -1, "not started");
  rl_run_start(run);
  cr_assert_eq(rl_run_continue(run, 0, 0), -1, "the step is still running");
  answer_with(f, run, 0, "same-");
  expect_last(f, RL_EV_ITERATION_DONE, 0);
  n_calls = f->n_calls;
  cr_assert_eq(rl_run_n_steps(run), 1, "nothing moves while it waits");
  cr_assert_eq(rl_run_continue(run, 1, 0), -1, "no such step");
  cr_assert_eq(rl_run_continue(run, 0, 0), 0);
  cr_assert_eq(rl_run_continue(run, 0, 0), -1, "answered already");
  expect_step(run, 1, 0, 1);
  cr_assert_eq(f->n_calls, n_calls + 2);
  /* The same answers again: the owner decides, not convergence. */
  answer_with(f, run, 1, "same-");
  expect_last(f, RL_EV_ITERATION_DONE, 1);
  cr_assert_eq(rl_run_continue(run, 1, 1), 0);
  cr_assert_eq(rl_run_n_steps(run), 3);
  expect_step(run, 2, 1, 0);
  reply(f, 2, 0, "done");
  expect_completed(f, run);
  cr_assert_eq(events_of(f, RL_EV_ITERATION_DONE), 2);
  run_end(run, f);
}

Test(rounds_iteration, the_last_iteration_does_not_ask) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(2, 0, 0, KINDS(RL_ROUND_INDEPENDENT));
  rl_run *run;

  spec->rounds[0].max_iterations = 2;
  spec->rounds[0].ask_until = 1;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_with(f, run, 0, "x");
  cr_assert_eq(rl_run_continue(run, 0, 0), 0);
  answer_with(f, run, 1, "y");
  cr_assert_eq(events_of(f, RL_EV_ITERATION_DONE), 1);
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_iteration, min_confidence_stops_once_reached_and_trailers_go) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(2, 0, 0, KINDS(RL_ROUND_INDEPENDENT));
  rl_run *run;
  const rl_call *c;
  char *sys, *want;

  for (size_t i = 0; i < 2; i++)
    spec->seats[i].confidence = RL_CONF_SELF_REPORT;
  set_str(&spec->seats[1].system_prompt, "Be brief.");
  spec->rounds[0].max_iterations = 6;
  spec->rounds[0].min_confidence = 0.8;
  run = make_run(f, spec);
  rl_run_start(run);
  sys = system_of(f, 0, 0);
  cr_assert_str_eq(sys, CONFIDENCE_SELF_REPORT_INSTRUCTION);
  free(sys);
  sys = system_of(f, 0, 1);
  want = strf("Be brief.\n\n%s", CONFIDENCE_SELF_REPORT_INSTRUCTION);
  cr_assert_str_eq(sys, want);
  free(want);
  free(sys);

  reply(f, 0, 0, "The Nile\n{\"confidence\": 0.5}");
  reply(f, 0, 1, "The Nile\n{\"confidence\": 0.6}");
  cr_assert_float_eq(rl_run_step(run, 0)->mean_confidence, 0.55, 1e-12);
  /* Unchanged answers, but the confidence is short: it goes on (the
   * confidence rule replaces convergence). */
  reply(f, 1, 0, "The Nile\n{\"confidence\": 0.5}");
  reply(f, 1, 1, "The Nile\n{\"confidence\": 0.6}");
  cr_assert_eq(rl_run_n_steps(run), 3);
  reply(f, 2, 0, "The Nile\n{\"confidence\": 0.9}");
  reply(f, 2, 1,
        "The Nile, in Africa.\n\n```json\n{\"confidence\": 0.95}\n```\n");
  expect_completed(f, run);
  cr_assert_eq(rl_run_n_steps(run), 3);
  cr_assert_float_eq(rl_run_step(run, 2)->mean_confidence, 0.925, 1e-12);
  c = call_of_step(run, 2, 0);
  cr_assert_str_eq(c->resp.content, "The Nile");
  cr_assert_eq(c->resp.content_len, 8);
  cr_assert_float_eq(c->confidence, 0.9, 1e-12);
  c = call_of_step(run, 2, 1);
  cr_assert_str_eq(c->resp.content, "The Nile, in Africa.");
  cr_assert_eq(c->resp.content_len, strlen("The Nile, in Africa."));
  run_end(run, f);
}

Test(rounds_iteration, unusable_or_missing_confidence_never_stops_early) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(1, 0, 0, KINDS(RL_ROUND_INDEPENDENT));
  rl_run *run;
  const rl_call *c;

  spec->seats[0].confidence = RL_CONF_SELF_REPORT;
  spec->rounds[0].max_iterations = 3;
  spec->rounds[0].min_confidence = 0.5;
  run = make_run(f, spec);
  rl_run_start(run);
  reply(f, 0, 0, "Amazon\n{\"confidence\": 80}");
  c = call_of_step(run, 0, 0);
  cr_assert_str_eq(c->resp.content, "Amazon", "an unusable trailer is cut too");
  cr_assert(isnan(c->confidence));
  cr_assert(isnan(rl_run_step(run, 0)->mean_confidence));
  reply(f, 1, 0, "Amazon {\"confidence\": 0.9}"); /* not on its own line */
  cr_assert(isnan(call_of_step(run, 1, 0)->confidence));
  reply(f, 2, 0, "Amazon");
  expect_completed(f, run);
  cr_assert_eq(rl_run_n_steps(run), 3);
  run_end(run, f);
}

/* --- Pairwise ------------------------------------------------------------- */

/* Five members and a judge-only seat (seat 5), [INDEPENDENT, PAIRWISE]. */
static rl_spec *bracket_spec(int ask_judge) {
  rl_spec *spec =
      spec_make(5, 0, 1, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_PAIRWISE));

  spec->rounds[1].max_iterations = 8;
  spec->rounds[1].ask_judge = ask_judge;
  spec->rounds[1].judge_seat = ask_judge ? 0 : 5;
  return spec;
}

static void expect_pairs(const rl_run *run, size_t step, const size_t *pairs,
                         size_t n_pairs) {
  const rl_step *st = rl_run_step(run, step);

  cr_assert_not_null(st);
  cr_assert_eq(st->n_calls, n_pairs);
  for (size_t i = 0; i < n_pairs; i++) {
    cr_assert_eq(st->calls[i].pair_a, pairs[2 * i]);
    cr_assert_eq(st->calls[i].pair_b, pairs[2 * i + 1]);
  }
}

static void expect_alive(const rl_run *run, size_t step, const char *want) {
  const rl_step *st = rl_run_step(run, step);

  cr_assert_not_null(st->alive);
  for (size_t s = 0; s < 5; s++)
    cr_assert_eq(st->alive[s], want[s] == '1', "step %zu seat %zu alive %d",
                 step, s, st->alive[s]);
}

Test(rounds_pairwise, a_bracket_of_five_with_byes_down_to_one) {
  fake *f = fake_new();
  rl_spec *spec = bracket_spec(0);
  rl_run *run;
  char *u, *sys;

  set_str(&spec->seats[5].system_prompt, "Judge strictly.");
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  expect_pairs(run, 1, (size_t[]){0, 1, 2, 3}, 2);
  cr_assert_eq(rl_run_step(run, 1)->n_cands, 5);
  for (size_t i = 0; i < 2; i++)
    cr_assert_eq(started_at(f, 1, i)->seat, 5, "the judge seat is called");
  /* A judge seat of its own keeps its own system prompt. */
  sys = system_of(f, 1, 0);
  cr_assert_str_eq(sys, "Judge strictly.");
  free(sys);
  reply(f, 1, 0, "{\"choice\":\"B\"}");
  reply(f, 1, 1, "{\"choice\": \"B\", \"rationale\": \"clearer\"}");
  cr_assert_eq(call_of_step(run, 1, 0)->choice, 1);
  expect_alive(run, 1, "01011"); /* 1, 3 won; 4 had a bye */
  cr_assert_eq(rl_run_step(run, 1)->winner, -1);

  expect_step(run, 2, 1, 1);
  expect_pairs(run, 2, (size_t[]){1, 3}, 1);
  u = user_of(f, 2, 0);
  expect_contains(u, "### Answer A\nANS-1\n\n### Answer B\nANS-3\n");
  free(u);
  reply(f, 2, 0, "{\"winner\": \"A\"}");
  cr_assert_eq(call_of_step(run, 2, 0)->choice, 0);
  expect_alive(run, 2, "01001");

  expect_pairs(run, 3, (size_t[]){1, 4}, 1);
  reply(f, 3, 0, "WINNER: B");
  expect_alive(run, 3, "00001");
  cr_assert_eq(rl_run_step(run, 3)->winner, 4);
  expect_completed(f, run);
  cr_assert_eq(rl_run_n_steps(run), 4, "one left: no more levels");
  run_end(run, f);
}

Test(rounds_pairwise, failed_or_unreadable_judges_let_pair_a_through) {
  fake *f = fake_new();
  rl_run *run = make_run(f, bracket_spec(0));
  const rl_call *c;

  rl_run_start(run);
  answer_step(f, run, 0);
  reply_401(f, 1, 0);
  reply(f, 1, 1, "Both are good, really.");
  c = call_of_step(run, 1, 1);
  cr_assert_eq(c->status, RL_SEAT_FAILED);
  cr_assert_str_eq(c->err.reason, "invalid_output");
  cr_assert_str_eq(c->ballot_error, "unparseable");
  expect_alive(run, 1, "10101");
  /* The run goes on: a failed judgement is no quorum failure. */
  expect_pairs(run, 2, (size_t[]){0, 2}, 1);
  reply(f, 2, 0, "{\"choice\": \"A\", \"winner\": \"B\"}"); /* contradicts */
  expect_alive(run, 2, "10001");
  reply(f, 3, 0, "{\"choice\": \"C\"}");
  expect_alive(run, 3, "10000");
  cr_assert_eq(rl_run_step(run, 3)->winner, 0);
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_pairwise, a_judge_function_is_asked_through_events) {
  fake *f = fake_new();
  rl_run *run = make_run(f, bracket_spec(1));
  const event_rec *e;
  size_t n_calls;

  rl_run_start(run);
  answer_step(f, run, 0);
  n_calls = f->n_calls;
  cr_assert_eq(events_of(f, RL_EV_JUDGE_NEEDED), 2);
  e = &f->events[f->n_events - 2];
  cr_assert(e->type == RL_EV_JUDGE_NEEDED && e->round == 1 && e->index == 0 &&
            e->pair_a == 0 && e->pair_b == 1);
  e = &f->events[f->n_events - 1];
  cr_assert(e->type == RL_EV_JUDGE_NEEDED && e->index == 1 && e->pair_a == 2 &&
            e->pair_b == 3);
  cr_assert_eq(f->n_calls, n_calls, "no request goes out for a judge function");

  cr_assert_eq(rl_run_judged(run, 1, 0, 2), -1, "bad verdict");
  cr_assert_eq(rl_run_judged(run, 1, 2, 0), -1, "no such pair");
  cr_assert_eq(rl_run_judged(run, 0, 0, 0), -1, "not the current step");
  cr_assert_eq(rl_run_continue(run, 1, 1), -1, "judges still pending");
  cr_assert_eq(rl_run_judged(run, 1, 0, 1), 0);
  cr_assert_eq(rl_run_judged(run, 1, 0, 0), -1, "judged already");
  cr_assert_eq(rl_run_n_steps(run), 2, "the other pair is still waiting");
  cr_assert_eq(rl_run_judged(run, 1, 1, -1), 0);
  cr_assert_eq(call_of_step(run, 1, 0)->status, RL_SEAT_OK);
  cr_assert_eq(call_of_step(run, 1, 0)->choice, 1);
  cr_assert_eq(call_of_step(run, 1, 1)->status, RL_SEAT_FAILED);
  cr_assert_str_eq(call_of_step(run, 1, 1)->err.reason, "judge_failed");
  expect_alive(run, 1, "01101");

  expect_pairs(run, 2, (size_t[]){1, 2}, 1);
  cr_assert_eq(rl_run_judged(run, 2, 0, 0), 0);
  expect_pairs(run, 3, (size_t[]){1, 4}, 1);
  cr_assert_eq(rl_run_judged(run, 3, 0, 1), 0);
  cr_assert_eq(rl_run_step(run, 3)->winner, 4);
  expect_completed(f, run);
  cr_assert_eq(f->n_calls, n_calls);
  run_end(run, f);
}

Test(rounds_pairwise, the_bracket_reaches_the_chair) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(
      3, 1, 0,
      KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_PAIRWISE, RL_ROUND_SYNTHESIS));
  rl_run *run;
  char *u;

  spec->rounds[1].judge_seat = 3;
  spec->rounds[1].max_iterations = 4;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  reply(f, 1, 0, "{\"choice\": \"B\"}"); /* bravo beats alpha; charlie's bye */
  reply_401(f, 2, 0);                    /* bravo goes on */
  expect_step(run, 3, 2, 0);
  u = user_of(f, 3, 0);
  expect_contains(u, "\n## Tournament bracket\nbravo beat alpha\n");
  expect_contains(u, "\n## Tournament bracket\nbravo beat charlie (judge "
                     "failed: first of the pair advanced)\n");
  free(u);
  reply(f, 3, 0, "done");
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_pairwise, a_lone_candidate_wins_without_a_judgement) {
  fake *f = fake_new();
  rl_spec *spec = bracket_spec(0);
  rl_run *run;

  spec->n_members = 2; /* seats 2..4 become judge-only seats */
  run = make_run(f, spec);
  rl_run_start(run);
  reply(f, 0, 0, "ANS-0");
  reply_401(f, 0, 1);
  cr_assert_eq(rl_run_step(run, 1)->n_calls, 0);
  cr_assert_eq(rl_run_step(run, 1)->winner, 0);
  cr_assert_eq(f->n_calls, 2, "no judge was called");
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_pairwise, cancel_while_the_judge_function_decides) {
  fake *f = fake_new();
  rl_run *run = make_run(f, bracket_spec(1));
  size_t from;

  rl_run_start(run);
  answer_step(f, run, 0);
  cr_assert_eq(rl_run_judged(run, 1, 0, 0), 0);
  from = f->n_events;
  rl_run_cancel(run);
  cr_assert_eq(f->n_events, from + 2, "the pending pair, then the run");
  cr_assert(f->events[from].type == RL_EV_MEMBER_COMPLETED &&
            f->events[from].index == 1 &&
            f->events[from].status == RL_SEAT_FAILED);
  cr_assert_str_eq(f->events[from].err_reason, "cancelled");
  expect_last(f, RL_EV_RUN_CANCELLED, 1);
  cr_assert_eq(f->n_cancelled, 0, "no transfer was running");
  cr_assert_eq(rl_run_judged(run, 1, 1, 0), -1);
  run_end(run, f);
}

/* --- Router and custom rounds -------------------------------------------- */

Test(rounds_router, the_owner_picks_who_sits) {
  fake *f = fake_new();
  rl_spec *spec =
      spec_make(3, 1, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_SYNTHESIS));
  rl_run *run;
  size_t from;
  char *u;

  spec->rounds[0].ask_seats = 1;
  run = make_run(f, spec);
  rl_run_start(run);
  cr_assert_eq(f->n_events, 2);
  cr_assert_eq(f->events[0].type, RL_EV_ROUND_STARTED);
  expect_last(f, RL_EV_SEATS_NEEDED, 0);
  cr_assert_eq(f->n_calls, 0, "nothing starts before the router answers");

  cr_assert_eq(rl_run_seats(run, 0, (unsigned char[]){1, 0}, NULL, NULL, 2), -1,
               "one flag per member");
  cr_assert_eq(rl_run_seats(run, 1, (unsigned char[]){1, 0, 1}, NULL, NULL, 3),
               -1, "no such step");
  from = f->n_events;
  cr_assert_eq(rl_run_seats(run, 0, (unsigned char[]){1, 0, 1}, NULL, NULL, 3),
               0);
  cr_assert_eq(rl_run_seats(run, 0, (unsigned char[]){1, 1, 1}, NULL, NULL, 3),
               -1, "answered already");
  cr_assert_eq(f->n_events, from + 3);
  cr_assert(f->events[from].type == RL_EV_MEMBER_STARTED &&
            f->events[from].seat == 0);
  cr_assert(f->events[from + 1].type == RL_EV_MEMBER_COMPLETED &&
            f->events[from + 1].seat == 1 &&
            f->events[from + 1].status == RL_SEAT_SKIPPED);
  cr_assert(f->events[from + 2].type == RL_EV_MEMBER_STARTED &&
            f->events[from + 2].seat == 2);
  cr_assert_eq(f->n_calls, 2);
  cr_assert(!was_started(f, 0, 1), "a skipped seat is never started");
  cr_assert_eq(rl_run_call(run, 0, 1)->status, RL_SEAT_SKIPPED);

  reply(f, 0, 0, "ANS-0");
  reply(f, 0, 2, "ANS-2");
  u = user_of(f, 1, 0);
  expect_contains(u, "### Member bravo (model-1)\n(no answer: not run)\n");
  free(u);
  reply(f, 1, 0, "done");
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_router, seating_nobody_fails_the_step) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(2, 0, 0, KINDS(RL_ROUND_INDEPENDENT));
  rl_run *run;

  spec->rounds[0].ask_seats = 1;
  run = make_run(f, spec);
  rl_run_start(run);
  cr_assert_eq(rl_run_seats(run, 0, (unsigned char[]){0, 0}, NULL, NULL, 2), 0);
  cr_assert_eq(f->n_calls, 0);
  cr_assert_eq(events_of(f, RL_EV_MEMBER_COMPLETED), 2);
  expect_failed_run(f, run, "no_member_succeeded");
  run_end(run, f);
}

Test(rounds_router, custom_texts_become_the_user_message) {
  fake *f = fake_new();
  rl_spec *spec =
      spec_make(3, 0, 0, KINDS(RL_ROUND_CUSTOM, RL_ROUND_PEER_REVIEW));
  rl_run *run;
  const char *texts[] = {"Hi alpha: name a river.", NULL, "Hi charlie"};
  const char *bad[] = {"ok", "caf\xc3", "ok"};
  size_t lens[] = {strlen(texts[0]), 0, strlen(texts[2])};
  size_t bad_lens[] = {2, 4, 2};
  char *u;

  run = make_run(f, spec);
  rl_run_start(run);
  expect_last(f, RL_EV_SEATS_NEEDED, 0);
  cr_assert_eq(rl_run_seats(run, 0, (unsigned char[]){1, 1, 1}, NULL, NULL, 3),
               -1, "a custom round needs its texts");
  cr_assert_eq(rl_run_seats(run, 0, NULL, bad, bad_lens, 3), -1,
               "texts must be UTF-8");
  cr_assert_eq(f->n_calls, 0);
  cr_assert_eq(rl_run_seats(run, 0, NULL, texts, lens, 3), 0);
  cr_assert_eq(f->n_calls, 2);
  u = user_of(f, 0, 0);
  cr_assert_str_eq(u, "Hi alpha: name a river.");
  free(u);
  u = user_of(f, 0, 2);
  cr_assert_str_eq(u, "Hi charlie");
  free(u);
  cr_assert_eq(rl_run_call(run, 0, 1)->status, RL_SEAT_SKIPPED);
  /* Custom answers are answers: the next round reads them. */
  answer_step(f, run, 0);
  u = user_of(f, 1, 1);
  expect_contains(u, "### alpha\nANS-0\n\n### charlie\nANS-2\n");
  free(u);
  answer_step(f, run, 1);
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_router, a_router_on_a_review_seats_judges_after_labels) {
  fake *f = fake_new();
  rl_spec *spec = anon_spec(3, RL_ORDER_STABLE, 0, 1);
  rl_run *run;

  spec->rounds[1].ask_seats = 1;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  expect_last(f, RL_EV_SEATS_NEEDED, 1);
  cr_assert_eq(call_of_step(run, 1, 0)->n_labels, 2, "labels are dealt first");
  cr_assert_eq(rl_run_seats(run, 1, (unsigned char[]){0, 1, 0}, NULL, NULL, 3),
               0);
  cr_assert_eq(f->n_calls, 4);
  cr_assert_eq(started_at(f, 1, 1)->seat, 1);
  reply(f, 1, 1, "FINAL RANKING:\n1. Response B\n2. Response A");
  expect_completed(f, run);
  cr_assert_eq(rl_run_step(run, 1)->winner, 2);
  run_end(run, f);
}

Test(rounds_router, the_router_is_asked_before_every_iteration) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(2, 0, 0, KINDS(RL_ROUND_INDEPENDENT));
  rl_run *run;

  spec->rounds[0].max_iterations = 2;
  spec->rounds[0].ask_seats = 1;
  run = make_run(f, spec);
  rl_run_start(run);
  cr_assert_eq(rl_run_seats(run, 0, (unsigned char[]){1, 1}, NULL, NULL, 2), 0);
  answer_with(f, run, 0, "x");
  expect_last(f, RL_EV_SEATS_NEEDED, 1);
  cr_assert_eq(rl_run_seats(run, 1, (unsigned char[]){0, 1}, NULL, NULL, 2), 0);
  cr_assert(!was_started(f, 1, 0));
  reply(f, 1, 1, "y");
  expect_completed(f, run);
  cr_assert_eq(events_of(f, RL_EV_SEATS_NEEDED), 2);
  run_end(run, f);
}

Test(rounds_router, cancel_while_waiting_for_seats) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(2, 0, 0, KINDS(RL_ROUND_CUSTOM));
  rl_run *run = make_run(f, spec);
  const char *texts[] = {"a", "b"};
  size_t lens[] = {1, 1};

  rl_run_start(run);
  rl_run_cancel(run);
  expect_last(f, RL_EV_RUN_CANCELLED, 0);
  cr_assert_eq(events_of(f, RL_EV_MEMBER_COMPLETED), 0, "nobody was seated");
  cr_assert_eq(rl_run_seats(run, 0, NULL, texts, lens, 2), -1);
  cr_assert_eq(f->n_calls, 0);
  run_end(run, f);
}

Test(rounds_router, a_judge_with_nothing_to_judge_sits_out) {
  fake *f = fake_new();
  rl_run *run = make_run(f, anon_spec(3, RL_ORDER_STABLE, 0, 1));

  rl_run_start(run);
  reply(f, 0, 0, "ANS-0");
  reply_401(f, 0, 1);
  reply_401(f, 0, 2);
  /* Alpha's is the only answer: alpha has nothing of others' to rank. */
  cr_assert_eq(rl_run_call(run, 1, 0)->status, RL_SEAT_SKIPPED);
  cr_assert(!was_started(f, 1, 0));
  reply(f, 1, 1, "FINAL RANKING:\n1. Response A");
  reply(f, 1, 2, "FINAL RANKING:\n1. Response A");
  cr_assert_eq(rl_run_step(run, 1)->winner, 0);
  expect_completed(f, run);
  run_end(run, f);
}

/* --- Quorum and chair fallback -------------------------------------------- */

Test(rounds_quorum, too_few_successes_fail_the_run) {
  fake *f = fake_new();
  rl_spec *spec = spec_make(3, 0, 0, KINDS(RL_ROUND_INDEPENDENT));
  rl_run *run;

  spec->rounds[0].quorum = 2;
  run = make_run(f, spec);
  rl_run_start(run);
  reply(f, 0, 0, "ANS-0");
  reply_401(f, 0, 1);
  reply_401(f, 0, 2);
  expect_failed_run(f, run, "quorum_not_met");
  cr_assert_eq(f->events[f->n_events - 2].type, RL_EV_ROUND_COMPLETED);
  cr_assert_str_eq(rl_run_step(run, 0)->failure, "quorum_not_met");
  run_end(run, f);

  f = fake_new();
  spec = spec_make(3, 0, 0, KINDS(RL_ROUND_INDEPENDENT));
  spec->rounds[0].quorum = 2;
  run = make_run(f, spec);
  rl_run_start(run);
  reply(f, 0, 0, "ANS-0");
  reply_401(f, 0, 1);
  reply(f, 0, 2, "ANS-2");
  expect_completed(f, run);
  run_end(run, f);
}

Test(rounds_quorum, unreadable_ballots_do_not_count_toward_quorum) {
  fake *f = fake_new();
  rl_spec *spec = anon_spec(3, RL_ORDER_STABLE, 0, 1);
  rl_run *run;

  spec->rounds[1].quorum = 3;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  reply(f, 1, 0, "FINAL RANKING:\n1. Response A\n2. Response B");
  reply(f, 1, 1, "FINAL RANKING:\n1. Response A\n2. Response B");
  reply(f, 1, 2, "FINAL RANKING:\n1. Response A");
  expect_failed_run(f, run, "quorum_not_met");
  run_end(run, f);
}

/* [INDEPENDENT, SYNTHESIS] over 3 members; chair fallbacks bravo, alpha. */
static rl_run *fallback_run(fake *f, const char *chair_prompt) {
  rl_spec *spec =
      spec_make(3, 1, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_SYNTHESIS));

  set_str(&spec->seats[3].system_prompt, chair_prompt);
  set_str(&spec->seats[1].system_prompt, "Be terse.");
  spec->chair_fallback = calloc(2, sizeof(size_t));
  cr_assert_not_null(spec->chair_fallback);
  spec->chair_fallback[0] = 1;
  spec->chair_fallback[1] = 0;
  spec->n_chair_fallback = 2;
  return make_run(f, spec);
}

Test(rounds_quorum, a_failed_chair_hands_over_to_the_next_fallback) {
  fake *f = fake_new();
  rl_run *run = fallback_run(f, "You chair the council.");
  char *chair_user, *u, *sys, *model;
  size_t from;

  rl_run_start(run);
  answer_step(f, run, 0);
  cr_assert_eq(rl_run_step(run, 1)->n_calls, 3);
  cr_assert_eq(rl_run_step(run, 1)->n_started, 1, "fallbacks wait their turn");
  cr_assert_eq(started_at(f, 1, 0)->seat, 3);
  chair_user = user_of(f, 1, 0);
  from = f->n_events;
  reply_401(f, 1, 0);
  cr_assert_eq(f->n_events, from + 2);
  cr_assert(f->events[from].type == RL_EV_MEMBER_COMPLETED &&
            f->events[from].seat == 3 &&
            f->events[from].status == RL_SEAT_FAILED);
  cr_assert(f->events[from + 1].type == RL_EV_MEMBER_STARTED &&
            f->events[from + 1].seat == 1);

  /* Bravo writes the chair's synthesis: the chair's prompts, its model. */
  cr_assert_eq(started_at(f, 1, 1)->seat, 1);
  u = user_of(f, 1, 1);
  cr_assert_str_eq(u, chair_user);
  sys = system_of(f, 1, 1);
  cr_assert_str_eq(sys, "You chair the council.");
  model = model_of(f, 1, 1);
  cr_assert_str_eq(model, "model-1");
  free(model);
  free(sys);
  free(u);
  free(chair_user);
  reply(f, 1, 1, "The Nile.");
  expect_completed(f, run);
  cr_assert(!was_started(f, 1, 2), "alpha was never needed");
  cr_assert_eq(rl_run_call(run, 1, 1)->status, RL_SEAT_OK);
  cr_assert_eq(rl_run_call(run, 1, 3)->status, RL_SEAT_FAILED);
  run_end(run, f);
}

Test(rounds_quorum, every_fallback_failing_is_chair_failed) {
  fake *f = fake_new();
  rl_run *run = fallback_run(f, "You chair the council.");

  rl_run_start(run);
  answer_step(f, run, 0);
  reply_401(f, 1, 0);
  reply_401(f, 1, 1);
  cr_assert_eq(started_at(f, 1, 2)->seat, 0);
  cr_assert_not(rl_run_finished(run));
  reply_401(f, 1, 2);
  expect_failed_run(f, run, "chair_failed");
  cr_assert_eq(f->n_calls, 6);
  run_end(run, f);
}

Test(rounds_quorum, a_chair_without_a_prompt_lends_the_default_to_fallbacks) {
  fake *f = fake_new();
  rl_run *run = fallback_run(f, NULL);
  char *sys;

  rl_run_start(run);
  answer_step(f, run, 0);
  reply_401(f, 1, 0);
  sys = system_of(f, 1, 1);
  cr_assert_not_null(sys);
  expect_contains(sys, "You are the chair of an LLM council.");
  expect_lacks(sys, "Be terse.");
  free(sys);
  rl_run_cancel(run);
  run_end(run, f);
}

/* --- Spec checks ---------------------------------------------------------- */

static void expect_rejected(rl_spec *spec, const char *fragment) {
  char why[200] = "";

  cr_assert_eq(rl_spec_check(spec, why, sizeof(why)), -1,
               "accepted, expected \"%s\"", fragment);
  cr_assert_not_null(strstr(why, fragment), "why = \"%s\", want \"%s\"", why,
                     fragment);
  rl_spec_free(spec);
}

static void expect_accepted(rl_spec *spec) {
  char why[200] = "";

  cr_assert_eq(rl_spec_check(spec, why, sizeof(why)), 0, "%s", why);
  rl_spec_free(spec);
}

Test(rounds_spec, pairwise_needs_a_judge_seat_or_function) {
  rl_spec *spec = bracket_spec(0);

  spec->rounds[1].judge_seat = 2; /* a member */
  expect_rejected(spec, "round 1 has no judge");
  spec = bracket_spec(0);
  spec->rounds[1].judge_seat = 6; /* past the seats */
  expect_rejected(spec, "round 1 has no judge");
  spec = spec_make(3, 0, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_PAIRWISE));
  expect_rejected(spec, "no judge"); /* judge_seat 0 */
  expect_accepted(bracket_spec(0));
  expect_accepted(bracket_spec(1));
  spec = spec_make(3, 1, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_PAIRWISE));
  spec->rounds[1].judge_seat = 3; /* the chair */
  expect_accepted(spec);
}

/* A one-member council of one round, for a test to spoil. */
static rl_spec *one_round(void) {
  return spec_make(1, 0, 0, KINDS(RL_ROUND_INDEPENDENT));
}

Test(rounds_spec, bad_round_options_are_rejected) {
  rl_spec *spec;

  spec = one_round();
  spec->rounds[0].kind = (rl_round_kind)42;
  expect_rejected(spec, "round 0 has an unknown kind");
  spec = one_round();
  spec->rounds[0].aggregator = (rl_agg_kind)7;
  expect_rejected(spec, "round 0 has an unknown option");
  spec = one_round();
  spec->rounds[0].order = (rl_order)3;
  expect_rejected(spec, "unknown option");
  spec = one_round();
  spec->rounds[0].tie = 3;
  expect_rejected(spec, "unknown option");
  spec = one_round();
  spec->rounds[0].tie = -1;
  expect_rejected(spec, "unknown option");
  spec = one_round();
  spec->rounds[0].min_confidence = 1.5;
  expect_rejected(spec, "bad min_confidence");
  spec = one_round();
  spec->rounds[0].min_confidence = NAN;
  expect_rejected(spec, "bad min_confidence");
  spec = one_round();
  spec->rounds[0].min_confidence = INFINITY;
  expect_rejected(spec, "bad min_confidence");
  spec = one_round();
  spec->rounds[0].min_confidence = 1.0;
  expect_accepted(spec);
}

Test(rounds_spec, bad_vote_options_are_rejected) {
  rl_spec *spec = one_round();

  spec->rounds[0].kind = RL_ROUND_VOTE;
  spec->rounds[0].n_options = 2; /* and no array */
  expect_rejected(spec, "round 0 has a missing option");
  for (int v = 0; v < 3; v++) {
    spec = one_round();
    spec->rounds[0].kind = RL_ROUND_VOTE;
    spec->rounds[0].n_options = 2;
    spec->rounds[0].options = calloc(2, sizeof(char *));
    cr_assert_not_null(spec->rounds[0].options);
    spec->rounds[0].options[0] = fake_copy_str("yes");
    spec->rounds[0].options[1] = v == 0   ? fake_copy_str("")
                                 : v == 1 ? fake_copy_str("n\xc3o")
                                          : NULL;
    expect_rejected(spec, "round 0 has an empty or non-UTF-8 option");
  }
}

Test(rounds_spec, bad_weights_and_fallbacks_are_rejected) {
  rl_spec *spec = one_round();

  spec->seats[0].weight = -1;
  expect_rejected(spec, "seat alpha has a bad weight");
  spec = one_round();
  spec->seats[0].weight = NAN;
  expect_rejected(spec, "bad weight");
  spec = spec_make(2, 1, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_SYNTHESIS));
  spec->chair_fallback = calloc(1, sizeof(size_t));
  cr_assert_not_null(spec->chair_fallback);
  spec->chair_fallback[0] = 2; /* the chair itself */
  spec->n_chair_fallback = 1;
  expect_rejected(spec, "a chair fallback is not a member");
  spec = spec_make(2, 1, 0, KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_SYNTHESIS));
  spec->n_chair_fallback = 1; /* no array */
  expect_rejected(spec, "a chair fallback is not a member");
}

/* --- Hostile ballots ------------------------------------------------------ */

/* A malloc'd text made of `head`, then `unit` repeated until `size` bytes,
 * then `tail`. */
static char *repeated(const char *head, const char *unit, size_t size,
                      const char *tail) {
  size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
  char *s = malloc(hl + size + ul + tl + 1), *p = s;

  cr_assert_not_null(s);
  memcpy(p, head, hl);
  p += hl;
  for (size_t n = 0; n < size; n += ul, p += ul)
    memcpy(p, unit, ul);
  memcpy(p, tail, tl + 1);
  return s;
}

/* An anonymized review (3 members, stable labels) whose judge 0 answers
 * with the raw HTTP body `body` and the others with good ballots: whatever
 * the body, the call ends OK or FAILED and the run completes. */
static void hostile_review_body(const char *body, size_t len,
                                const char *want_reason) {
  fake *f = fake_new();
  rl_run *run = make_run(f, anon_spec(3, RL_ORDER_STABLE, 0, 3));
  const rl_call *c;

  rl_run_start(run);
  answer_step(f, run, 0);
  done_raw(call_at(f, 1, 0), 200, body, len);
  /* Both put alpha (their Response A) first. */
  reply(f, 1, 1, "FINAL RANKING:\n1. Response A\n2. Response B");
  reply(f, 1, 2, "FINAL RANKING:\n1. Response A\n2. Response B");
  c = call_of_step(run, 1, 0);
  cr_assert(c->status == RL_SEAT_OK || c->status == RL_SEAT_FAILED);
  if (want_reason) {
    cr_assert_eq(c->status, RL_SEAT_FAILED);
    cr_assert_str_eq(c->err.reason, want_reason);
  }
  if (c->status == RL_SEAT_OK)
    cr_assert_eq(c->n_ordering, 2);
  expect_completed(f, run);
  cr_assert_eq(rl_run_step(run, 1)->winner, 0, "alpha wins in any case");
  run_end(run, f);
}

static void hostile_review(const char *text, const char *want_reason) {
  char *body = ok_body(text);

  hostile_review_body(body, strlen(body), want_reason);
  free(body);
}

Test(rounds_hostile, huge_and_garbage_rankings_never_crash) {
  char *s;

  s = repeated("FINAL RANKING:\n", "1. Response A\n", 1 << 20, "");
  hostile_review(s, "invalid_output"); /* repeats dropped: B is missing */
  free(s);
  s = repeated("FINAL RANKING:\n", "1. Response A\n", 1 << 20,
               "2. Response B\n");
  hostile_review(s, NULL);
  free(s);
  s = repeated("", "[", 1 << 20, "");
  hostile_review(s, "invalid_output");
  free(s);
  s = repeated("```json\n", "{\"ranking\": ", 1 << 18, "");
  hostile_review(s, "invalid_output");
  free(s);
  s = repeated("", "Response A Response B ", 1 << 18, "");
  hostile_review(s, "invalid_output"); /* prose is no ranking */
  free(s);
  hostile_review("", "invalid_output");
  hostile_review("FINAL RANKING:\n1. Response ZZZZZZZZZZZZZZZZZZZZZZZZZZZ\n2. "
                 "Response AB\n",
                 "invalid_output");
  hostile_review("FINAL RANKING:\n99999999999999999999999999. Response B\n-1. "
                 "Response A\n",
                 NULL);
  hostile_review("{\"ranking\": [1, null, {\"a\": []}, \"Response B\", "
                 "\"Response A\", \"Response B\"]}",
                 NULL);
  hostile_review("```json\n[\"Response A\", \"Response B\"", NULL);
  hostile_review("FINAL RANKING:\n1. Response \xe2\x80\x8b"
                 "A\n2. Response B",
                 NULL);
}

Test(rounds_hostile, raw_bodies_never_crash) {
  static const char invalid_utf8[] =
      "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"FINAL "
      "RANKING:\\n1. Response \xff\\n\"}}]}";
  static const char escaped_nul[] =
      "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"FINAL "
      "RANKING:\\n1. Response B\\n2. Response A\\u0000\\n3. Response C\"}}]}";
  static const char lone_surrogate[] =
      "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"FINAL "
      "RANKING:\\n1. Response B\\ud800\\n2. Response A\"}}]}";
  static const char with_nul[] = "{\"choices\":[{\"message\":{\"content\":"
                                 "\"FINAL RANKING:\\n1. Response B\0\"}}]}";
  static const char not_json[] = "FINAL RANKING:\n1. Response B\n2. Response A";

  hostile_review_body(invalid_utf8, strlen(invalid_utf8), "invalid_utf8");
  /* Content holding an escaped NUL is cut there (openai_codec.c). */
  hostile_review_body(escaped_nul, strlen(escaped_nul), NULL);
  hostile_review_body(lone_surrogate, strlen(lone_surrogate), NULL);
  hostile_review_body(with_nul, sizeof(with_nul) - 1, NULL);
  hostile_review_body(not_json, strlen(not_json), NULL);
  hostile_review_body(NULL, 0, NULL);
}

Test(rounds_hostile, hostile_votes_and_verdicts_are_unreadable_not_fatal) {
  static const char *const votes[] = {
      "{\"choice\": 1e999}",
      "{\"choice\": [\"alpha\"]}",
      "{\"choice\": null, \"confidence\": \"NaN\"}",
      "{\"choice\": \"bravo\", \"confidence\": 1e308}",
      "VOTE:\n\n\n",
      "FINAL VOTE: bravo, because charlie is wrong",
  };
  static const char *const verdicts[] = {
      "{\"choice\": \"C\"}", "{\"choice\": 1}", "A and B", "", "WINNER:",
      "{\"winner\": \"b\"}",
  };

  for (size_t i = 0; i < N(votes); i++) {
    fake *f = fake_new();
    rl_run *run;
    const char *texts[4] = {votes[i], votes[i], votes[i], votes[i]};
    run = vote_run(f, 0, RL_AGG_CONFIDENCE_MEDIAN, texts);
    cr_assert(rl_run_finished(run), "vote %zu", i);
    for (size_t k = 0; k < 4; k++) {
      const rl_call *c = call_of_step(run, 1, k);
      cr_assert(c->status == RL_SEAT_FAILED || c->choice >= 0);
    }
    run_end(run, f);
  }
  for (size_t i = 0; i < N(verdicts); i++) {
    fake *f = fake_new();
    rl_run *run = make_run(f, bracket_spec(0));
    rl_run_start(run);
    answer_step(f, run, 0);
    reply(f, 1, 0, verdicts[i]);
    reply(f, 1, 1, verdicts[i]);
    for (size_t k = 0; k < 2; k++) {
      const rl_call *c = call_of_step(run, 1, k);
      cr_assert(c->status == RL_SEAT_FAILED || c->choice == 0 || c->choice == 1,
                "verdict %zu", i);
    }
    cr_assert_not_null(rl_run_step(run, 1)->alive);
    rl_run_cancel(run);
    run_end(run, f);
  }
}

Test(rounds_hostile, external_invalid_utf8_fails_only_that_call) {
  fake *f = fake_new();
  rl_spec *spec = anon_spec(3, RL_ORDER_STABLE, 0, 1);
  rl_seat *s = &spec->seats[0];
  rl_run *run;
  chat_response r;

  free(s->url);
  s->url = NULL;
  s->external = 1;
  run = make_run(f, spec);
  rl_run_start(run);
  answer_step(f, run, 0);
  chat_response_init(&r);
  r.content = fake_copy_str("FINAL RANKING:\n1. Response \xc3(\n");
  r.content_len = strlen(r.content);
  cr_assert_eq(rl_call_complete(run, 1, 0, &r, NULL, 1), 0);
  cr_assert_str_eq(call_of_step(run, 1, 0)->err.reason, "invalid_utf8");
  reply(f, 1, 1, "FINAL RANKING:\n1. Response A\n2. Response B");
  reply(f, 1, 2, "FINAL RANKING:\n1. Response A\n2. Response B");
  expect_completed(f, run);
  run_end(run, f);
}

/* 200 members through an anonymized review and a synthesis. Every judge
 * ranks its labels by member seat, best first, so member 0 wins (its own
 * ballot puts member 1 first); every tenth judge writes garbage. */
Test(rounds_hostile, two_hundred_members_through_an_anonymized_review) {
  enum { M = 200 };
  fake *f = fake_new();
  rl_spec *spec = spec_make(
      M, 1, 0,
      KINDS(RL_ROUND_INDEPENDENT, RL_ROUND_ANON_REVIEW, RL_ROUND_SYNTHESIS));
  rl_run *run;
  const rl_step *st;
  buf b;
  char *u;

  spec->rounds[1].aggregator = RL_AGG_PEER_RANKING;
  spec->seed = 2024;
  run = make_run(f, spec);
  rl_run_start(run);
  for (size_t i = 0; i < M; i++) {
    char text[32];
    snprintf(text, sizeof(text), "<<answer %03zu>>", i);
    reply(f, 0, i, text);
  }
  st = rl_run_step(run, 1);
  cr_assert_eq(st->n_calls, M);
  cr_assert_eq(st->n_cands, M);
  buf_init(&b, 0);
  for (size_t i = 0; i < M; i++) {
    const rl_call *c = &st->calls[i];
    unsigned char seen[M] = {0};
    char label[16];
    cr_assert_eq(c->n_labels, M - 1);
    for (size_t k = 0; k < c->n_labels; k++) {
      cr_assert_neq(c->labels[k], i);
      cr_assert_not(seen[c->labels[k]], "judge %zu saw a candidate twice", i);
      seen[c->labels[k]] = 1;
    }
    b.len = 0;
    if (i % 10 == 9) {
      cr_assert_eq(buf_puts(&b, "FINAL RANKING:\n1. Response GQ\n"), 0);
    } else {
      cr_assert_eq(buf_puts(&b, "Fine work all round.\n\nFINAL RANKING:\n"), 0);
      for (size_t want = 0, place = 1; want < M; want++) {
        for (size_t k = 0; k < c->n_labels; k++) {
          if (c->labels[k] != want)
            continue;
          ranking_label(k, label, sizeof(label));
          cr_assert_eq(buf_printf(&b, "%zu. Response %s\n", place++, label), 0);
        }
      }
    }
    reply(f, 1, i, b.data);
  }
  buf_free(&b);
  for (size_t i = 0; i < M; i++)
    cr_assert_eq(st->calls[i].status, i % 10 == 9 ? RL_SEAT_FAILED : RL_SEAT_OK,
                 "judge %zu", i);
  cr_assert_eq(agg_of(run, 1)->counted, M - M / 10);
  cr_assert_eq(st->winner, 0);
  cr_assert_float_eq(agg_of(run, 1)->avg_position[0], 1.0, 1e-9);
  u = user_of(f, 2, 0);
  expect_contains(u, "Response GQ = ");
  expect_contains(u, "Winner: m000\n");
  free(u);
  reply(f, 2, 0, "done");
  expect_completed(f, run);
  run_end(run, f);
}
