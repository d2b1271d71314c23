/* fuzz_ballot.c - the ballot parsers (ballot.c: ballot_parse_vote over
 * options the input chooses, and ballot_parse_pair) on any reply, holding
 * to what ballot.h promises.
 *
 * Input: a mode byte (bit 0: pair instead of vote; bits 1-2: option set),
 * then the reply. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ballot.h"
#include "chat.h"
#include "fuzz_util.h"

static const char *const LETTERS[] = {"A", "B", "C"};
static const char *const WORDS[] = {"yes", "no", "Yes, but", "maybe."};
static const char *const IDS[] = {"alpha", "beta", "gpt-4o", "claude-3"};
static const char *const ONE[] = {"only"};

static void check_vote(const char *text, size_t len, unsigned set) {
  const char *const *options[] = {LETTERS, WORDS, IDS, ONE};
  const size_t counts[] = {3, 4, 4, 1};
  ballot_vote v;
  int rc = ballot_parse_vote(text, len, options[set], counts[set], &v);

  FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
  FUZZ_CHECK((rc == 0) == (v.reason == NULL), "rc %d, reason %s", rc, v.reason);
  if (rc == 0) {
    FUZZ_CHECK(v.choice >= 0 && (size_t)v.choice < counts[set], "choice %ld",
               v.choice);
    FUZZ_CHECK(v.source == BALLOT_FROM_JSON || v.source == BALLOT_FROM_LINE,
               "source %d", (int)v.source);
  } else {
    FUZZ_CHECK(strcmp(v.reason, "unparseable") == 0 ||
                   strcmp(v.reason, "unknown_choice") == 0 ||
                   strcmp(v.reason, "invalid_utf8") == 0,
               "reason %s", v.reason);
  }
  FUZZ_CHECK(isnan(v.confidence) || (v.confidence >= 0 && v.confidence <= 1),
             "confidence %g", v.confidence);
  FUZZ_CHECK(!v.confidence_invalid || isnan(v.confidence),
             "an invalid confidence is NaN");
  FUZZ_CHECK(v.rationale == NULL ||
                 chat_utf8_valid(v.rationale, strlen(v.rationale)),
             "the rationale is UTF-8");
  ballot_vote_free(&v);
}

static void check_pair(const char *text, size_t len, unsigned set) {
  static const char *const sides[][2] = {
      {"A", "B"}, {"alpha", "beta"}, {"gpt-4o", "gpt-4o-mini"}, {"x", "y"}};
  int winner = 42;
  int rc = ballot_parse_pair(text, len, sides[set][0], sides[set][1], &winner);

  FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
  FUZZ_CHECK(rc == 0 ? winner == 0 || winner == 1 : winner == 42,
             "rc %d, winner %d", rc, winner);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  unsigned mode = fuzz_byte(&in);
  char *text = fuzz_exact(in.p, in.n);

  if (mode & 1)
    check_pair(text, in.n, (mode >> 1) & 3);
  else
    check_vote(text, in.n, (mode >> 1) & 3);
  free(text);
  return 0;
}
