/* ranking.h - a strict parser for the rankings judges write in free text,
 * and the anonymous label alphabet (A..Z, AA, AB, ...).
 *
 * The format is karpathy/llm-council's:
 *
 *   FINAL RANKING:
 *   1. Response C
 *   2. Response A
 *
 * read more strictly than llm-council does (see ranking.c): the last
 * header with a numbered list under it wins, labels match whole, repeats
 * are dropped, every expected label must be present, and a reply without
 * the list may only fall back to JSON, never to the order of mentions in
 * the prose. Pure C over cJSON, no erl_nif. */
#ifndef CX_RANKING_H
#define CX_RANKING_H

#include <stddef.h>

/* Longest label ranking_label can produce, plus the NUL. */
#define RANKING_LABEL_MAX 16

/* Where the ranking was read from. */
typedef enum ranking_source {
  RANKING_FROM_NONE = 0,
  RANKING_FROM_LIST, /* a FINAL RANKING: header and a numbered list */
  RANKING_FROM_JSON  /* {"ranking": [...]} or [...], fenced or bare */
} ranking_source;

/* Arrays are malloc'd and owned by the result; free with
 * ranking_result_free. */
typedef struct ranking_result {
  /* NULL on success, else a static snake_case word:
   * "incomplete"    a ranking was found but expected labels are missing
   *                 (order and missing are filled: a partial ballot);
   * "unparseable"   no numbered list under a header, and no JSON ranking;
   * "invalid_utf8"  the text is not UTF-8;
   * "bad_labels"    labels NULL, empty or repeated, expected out of range;
   * "out_of_memory". */
  const char *reason;
  ranking_source source;
  size_t *order; /* label indices, best first, each once */
  size_t n_order;
  size_t *missing; /* expected label indices absent from the ranking */
  size_t n_missing;
  size_t duplicates; /* repeated labels dropped (the first place kept) */
  size_t unknown;    /* list lines or JSON items naming no label */
  size_t unexpected; /* valid labels outside `expected`, dropped */
} ranking_result;

/* Parses a judge's reply text[0..len) (UTF-8, need not be NUL-terminated)
 * against labels[0..n_labels) (NUL-terminated, distinct, e.g. "Response
 * A"). expected[0..n_expected) lists the label indices the judge had to
 * rank (e.g. all but its own); expected NULL means all labels. Returns 0
 * when every expected label was ranked, else -1 with out->reason set (out
 * NULL: just -1); *out is overwritten, not freed. */
int ranking_parse(const char *text, size_t len, const char *const *labels,
                  size_t n_labels, const size_t *expected, size_t n_expected,
                  ranking_result *out);

void ranking_result_free(ranking_result *r);

/* 1 when the line s[0..len) is a header made of words[0..n_words) (lower
 * case ASCII words, matched in any case, in order, separated by spaces or
 * tabs), read as FINAL RANKING is: markdown or quote marks may open the
 * line, a colon must follow (markdown may sit on either side of it).
 * *after is the offset just past the colon and any markdown closing it.
 * ballot.c reads its VOTE: and WINNER: lines with it. */
int ranking_header_line(const char *s, size_t len, const char *const *words,
                        size_t n_words, size_t *after);

/* Writes the label for index in bijective base 26 ("A".."Z", "AA", "AB",
 * ..., "ZZ", "AAA"); the caller adds its prefix ("Response "). Returns the
 * length written (without the NUL), or 0 when out_len is too small
 * (RANKING_LABEL_MAX always suffices). */
size_t ranking_label(size_t index, char *out, size_t out_len);

#endif
