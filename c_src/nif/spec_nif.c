/* spec_nif.c - decoding the run spec map CouncilEx.Engine builds into an
 * rl_spec (round_loop.h). Every field is checked here or by
 * rl_spec_check: a malformed map gives an error, never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_nif.h"

static ERL_NIF_TERM am_nil, am_true, am_api_key, am_base_url, am_codec,
    am_connect_timeout_ms, am_description, am_external, am_has_chair,
    am_headers, am_id, am_input, am_max_response_bytes, am_max_tokens,
    am_max_tool_turns, am_model, am_name, am_output_schema, am_parameters,
    am_referer, am_retry_base_ms, am_retry_max_attempts, am_rounds, am_seats,
    am_seed, am_stream, am_system_prompt, am_temperature, am_timeout_ms,
    am_title, am_tool_choice, am_tools, am_url, am_weight, am_confidence,
    am_n_members, am_chair_fallback, am_kind, am_order, am_aggregator, am_tie,
    am_max_iterations, am_judge_seat, am_quorum, am_min_confidence, am_options,
    am_ask_until, am_ask_seats, am_ask_judge, am_include_self,
    am_expose_confidence;

/* In enum order (round_loop.h). */
#define N_ROUND_KINDS 10
static ERL_NIF_TERM round_kinds[N_ROUND_KINDS], orders[3], aggregators[7],
    ties[3], confidences[3];

static void make_list(ErlNifEnv *env, ERL_NIF_TERM *out, const char **names,
                      int n) {
  for (int i = 0; i < n; i++)
    out[i] = enif_make_atom(env, names[i]);
}

void spec_nif_load(ErlNifEnv *env) {
  static const char *kinds[N_ROUND_KINDS] = {"independent_analysis",
                                             "peer_review",
                                             "anonymized_peer_review",
                                             "critique",
                                             "ranking",
                                             "vote",
                                             "pairwise_elimination",
                                             "synthesis",
                                             "weighted_synthesis",
                                             "custom"};
  static const char *order_names[3] = {"per_judge", "shuffle", "stable"};
  static const char *agg_names[7] = {
      "none",  "plurality", "weighted_mean", "confidence_median",
      "borda", "condorcet", "peer_ranking"};
  static const char *tie_names[3] = {"first", "random", "caller"};
  static const char *conf_names[3] = {"none", "self_report", "logprob"};

  make_list(env, round_kinds, kinds, N_ROUND_KINDS);
  make_list(env, orders, order_names, 3);
  make_list(env, aggregators, agg_names, 7);
  make_list(env, ties, tie_names, 3);
  make_list(env, confidences, conf_names, 3);
#define ATOM(name) am_##name = enif_make_atom(env, #name)
  ATOM(nil);
  ATOM(true);
  ATOM(api_key);
  ATOM(base_url);
  ATOM(codec);
  ATOM(connect_timeout_ms);
  ATOM(description);
  ATOM(external);
  ATOM(has_chair);
  ATOM(headers);
  ATOM(id);
  ATOM(input);
  ATOM(max_response_bytes);
  ATOM(max_tokens);
  ATOM(max_tool_turns);
  ATOM(model);
  ATOM(name);
  ATOM(output_schema);
  ATOM(parameters);
  ATOM(referer);
  ATOM(retry_base_ms);
  ATOM(retry_max_attempts);
  ATOM(rounds);
  ATOM(seats);
  ATOM(seed);
  ATOM(stream);
  ATOM(system_prompt);
  ATOM(temperature);
  ATOM(timeout_ms);
  ATOM(title);
  ATOM(tool_choice);
  ATOM(tools);
  ATOM(url);
  ATOM(weight);
  ATOM(confidence);
  ATOM(n_members);
  ATOM(chair_fallback);
  ATOM(kind);
  ATOM(order);
  ATOM(aggregator);
  ATOM(tie);
  ATOM(max_iterations);
  ATOM(judge_seat);
  ATOM(quorum);
  ATOM(min_confidence);
  ATOM(options);
  ATOM(ask_until);
  ATOM(ask_seats);
  ATOM(ask_judge);
  ATOM(include_self);
  ATOM(expose_confidence);
#undef ATOM
}

/* Copies a binary (or iodata) term; nil gives NULL when allow_nil. */
int nif_copy_str(ErlNifEnv *env, ERL_NIF_TERM v, int allow_nil, char **out,
                 size_t *len) {
  ErlNifBinary bin;

  *out = NULL;
  if (enif_is_identical(v, am_nil))
    return allow_nil ? 0 : -1;
  if (!enif_inspect_iolist_as_binary(env, v, &bin))
    return -1;
  if (memchr(bin.data, '\0', bin.size))
    return -1; /* C strings downstream */
  *out = str_ndup((const char *)bin.data, bin.size);
  if (len)
    *len = bin.size;
  return *out ? 0 : -1;
}

/* Copies a map's binary field; a missing or nil field gives NULL when
 * allow_nil. */
int nif_get_str(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key,
                int allow_nil, char **out, size_t *len) {
  ERL_NIF_TERM v;

  *out = NULL;
  if (!enif_get_map_value(env, map, key, &v))
    return allow_nil ? 0 : -1;
  return nif_copy_str(env, v, allow_nil, out, len);
}

int nif_get_long(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key, long dflt,
                 long *out) {
  ERL_NIF_TERM v;

  *out = dflt;
  if (!enif_get_map_value(env, map, key, &v) || enif_is_identical(v, am_nil))
    return 0;
  return enif_get_long(env, v, out) ? 0 : -1;
}

/* The index of term v among names (atoms), or -1. */
static int atom_index(ERL_NIF_TERM v, const ERL_NIF_TERM *names, int n) {
  for (int i = 0; i < n; i++) {
    if (enif_is_identical(v, names[i]))
      return i;
  }
  return -1;
}

/* An atom field naming one of n choices (index = enum value); missing or
 * nil gives dflt. */
static int get_enum(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key,
                    const ERL_NIF_TERM *names, int n, int dflt, int *out) {
  ERL_NIF_TERM v;

  *out = dflt;
  if (!enif_get_map_value(env, map, key, &v) || enif_is_identical(v, am_nil))
    return 0;
  *out = atom_index(v, names, n);
  return *out < 0 ? -1 : 0;
}

static int get_flag(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key) {
  ERL_NIF_TERM v;
  return enif_get_map_value(env, map, key, &v) && enif_is_identical(v, am_true);
}

static int get_double(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key,
                      double dflt, double *out) {
  ERL_NIF_TERM v;
  long l;

  *out = dflt;
  if (!enif_get_map_value(env, map, key, &v) || enif_is_identical(v, am_nil))
    return 0;
  if (enif_get_double(env, v, out))
    return 0;
  if (!enif_get_long(env, v, &l))
    return -1;
  *out = (double)l;
  return 0;
}

static int get_headers(ErlNifEnv *env, ERL_NIF_TERM map, rl_seat *s) {
  ERL_NIF_TERM list, head;
  unsigned n;

  if (!enif_get_map_value(env, map, am_headers, &list))
    return 0;
  if (!enif_get_list_length(env, list, &n))
    return -1;
  s->headers = calloc(n ? n : 1, sizeof(char *));
  if (!s->headers)
    return -1;
  for (; enif_get_list_cell(env, list, &head, &list); s->n_headers++) {
    ErlNifBinary bin;
    if (!enif_inspect_binary(env, head, &bin) ||
        memchr(bin.data, '\0', bin.size) || memchr(bin.data, '\n', bin.size) ||
        memchr(bin.data, '\r', bin.size))
      return -1; /* no header injection */
    s->headers[s->n_headers] = str_ndup((const char *)bin.data, bin.size);
    if (!s->headers[s->n_headers])
      return -1;
  }
  return 0;
}

/* [#{name, description, parameters}] into s->tools. */
static int get_tools(ErlNifEnv *env, ERL_NIF_TERM map, rl_seat *s) {
  ERL_NIF_TERM list, head;
  unsigned n;

  if (!enif_get_map_value(env, map, am_tools, &list) ||
      enif_is_identical(list, am_nil))
    return 0;
  if (!enif_get_list_length(env, list, &n))
    return -1;
  if (n == 0)
    return 0;
  s->tools = calloc(n, sizeof(chat_tool));
  if (!s->tools)
    return -1;
  for (; enif_get_list_cell(env, list, &head, &list); s->n_tools++) {
    char *name, *description, *parameters;
    if (!enif_is_map(env, head))
      return -1;
    int bad = nif_get_str(env, head, am_name, 0, &name, NULL);
    bad |= nif_get_str(env, head, am_description, 1, &description, NULL);
    bad |= nif_get_str(env, head, am_parameters, 1, &parameters, NULL);
    s->tools[s->n_tools] = (chat_tool){
        .name = name, .description = description, .parameters = parameters};
    if (bad) {
      s->n_tools++; /* so seat_free frees what was copied */
      return -1;
    }
  }
  return 0;
}

/* An HTTP seat names its provider's codec and endpoint; the codec builds
 * the URL and the auth headers (extra headers come after them). */
static int get_endpoint(ErlNifEnv *env, ERL_NIF_TERM map, rl_seat *s) {
  char *name = NULL, *base_url = NULL, *api_key = NULL, *referer = NULL,
       *title = NULL;
  const chat_codec *codec;
  int rc = -1;

  if (nif_get_str(env, map, am_codec, 0, &name, NULL) ||
      nif_get_str(env, map, am_base_url, 1, &base_url, NULL) ||
      nif_get_str(env, map, am_api_key, 1, &api_key, NULL) ||
      nif_get_str(env, map, am_referer, 1, &referer, NULL) ||
      nif_get_str(env, map, am_title, 1, &title, NULL))
    goto done;
  codec = codec_find(name);
  if (codec) {
    chat_endpoint ep = {.base_url = base_url,
                        .api_key = api_key,
                        .model = s->model,
                        .stream = s->stream,
                        .referer = referer,
                        .title = title};
    rc = rl_seat_connect(s, codec, &ep);
  }

done:
  free(name);
  free(base_url);
  free(api_key);
  free(referer);
  free(title);
  return rc;
}

static int get_seat(ErlNifEnv *env, ERL_NIF_TERM map, rl_seat *s) {
  ERL_NIF_TERM v;
  double d;
  long l;
  int conf;

  s->external = enif_get_map_value(env, map, am_external, &v) &&
                enif_is_identical(v, am_true);
  s->stream = !s->external && enif_get_map_value(env, map, am_stream, &v) &&
              enif_is_identical(v, am_true);
  if (!enif_is_map(env, map) || nif_get_str(env, map, am_id, 0, &s->id, NULL) ||
      nif_get_str(env, map, am_url, 1, &s->url, NULL) ||
      nif_get_str(env, map, am_model, 0, &s->model, NULL) ||
      nif_get_str(env, map, am_system_prompt, 1, &s->system_prompt, NULL) ||
      nif_get_str(env, map, am_output_schema, 1, &s->output_schema, NULL) ||
      nif_get_str(env, map, am_tool_choice, 1, &s->tool_choice, NULL) ||
      get_tools(env, map, s) || get_headers(env, map, s) ||
      nif_get_long(env, map, am_max_tokens, 0, &s->max_tokens) ||
      nif_get_long(env, map, am_connect_timeout_ms, 0,
                   &s->connect_timeout_ms) ||
      nif_get_long(env, map, am_timeout_ms, 0, &s->timeout_ms) ||
      nif_get_long(env, map, am_retry_max_attempts, 1, &l) || l < 1 ||
      l > 100 ||
      nif_get_long(env, map, am_retry_base_ms, 0, &s->retry_base_ms) ||
      s->retry_base_ms < 0)
    return -1;
  s->retry_max_attempts = (unsigned)l;
  if (nif_get_long(env, map, am_max_tool_turns, 0, &l) || l < 0 || l > 1000)
    return -1;
  s->max_tool_turns = (unsigned)l;
  if (get_double(env, map, am_weight, 1.0, &s->weight) ||
      get_enum(env, map, am_confidence, confidences, 3, 0, &conf))
    return -1;
  s->confidence = (rl_confidence)conf;
  if (!s->external && enif_get_map_value(env, map, am_codec, &v) &&
      get_endpoint(env, map, s) != 0)
    return -1;
  if (enif_get_map_value(env, map, am_temperature, &v) &&
      !enif_is_identical(v, am_nil)) {
    if (enif_get_double(env, v, &d))
      s->temperature = d;
    else if (enif_get_long(env, v, &l))
      s->temperature = (double)l;
    else
      return -1;
    s->has_temperature = 1;
  }
  return 0;
}

static int get_options(ErlNifEnv *env, ERL_NIF_TERM map, rl_round *rd) {
  ERL_NIF_TERM list, head;
  unsigned n;

  if (!enif_get_map_value(env, map, am_options, &list) ||
      enif_is_identical(list, am_nil))
    return 0;
  if (!enif_get_list_length(env, list, &n) || n > 10000)
    return -1;
  if (n == 0)
    return 0;
  rd->options = calloc(n, sizeof(char *));
  if (!rd->options)
    return -1;
  for (; enif_get_list_cell(env, list, &head, &list); rd->n_options++) {
    if (nif_copy_str(env, head, 0, &rd->options[rd->n_options], NULL)) {
      rd->n_options++; /* freed with the spec */
      return -1;
    }
  }
  return 0;
}

/* A round: #{kind, max_iterations, ask_until, min_confidence, ask_seats,
 * ask_judge, judge_seat, order, include_self, aggregator, tie, quorum,
 * expose_confidence, options}; only kind is required. */
static int get_round(ErlNifEnv *env, ERL_NIF_TERM map, rl_round *rd) {
  int kind, order, agg, tie;
  long iters, judge, quorum;

  if (!enif_is_map(env, map) ||
      get_enum(env, map, am_kind, round_kinds, N_ROUND_KINDS, -1, &kind) ||
      kind < 0 || get_enum(env, map, am_order, orders, 3, 0, &order) ||
      get_enum(env, map, am_aggregator, aggregators, 7, 0, &agg) ||
      get_enum(env, map, am_tie, ties, 3, 0, &tie) ||
      nif_get_long(env, map, am_max_iterations, 1, &iters) || iters < 1 ||
      iters > 100000 || nif_get_long(env, map, am_judge_seat, 0, &judge) ||
      judge < 0 || nif_get_long(env, map, am_quorum, 1, &quorum) ||
      quorum < 0 || quorum > 1000000 ||
      get_double(env, map, am_min_confidence, 0, &rd->min_confidence) ||
      get_options(env, map, rd))
    return -1;
  rd->kind = (rl_round_kind)kind;
  rd->order = (rl_order)order;
  rd->aggregator = (rl_agg_kind)agg;
  rd->tie = tie;
  rd->max_iterations = (unsigned)iters;
  rd->judge_seat = (size_t)judge;
  rd->quorum = (unsigned)quorum;
  rd->ask_until = get_flag(env, map, am_ask_until);
  rd->ask_seats = get_flag(env, map, am_ask_seats);
  rd->ask_judge = get_flag(env, map, am_ask_judge);
  rd->include_self = get_flag(env, map, am_include_self);
  rd->expose_confidence = get_flag(env, map, am_expose_confidence);
  return 0;
}

static int get_rounds(ErlNifEnv *env, ERL_NIF_TERM list, rl_spec *spec) {
  ERL_NIF_TERM head;
  unsigned n;

  if (!enif_get_list_length(env, list, &n) || n == 0 || n > 10000)
    return -1;
  spec->rounds = calloc(n, sizeof(rl_round));
  if (!spec->rounds)
    return -1;
  for (; enif_get_list_cell(env, list, &head, &list); spec->n_rounds++) {
    if (get_round(env, head, &spec->rounds[spec->n_rounds])) {
      spec->n_rounds++; /* so rl_spec_free frees its options */
      return -1;
    }
  }
  return 0;
}

static int get_fallback(ErlNifEnv *env, ERL_NIF_TERM map, rl_spec *spec) {
  ERL_NIF_TERM list, head;
  unsigned n;
  long seat;

  if (!enif_get_map_value(env, map, am_chair_fallback, &list))
    return 0;
  if (!enif_get_list_length(env, list, &n) || n > 10000)
    return -1;
  if (n == 0)
    return 0;
  spec->chair_fallback = calloc(n, sizeof(size_t));
  if (!spec->chair_fallback)
    return -1;
  for (; enif_get_list_cell(env, list, &head, &list);
       spec->n_chair_fallback++) {
    if (!enif_get_long(env, head, &seat) || seat < 0)
      return -1;
    spec->chair_fallback[spec->n_chair_fallback] = (size_t)seat;
  }
  return 0;
}

rl_spec *spec_nif_decode(ErlNifEnv *env, ERL_NIF_TERM map, char *why,
                         size_t why_len) {
  ERL_NIF_TERM seats, rounds, head, v;
  unsigned n;
  long max_bytes, n_members;
  rl_spec *spec = calloc(1, sizeof(*spec));

  if (!spec || !enif_is_map(env, map))
    goto err;
  if (nif_get_str(env, map, am_input, 0, &spec->input, &spec->input_len)) {
    snprintf(why, why_len, "input must be a binary without NUL bytes");
    goto err;
  }
  if (!enif_get_map_value(env, map, am_seats, &seats) ||
      !enif_get_list_length(env, seats, &n) || n == 0 ||
      !(spec->seats = calloc(n, sizeof(rl_seat))))
    goto err;
  for (; enif_get_list_cell(env, seats, &head, &seats); spec->n_seats++) {
    if (get_seat(env, head, &spec->seats[spec->n_seats])) {
      spec->n_seats++; /* so rl_spec_free frees it */
      snprintf(why, why_len, "seat %u is malformed", (unsigned)spec->n_seats);
      goto err;
    }
    if (rl_seat_compile_schema(&spec->seats[spec->n_seats], why, why_len)) {
      spec->n_seats++;
      goto err;
    }
  }
  spec->has_chair = get_flag(env, map, am_has_chair);
  if (nif_get_long(env, map, am_n_members,
                   (long)spec->n_seats - spec->has_chair, &n_members) ||
      n_members < 0 || get_fallback(env, map, spec)) {
    snprintf(why, why_len, "n_members or chair_fallback is malformed");
    goto err;
  }
  spec->n_members = (size_t)n_members;
  if (!enif_get_map_value(env, map, am_rounds, &rounds) ||
      get_rounds(env, rounds, spec)) {
    snprintf(why, why_len, "rounds must be a non-empty list of known rounds");
    goto err;
  }
  if (nif_get_long(env, map, am_max_response_bytes, 0, &max_bytes) ||
      max_bytes < 0)
    goto err;
  spec->max_response_bytes = (size_t)max_bytes;
  if (enif_get_map_value(env, map, am_seed, &v))
    enif_get_uint64(env, v, &spec->seed);
  if (rl_spec_check(spec, why, why_len) != 0)
    goto err;
  return spec;

err:
  if (!why[0])
    snprintf(why, why_len, "malformed run spec");
  rl_spec_free(spec);
  return NULL;
}
