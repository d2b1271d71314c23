/* round_prompt.c - what each call of a step is sent: the system prompt and
 * the user message that gives a member its view of earlier rounds (see the
 * visibility table in round_loop.h's round kinds).
 *
 * Answers are shown under real member ids except in anonymized review,
 * where each judge gets its own labels (rl_call.labels). The chair sees
 * everything, including which label meant which member for each judge:
 * llm-council withholds that mapping, which leaves its chairman unable to
 * read the rankings it is given. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "ballot.h"
#include "confidence.h"
#include "openai_codec.h"
#include "ranking.h"
#include "round_internal.h"

static const char *DEFAULT_CHAIR_PROMPT =
    "You are the chair of an LLM council. Several models answered the same "
    "question; you write the council's one final answer.";

static const char *DEFAULT_JUDGE_PROMPT =
    "You are an impartial judge. You compare two answers to the same "
    "question on correctness, completeness and clarity, and pick the "
    "better one. Length and style are not merit.";

void rl_label(size_t i, char *out, size_t out_len) {
  char letters[RANKING_LABEL_MAX];

  ranking_label(i, letters, sizeof(letters));
  snprintf(out, out_len, "Response %s", letters);
}

static const rl_step *step_at(const rl_run *run, size_t i) {
  return i == RL_NO_STEP ? NULL : rl_run_step(run, i);
}

static const char *seat_id(const rl_run *run, size_t seat) {
  return rl_run_spec(run)->seats[seat].id;
}

/* The answer member `seat` gave in step `answers`, or NULL. */
static const rl_call *answer_of(const rl_step *answers, size_t seat) {
  if (!answers || seat >= answers->n_calls ||
      answers->calls[seat].status != RL_SEAT_OK)
    return NULL;
  return &answers->calls[seat];
}

static int put_question(const rl_run *run, buf *out) {
  const rl_spec *spec = rl_run_spec(run);
  return buf_puts(out, "Question:\n") ||
         buf_append(out, spec->input, spec->input_len) || buf_puts(out, "\n\n");
}

static int put_text(buf *out, const rl_call *c) {
  return buf_append(out, c->resp.content, c->resp.content_len) ||
         buf_puts(out, "\n");
}

/* "### <id>\n<answer>\n" for every member that answered, except `skip`
 * (a seat, or RL_NO_STEP for none). */
static int put_answers(const rl_run *run, const rl_step *answers, size_t skip,
                       buf *out) {
  const rl_spec *spec = rl_run_spec(run);

  for (size_t s = 0; s < spec->n_members; s++) {
    const rl_call *a = answer_of(answers, s);
    if (!a || s == skip)
      continue;
    if (buf_printf(out, "\n### %s\n", seat_id(run, s)) || put_text(out, a))
      return -1;
  }
  return 0;
}

static int prompt_peer_review(const rl_run *run, const rl_step *step,
                              const rl_call *call, buf *out) {
  return put_question(run, out) ||
         buf_puts(out, "Other members of the council answered it:\n") ||
         put_answers(run, step_at(run, step->answers), call->seat, out) ||
         buf_puts(out, "\nReview these answers: what each gets right, and "
                       "what it gets wrong or leaves out. Then give your own "
                       "improved answer to the question.\n");
}

static int prompt_critique(const rl_run *run, const rl_step *step,
                           const rl_call *call, buf *out) {
  const rl_step *answers = step_at(run, step->answers);
  const rl_call *own = answer_of(answers, call->seat);

  if (put_question(run, out) || buf_puts(out, "Your previous answer:\n") ||
      (own ? put_text(out, own) : buf_puts(out, "(you gave none)\n")) ||
      buf_puts(out, "\nThe other members' answers:\n") ||
      put_answers(run, answers, call->seat, out))
    return -1;
  return buf_puts(out, "\nCritique these answers and your own: find errors, "
                       "gaps and weak arguments. Then write your revised "
                       "answer.\n");
}

/* llm-council's stage-2 prompt, kept compatible so its judges' habits
 * carry over; each judge sees only its own labels. */
static int prompt_anon_review(const rl_run *run, const rl_step *step,
                              const rl_call *call, buf *out) {
  const rl_spec *spec = rl_run_spec(run);
  const rl_step *answers = step_at(run, step->answers);
  char label[32];

  if (buf_puts(out, "You are evaluating different responses to the following "
                    "question:\n\nQuestion: ") ||
      buf_append(out, spec->input, spec->input_len) ||
      buf_puts(out, "\n\nHere are the responses, anonymized:\n"))
    return -1;
  for (size_t k = 0; k < call->n_labels; k++) {
    rl_label(k, label, sizeof(label));
    if (buf_printf(out, "\n%s:\n", label) ||
        put_text(out, answer_of(answers, call->labels[k])))
      return -1;
  }
  if (buf_puts(out,
               "\nYour task:\n"
               "1. Evaluate each response on its own: what it does well and "
               "what it does poorly.\n"
               "2. Then, at the very end of your reply, give your final "
               "ranking.\n\n"
               "IMPORTANT: the final ranking MUST be formatted EXACTLY like "
               "this:\n"
               "- Start with the line \"FINAL RANKING:\" (all caps, with a "
               "colon)\n"
               "- Then list the responses from best to worst as a numbered "
               "list\n"
               "- Each line: a number, a period, a space, then ONLY the "
               "response label (e.g., \"1. Response A\")\n"
               "- Rank every response exactly once; add no other text after "
               "the list\n\nExample of the ending:\n\nFINAL RANKING:\n"))
    return -1;
  for (size_t k = 0; k < call->n_labels; k++) {
    rl_label(call->n_labels - 1 - k, label, sizeof(label));
    if (buf_printf(out, "%zu. %s\n", k + 1, label))
      return -1;
  }
  return buf_puts(out, "\nNow provide your evaluation and ranking:\n");
}

static int put_id_list(const rl_run *run, const rl_step *step, buf *out) {
  for (size_t k = 0; k < step->n_cands; k++) {
    if (buf_printf(out, "%s\"%s\"", k ? ", " : "",
                   seat_id(run, step->cands[k])))
      return -1;
  }
  return 0;
}

static int prompt_ranking(const rl_run *run, const rl_step *step, buf *out) {
  if (put_question(run, out) ||
      buf_puts(out, "The council's answers, by member:\n") ||
      put_answers(run, step_at(run, step->answers), RL_NO_STEP, out) ||
      buf_puts(out, "\nRank these answers from best to worst. End your reply "
                    "with the line \"FINAL RANKING:\" and a numbered list of "
                    "member ids, best first (e.g. \"1. ") ||
      buf_puts(out, seat_id(run, step->cands[0])) ||
      buf_puts(out, "\"), naming each of ") || put_id_list(run, step, out) ||
      buf_puts(out, " exactly once. Alternatively reply with a JSON object "
                    "{\"ordering\": [ids, best first], \"rationale\": "
                    "\"...\"}.\n"))
    return -1;
  return 0;
}

static int prompt_vote(const rl_run *run, const rl_step *step, buf *out) {
  const rl_round *rd = &rl_run_spec(run)->rounds[step->round];

  if (put_question(run, out))
    return -1;
  if (rd->n_options == 0) {
    if (buf_puts(out, "The council's answers, by member:\n") ||
        put_answers(run, step_at(run, step->answers), RL_NO_STEP, out) ||
        buf_puts(out, "\nVote for the best answer, by member id: one of ") ||
        put_id_list(run, step, out) ||
        buf_puts(out, ". A vote for your own answer is not counted.\n"))
      return -1;
  } else {
    if (buf_puts(out, "Vote for exactly one of these options: "))
      return -1;
    for (size_t o = 0; o < rd->n_options; o++) {
      if (buf_printf(out, "%s\"%s\"", o ? ", " : "", rd->options[o]))
        return -1;
    }
    if (buf_puts(out, ".\n"))
      return -1;
  }
  return buf_puts(out, "Reply with a JSON object: {\"choice\": \"<your "
                       "choice>\", \"rationale\": \"<why>\", \"confidence\": "
                       "<0 to 1>}\n");
}

static int prompt_pairwise(const rl_run *run, const rl_step *step,
                           const rl_call *call, buf *out) {
  const rl_step *answers = step_at(run, step->answers);

  return put_question(run, out) ||
         buf_puts(out, "Two answers compete. Pick the better one.\n\n"
                       "### Answer A\n") ||
         put_text(out, answer_of(answers, call->pair_a)) ||
         buf_puts(out, "\n### Answer B\n") ||
         put_text(out, answer_of(answers, call->pair_b)) ||
         buf_puts(out, "\nReply with a JSON object: {\"choice\": \"A\" or "
                       "\"B\", \"rationale\": \"<why>\"}\n");
}

/* ---- The chair's view ----------------------------------------------------*/

/* A member's share of the council's weight: its `weight` times its
 * confidence (when it gave one), normalized over those who answered. */
static double weight_of(const rl_run *run, const rl_step *answers,
                        size_t seat) {
  const rl_spec *spec = rl_run_spec(run);
  double total = 0, mine = 0;

  for (size_t s = 0; s < spec->n_members; s++) {
    const rl_call *a = answer_of(answers, s);
    double w;
    if (!a)
      continue;
    w = spec->seats[s].weight * (isnan(a->confidence) ? 1.0 : a->confidence);
    total += w;
    if (s == seat)
      mine = w;
  }
  return total > 0 ? mine / total : 0;
}

static int put_chair_answers(const rl_run *run, const rl_step *step,
                             const rl_step *answers, buf *out) {
  const rl_spec *spec = rl_run_spec(run);
  const rl_round *rd = &spec->rounds[step->round];
  int weighted = rd->kind == RL_ROUND_WEIGHTED_SYNTHESIS;
  const rl_round *ard = answers ? &spec->rounds[answers->round] : NULL;

  if (buf_puts(out, ard && ard->kind == RL_ROUND_INDEPENDENT
                        ? "The council's members answered independently:\n"
                        : "The council's latest answers:\n"))
    return -1;
  for (size_t s = 0; s < spec->n_members; s++) {
    const rl_call *a = answer_of(answers, s);
    const rl_call *c =
        answers && s < answers->n_calls ? &answers->calls[s] : NULL;
    if (buf_printf(out, "\n### Member %s (%s)", spec->seats[s].id,
                   spec->seats[s].model))
      return -1;
    if (weighted && a &&
        buf_printf(out, " - weight %.2f", weight_of(run, answers, s)))
      return -1;
    if (weighted && a && rd->expose_confidence && !isnan(a->confidence) &&
        buf_printf(out, ", confidence %.2f", a->confidence))
      return -1;
    if (buf_puts(out, "\n"))
      return -1;
    if (a ? put_text(out, a)
          : buf_printf(out, "(no answer: %s)\n",
                       c && c->err.reason ? c->err.reason : "not run"))
      return -1;
  }
  return 0;
}

/* A judging step's aggregate, in member ids (or options), best first. */
static int put_aggregate(const rl_run *run, const rl_step *step, buf *out) {
  const rl_round *rd = &rl_run_spec(run)->rounds[step->round];
  const agg_result *agg = step->agg;
  int by_option = rd->kind == RL_ROUND_VOTE && rd->n_options > 0;

  if (!step->has_agg || !agg)
    return 0;
  if (rd->aggregator == RL_AGG_PEER_RANKING) {
    if (buf_puts(out, "Aggregate ranking (average position, lower is better; "
                      "normalized Borda score, 1 is best):\n"))
      return -1;
  } else if (buf_puts(out, "Aggregate (score, higher is better):\n"))
    return -1;
  for (size_t k = 0; k < agg->n; k++) {
    size_t c = agg->order[k];
    const char *name =
        by_option ? rd->options[c] : seat_id(run, step->cands[c]);
    int rc =
        rd->aggregator == RL_AGG_PEER_RANKING
            ? buf_printf(out, "%zu. %s: %.2f (%.2f)\n", k + 1, name,
                         agg->avg_position[c], agg->scores[c])
            : buf_printf(out, "%zu. %s: %.2f\n", k + 1, name, agg->scores[c]);
    if (rc)
      return -1;
  }
  if (step->winner < 0)
    return buf_puts(out, "No winner.\n");
  return buf_printf(out, "Winner: %s\n",
                    by_option ? rd->options[step->winner]
                              : seat_id(run, (size_t)step->winner));
}

static int put_judging(const rl_run *run, const rl_step *step, buf *out) {
  const rl_spec *spec = rl_run_spec(run);
  const rl_round *rd = &spec->rounds[step->round];
  char label[32];

  if (rd->kind == RL_ROUND_PAIRWISE) {
    if (buf_puts(out, "\n## Tournament bracket\n"))
      return -1;
    for (size_t i = 0; i < step->n_calls; i++) {
      const rl_call *c = &step->calls[i];
      size_t w = c->choice == 1 ? c->pair_b : c->pair_a;
      if (buf_printf(out, "%s beat %s%s\n", seat_id(run, w),
                     seat_id(run, w == c->pair_a ? c->pair_b : c->pair_a),
                     c->status == RL_SEAT_OK ? ""
                                             : " (judge failed: first "
                                               "of the pair advanced)"))
        return -1;
    }
    return 0;
  }
  if (buf_printf(out, "\n## %s\n",
                 rd->kind == RL_ROUND_ANON_REVIEW ? "Anonymized peer review"
                 : rd->kind == RL_ROUND_RANKING   ? "Rankings"
                                                  : "Votes"))
    return -1;
  for (size_t i = 0; i < step->n_calls; i++) {
    const rl_call *c = &step->calls[i];
    if (c->status == RL_SEAT_SKIPPED)
      continue;
    if (buf_printf(out, "\n### Reviewer %s\n", seat_id(run, c->seat)))
      return -1;
    if (c->n_labels && buf_puts(out, "Its labels: "))
      return -1;
    for (size_t k = 0; k < c->n_labels; k++) {
      rl_label(k, label, sizeof(label));
      if (buf_printf(out, "%s%s = %s", k ? ", " : "", label,
                     seat_id(run, c->labels[k])))
        return -1;
    }
    if (c->n_labels && buf_puts(out, "\n"))
      return -1;
    if (c->status != RL_SEAT_OK && !c->resp.content) {
      if (buf_printf(out, "(no review: %s)\n",
                     c->err.reason ? c->err.reason : "failed"))
        return -1;
    } else if (put_text(out, c))
      return -1;
  }
  return buf_puts(out, "\n") || put_aggregate(run, step, out);
}

static int prompt_synthesis(const rl_run *run, const rl_step *step, buf *out) {
  const rl_step *answers = step_at(run, step->answers);

  if (put_question(run, out) || put_chair_answers(run, step, answers, out))
    return -1;
  for (size_t i = step->answers == RL_NO_STEP ? 0 : step->answers + 1;
       i < rl_run_n_steps(run); i++) {
    const rl_step *j = rl_run_step(run, i);
    if (j != step && rl_kind_judges(rl_run_spec(run)->rounds[j->round].kind) &&
        put_judging(run, j, out))
      return -1;
  }
  return buf_puts(out, "\nWrite the council's final answer. Combine the "
                       "strongest points, settle disagreements, and say what "
                       "remains uncertain.\n");
}

int rl_prompt_user(const rl_run *run, const rl_step *step, const rl_call *call,
                   buf *out) {
  const rl_spec *spec = rl_run_spec(run);

  switch (spec->rounds[step->round].kind) {
  case RL_ROUND_PEER_REVIEW:
    return prompt_peer_review(run, step, call, out);
  case RL_ROUND_CRITIQUE:
    return prompt_critique(run, step, call, out);
  case RL_ROUND_ANON_REVIEW:
    return prompt_anon_review(run, step, call, out);
  case RL_ROUND_RANKING:
    return prompt_ranking(run, step, out);
  case RL_ROUND_VOTE:
    return prompt_vote(run, step, out);
  case RL_ROUND_PAIRWISE:
    return prompt_pairwise(run, step, call, out);
  case RL_ROUND_SYNTHESIS:
  case RL_ROUND_WEIGHTED_SYNTHESIS:
    return prompt_synthesis(run, step, out);
  case RL_ROUND_CUSTOM:
    return buf_append(out, call->input, call->input_len);
  case RL_ROUND_INDEPENDENT:
  default:
    return buf_append(out, spec->input, spec->input_len);
  }
}

char *rl_prompt_system(const rl_run *run, const rl_step *step,
                       const rl_call *call, int *oom) {
  const rl_spec *spec = rl_run_spec(run);
  rl_round_kind kind = spec->rounds[step->round].kind;
  const rl_seat *seat = &spec->seats[call->seat];
  const char *base = seat->system_prompt;
  int self_report = 0;
  buf b;

  *oom = 0;
  if (rl_kind_chair(kind)) {
    base = spec->seats[spec->n_members].system_prompt;
    if (!base)
      base = DEFAULT_CHAIR_PROMPT;
  } else if (kind == RL_ROUND_PAIRWISE)
    /* A judge-only seat keeps its own prompt; the chair's is for
     * synthesis. Judge seats start after the chair, or right after the
     * members when there is no chair (">" here used to drop the prompt
     * of a chairless council's first judge). */
    base = call->seat >= spec->n_members + (spec->has_chair ? 1 : 0) && base
               ? base
               : DEFAULT_JUDGE_PROMPT;
  else
    self_report =
        seat->confidence == RL_CONF_SELF_REPORT && rl_kind_answers(kind);
  if (!base && !self_report)
    return NULL;
  buf_init(&b, 0);
  if ((base && buf_puts(&b, base)) ||
      (base && self_report && buf_puts(&b, "\n\n")) ||
      (self_report && buf_puts(&b, CONFIDENCE_SELF_REPORT_INSTRUCTION))) {
    buf_free(&b);
    *oom = 1;
    return NULL;
  }
  return buf_detach(&b, NULL);
}

char *rl_render_request(const rl_run *run, size_t step_idx, size_t index,
                        size_t *len) {
  const rl_spec *spec = rl_run_spec(run);
  const rl_step *step = rl_run_step(run, step_idx);
  const rl_call *call;
  const rl_seat *s;
  chat_message msgs[2];
  chat_message *all = NULL;
  size_t n = 0, n_all;
  char *sys, *body = NULL;
  int oom;
  buf user;

  if (!step || index >= step->n_calls)
    return NULL;
  call = &step->calls[index];
  s = &spec->seats[call->seat];
  sys = rl_prompt_system(run, step, call, &oom);
  buf_init(&user, 0);
  if (oom || rl_prompt_user(run, step, call, &user) != 0)
    goto done;
  if (sys)
    msgs[n++] = (chat_message){
        .role = "system", .content = sys, .content_len = strlen(sys)};
  msgs[n++] = (chat_message){
      .role = "user", .content = user.data, .content_len = user.len};
  n_all = n;
  all = conversation_messages(&call->conv, msgs, n, &n_all);
  if (!all)
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
      .output_schema = json_schema_text(s->schema),
      .logprobs = s->confidence == RL_CONF_LOGPROB,
  };
  body = s->codec && !s->external ? s->codec->build_request(&req, len)
                                  : openai_build_request(&req, len);

done:
  free(all);
  free(sys);
  buf_free(&user);
  return body;
}
