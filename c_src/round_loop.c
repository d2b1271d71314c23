/* round_loop.c - one council run's state machine (see round_loop.h).
 *
 * Rounds run strictly in order; inside a round every seat's call runs in
 * parallel. The loop renders prompts, classifies outcomes and decides what
 * comes next. It never blocks and never calls erl_nif or libcurl. */
#include "round_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "openai_codec.h"

typedef enum rl_state { RL_NEW, RL_RUNNING, RL_FINISHED } rl_state;

struct rl_run {
  rl_spec *spec;
  rl_io io;
  rl_call *calls;  /* n_rounds x n_seats, row-major */
  size_t round;    /* the round running now */
  size_t pending;  /* calls of this round not finished yet */
  uint64_t rng;    /* jitter state */
  int starting;    /* inside round_start: defer the round's completion */
  rl_state state;
};

/* A provider's retry hint is honoured up to this long. */
#define RETRY_HINT_MAX_MS (10L * 60L * 1000L)

static const char *DEFAULT_CHAIR_PROMPT =
    "You are the chair of an LLM council. Several models answered the same "
    "question independently; you write the council's one final answer.";

static void round_start(rl_run *run);

char *rl_strndup(const char *s, size_t len) {
  char *p = malloc(len + 1);
  if(!p)
    return NULL;
  if(len)
    memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

static size_t n_members(const rl_spec *spec) {
  return spec->has_chair ? spec->n_seats - 1 : spec->n_seats;
}

/* The seats [lo, hi) that sit in a round. */
static void round_seats(const rl_spec *spec, size_t round, size_t *lo,
                        size_t *hi) {
  if(spec->rounds[round] == RL_ROUND_SYNTHESIS) {
    *lo = spec->n_seats - 1;
    *hi = spec->n_seats;
  }
  else {
    *lo = 0;
    *hi = n_members(spec);
  }
}

static rl_call *call_at(const rl_run *run, size_t round, size_t seat) {
  return &run->calls[round * run->spec->n_seats + seat];
}

/* ---- Spec ----------------------------------------------------------------*/

static int seat_check(const rl_seat *s, size_t i, char *why, size_t why_len) {
  if(!s->id || !s->id[0]) {
    snprintf(why, why_len, "seat %zu has no id", i);
    return -1;
  }
  if(!s->external && (!s->url || !s->url[0])) {
    snprintf(why, why_len, "seat %s has no url", s->id);
    return -1;
  }
  if(!s->model || !s->model[0]) {
    snprintf(why, why_len, "seat %s has no model", s->id);
    return -1;
  }
  if(!chat_utf8_valid(s->id, strlen(s->id)) ||
     !chat_utf8_valid(s->model, strlen(s->model)) ||
     (s->system_prompt &&
      !chat_utf8_valid(s->system_prompt, strlen(s->system_prompt)))) {
    snprintf(why, why_len, "seat %zu has text that is not valid UTF-8", i);
    return -1;
  }
  if(s->n_headers > 0 && !s->headers) {
    snprintf(why, why_len, "seat %s has a missing header", s->id);
    return -1;
  }
  for(size_t h = 0; h < s->n_headers; h++) {
    if(!s->headers[h]) {
      snprintf(why, why_len, "seat %s has a missing header", s->id);
      return -1;
    }
  }
  return 0;
}

int rl_spec_check(const rl_spec *spec, char *why, size_t why_len) {
  if(spec->n_seats == 0 || (spec->has_chair && spec->n_seats < 2)) {
    snprintf(why, why_len, "a council needs at least one member");
    return -1;
  }
  if(spec->n_rounds == 0) {
    snprintf(why, why_len, "a council needs at least one round");
    return -1;
  }
  if(!spec->input || !chat_utf8_valid(spec->input, spec->input_len)) {
    snprintf(why, why_len, "the input is not valid UTF-8");
    return -1;
  }
  if(!spec->seats || !spec->rounds) {
    snprintf(why, why_len, "the spec has no seats or rounds array");
    return -1;
  }
  for(size_t r = 0; r < spec->n_rounds; r++) {
    if(spec->rounds[r] != RL_ROUND_SYNTHESIS &&
       spec->rounds[r] != RL_ROUND_INDEPENDENT) {
      snprintf(why, why_len, "round %zu has an unknown kind", r);
      return -1;
    }
    if(spec->rounds[r] != RL_ROUND_SYNTHESIS)
      continue;
    if(!spec->has_chair) {
      snprintf(why, why_len, "round %zu is a synthesis but there is no chair",
               r);
      return -1;
    }
    if(r == 0) {
      snprintf(why, why_len, "a synthesis round needs a round before it");
      return -1;
    }
  }
  for(size_t i = 0; i < spec->n_seats; i++) {
    if(seat_check(&spec->seats[i], i, why, why_len) != 0)
      return -1;
  }
  return 0;
}

int rl_seat_connect(rl_seat *s, const chat_codec *codec,
                    const chat_endpoint *ep) {
  chat_headers h;
  buf url;
  char **lines;

  chat_headers_init(&h);
  buf_init(&url, 0);
  if(codec->build_url(ep, &url) != 0 || codec->build_headers(ep, &h) != 0)
    goto err;
  for(size_t i = 0; i < s->n_headers; i++) {
    lines = realloc(h.lines, (h.n + 1) * sizeof(*lines));
    if(!lines)
      goto err;
    h.lines = lines;
    h.lines[h.n++] = s->headers[i]; /* moved: freed with h from now on */
    s->headers[i] = NULL;
  }
  free(s->headers);
  free(s->url);
  s->headers = h.lines;
  s->n_headers = h.n;
  s->url = buf_detach(&url, NULL);
  s->codec = codec;
  return s->url ? 0 : -1;

err:
  chat_headers_free(&h);
  buf_free(&url);
  return -1;
}

int rl_seat_compile_schema(rl_seat *s, char *why, size_t why_len) {
  char msg[200] = "";

  if(!s->output_schema)
    return 0;
  s->schema = json_schema_compile(s->output_schema, strlen(s->output_schema),
                                  msg, sizeof(msg));
  if(!s->schema) {
    snprintf(why, why_len, "seat %s: output_schema %s", s->id ? s->id : "?",
             msg);
    return -1;
  }
  return 0;
}

static void seat_free(rl_seat *s) {
  free(s->id);
  free(s->url);
  for(size_t h = 0; h < s->n_headers; h++)
    free(s->headers[h]);
  free(s->headers);
  free(s->model);
  free(s->system_prompt);
  free(s->output_schema);
  json_schema_free(s->schema);
  for(size_t t = 0; t < s->n_tools; t++) {
    free((char *)s->tools[t].name);
    free((char *)s->tools[t].description);
    free((char *)s->tools[t].parameters);
  }
  free(s->tools);
  free(s->tool_choice);
}

void rl_spec_free(rl_spec *spec) {
  if(!spec)
    return;
  for(size_t i = 0; i < spec->n_seats; i++)
    seat_free(&spec->seats[i]);
  free(spec->seats);
  free(spec->rounds);
  free(spec->input);
  free(spec);
}

/* ---- Prompts -------------------------------------------------------------*/

/* The chair's user message: the input, then every member's answer of the
 * latest member round before `round`, failures included so the chair knows
 * who was silent. */
static int render_synthesis(const rl_run *run, size_t round, buf *out) {
  const rl_spec *spec = run->spec;
  size_t prior = round;

  while(prior > 0 && spec->rounds[prior - 1] == RL_ROUND_SYNTHESIS)
    prior--;
  prior--; /* rl_spec_check guarantees a member round exists before */

  if(buf_puts(out, "Question:\n") || buf_append(out, spec->input, spec->input_len) ||
     buf_puts(out, "\n\nThe council's members answered independently:\n"))
    return -1;
  for(size_t s = 0; s < n_members(spec); s++) {
    const rl_call *c = call_at(run, prior, s);
    const rl_seat *seat = &spec->seats[s];
    if(buf_printf(out, "\n### Member %s (%s)\n", seat->id, seat->model))
      return -1;
    if(c->status == RL_SEAT_OK) {
      if(buf_append(out, c->resp.content, c->resp.content_len) ||
         buf_puts(out, "\n"))
        return -1;
    }
    else if(buf_printf(out, "(no answer: %s)\n",
                       c->err.reason ? c->err.reason : "not run"))
      return -1;
  }
  return buf_puts(out, "\nWrite the council's final answer. Combine the "
                       "strongest points, settle disagreements, and say what "
                       "remains uncertain.\n");
}

char *rl_render_request(const rl_run *run, size_t round, size_t seat,
                        size_t *len) {
  const rl_spec *spec = run->spec;
  const rl_seat *s = &spec->seats[seat];
  chat_message msgs[2];
  size_t n = 0;
  buf user;
  char *body = NULL;

  buf_init(&user, 0);
  if(spec->rounds[round] == RL_ROUND_SYNTHESIS) {
    const char *sys = s->system_prompt ? s->system_prompt : DEFAULT_CHAIR_PROMPT;
    msgs[n++] = (chat_message){.role = "system", .content = sys, .content_len = strlen(sys)};
    if(render_synthesis(run, round, &user) != 0)
      goto done;
    msgs[n++] = (chat_message){.role = "user", .content = user.data, .content_len = user.len};
  }
  else {
    if(s->system_prompt)
      msgs[n++] = (chat_message){.role = "system",
                                 .content = s->system_prompt,
                                 .content_len = strlen(s->system_prompt)};
    msgs[n++] = (chat_message){.role = "user", .content = spec->input, .content_len = spec->input_len};
  }

  const rl_call *call = &run->calls[round * spec->n_seats + seat];
  size_t n_all = n;
  chat_message *all = conversation_messages(&call->conv, msgs, n, &n_all);
  if(!all)
    goto done;
  chat_request req = {
      .model = s->model,
      .messages = all,
      .n_messages = n_all,
      .tools = s->external ? NULL : s->tools,
      .n_tools = s->external ? 0 : s->n_tools,
      .tool_choice = s->external ? NULL : s->tool_choice,
      .has_temperature = s->has_temperature,
      .temperature = s->temperature,
      .max_tokens = s->max_tokens,
      .stream = s->stream && !s->external,
      .output_schema = s->output_schema,
  };
  body = s->codec && !s->external ? s->codec->build_request(&req, len)
                                   : openai_build_request(&req, len);
  free(all);

done:
  buf_free(&user);
  return body;
}

/* ---- The run -------------------------------------------------------------*/

rl_run *rl_run_new(rl_spec *spec, const rl_io *io) {
  rl_run *run = calloc(1, sizeof(*run));
  if(!run)
    goto err;
  run->calls = calloc(spec->n_rounds * spec->n_seats, sizeof(rl_call));
  if(!run->calls)
    goto err;
  run->spec = spec;
  run->io = *io;
  run->rng = spec->seed;
  for(size_t r = 0; r < spec->n_rounds; r++) {
    for(size_t s = 0; s < spec->n_seats; s++) {
      rl_call *c = call_at(run, r, s);
      c->run = run;
      c->round = r;
      c->seat = s;
      chat_response_init(&c->resp);
      chat_error_init(&c->err);
      json_schema_errors_init(&c->schema_errs);
      conversation_init(&c->conv);
    }
  }
  return run;

err:
  if(run)
    free(run->calls);
  free(run);
  rl_spec_free(spec);
  return NULL;
}

void rl_run_free(rl_run *run) {
  if(!run)
    return;
  size_t n = run->spec->n_rounds * run->spec->n_seats;
  for(size_t i = 0; i < n; i++) {
    chat_stream_free(run->calls[i].stream);
    json_schema_errors_free(&run->calls[i].schema_errs);
    conversation_free(&run->calls[i].conv);
    chat_response_free(&run->calls[i].resp);
    chat_error_free(&run->calls[i].err);
  }
  free(run->calls);
  rl_spec_free(run->spec);
  free(run);
}

static void emit(rl_run *run, rl_event_type type, size_t seat,
                 const rl_call *call, const char *reason) {
  rl_event ev = {.type = type, .round = run->round, .seat = seat,
                 .call = call, .reason = reason};
  run->io.emit(run->io.ctx, run, &ev);
}

/* chat_stream's on_text: each delta becomes a MEMBER_TOKEN event. */
static void stream_text(void *ud, const char *text, size_t len) {
  rl_call *call = ud;
  rl_run *run = call->run;
  rl_event ev = {.type = RL_EV_MEMBER_TOKEN, .round = call->round,
                 .seat = call->seat, .text = text,
                 .text_len = len, .index = call->tokens++};

  if(run->state == RL_RUNNING)
    run->io.emit(run->io.ctx, run, &ev);
}

static void stream_drop(rl_call *call) {
  chat_stream_free(call->stream);
  call->stream = NULL;
}

/* The codec a seat's replies are read with. */
static const chat_codec *seat_codec(const rl_seat *seat) {
  return seat->codec ? seat->codec : &chat_codec_openrouter;
}

static void finish(rl_run *run, rl_event_type type, const char *reason) {
  run->state = RL_FINISHED;
  emit(run, type, 0, NULL, reason);
}

static void round_finish(rl_run *run) {
  size_t lo, hi, ok = 0;

  emit(run, RL_EV_ROUND_COMPLETED, 0, NULL, NULL);
  if(run->state != RL_RUNNING)
    return;
  round_seats(run->spec, run->round, &lo, &hi);
  for(size_t s = lo; s < hi; s++)
    ok += call_at(run, run->round, s)->status == RL_SEAT_OK;
  if(ok == 0) {
    finish(run, RL_EV_RUN_FAILED,
           run->spec->rounds[run->round] == RL_ROUND_SYNTHESIS
               ? "chair_failed"
               : "no_member_succeeded");
    return;
  }
  if(++run->round == run->spec->n_rounds) {
    run->round--; /* events keep naming the last round */
    finish(run, RL_EV_RUN_COMPLETED, NULL);
    return;
  }
  round_start(run);
}

/* Records a finished call and moves the round on when it was the last. */
static void call_finished(rl_call *call) {
  rl_run *run = call->run;

  call->handle = NULL;
  stream_drop(call);
  emit(run, RL_EV_MEMBER_COMPLETED, call->seat, call, NULL);
  /* emit may have cancelled the run: then nothing moves on */
  if(--run->pending == 0 && !run->starting && run->state == RL_RUNNING)
    round_finish(run);
}

static void call_fail(rl_call *call, chat_error_kind kind, const char *reason,
                      const char *message) {
  call->status = RL_SEAT_FAILED;
  chat_error_set(&call->err, kind, reason, message);
  call_finished(call);
}

/* An answer arrived. Tool calls (for a seat with tools) pause the call
 * until the owner answers them (RL_EV_TOOL_CALLS). Otherwise it succeeds,
 * unless the seat has an output schema the answer breaks: a permanent
 * "invalid_output" failure whose reasons are in call->schema_errs (the
 * answer is kept for the record). */
static void answer_ok(rl_call *call) {
  rl_run *run = call->run;
  const rl_seat *seat = &run->spec->seats[call->seat];
  unsigned max_turns = seat->max_tool_turns ? seat->max_tool_turns : 8;
  int rc;

  if(seat->n_tools > 0 && call->resp.n_tool_calls > 0) {
    if(call->conv.n_turns >= max_turns) {
      chat_response_free(&call->resp);
      call_fail(call, CHAT_ERR_PERMANENT, "too_many_tool_turns",
                "the model kept calling tools past max_tool_turns");
      return;
    }
    if(conversation_add_calls(&call->conv, &call->resp) != 0) {
      chat_response_free(&call->resp);
      call_fail(call, CHAT_ERR_PERMANENT, "out_of_memory",
                "could not keep the tool calls");
      return;
    }
    chat_response_free(&call->resp);
    call->handle = NULL;
    call->awaiting_tools = 1;
    rl_event ev = {.type = RL_EV_TOOL_CALLS, .round = call->round,
                   .seat = call->seat, .call = call};
    run->io.emit(run->io.ctx, run, &ev);
    return;
  }

  if(seat->schema) {
    /* Found once: validated here, decoded later by the owner. */
    json_extract_reply(call->resp.content, call->resp.content_len,
                       &call->json_start, &call->json_end);
    rc = json_schema_validate(
        seat->schema,
        call->resp.content ? call->resp.content + call->json_start : NULL,
        call->json_end - call->json_start, &call->schema_errs);
    if(rc != 0) {
      call->status = RL_SEAT_FAILED;
      chat_error_set(&call->err, CHAT_ERR_PERMANENT,
                     rc == -1 ? "invalid_output" : "out_of_memory",
                     "the answer does not follow the member's output_schema");
      call_finished(call);
      return;
    }
  }
  call->status = RL_SEAT_OK;
  call_finished(call);
}

static void on_chunk(void *ud, const char *data, size_t len) {
  rl_call_chunk(ud, data, len);
}

/* Renders the call's request and hands it to the transport. */
static void start_attempt(rl_run *run, rl_call *call) {
  const rl_spec *spec = run->spec;
  const rl_seat *seat = &spec->seats[call->seat];
  size_t len = 0;
  char *body = rl_render_request(run, call->round, call->seat, &len);

  call->attempts++;
  stream_drop(call);
  call->tokens = 0;
  if(seat->stream && !seat->external) {
    call->stream = chat_stream_new(seat_codec(seat), spec->max_response_bytes,
                                   stream_text, call);
    if(!call->stream) {
      free(body);
      call_fail(call, CHAT_ERR_PERMANENT, "out_of_memory",
                "could not set up the stream");
      return;
    }
  }
  if(!body) {
    call_fail(call, CHAT_ERR_PERMANENT, "render_failed",
              "could not render the request (invalid UTF-8 or no memory)");
    return;
  }
  http_request req = {
      .url = seat->url,
      .headers = (const char *const *)seat->headers,
      .n_headers = seat->n_headers,
      .body = body,
      .body_len = len,
      .connect_timeout_ms = seat->connect_timeout_ms,
      .timeout_ms = seat->timeout_ms,
      .max_response_bytes = spec->max_response_bytes,
      .on_chunk = call->stream ? on_chunk : NULL,
  };
  call->handle = run->io.start_call(run->io.ctx, call, &req);
  free(body);
  if(!call->handle)
    call_fail(call, CHAT_ERR_PERMANENT, "start_failed",
              "the HTTP call could not be started (bad URL or no memory)");
}

static uint64_t next_random(rl_run *run) {
  /* xorshift64*: plenty for jitter */
  uint64_t x = run->rng ? run->rng : 0x9E3779B97F4A7C15u;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  run->rng = x;
  return x * 0x2545F4914F6CDD1Du;
}

/* The wait before the next attempt: the provider's hint when it gave one,
 * else base * 2^(attempts-1) with equal jitter (half fixed, half random),
 * so a burst of failures does not retry in lockstep. */
static long backoff_ms(rl_run *run, const rl_call *call) {
  const rl_seat *seat = &run->spec->seats[call->seat];
  unsigned shift = call->attempts > 1 ? call->attempts - 1 : 0;
  long delay;

  if(call->err.retry_after_ms >= 0)
    return call->err.retry_after_ms < RETRY_HINT_MAX_MS ? call->err.retry_after_ms
                                                        : RETRY_HINT_MAX_MS;
  if(seat->retry_base_ms <= 0)
    return 0;
  delay = shift > 20 || seat->retry_base_ms > (RETRY_HINT_MAX_MS >> shift)
              ? RETRY_HINT_MAX_MS
              : seat->retry_base_ms << shift;
  return delay / 2 + (long)(next_random(run) % (uint64_t)(delay / 2 + 1));
}

/* A failed attempt: another one follows after a backoff when the failure
 * is transient and attempts remain; otherwise the call is finished. */
static void attempt_failed(rl_call *call) {
  rl_run *run = call->run;
  const rl_seat *seat = &run->spec->seats[call->seat];
  unsigned max = seat->retry_max_attempts ? seat->retry_max_attempts : 1;

  call->handle = NULL;
  stream_drop(call);
  if(call->err.kind == CHAT_ERR_TRANSIENT && call->attempts < max &&
     run->io.start_timer) {
    call->handle = run->io.start_timer(run->io.ctx, call, backoff_ms(run, call));
    if(call->handle) {
      call->backing_off = 1;
      return;
    }
  }
  call->status = RL_SEAT_FAILED;
  call_finished(call);
}

int rl_call_tool_results(rl_run *run, size_t round, size_t seat,
                         const char *const *results, const size_t *lens,
                         size_t n) {
  rl_call *call;

  if(round != run->round || round >= run->spec->n_rounds ||
     seat >= run->spec->n_seats || run->state != RL_RUNNING)
    return -1;
  call = call_at(run, round, seat);
  if(call->status != RL_SEAT_RUNNING || !call->awaiting_tools ||
     conversation_answer(&call->conv, results, lens, n) != 0)
    return -1;
  call->awaiting_tools = 0;
  call->attempts = 0; /* a new request: its own retry budget */
  start_attempt(run, call);
  return 0;
}

void rl_call_retry(rl_call *call) {
  rl_run *run = call->run;

  call->handle = NULL;
  call->backing_off = 0;
  if(run->state != RL_RUNNING || call->status != RL_SEAT_RUNNING)
    return;
  chat_error_free(&call->err);
  json_schema_errors_free(&call->schema_errs);
  call->http_status = 0;
  start_attempt(run, call);
}

static void round_start(rl_run *run) {
  const rl_spec *spec = run->spec;
  size_t lo, hi;

  round_seats(spec, run->round, &lo, &hi);
  emit(run, RL_EV_ROUND_STARTED, 0, NULL, NULL);
  run->pending = hi - lo;
  run->starting = 1;
  for(size_t s = lo; s < hi && run->state == RL_RUNNING; s++) {
    rl_call *call = call_at(run, run->round, s);

    call->status = RL_SEAT_RUNNING;
    emit(run, RL_EV_MEMBER_STARTED, s, NULL, NULL);
    if(run->state != RL_RUNNING)
      break;
    start_attempt(run, call);
  }
  run->starting = 0;
  if(run->pending == 0 && run->state == RL_RUNNING)
    round_finish(run);
}

void rl_run_start(rl_run *run) {
  if(run->state != RL_NEW)
    return;
  run->state = RL_RUNNING;
  round_start(run);
}

/* Maps a transport failure onto the error a member reports. */
static void transport_error(const http_result *res, chat_error *err) {
  switch(res->failure) {
  case HTTP_FAIL_TIMEOUT:
    chat_error_set(err, CHAT_ERR_TIMEOUT, "timeout", res->error);
    break;
  case HTTP_FAIL_CONNECT:
    chat_error_set(err, CHAT_ERR_TRANSIENT, "connect_failed", res->error);
    break;
  case HTTP_FAIL_TOO_LARGE:
    chat_error_set(err, CHAT_ERR_PERMANENT, "response_too_large",
                   "the response body is larger than max_response_bytes");
    break;
  case HTTP_FAIL_TLS_VERIFY:
    chat_error_set(err, CHAT_ERR_PERMANENT, "tls_verify_failed", res->error);
    break;
  default:
    chat_error_set(err, CHAT_ERR_TRANSIENT, "transport_error", res->error);
    break;
  }
}

void rl_call_chunk(rl_call *call, const char *data, size_t len) {
  /* A failing stream keeps its error for rl_call_done to report. */
  if(call->stream && call->run->state == RL_RUNNING &&
     call->status == RL_SEAT_RUNNING && !call->backing_off)
    chat_stream_feed(call->stream, data, len);
}

void rl_call_done(rl_call *call, const http_result *res) {
  rl_run *run = call->run;

  if(run->state != RL_RUNNING || call->status != RL_SEAT_RUNNING ||
     call->backing_off || call->awaiting_tools)
    return;
  call->latency_us = res->elapsed_us;
  call->http_status = res->status;
  if(res->failure != HTTP_OK) {
    transport_error(res, &call->err);
    call->err.http_status = res->status;
  }
  else if(res->status >= 200 && res->status < 300) {
    const chat_codec *codec = run->spec->seats[call->seat].codec;
    int rc = call->stream ? chat_stream_finish(call->stream, &call->resp,
                                               &call->err)
             : codec ? codec->parse_response(res->body, res->body_len,
                                             &call->resp, &call->err)
                     : openai_parse_response(res->body, res->body_len,
                                             &call->resp, &call->err);
    stream_drop(call);
    call->err.http_status = res->status;
    if(rc == 0) {
      answer_ok(call);
      return;
    }
  }
  else {
    const chat_codec *codec = run->spec->seats[call->seat].codec;
    if(codec)
      codec->parse_error(res->status, res->body, res->body_len,
                         res->retry_after_ms, &call->err);
    else
      openai_parse_error(res->status, res->body, res->body_len,
                         res->retry_after_ms, &call->err);
  }
  attempt_failed(call);
}

int rl_call_complete(rl_run *run, size_t round, size_t seat,
                     chat_response *resp, chat_error *err,
                     uint64_t latency_us) {
  rl_call *call;

  if(round != run->round || round >= run->spec->n_rounds ||
     seat >= run->spec->n_seats || !run->spec->seats[seat].external ||
     (!resp == !err))
    goto drop;
  call = call_at(run, round, seat);
  if(run->state != RL_RUNNING || call->status != RL_SEAT_RUNNING ||
     call->backing_off || call->awaiting_tools)
    goto drop;
  call->latency_us = latency_us;
  if(resp && !chat_utf8_valid(resp->content, resp->content_len)) {
    chat_response_free(resp);
    call_fail(call, CHAT_ERR_PERMANENT, "invalid_utf8",
              "the reply is not valid UTF-8");
    return 0;
  }
  if(resp) {
    call->resp = *resp;
    chat_response_init(resp);
    answer_ok(call);
  }
  else {
    chat_error_free(&call->err);
    call->err = *err;
    chat_error_init(err);
    attempt_failed(call);
  }
  return 0;

drop:
  if(resp)
    chat_response_free(resp);
  if(err)
    chat_error_free(err);
  return -1;
}

void rl_run_cancel(rl_run *run) {
  size_t lo, hi;

  if(run->state != RL_RUNNING) {
    if(run->state == RL_NEW)
      finish(run, RL_EV_RUN_CANCELLED, NULL);
    return;
  }
  run->state = RL_FINISHED; /* no completion may move the round on now */
  round_seats(run->spec, run->round, &lo, &hi);
  for(size_t s = lo; s < hi; s++) {
    rl_call *call = call_at(run, run->round, s);
    if(call->status != RL_SEAT_RUNNING)
      continue;
    if(call->handle && call->backing_off)
      run->io.cancel_timer(run->io.ctx, call->handle);
    else if(call->handle)
      run->io.cancel_call(run->io.ctx, call);
    call->handle = NULL;
    call->backing_off = 0;
    call->awaiting_tools = 0;
    stream_drop(call);
    call->status = RL_SEAT_FAILED;
    chat_error_set(&call->err, CHAT_ERR_CANCELLED, "cancelled",
                   "the run was cancelled");
    emit(run, RL_EV_MEMBER_COMPLETED, s, call, NULL);
  }
  emit(run, RL_EV_RUN_CANCELLED, 0, NULL, NULL);
}

int rl_run_finished(const rl_run *run) {
  return run->state == RL_FINISHED;
}

const rl_spec *rl_run_spec(const rl_run *run) {
  return run->spec;
}

void *rl_run_ctx(const rl_run *run) {
  return run->io.ctx;
}

const rl_call *rl_run_call(const rl_run *run, size_t round, size_t seat) {
  size_t lo, hi;

  if(round >= run->spec->n_rounds || seat >= run->spec->n_seats)
    return NULL;
  round_seats(run->spec, round, &lo, &hi);
  return seat >= lo && seat < hi ? call_at(run, round, seat) : NULL;
}
