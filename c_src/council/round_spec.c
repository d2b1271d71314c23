/* round_spec.c - building, checking and freeing the spec a run executes
 * (see round_loop.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "round_internal.h"

static const unsigned kind_flags[] = {
#define CX_ROUND_KIND(e, name, flags, agg) [e] = flags,
#include "enums.def"
};

static const char *const kind_names[] = {
#define CX_ROUND_KIND(e, name, flags, agg) [e] = #name,
#include "enums.def"
};

static const char *const order_names[] = {
#define CX_ORDER(e, name) [e] = #name,
#include "enums.def"
};

static const char *const confidence_names[] = {
#define CX_CONFIDENCE(e, name) [e] = #name,
#include "enums.def"
};

const char *rl_round_kind_name(rl_round_kind kind) {
  return (unsigned)kind < RL_ROUND_COUNT ? kind_names[kind] : NULL;
}

const char *rl_order_name(rl_order order) {
  return (unsigned)order < RL_ORDER_COUNT ? order_names[order] : NULL;
}

const char *rl_confidence_name(rl_confidence confidence) {
  return (unsigned)confidence < RL_CONF_COUNT ? confidence_names[confidence]
                                              : NULL;
}

static int kind_has(rl_round_kind kind, unsigned flag) {
  return (unsigned)kind < RL_ROUND_COUNT && (kind_flags[kind] & flag) != 0;
}

int rl_kind_answers(rl_round_kind kind) {
  return kind_has(kind, RL_KF_ANSWERS);
}
int rl_kind_judges(rl_round_kind kind) { return kind_has(kind, RL_KF_JUDGES); }
int rl_kind_members(rl_round_kind kind) {
  return kind_has(kind, RL_KF_MEMBERS);
}
int rl_kind_chair(rl_round_kind kind) { return kind_has(kind, RL_KF_CHAIR); }

static int utf8z(const char *s) { return !s || chat_utf8_valid(s, strlen(s)); }

static int seat_check(const rl_seat *s, size_t i, char *why, size_t why_len) {
  if (!s->id || !s->id[0]) {
    snprintf(why, why_len, "seat %zu has no id", i);
    return -1;
  }
  if (!s->external && (!s->url || !s->url[0])) {
    snprintf(why, why_len, "seat %s has no url", s->id);
    return -1;
  }
  if (!s->model || !s->model[0]) {
    snprintf(why, why_len, "seat %s has no model", s->id);
    return -1;
  }
  if (!utf8z(s->id) || !utf8z(s->model) || !utf8z(s->system_prompt)) {
    snprintf(why, why_len, "seat %zu has text that is not valid UTF-8", i);
    return -1;
  }
  if (s->n_headers > 0 && !s->headers) {
    snprintf(why, why_len, "seat %s has a missing header", s->id);
    return -1;
  }
  for (size_t h = 0; h < s->n_headers; h++) {
    if (!s->headers[h]) {
      snprintf(why, why_len, "seat %s has a missing header", s->id);
      return -1;
    }
  }
  if (!isfinite(s->weight) || s->weight < 0) {
    snprintf(why, why_len, "seat %s has a bad weight", s->id);
    return -1;
  }
  if ((unsigned)s->confidence >= RL_CONF_COUNT) {
    snprintf(why, why_len, "seat %s has an unknown confidence mode", s->id);
    return -1;
  }
  if (s->max_tool_calls > CHAT_MAX_TOOL_CALLS) {
    snprintf(why, why_len, "seat %s allows more than %d tool calls", s->id,
             (int)CHAT_MAX_TOOL_CALLS);
    return -1;
  }
  return 0;
}

static int round_check(const rl_spec *spec, size_t r, char *why,
                       size_t why_len) {
  const rl_round *rd = &spec->rounds[r];

  if ((unsigned)rd->kind >= RL_ROUND_COUNT) {
    snprintf(why, why_len, "round %zu has an unknown kind", r);
    return -1;
  }
  if ((unsigned)rd->aggregator >= RL_AGG_COUNT ||
      (unsigned)rd->order >= RL_ORDER_COUNT ||
      (unsigned)rd->tie >= AGG_TIE_COUNT) {
    snprintf(why, why_len, "round %zu has an unknown option", r);
    return -1;
  }
  if (rl_kind_chair(rd->kind)) {
    if (!spec->has_chair) {
      snprintf(why, why_len, "round %zu is a synthesis but there is no chair",
               r);
      return -1;
    }
    if (r == 0) {
      snprintf(why, why_len, "a synthesis round needs a round before it");
      return -1;
    }
  }
  if (rd->kind == RL_ROUND_PAIRWISE && !rd->ask_judge &&
      (rd->judge_seat >= spec->n_seats || rd->judge_seat < spec->n_members)) {
    snprintf(why, why_len, "round %zu has no judge (a chair or judge seat)", r);
    return -1;
  }
  if (rd->n_options > 0 && !rd->options) {
    snprintf(why, why_len, "round %zu has a missing option", r);
    return -1;
  }
  for (size_t o = 0; o < rd->n_options; o++) {
    if (!rd->options[o] || !rd->options[o][0] || !utf8z(rd->options[o])) {
      snprintf(why, why_len, "round %zu has an empty or non-UTF-8 option", r);
      return -1;
    }
  }
  if (!isfinite(rd->min_confidence) || rd->min_confidence > 1) {
    snprintf(why, why_len, "round %zu has a bad min_confidence", r);
    return -1;
  }
  return 0;
}

int rl_spec_check(const rl_spec *spec, char *why, size_t why_len) {
  if (spec->n_members == 0 || spec->n_members > spec->n_seats ||
      (spec->has_chair && spec->n_seats < spec->n_members + 1)) {
    snprintf(why, why_len, "a council needs at least one member");
    return -1;
  }
  if (spec->n_rounds == 0) {
    snprintf(why, why_len, "a council needs at least one round");
    return -1;
  }
  if (!spec->input || !chat_utf8_valid(spec->input, spec->input_len)) {
    snprintf(why, why_len, "the input is not valid UTF-8");
    return -1;
  }
  if (!spec->seats || !spec->rounds) {
    snprintf(why, why_len, "the spec has no seats or rounds array");
    return -1;
  }
  for (size_t f = 0; f < spec->n_chair_fallback; f++) {
    if (!spec->chair_fallback || spec->chair_fallback[f] >= spec->n_members) {
      snprintf(why, why_len, "a chair fallback is not a member");
      return -1;
    }
  }
  for (size_t r = 0; r < spec->n_rounds; r++) {
    if (round_check(spec, r, why, why_len) != 0)
      return -1;
  }
  for (size_t i = 0; i < spec->n_seats; i++) {
    if (seat_check(&spec->seats[i], i, why, why_len) != 0)
      return -1;
  }
  return 0;
}

int rl_seat_connect(rl_seat *s, const chat_codec *codec,
                    const chat_endpoint *ep) {
  codec_headers h;
  buf url;
  char **lines;

  codec_headers_init(&h);
  buf_init(&url, 0);
  if (codec->build_url(ep, &url) != 0 || codec->build_headers(ep, &h) != 0)
    goto err;
  for (size_t i = 0; i < s->n_headers; i++) {
    lines = realloc(h.lines, (h.n + 1) * sizeof(*lines));
    if (!lines)
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
  free(s->secret);
  s->secret = NULL;
  /* Shorter strings are not worth hiding, and would mask ordinary words. */
  if (ep->api_key && strlen(ep->api_key) >= RL_SECRET_MIN &&
      (s->secret = strdup(ep->api_key)) == NULL)
    return -1;
  return s->url ? 0 : -1;

err:
  codec_headers_free(&h);
  buf_free(&url);
  return -1;
}

static void seat_free(rl_seat *s) {
  free(s->id);
  free(s->secret);
  free(s->url);
  for (size_t h = 0; h < s->n_headers; h++)
    free(s->headers[h]);
  free(s->headers);
  free(s->model);
  free(s->system_prompt);
  json_schema_free(s->schema);
  for (size_t t = 0; t < s->n_tools; t++) {
    free((char *)s->tools[t].name);
    free((char *)s->tools[t].description);
    free((char *)s->tools[t].parameters);
  }
  free(s->tools);
  free(s->tool_choice);
}

void rl_spec_free(rl_spec *spec) {
  if (!spec)
    return;
  for (size_t i = 0; i < spec->n_seats; i++)
    seat_free(&spec->seats[i]);
  for (size_t r = 0; spec->rounds && r < spec->n_rounds; r++) {
    /* options may be missing (rl_spec_check refuses such a spec, and it
     * must still free) */
    for (size_t o = 0; spec->rounds[r].options && o < spec->rounds[r].n_options;
         o++)
      free(spec->rounds[r].options[o]);
    free(spec->rounds[r].options);
  }
  free(spec->seats);
  free(spec->rounds);
  free(spec->chair_fallback);
  free(spec->input);
  free(spec);
}
