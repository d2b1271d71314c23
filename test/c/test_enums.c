/* test_enums.c - the enumerations generated from enums.def: their names,
 * the round kinds' flags, the reason words, and agg_run's one dispatch
 * over the aggregators. */
#include <string.h>

#include <criterion/criterion.h>

#include "aggregate.h"
#include "chat.h"
#include "reason.h"
#include "round_loop.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(enums, names_follow_the_def_file) {
  cr_assert_str_eq(rl_round_kind_name(RL_ROUND_INDEPENDENT),
                   "independent_analysis");
  cr_assert_str_eq(rl_round_kind_name(RL_ROUND_CUSTOM), "custom");
  cr_assert_null(rl_round_kind_name(RL_ROUND_COUNT));
  cr_assert_str_eq(rl_order_name(RL_ORDER_STABLE), "stable");
  cr_assert_str_eq(rl_confidence_name(RL_CONF_LOGPROB), "logprob");
  cr_assert_str_eq(agg_kind_name(RL_AGG_PEER_RANKING), "peer_ranking");
  cr_assert_str_eq(agg_tie_name(AGG_TIE_CALLER), "caller");
  cr_assert_null(agg_tie_name(AGG_TIE_COUNT));
  cr_assert_str_eq(chat_error_kind_name(CHAT_ERR_TIMEOUT), "timeout");
  cr_assert_str_eq(chat_error_kind_name(CHAT_ERROR_KIND_COUNT), "unknown");
  cr_assert_str_eq(chat_stop_name(CHAT_STOP_END), "stop");
  cr_assert_str_eq(chat_stop_name(CHAT_STOP_COUNT), "other");
  for (int k = 0; k < RL_ROUND_COUNT; k++)
    for (int j = 0; j < k; j++)
      cr_assert_str_neq(rl_round_kind_name(k), rl_round_kind_name(j));
}

Test(enums, round_kind_flags) {
  static const struct {
    rl_round_kind kind;
    int answers, judges, members, chair;
  } want[] = {
      {RL_ROUND_INDEPENDENT, 1, 0, 1, 0},
      {RL_ROUND_PEER_REVIEW, 1, 0, 1, 0},
      {RL_ROUND_ANON_REVIEW, 0, 1, 1, 0},
      {RL_ROUND_CRITIQUE, 1, 0, 1, 0},
      {RL_ROUND_RANKING, 0, 1, 1, 0},
      {RL_ROUND_VOTE, 0, 1, 1, 0},
      {RL_ROUND_PAIRWISE, 0, 1, 0, 0},
      {RL_ROUND_SYNTHESIS, 0, 0, 0, 1},
      {RL_ROUND_WEIGHTED_SYNTHESIS, 0, 0, 0, 1},
      {RL_ROUND_CUSTOM, 1, 0, 1, 0},
  };

  cr_assert_eq(N(want), RL_ROUND_COUNT);
  for (size_t i = 0; i < N(want); i++) {
    rl_round_kind k = want[i].kind;
    cr_assert_eq(rl_kind_answers(k), want[i].answers, "%zu", i);
    cr_assert_eq(rl_kind_judges(k), want[i].judges, "%zu", i);
    cr_assert_eq(rl_kind_members(k), want[i].members, "%zu", i);
    cr_assert_eq(rl_kind_chair(k), want[i].chair, "%zu", i);
  }
  cr_assert_not(rl_kind_answers(RL_ROUND_COUNT));
  cr_assert_not(rl_kind_chair((rl_round_kind)-1));
}

Test(enums, reason_words_are_their_names) {
  cr_assert_str_eq(CX_REASON_WORD(quorum_not_met), "quorum_not_met");
  cr_assert_str_eq(CX_REASON_WORD(invalid_output), "invalid_output");
  cr_assert_gt(CX_R_COUNT, 30);
}

/* Every aggregator through agg_run gives what its own function gives. */
Test(enums, agg_run_dispatches_by_kind) {
  agg_vote votes[] = {{1, 0.9}, {0, 0.4}, {1, 0.6}};
  long o1[] = {1, 0, 2}, o2[] = {0, 1, 2}, o3[] = {1, 2, 0};
  agg_ordering ords[] = {{o1, 3, 0}, {o2, 3, 1}, {o3, 3, 2}};
  agg_opts opts = {.tie = AGG_TIE_FIRST};
  agg_result a, b;

  for (int k = 0; k < RL_AGG_COUNT; k++) {
    agg_ballot_kind bk = agg_kind_ballots(k);
    int rc = agg_run(k, 3, votes, ords, 3, &opts, &a);

    if (k == RL_AGG_NONE) {
      cr_assert_eq(bk, AGG_BALLOTS_none);
      cr_assert_eq(rc, AGG_EINVAL);
      continue;
    }
    cr_assert_eq(rc, AGG_OK, "%s", agg_kind_name(k));
    switch (k) {
    case RL_AGG_PLURALITY:
      agg_plurality(3, votes, 3, &opts, &b);
      break;
    case RL_AGG_WEIGHTED_MEAN:
      agg_weighted_mean(3, votes, 3, &opts, &b);
      break;
    case RL_AGG_CONFIDENCE_MEDIAN:
      agg_confidence_median(3, votes, 3, &opts, &b);
      break;
    case RL_AGG_BORDA:
      agg_borda(3, ords, 3, &opts, &b);
      break;
    case RL_AGG_CONDORCET:
      agg_condorcet(3, ords, 3, &opts, &b);
      break;
    default:
      agg_peer_ranking(3, ords, 3, &opts, &b);
      break;
    }
    cr_assert_eq(bk, k <= RL_AGG_CONFIDENCE_MEDIAN ? AGG_BALLOTS_vote
                                                   : AGG_BALLOTS_ordering);
    cr_assert_eq(a.winner, b.winner, "%s", agg_kind_name(k));
    cr_assert_arr_eq(a.scores, b.scores, 3 * sizeof(double));
    agg_result_free(&a);
    agg_result_free(&b);
  }
  cr_assert_eq(agg_run(RL_AGG_COUNT, 3, votes, ords, 3, &opts, &a), AGG_EINVAL);
}
