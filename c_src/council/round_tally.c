/* round_tally.c - reading what members' answers say (confidence, ranking
 * and vote ballots, pairwise verdicts) and aggregating a step's ballots
 * with aggregate.c. Candidates are the step's cands (member seats) or the
 * vote's options; aggregate.c sees their indices. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "ballot.h"
#include "confidence.h"
#include "ranking.h"
#include "round_internal.h"

/* ---- One answer ----------------------------------------------------------*/

/* Reads the confidence an answer reports and cuts a self-reported trailer
 * off the content. Runs before the answer's JSON is looked for (see
 * round_internal.h), so the span found is a span of what is left. */
void rl_tally_confidence(const rl_run *run, const rl_step *step,
                         rl_call *call) {
  const rl_spec *spec = rl_run_spec(run);
  const rl_seat *seat = &spec->seats[call->seat];
  rl_round_kind kind = spec->rounds[step->round].kind;
  double v;
  size_t keep;
  int rc;

  if (seat->confidence == RL_CONF_SELF_REPORT && rl_kind_answers(kind) &&
      call->resp.content) {
    rc = confidence_self_report(call->resp.content, call->resp.content_len, &v,
                                &keep);
    if (rc == 0 || rc == -2) { /* the trailer is not part of the answer */
      call->confidence = v;
      call->resp.content_len = keep;
      call->resp.content[keep] = '\0';
    }
  } else if (seat->confidence == RL_CONF_LOGPROB && call->resp.has_logprob)
    call->confidence = confidence_from_logprobs(&call->resp.logprob, 1);
}

/* Reads a ranking ballot against names[0..n) standing for seats[0..n). */
static int read_ranking(rl_call *call, const char *const *names,
                        const size_t *seats, size_t n) {
  ranking_result r;

  if (ranking_parse(call->resp.content, call->resp.content_len, names, n, NULL,
                    0, &r) != 0) {
    call->ballot_error = r.reason ? r.reason : CX_REASON_WORD(unparseable);
    ranking_result_free(&r);
    return -1;
  }
  call->ordering = malloc((r.n_order ? r.n_order : 1) * sizeof(size_t));
  if (!call->ordering) {
    call->ballot_error = CX_REASON_WORD(out_of_memory);
    ranking_result_free(&r);
    return -1;
  }
  for (size_t k = 0; k < r.n_order; k++)
    call->ordering[k] = seats[r.order[k]];
  call->n_ordering = r.n_order;
  ranking_result_free(&r);
  return 0;
}

static int tally_anon(rl_call *call) {
  char(*labels)[32] = malloc((call->n_labels ? call->n_labels : 1) * 32);
  const char **names =
      malloc((call->n_labels ? call->n_labels : 1) * sizeof(char *));
  int rc = -1;

  if (labels && names) {
    for (size_t k = 0; k < call->n_labels; k++) {
      rl_label(k, labels[k], sizeof(labels[k]));
      names[k] = labels[k];
    }
    rc = read_ranking(call, names, call->labels, call->n_labels);
  } else
    call->ballot_error = CX_REASON_WORD(out_of_memory);
  free(labels);
  free(names);
  return rc;
}

static int cand_names(const rl_run *run, const rl_step *step,
                      const char ***names) {
  *names = malloc((step->n_cands ? step->n_cands : 1) * sizeof(char *));
  if (!*names)
    return -1;
  for (size_t k = 0; k < step->n_cands; k++)
    (*names)[k] = rl_run_spec(run)->seats[step->cands[k]].id;
  return 0;
}

static int tally_ranking(const rl_run *run, const rl_step *step,
                         rl_call *call) {
  const char **names;
  int rc;

  if (cand_names(run, step, &names) != 0) {
    call->ballot_error = CX_REASON_WORD(out_of_memory);
    return -1;
  }
  rc = read_ranking(call, names, step->cands, step->n_cands);
  free(names);
  return rc;
}

static int tally_vote(const rl_run *run, const rl_step *step, rl_call *call) {
  const rl_round *rd = &rl_run_spec(run)->rounds[step->round];
  const char **names = NULL;
  ballot_vote v;
  int rc;

  if (rd->n_options == 0 && cand_names(run, step, &names) != 0) {
    call->ballot_error = CX_REASON_WORD(out_of_memory);
    return -1;
  }
  rc = ballot_parse_vote(call->resp.content, call->resp.content_len,
                         names ? names : (const char *const *)rd->options,
                         names ? step->n_cands : rd->n_options, &v);
  free(names);
  if (rc != 0) {
    call->ballot_error = v.reason ? v.reason : CX_REASON_WORD(unparseable);
    ballot_vote_free(&v);
    return -1;
  }
  call->choice = v.choice;
  if (isnan(call->confidence) && !isnan(v.confidence))
    call->confidence = v.confidence;
  ballot_vote_free(&v);
  if (rd->n_options == 0 && !rd->include_self &&
      step->cands[call->choice] == call->seat)
    call->ballot_error = CX_REASON_WORD(self_vote); /* read, but not counted */
  return 0;
}

static int tally_pair(rl_call *call) {
  int winner;

  if (ballot_parse_pair(call->resp.content, call->resp.content_len, "A", "B",
                        &winner) != 0) {
    call->ballot_error = CX_REASON_WORD(unparseable);
    return -1;
  }
  call->choice = winner;
  return 0;
}

int rl_tally_call(const rl_run *run, const rl_step *step, rl_call *call) {
  rl_round_kind kind = rl_run_spec(run)->rounds[step->round].kind;

  switch (kind) {
  case RL_ROUND_ANON_REVIEW:
    return tally_anon(call);
  case RL_ROUND_RANKING:
    return tally_ranking(run, step, call);
  case RL_ROUND_VOTE:
    return tally_vote(run, step, call);
  case RL_ROUND_PAIRWISE:
    return tally_pair(call);
  default:
    return 0;
  }
}

/* ---- A step --------------------------------------------------------------*/

static long cand_index(const rl_step *step, size_t seat) {
  for (size_t k = 0; k < step->n_cands; k++) {
    if (step->cands[k] == seat)
      return (long)k;
  }
  return -1;
}

static void mean_confidence(rl_step *step) {
  double sum = 0;
  size_t n = 0;

  for (size_t i = 0; i < step->n_calls; i++) {
    const rl_call *c = &step->calls[i];
    if (c->status == RL_SEAT_OK && !isnan(c->confidence)) {
      sum += c->confidence;
      n++;
    }
  }
  step->mean_confidence = n ? sum / (double)n : NAN;
}

static int pairwise_alive(const rl_run *run, rl_step *step) {
  size_t n = rl_run_spec(run)->n_members, left = 0;

  step->alive = calloc(n ? n : 1, 1);
  if (!step->alive)
    return -1;
  for (size_t i = 0; i < step->n_calls; i++) {
    const rl_call *c = &step->calls[i];
    step->alive[c->status == RL_SEAT_OK && c->choice == 1 ? c->pair_b
                                                          : c->pair_a] = 1;
  }
  if (step->n_cands % 2) /* the odd one out has a bye */
    step->alive[step->cands[step->n_cands - 1]] = 1;
  for (size_t s = 0; s < n; s++) {
    if (step->alive[s]) {
      step->winner = (long)s;
      left++;
    }
  }
  if (left != 1)
    step->winner = -1;
  return 0;
}

/* Every counted ballot as an ordering of candidate indices (a vote is a
 * one-item ordering). Self-placements are dropped here for Borda and
 * Condorcet; peer ranking drops them itself (it also renormalizes). */
static size_t build_orderings(const rl_run *run, const rl_step *step,
                              agg_ordering *ballots, long *items) {
  const rl_round *rd = &rl_run_spec(run)->rounds[step->round];
  size_t nb = 0, used = 0;

  for (size_t i = 0; i < step->n_calls; i++) {
    const rl_call *c = &step->calls[i];
    long self = cand_index(step, c->seat);
    size_t len = 0;
    if (c->status != RL_SEAT_OK || (c->ballot_error && !c->ordering))
      continue;
    if (c->ordering) {
      for (size_t k = 0; k < c->n_ordering; k++) {
        long ci = cand_index(step, c->ordering[k]);
        if (ci < 0 || (ci == self && !rd->include_self &&
                       rd->aggregator != RL_AGG_PEER_RANKING))
          continue;
        items[used + len++] = ci;
      }
    } else if (c->choice >= 0)
      items[used + len++] = c->choice;
    ballots[nb++] = (agg_ordering){.items = items + used,
                                   .len = len,
                                   .self = rd->include_self ? -1 : self};
    used += len;
  }
  return nb;
}

/* Every counted ballot as a vote. A ranking votes for its first place
 * other than the judge's own (unless include_self): a ranking round asks
 * judges to rank themselves too, and a self-vote must not count here when
 * Borda, peer ranking and vote rounds all drop it. */
static size_t build_votes(const rl_run *run, const rl_step *step,
                          agg_vote *votes) {
  const rl_round *rd = &rl_run_spec(run)->rounds[step->round];
  size_t nb = 0;

  for (size_t i = 0; i < step->n_calls; i++) {
    const rl_call *c = &step->calls[i];
    long choice = c->choice;
    if (c->status != RL_SEAT_OK || (c->ballot_error && !c->ordering))
      continue;
    if (c->ordering) {
      long self = rd->include_self ? -1 : cand_index(step, c->seat);
      choice = -1;
      for (size_t k = 0; k < c->n_ordering && choice < 0; k++) {
        long ci = cand_index(step, c->ordering[k]);
        if (ci >= 0 && ci != self)
          choice = ci;
      }
    }
    if (choice < 0)
      continue;
    /* A missing confidence weighs as full: aggregate.c rejects NaN. */
    votes[nb++] =
        (agg_vote){.choice = choice,
                   .confidence = isnan(c->confidence) ? 1.0 : c->confidence};
  }
  return nb;
}

int rl_tally_step(rl_run *run, rl_step *step) {
  const rl_round *rd = &rl_run_spec(run)->rounds[step->round];
  size_t n = rd->kind == RL_ROUND_VOTE && rd->n_options ? rd->n_options
                                                        : step->n_cands;
  agg_opts opts = {.tie = rd->tie, .include_self = rd->include_self};
  size_t max_items = step->n_calls * (n + 1) + 1;
  agg_ordering *ballots;
  agg_vote *votes;
  long *items;
  agg_result *res;
  size_t nb;
  int rc;

  mean_confidence(step);
  if (rd->kind == RL_ROUND_PAIRWISE)
    return pairwise_alive(run, step);
  if (!rl_kind_judges(rd->kind) || rd->aggregator == RL_AGG_NONE)
    return 0;
  opts.seed = rl_run_random(run);
  res = calloc(1, sizeof(*res));
  ballots = calloc(step->n_calls + 1, sizeof(*ballots));
  votes = calloc(step->n_calls + 1, sizeof(*votes));
  items = calloc(max_items, sizeof(*items));
  rc = -1;
  if (!res || !ballots || !votes || !items)
    goto done;
  if (agg_kind_ballots(rd->aggregator) == AGG_BALLOTS_ordering)
    nb = build_orderings(run, step, ballots, items);
  else
    nb = build_votes(run, step, votes);
  rc = agg_run(rd->aggregator, n, votes, ballots, nb, &opts, res);
  if (rc == AGG_OK) {
    step->agg = res;
    step->has_agg = 1;
    res = NULL;
    if (step->has_agg && ((agg_result *)step->agg)->winner != AGG_NO_WINNER) {
      long w = ((agg_result *)step->agg)->winner;
      step->winner =
          rd->kind == RL_ROUND_VOTE && rd->n_options ? w : (long)step->cands[w];
    }
  }
  rc = rc == AGG_ENOMEM ? -1 : 0;

done:
  free(res);
  free(ballots);
  free(votes);
  free(items);
  return rc;
}

void rl_tally_free(rl_step *step) {
  if (step->agg)
    agg_result_free(step->agg);
  free(step->agg);
  step->agg = NULL;
  step->has_agg = 0;
}

/* ---- Convergence ---------------------------------------------------------*/

static int same_text(const rl_call *a, const rl_call *b) {
  const char *x = a->resp.content, *y = b->resp.content;
  size_t xl = a->resp.content_len, yl = b->resp.content_len;

  while (xl && isspace((unsigned char)x[xl - 1]))
    xl--;
  while (yl && isspace((unsigned char)y[yl - 1]))
    yl--;
  while (xl && isspace((unsigned char)*x)) {
    x++;
    xl--;
  }
  while (yl && isspace((unsigned char)*y)) {
    y++;
    yl--;
  }
  return xl == yl && (xl == 0 || memcmp(x, y, xl) == 0);
}

/* Text rounds converge when no member changed its answer; judging rounds
 * when every counted ballot puts the same candidate first. */
int rl_tally_converged(const rl_run *run, const rl_step *step) {
  rl_round_kind kind = rl_run_spec(run)->rounds[step->round].kind;
  long first = -1;
  size_t compared = 0;

  /* A pairwise verdict (0 or 1) names a side, not a candidate: equal
   * verdicts are no agreement. A bracket ends when one member is left
   * (or at max_iterations), never by this rule, which used to stop it
   * after any level whose judges all picked the same side. */
  if (kind == RL_ROUND_PAIRWISE)
    return 0;
  if (rl_kind_answers(kind)) {
    const rl_step *prev =
        step->answers == RL_NO_STEP ? NULL : rl_run_step(run, step->answers);
    for (size_t i = 0; prev && i < step->n_calls && i < prev->n_calls; i++) {
      const rl_call *a = &step->calls[i], *b = &prev->calls[i];
      if (a->status != RL_SEAT_OK || b->status != RL_SEAT_OK)
        continue;
      if (!same_text(a, b))
        return 0;
      compared++;
    }
    return compared > 0;
  }
  for (size_t i = 0; i < step->n_calls; i++) {
    const rl_call *c = &step->calls[i];
    long top;
    if (c->status != RL_SEAT_OK || c->ballot_error)
      continue;
    top = c->ordering ? (c->n_ordering ? (long)c->ordering[0] : -1) : c->choice;
    if (first >= 0 && top != first)
      return 0;
    first = top;
  }
  return first >= 0;
}
