/* fuzz_round_reply.c - the round loop's reply path (round_loop.c answer_ok
 * and round_tally.c): a member's reply, any bytes, goes through UTF-8
 * checking, the confidence trailer (confidence.c), the seat's output schema
 * (reply_json.c, json_schema.c) and the round's ballot (ranking.c,
 * ballot.c, aggregate.c), in a real run over a fake rl_io with external
 * seats. Whatever the reply, what the run reports must hold together: a
 * JSON span inside the content, a content no longer than the reply and
 * NUL-terminated, a parsed tree that is the span's, ballots in range.
 *
 * The council: members alpha, beta, gamma (external seats). Rounds:
 * independent_analysis, then the round the input picks. alpha answers every
 * call with the fuzzed reply; beta and gamma with fixed, well-formed ones.
 *
 * Input: a seat byte (bits 0-2: alpha's schema, % the table below, 0 for
 * none; bits 3-4: confidence mode % 3; bit 5: every member gets the schema),
 * a round byte (bits 0-2: second round % 6, 0 for none; bit 3: vote on
 * options, not members; bits 4-6: aggregator % RL_AGG_COUNT), a logprob
 * byte (0: none, else -byte / 64), then alpha's reply. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "fuzz_util.h"
#include "json_schema.h"
#include "json_strict.h"
#include "round_loop.h"

#define N_MEMBERS 3

static const char *const IDS[N_MEMBERS] = {"alpha", "beta", "gamma"};

static const char *const SCHEMAS[] = {
    NULL,
    "{\"type\":\"object\"}",
    "true",
    "{\"type\":\"object\",\"required\":[\"confidence\"]}",
    "{\"type\":\"object\",\"properties\":{\"verdict\":{\"enum\":[\"yes\","
    "\"no\"]}},\"required\":[\"verdict\"],\"additionalProperties\":false}",
    "{\"type\":[\"array\",\"string\",\"number\"]}",
};
#define N_SCHEMAS (sizeof(SCHEMAS) / sizeof(SCHEMAS[0]))

static const rl_round_kind SECOND[] = {
    RL_ROUND_COUNT, /* none */
    RL_ROUND_RANKING,     RL_ROUND_VOTE,     RL_ROUND_ANON_REVIEW,
    RL_ROUND_PEER_REVIEW, RL_ROUND_CRITIQUE,
};

typedef struct harness {
  const char *reply; /* alpha's */
  size_t reply_len;
  rl_round_kind kind; /* of the step being answered */
  int options;
  size_t calls_started;
} harness;

/* The reply a well-behaved member gives in a round of kind. */
static const char *fixed_reply(rl_round_kind kind, int options) {
  switch (kind) {
  case RL_ROUND_RANKING:
    return "Both are fine.\n\nFINAL RANKING:\n1. gamma\n2. alpha\n3. beta\n";
  case RL_ROUND_ANON_REVIEW:
    return "FINAL RANKING:\n1. Response B\n2. Response A";
  case RL_ROUND_VOTE:
    return options ? "I pick yes.\nVOTE: yes"
                   : "{\"choice\": \"gamma\", \"confidence\": 0.6}";
  default:
    return "{\"verdict\": \"no\"}\n{\"confidence\": 0.7}";
  }
}

static int valid_confidence(double c) { return isnan(c) || (c >= 0 && c <= 1); }

/* What a finished call must hold, whatever alpha said. */
static void check_call(const rl_run *run, const rl_call *c) {
  const rl_spec *spec = rl_run_spec(run);
  const rl_step *step = rl_run_step(run, c->step);
  const rl_round *rd = &spec->rounds[step->round];
  const harness *h = rl_run_ctx(run);
  size_t original =
      c->seat == 0 ? h->reply_len : strlen(fixed_reply(rd->kind, h->options));
  const chat_response *r = &c->resp;

  FUZZ_CHECK(c->status == RL_SEAT_OK || c->status == RL_SEAT_FAILED,
             "status %d", (int)c->status);
  FUZZ_CHECK(r->content != NULL || r->content_len == 0, "no content, len %zu",
             r->content_len);
  FUZZ_CHECK(r->content_len <= original, "content %zu bytes, the reply %zu",
             r->content_len, original);
  FUZZ_CHECK(r->content == NULL || r->content[r->content_len] == '\0',
             "content not NUL-terminated at %zu", r->content_len);
  FUZZ_CHECK(c->json_start <= c->json_end && c->json_end <= r->content_len,
             "JSON span [%zu, %zu) past the content's %zu bytes", c->json_start,
             c->json_end, r->content_len);
  if (c->parsed != NULL) {
    size_t at;
    const char *err;
    cJSON *again;

    /* A call whose ballot could not be read keeps its tree (the NIF
     * reports none for a failed call). */
    again = json_strict_parse(r->content + c->json_start,
                              c->json_end - c->json_start, JSON_REPLY_MAX_DEPTH,
                              &at, &err);
    FUZZ_CHECK(again != NULL && fuzz_same_tree(again, c->parsed),
               "the tree is not the span's");
    cJSON_Delete(again);
  } else if (c->status == RL_SEAT_OK) {
    FUZZ_CHECK(spec->seats[c->seat].schema == NULL,
               "an accepted structured answer has no tree");
  }
  FUZZ_CHECK(valid_confidence(c->confidence), "confidence %g", c->confidence);
  FUZZ_CHECK(c->n_ordering <= N_MEMBERS, "%zu ranked", c->n_ordering);
  for (size_t k = 0; k < c->n_ordering; k++) {
    FUZZ_CHECK(c->ordering[k] < N_MEMBERS, "ranked seat %zu", c->ordering[k]);
    for (size_t j = 0; j < k; j++)
      FUZZ_CHECK(c->ordering[j] != c->ordering[k], "seat ranked twice");
  }
  if (rd->kind == RL_ROUND_VOTE)
    FUZZ_CHECK(c->choice >= -1 &&
                   c->choice <
                       (long)(rd->n_options ? rd->n_options : step->n_cands),
               "choice %ld", c->choice);
  FUZZ_CHECK(c->ballot_error == NULL || c->ballot_error[0] != '\0',
             "an empty ballot error");
}

static void *start_call(void *ctx, rl_call *call, const http_request *req) {
  harness *h = ctx;

  (void)call;
  FUZZ_CHECK(req->url == NULL, "an external seat got a URL");
  h->calls_started++;
  return (void *)(uintptr_t)h->calls_started;
}

static void cancel_call(void *ctx, rl_call *call) {
  (void)ctx;
  (void)call;
}

static void *start_timer(void *ctx, rl_call *call, long delay_ms) {
  (void)ctx;
  (void)call;
  (void)delay_ms;
  return NULL; /* no retries */
}

static void cancel_timer(void *ctx, void *handle) {
  (void)ctx;
  (void)handle;
}

static void emit(void *ctx, rl_run *run, const rl_event *ev) {
  (void)ctx;
  if (ev->type == RL_EV_MEMBER_COMPLETED && ev->call->status != RL_SEAT_SKIPPED)
    check_call(run, ev->call);
}

static char *copy_str(const char *s) { return fuzz_strndup(s, strlen(s)); }

static rl_spec *make_spec(unsigned seat_byte, unsigned round_byte) {
  rl_spec *spec = calloc(1, sizeof(*spec));
  size_t schema = (seat_byte & 7) % N_SCHEMAS;
  rl_round_kind second = SECOND[(round_byte & 7) % 6];
  char why[200];

  FUZZ_CHECK(spec != NULL, "out of memory");
  spec->input = copy_str("Which river is longest?");
  spec->input_len = strlen(spec->input);
  spec->n_members = spec->n_seats = N_MEMBERS;
  spec->seats = calloc(N_MEMBERS, sizeof(rl_seat));
  spec->n_rounds = second == RL_ROUND_COUNT ? 1 : 2;
  spec->rounds = calloc(2, sizeof(rl_round));
  FUZZ_CHECK(spec->seats != NULL && spec->rounds != NULL, "out of memory");
  for (size_t i = 0; i < N_MEMBERS; i++) {
    rl_seat *s = &spec->seats[i];

    s->id = copy_str(IDS[i]);
    s->model = copy_str("model");
    s->external = 1;
    s->weight = 1.0;
    s->confidence = (rl_confidence)(((seat_byte >> 3) & 3) % RL_CONF_COUNT);
    if (SCHEMAS[schema] != NULL && (i == 0 || seat_byte & 0x20)) {
      s->schema = json_schema_compile(SCHEMAS[schema], strlen(SCHEMAS[schema]),
                                      why, sizeof(why));
      FUZZ_CHECK(s->schema != NULL, "schema %zu: %s", schema, why);
    }
  }
  spec->rounds[0].kind = RL_ROUND_INDEPENDENT;
  if (second != RL_ROUND_COUNT) {
    rl_round *rd = &spec->rounds[1];

    rd->kind = second;
    rd->aggregator = (rl_agg_kind)(((round_byte >> 4) & 7) % RL_AGG_COUNT);
    if (second == RL_ROUND_VOTE && round_byte & 8) {
      rd->n_options = 2;
      rd->options = calloc(2, sizeof(char *));
      FUZZ_CHECK(rd->options != NULL, "out of memory");
      rd->options[0] = copy_str("yes");
      rd->options[1] = copy_str("no");
    }
  }
  spec->max_response_bytes = 1 << 20;
  spec->seed = 1;
  FUZZ_CHECK(rl_spec_check(spec, why, sizeof(why)) == 0, "spec: %s", why);
  return spec;
}

/* The clock stands still: every reply comes within the member's budget. */
static uint64_t now_ms(void *ctx) {
  (void)ctx;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  unsigned seat_byte = fuzz_byte(&in), round_byte = fuzz_byte(&in);
  unsigned lp = fuzz_byte(&in);
  harness h = {.reply = (const char *)in.p, .reply_len = in.n};
  rl_io io = {&h,           start_call, cancel_call, start_timer,
              cancel_timer, emit,       now_ms};
  rl_spec *spec = make_spec(seat_byte, round_byte);
  rl_run *run = rl_run_new(spec, &io);

  FUZZ_CHECK(run != NULL, "out of memory");
  h.options = spec->rounds[spec->n_rounds - 1].n_options > 0;
  rl_run_start(run);
  for (size_t s = 0; s < rl_run_n_steps(run); s++) {
    const rl_step *step = rl_run_step(run, s);

    h.kind = spec->rounds[step->round].kind;
    for (size_t i = 0; i < step->n_calls; i++) {
      const rl_call *c = &step->calls[i];
      const char *text =
          c->seat == 0 ? h.reply : fixed_reply(h.kind, h.options);
      size_t len = c->seat == 0 ? h.reply_len : strlen(text);
      chat_response r;

      if (c->status != RL_SEAT_RUNNING)
        continue;
      chat_response_init(&r);
      r.content = fuzz_strndup(text, len);
      r.content_len = len;
      r.has_logprob = lp != 0;
      r.logprob = -(double)lp / 64;
      FUZZ_CHECK(rl_call_complete(run, s, i, &r, NULL, 1) == 0,
                 "a running call refused its reply");
    }
  }
  FUZZ_CHECK(rl_run_finished(run), "the run did not finish");
  for (size_t s = 0; s < rl_run_n_steps(run); s++) {
    const rl_step *step = rl_run_step(run, s);

    FUZZ_CHECK(valid_confidence(step->mean_confidence), "mean confidence %g",
               step->mean_confidence);
    FUZZ_CHECK(step->winner >= -1 && step->winner < N_MEMBERS + 2, "winner %ld",
               step->winner);
    for (size_t i = 0; i < step->n_calls; i++)
      if (step->calls[i].status != RL_SEAT_SKIPPED &&
          step->calls[i].status != RL_SEAT_IDLE)
        check_call(run, &step->calls[i]);
  }
  rl_run_free(run);
  return 0;
}
