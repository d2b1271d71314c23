/* ballot.h - parsers for what council members write in judgement rounds:
 * a vote among options and a pairwise judge's pick (the confidence a
 * member reports is read by confidence.h).
 *
 * Replies are model output: any bytes, not NUL-terminated, possibly huge.
 * Every parser reads text[0..len) and nothing past it, checks UTF-8, and
 * is linear in the text (bounded JSON attempts, one pass over lines).
 * Pure C over cJSON, no erl_nif, no global state. */
#ifndef CX_BALLOT_H
#define CX_BALLOT_H

#include <stddef.h>

/* Where a vote was read from. */
typedef enum ballot_source {
  BALLOT_FROM_NONE = 0,
  BALLOT_FROM_JSON, /* an object with "choice", anywhere in the reply */
  BALLOT_FROM_LINE  /* the last FINAL VOTE: / VOTE: line */
} ballot_source;

typedef struct ballot_vote {
  /* NULL on success, else a static snake_case word:
   * "unparseable"    no JSON object with "choice" and no VOTE: line;
   * "unknown_choice" a choice was read but names no option (or, compared
   *                  without case, more than one), or is not a string;
   * "invalid_utf8"   the text is not UTF-8;
   * "bad_options"    options NULL, empty, repeated or not UTF-8;
   * "out_of_memory". */
  const char *reason;
  ballot_source source;
  long choice; /* option index, or -1 */
  /* The voter's confidence in [0, 1] from the JSON's "confidence": a
   * number, or a string holding one ("0.8"). NaN when absent (or null),
   * and also when present but unusable: out of range (80), a percentage
   * ("80%"), another type; then confidence_invalid is 1. A bad confidence
   * does not fail the vote. */
  double confidence;
  int confidence_invalid;
  char *rationale; /* the JSON's "rationale" string, malloc'd, or NULL */
} ballot_vote;

/* Reads a vote among options[0..n_options) (NUL-terminated, distinct,
 * UTF-8) from text[0..len). Tried in order:
 *   1. JSON: the first object holding "choice" that json_extract_reply_if
 *      finds (the whole reply, a ```json fence, or a bare object), e.g.
 *      {"choice": "B", "rationale": "...", "confidence": 0.8};
 *   2. the last line headed FINAL VOTE: or VOTE: (any case, markdown
 *      around the header allowed) whose value is not empty; the value may
 *      sit on the next non-blank line instead.
 * The choice matches an option exactly, else after both are stripped of
 * whitespace, markdown (* _ `), quotes and brackets at the ends and a
 * trailing period, compared without ASCII case; anything more ("B,
 * because ...") is unknown_choice. Returns 0 with out->choice set, or -1
 * with out->reason (out NULL: just -1). *out is overwritten, not freed;
 * free it with ballot_vote_free whatever the result. */
int ballot_parse_vote(const char *text, size_t len, const char *const *options,
                      size_t n_options, ballot_vote *out);

void ballot_vote_free(ballot_vote *v);

/* Reads a pairwise judge's pick between id_a and id_b (NUL-terminated,
 * distinct, non-empty) from text[0..len):
 *   1. JSON: the first object holding "choice" or "winner" (both present
 *      must agree), its value a string;
 *   2. else the last line headed WINNER: or FINAL WINNER: (any case) with
 *      a value, which may sit on the next non-blank line.
 * A value picks a side when it is the side's id (exactly, else stripped
 * and without case as for votes), else its letter ("A" / "B", any case),
 * else when it mentions one side only: its id as a whole word, without
 * case (a letter, digit, '-' or '_' next to it joins it to a longer
 * word), or its capital letter standing alone ("Response B is better").
 * Naming both ("A, not B", both ids) or neither is unreadable. Sets *winner to
 * 0 (a) or 1 (b) and returns 0, or returns -1 (also on invalid UTF-8 or bad
 * arguments) with *winner untouched. A JSON pick that cannot be read is final:
 * no line is tried. */
int ballot_parse_pair(const char *text, size_t len, const char *id_a,
                      const char *id_b, int *winner);

#endif
