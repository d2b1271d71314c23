/* spec_nif.c - the run spec map CouncilEx.Plan builds, decoded into an
 * rl_spec (round_loop.h) by one table-driven walk per map. Every key of
 * every map must be known (a misspelled key is an error, never a default);
 * a required key must be there; an optional one may be absent or nil.
 * Only what memory safety needs is checked here (sizes that drive
 * allocations, indexes into arrays by rl_spec_check, NUL bytes in C
 * strings, CR/LF in headers, UTF-8 of text that goes into JSON); the
 * council's rules are Elixir's.
 *
 * The maps (R: required; types: bin = binary without NUL, text = UTF-8
 * bin, int, num = integer or float, bool, atom = one of enums.def's):
 *
 * spec      input (R, text), seats (R, [seat], 1..10000), rounds (R,
 *           [round], 1..10000), n_members (int >= 0; default: every seat
 *           but the chair), has_chair (bool), chair_fallback ([member
 *           index], <= 10000), max_response_bytes (int >= 0; 0: 8 MiB),
 *           seed (int >= 0), debug (bool: report every request's
 *           body as a member_request event)
 * seat      id (R, text), model (R, text), external (bool: answered by
 *           the owner, see run_reply), system_prompt (text), temperature
 *           (num), max_tokens (int), stream (bool), output_schema (a
 *           schema_compile resource), tools ([tool], <= 1000), tool_choice
 *           (text), max_tool_turns (int 0..1000), weight (num; default
 *           1.0), confidence (atom: CX_CONFIDENCE), retry_max_attempts
 *           (int >= 0), retry_base_ms (int >= 0), timeout_ms (int: the
 *           call's whole budget), request_timeout_ms (int: one attempt),
 *           max_tool_calls (int 0..CHAT_MAX_TOOL_CALLS), connect_timeout_ms
 *           (int);
 *           HTTP seats only (not external): codec (R, bin: openai,
 *           openrouter, anthropic, gemini, ollama), base_url (bin),
 *           api_key (bin), referer (bin), title (bin), headers (["Name:
 *           value"], no CR/LF, <= 1000)
 * tool      name (R, text), description (text), parameters (bin: JSON
 *           Schema text)
 * round     kind (R, atom: CX_ROUND_KIND), max_iterations (int >= 0),
 *           ask_until (bool), min_confidence (num), ask_seats (bool),
 *           ask_judge (bool), judge_seat (seat index), order (atom:
 *           CX_ORDER), include_self (bool), aggregator (atom:
 *           CX_AGGREGATOR), tie (atom: CX_TIE), quorum (int >= 0),
 *           expose_confidence (bool), options ([text], <= 10000) */
#include "spec_nif.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoms.h"
#include "terms.h"

/* Schemas compiled past this size go to a dirty scheduler. */
#define SCHEMA_DIRTY_BYTES (64 * 1024)

typedef struct schema_res {
  json_schema *schema; /* one reference */
} schema_res;

static ErlNifResourceType *schema_type;

#define BIN(st, name, flags) NIF_F(NIF_BIN, st, name, flags)
#define TEXT(st, name, flags) NIF_F(NIF_TEXT, st, name, flags)
#define NUM(st, name) NIF_F(NIF_NUM, st, name, 0)
#define BOOL(st, name) NIF_F(NIF_BOOL, st, name, 0)
/* HTTP seats only: skipped (as unknown) for external ones. */
#define F_HTTP 2u
/* An HTTP seat's endpoint (objs[1]), handed to its codec. */
#define EP(name, flags)                                                        \
  NIF_FIELD(name, NIF_BIN, F_HTTP | (flags), 1, endpoint_in, name, 0, 0, 0, 0)

typedef struct endpoint_in {
  char *codec, *base_url, *api_key, *referer, *title;
} endpoint_in;

/* ---- Seats ----------------------------------------------------------------*/

/* A list of binaries into *out and *n (which the spec frees). */
static int get_strs(ErlNifEnv *env, ERL_NIF_TERM v, unsigned max,
                    unsigned flags, char ***out, size_t *n) {
  nif_strs l;
  int rc = nif_get_strs(env, v, max, flags, &l);

  *out = l.s;
  *n = l.n;
  l.s = NULL; /* handed over, even half-filled */
  nif_strs_free(&l);
  return rc;
}

static int get_headers(ErlNifEnv *env, ERL_NIF_TERM v, void *obj, nif_dctx *c) {
  rl_seat *s = obj;
  (void)c;

  return get_strs(env, v, 1000, NIF_STRS_HEADER, &s->headers, &s->n_headers);
}

static int get_temperature(ErlNifEnv *env, ERL_NIF_TERM v, void *obj,
                           nif_dctx *c) {
  rl_seat *s = obj;
  (void)c;

  s->has_temperature = nif_get_num(env, v, &s->temperature);
  return s->has_temperature ? 0 : -1;
}

static int get_schema(ErlNifEnv *env, ERL_NIF_TERM v, void *obj, nif_dctx *c) {
  rl_seat *s = obj;
  schema_res *res;
  (void)c;

  if (!enif_get_resource(env, v, schema_type, (void **)&res))
    return -1;
  s->schema = json_schema_ref(res->schema);
  return 0;
}

static const nif_field tool_fields[] = {
    TEXT(chat_tool, name, NIF_REQUIRED),
    TEXT(chat_tool, description, 0),
    BIN(chat_tool, parameters, 0),
};

static int get_tool(ErlNifEnv *env, ERL_NIF_TERM v, void *obj, nif_dctx *c) {
  c->objs[0] = obj;
  return nif_decode_map(env, v, tool_fields, NIF_COUNT(tool_fields), 0, c);
}

static int get_tools(ErlNifEnv *env, ERL_NIF_TERM v, void *obj, nif_dctx *c) {
  rl_seat *s = obj; /* its tools are freed with it */
  char what[48];

  snprintf(what, sizeof(what), "%s tool", c->where);
  return nif_decode_list(env, v, 0, 1000, sizeof(chat_tool), &s->tools,
                         &s->n_tools, what, get_tool, c);
}

static const nif_field seat_fields[] = {
    TEXT(rl_seat, id, NIF_REQUIRED),
    TEXT(rl_seat, model, NIF_REQUIRED),
    BOOL(rl_seat, external),
    TEXT(rl_seat, system_prompt, 0),
    NIF_F_FN(rl_seat, temperature, 0, get_temperature),
    NIF_F_INT(NIF_LONG, rl_seat, max_tokens, LONG_MIN, LONG_MAX),
    BOOL(rl_seat, stream),
    NIF_FIELD(output_schema, NIF_FN, 0, 0, rl_seat, schema, 0, 0, 0,
              get_schema),
    NIF_F_FN(rl_seat, tools, 0, get_tools),
    TEXT(rl_seat, tool_choice, 0),
    NIF_F_INT(NIF_UINT, rl_seat, max_tool_turns, 0, 1000),
    NUM(rl_seat, weight),
    NIF_F_ENUM(rl_seat, confidence, 0, ea_confidence, RL_CONF_COUNT),
    NIF_F_INT(NIF_UINT, rl_seat, retry_max_attempts, 0, UINT_MAX),
    NIF_F_INT(NIF_LONG, rl_seat, retry_base_ms, 0, LONG_MAX),
    NIF_F_INT(NIF_LONG, rl_seat, timeout_ms, LONG_MIN, LONG_MAX),
    NIF_F_INT(NIF_LONG, rl_seat, request_timeout_ms, LONG_MIN, LONG_MAX),
    NIF_F_INT(NIF_SIZE, rl_seat, max_tool_calls, 0, CHAT_MAX_TOOL_CALLS),
    NIF_F_INT(NIF_LONG, rl_seat, connect_timeout_ms, LONG_MIN, LONG_MAX),
    EP(codec, NIF_REQUIRED),
    EP(base_url, 0),
    EP(api_key, 0),
    EP(referer, 0),
    EP(title, 0),
    NIF_FIELD(headers, NIF_FN, F_HTTP, 0, rl_seat, headers, 0, 0, 0,
              get_headers),
};

/* An HTTP seat's codec builds its URL and auth headers (the extra headers
 * come after them). */
static int connect_seat(rl_seat *s, const endpoint_in *e) {
  const chat_codec *codec = codec_find(e->codec);
  chat_endpoint ep = {.base_url = e->base_url,
                      .api_key = e->api_key,
                      .model = s->model,
                      .stream = s->stream,
                      .referer = e->referer,
                      .title = e->title};

  return codec ? rl_seat_connect(s, codec, &ep) : -1;
}

static int get_seat(ErlNifEnv *env, ERL_NIF_TERM map, void *obj, nif_dctx *c) {
  rl_seat *s = obj;
  endpoint_in ep = {0};
  ERL_NIF_TERM v;
  int rc;

  s->weight = 1.0;
  s->external = enif_get_map_value(env, map, am_external, &v) &&
                enif_is_identical(v, am_true);
  c->objs[0] = s;
  c->objs[1] = &ep;
  rc = nif_decode_map(env, map, seat_fields, NIF_COUNT(seat_fields),
                      s->external ? F_HTTP : 0, c);
  if (s->external)
    s->stream = 0; /* the owner answers whole */
  else if (rc == 0 && connect_seat(s, &ep) != 0)
    rc = nif_decode_fail(env, c, "the codec refuses the endpoint of key",
                         am_codec);
  free(ep.codec);
  free(ep.base_url);
  free(ep.api_key);
  free(ep.referer);
  free(ep.title);
  return rc;
}

static int get_seats(ErlNifEnv *env, ERL_NIF_TERM v, void *obj, nif_dctx *c) {
  rl_spec *spec = obj; /* its seats are freed with it */

  return nif_decode_list(env, v, 1, 10000, sizeof(rl_seat), &spec->seats,
                         &spec->n_seats, "seat", get_seat, c);
}

/* ---- Rounds ---------------------------------------------------------------*/

/* Vote options (rl_spec_check: non-empty, UTF-8). */
static int get_options(ErlNifEnv *env, ERL_NIF_TERM v, void *obj, nif_dctx *c) {
  rl_round *rd = obj;
  (void)c;

  return get_strs(env, v, 10000, NIF_STRS_CSTR, &rd->options, &rd->n_options);
}

static const nif_field round_fields[] = {
    NIF_F_ENUM(rl_round, kind, NIF_REQUIRED, ea_round_kind, RL_ROUND_COUNT),
    NIF_F_INT(NIF_UINT, rl_round, max_iterations, 0, UINT_MAX),
    BOOL(rl_round, ask_until),
    NUM(rl_round, min_confidence),
    BOOL(rl_round, ask_seats),
    BOOL(rl_round, ask_judge),
    NIF_F_INT(NIF_SIZE, rl_round, judge_seat, 0, LONG_MAX),
    NIF_F_ENUM(rl_round, order, 0, ea_order, RL_ORDER_COUNT),
    BOOL(rl_round, include_self),
    NIF_F_ENUM(rl_round, aggregator, 0, ea_aggregator, RL_AGG_COUNT),
    NIF_F_ENUM(rl_round, tie, 0, ea_tie, AGG_TIE_COUNT),
    NIF_F_INT(NIF_UINT, rl_round, quorum, 0, UINT_MAX),
    BOOL(rl_round, expose_confidence),
    NIF_F_FN(rl_round, options, 0, get_options),
};

static int get_round(ErlNifEnv *env, ERL_NIF_TERM v, void *obj, nif_dctx *c) {
  c->objs[0] = obj;
  return nif_decode_map(env, v, round_fields, NIF_COUNT(round_fields), 0, c);
}

static int get_rounds(ErlNifEnv *env, ERL_NIF_TERM v, void *obj, nif_dctx *c) {
  rl_spec *spec = obj; /* its rounds are freed with it */

  return nif_decode_list(env, v, 1, 10000, sizeof(rl_round), &spec->rounds,
                         &spec->n_rounds, "round", get_round, c);
}

/* ---- The spec -------------------------------------------------------------*/

static int get_fallback(ErlNifEnv *env, ERL_NIF_TERM v, void *obj,
                        nif_dctx *c) {
  rl_spec *spec = obj;
  ERL_NIF_TERM head;
  unsigned n;
  long seat;
  (void)c;

  if (!enif_get_list_length(env, v, &n) || n > 10000 ||
      !(spec->chair_fallback = calloc(n ? n : 1, sizeof(size_t))))
    return -1;
  for (; enif_get_list_cell(env, v, &head, &v); spec->n_chair_fallback++) {
    if (!enif_get_long(env, head, &seat) || seat < 0)
      return -1; /* rl_spec_check: a member */
    spec->chair_fallback[spec->n_chair_fallback] = (size_t)seat;
  }
  return 0;
}

/* The input keeps its length (rl_spec_check: UTF-8). */
static int get_input(ErlNifEnv *env, ERL_NIF_TERM v, void *obj, nif_dctx *c) {
  rl_spec *spec = obj;
  (void)c;

  return nif_copy_str(env, v, 0, &spec->input, &spec->input_len);
}

static const nif_field spec_fields[] = {
    NIF_F_FN(rl_spec, input, NIF_REQUIRED, get_input),
    NIF_F_FN(rl_spec, seats, NIF_REQUIRED, get_seats),
    NIF_F_FN(rl_spec, rounds, NIF_REQUIRED, get_rounds),
    NIF_F_INT(NIF_SIZE, rl_spec, n_members, 0, LONG_MAX),
    BOOL(rl_spec, has_chair),
    BOOL(rl_spec, debug),
    NIF_F_FN(rl_spec, chair_fallback, 0, get_fallback),
    NIF_F_INT(NIF_SIZE, rl_spec, max_response_bytes, 0, LONG_MAX),
    NIF_F(NIF_U64, rl_spec, seed, 0),
};

rl_spec *spec_nif_decode(ErlNifEnv *env, ERL_NIF_TERM map, char *why,
                         size_t why_len) {
  rl_spec *spec = calloc(1, sizeof(*spec));
  nif_dctx c = {
      .objs = {spec, NULL}, .where = "spec", .why = why, .why_len = why_len};

  why[0] = '\0';
  if (!spec) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  spec->n_members = SIZE_MAX;
  if (nif_decode_map(env, map, spec_fields, NIF_COUNT(spec_fields), 0, &c) != 0)
    goto err;
  if (spec->n_members == SIZE_MAX)
    spec->n_members = spec->n_seats - (spec->has_chair ? 1 : 0);
  if (rl_spec_check(spec, why, why_len) != 0)
    goto err;
  return spec;

err:
  if (!why[0])
    snprintf(why, why_len, "malformed run spec");
  rl_spec_free(spec);
  return NULL;
}

/* ---- Output schemas -------------------------------------------------------*/

static void schema_dtor(ErlNifEnv *env, void *obj) {
  (void)env;
  json_schema_free(((schema_res *)obj)->schema);
}

static ERL_NIF_TERM schema_compile_impl(ErlNifEnv *env, int argc,
                                        const ERL_NIF_TERM argv[]) {
  ErlNifBinary bin;
  char why[256] = "";
  json_schema *schema;
  schema_res *res;
  ERL_NIF_TERM term;
  (void)argc;

  if (!enif_inspect_binary(env, argv[0], &bin))
    return enif_make_badarg(env);
  schema =
      json_schema_compile((const char *)bin.data, bin.size, why, sizeof(why));
  if (!schema)
    return nif_error(env, nif_make_cstr(env, why));
  res = enif_alloc_resource(schema_type, sizeof(*res));
  res->schema = schema;
  term = enif_make_resource(env, res);
  enif_release_resource(res); /* the term holds it now */
  return enif_make_tuple2(env, am_ok, term);
}

ERL_NIF_TERM schema_compile_nif(ErlNifEnv *env, int argc,
                                const ERL_NIF_TERM argv[]) {
  if (argc != 1)
    return enif_make_badarg(env);
  return schedule_if_large(env, nif_bytes(env, argv[0], SCHEMA_DIRTY_BYTES),
                           SCHEMA_DIRTY_BYTES, "schema_compile",
                           schema_compile_impl, argc, argv);
}

int spec_nif_load(ErlNifEnv *env) {
  ErlNifResourceTypeInit init = {schema_dtor, NULL, NULL, 1, NULL};

  schema_type =
      enif_init_resource_type(env, "council_schema", &init,
                              ERL_NIF_RT_CREATE | ERL_NIF_RT_TAKEOVER, NULL);
  return schema_type ? 0 : -1;
}
