/* test_reply_json.c - unit tests for reply_json.c: finding the JSON
 * document in a model's reply (whole text, fences, braces in prose), the
 * accepting variant, and the fence walker. Every input is an exact-size
 * heap copy, so a read past the end trips ASan. */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "buf.h"
#include "fixtures.h"
#include "reply_json.h"

/* --- Finding the JSON in a reply ----------------------------------------- */

/* json_extract_reply_if(accept, ctx) on an exact copy of text[0..len);
 * returns rc with the span found copied into out. */
static int extract_if(const char *text, size_t len, json_accept_fn accept,
                      void *ctx, char *out, size_t out_len) {
  char *copy = fixture_exact_copy(text, len);
  size_t a = 99, b = 99;
  int rc = accept ? json_extract_reply_if(copy, len, accept, ctx, &a, &b)
                  : json_extract_reply(copy, len, &a, &b);

  cr_assert_leq(a, b);
  cr_assert_leq(b, len);
  cr_assert_lt(b - a, out_len);
  memcpy(out, copy + a, b - a);
  out[b - a] = '\0';
  free(copy);
  return rc;
}

/* Runs json_extract_reply; returns rc and the span. */
static int extract(const char *text, size_t len, char *out, size_t out_len) {
  return extract_if(text, len, NULL, NULL, out, out_len);
}

#define EXTRACTS(lit, expect)                                                  \
  do {                                                                         \
    char got_[256];                                                            \
    cr_assert_eq(extract(lit, sizeof(lit) - 1, got_, sizeof(got_)), 0,         \
                 "nothing found in %s", lit);                                  \
    cr_assert_str_eq(got_, expect, "from %s", lit);                            \
  } while (0)

#define FINDS_NOTHING(lit, rest)                                               \
  do {                                                                         \
    char got_[256];                                                            \
    cr_assert_eq(extract(lit, sizeof(lit) - 1, got_, sizeof(got_)), -1,        \
                 "found %s in %s", got_, lit);                                 \
    cr_assert_str_eq(got_, rest);                                              \
  } while (0)

Test(json_extract, whole_text_first) {
  EXTRACTS("{\"a\":1}", "{\"a\":1}");
  EXTRACTS("  \n{\"a\":1}\n\n", "{\"a\":1}");
  EXTRACTS("42", "42");
  EXTRACTS("\"```json\\n{}\\n```\"", "\"```json\\n{}\\n```\"");
}

Test(json_extract, fenced_blocks) {
  EXTRACTS("```json\n{\"a\":1}\n```", "{\"a\":1}");
  EXTRACTS("Here you go:\n\n```JSON\n[1, 2]\n```\nThanks!", "[1, 2]");
  EXTRACTS("```\n{\"untagged\":true}\n```", "{\"untagged\":true}");
  EXTRACTS("~~~json\n{}\n~~~", "{}");
  EXTRACTS("   ```json\n{}\n   ```", "{}");
  EXTRACTS("```json\r\n{\"crlf\":1}\r\n```\r\n", "{\"crlf\":1}");
  EXTRACTS("```json \n{}\n```  ", "{}");
  /* a longer opening fence needs as long a closing one */
  EXTRACTS("````json\n{\"s\":\"x\"}\n```\n````", "{\"s\":\"x\"}\n```");
  /* a block in another language is skipped whole, ``` lines inside too */
  EXTRACTS("```python\nx = {1: 2}\n```\nThen:\n```json\n{\"ok\":true}\n```",
           "{\"ok\":true}");
  EXTRACTS("~~~md\n```json\n{\"in\":1}\n```\n~~~\n```json\n{\"out\":1}\n```",
           "{\"out\":1}");
  /* unclosed: runs to the end of the text, as in CommonMark */
  EXTRACTS("```json\n{\"a\":1}", "{\"a\":1}");
  EXTRACTS("```json\n{\"a\":", "{\"a\":");
  EXTRACTS("```json", "");
  /* the first json block wins, valid or not */
  EXTRACTS("```json\n{bad}\n```\n```json\n{}\n```", "{bad}");
}

Test(json_extract, braces_in_prose) {
  EXTRACTS("The answer is {\"choice\": \"B\"} as requested.",
           "{\"choice\": \"B\"}");
  EXTRACTS("Options [A] and [B]; my pick: {\"pick\":\"A\"}.",
           "{\"pick\":\"A\"}");
  EXTRACTS("It's {\"s\":\"a } inside\"} ok", "{\"s\":\"a } inside\"}");
  EXTRACTS("list: [1, [2, 3]] done", "[1, [2, 3]]");
  /* inline code on one line is not a fence */
  EXTRACTS("```json {\"a\":1}```", "{\"a\":1}");
  /* an unfinished outer value, a whole inner one */
  EXTRACTS("[ {\"a\":1}", "{\"a\":1}");
}

Test(json_extract, nothing_found_gives_the_trimmed_text) {
  FINDS_NOTHING("no json here", "no json here");
  FINDS_NOTHING("  \n", "");
  FINDS_NOTHING("", "");
  FINDS_NOTHING(" Sure: {\"a\": [1, 2 ", "Sure: {\"a\": [1, 2");
  FINDS_NOTHING("{\0}", "{\0}");
}

Test(json_extract, at_most_32_starts_are_tried) {
  buf b;
  char got[512];
  int i;

  buf_init(&b, 0);
  for (i = 0; i < 31; i++)
    cr_assert_eq(buf_puts(&b, "[x]"), 0);
  cr_assert_eq(buf_puts(&b, "{}"), 0);
  cr_assert_eq(extract(b.data, b.len, got, sizeof(got)), 0);
  cr_assert_str_eq(got, "{}");
  cr_assert_eq(buf_puts(&b, "[x]{}"), 0);
  memmove(b.data + 3, b.data, b.len - 3); /* 33 starts before the {} */
  memcpy(b.data, "[x]", 3);
  cr_assert_eq(extract(b.data, b.len, got, sizeof(got)), -1);
  buf_free(&b);
}

Test(json_extract, null_text) {
  size_t a = 7, b = 7;

  cr_assert_eq(json_extract_reply(NULL, 0, &a, &b), -1);
  cr_assert_eq(a, 0);
  cr_assert_eq(b, 0);
}

/* --- json_extract_reply_if and json_fence_next --------------------------- */

/* Accepts objects with a top-level "k"; counts the offers. */
typedef struct offers {
  size_t n;
} offers;

static int accept_k(const char *doc, size_t len, void *ctx) {
  cJSON *root = cJSON_ParseWithLength(doc, len);
  int ok = cJSON_GetObjectItemCaseSensitive(root, "k") != NULL;

  ((offers *)ctx)->n++;
  cJSON_Delete(root);
  return ok;
}

/* json_extract_reply_if(accept_k), into out. */
static int extract_k(const char *text, char *out, size_t out_len,
                     size_t *n_offers) {
  offers o = {0};
  int rc = extract_if(text, strlen(text), accept_k, &o, out, out_len);

  if (n_offers != NULL)
    *n_offers = o.n;
  return rc;
}

Test(json_extract_if, first_accepted_candidate_in_each_step) {
  char got[256];
  size_t n;

  /* Step 3 goes past "[1]" and {"a":1}. */
  cr_assert_eq(
      extract_k("See [1]: {\"a\":1} then {\"k\":2}.", got, sizeof(got), &n), 0);
  cr_assert_str_eq(got, "{\"k\":2}");
  cr_assert_eq(n, 3);
  /* Step 2 goes on to a later json fence, past a python one. */
  cr_assert_eq(extract_k("```json\n{\"a\":1}\n```\n```python\n{\"k\":0}\n```\n"
                         "```\n {\"k\":1} \n```\n",
                         got, sizeof(got), NULL),
               0);
  cr_assert_str_eq(got, "{\"k\":1}");
  /* Step 1 first, even when a fence would also do. */
  cr_assert_eq(extract_k("  {\"k\":\"```json\"}  ", got, sizeof(got), NULL), 0);
  cr_assert_str_eq(got, "{\"k\":\"```json\"}");
}

Test(json_extract_if, refused_value_is_stepped_over_whole) {
  char got[256];
  size_t n;

  /* The nested {"k":1} is never offered alone. */
  cr_assert_eq(extract_k("x {\"outer\": {\"k\": 1}} y", got, sizeof(got), &n),
               -1);
  cr_assert_str_eq(got, "x {\"outer\": {\"k\": 1}} y");
  cr_assert_eq(n, 1);
  cr_assert_eq(extract_k("{\"outer\": {\"k\": 1}}", got, sizeof(got), &n), -1);
  cr_assert_eq(n, 2); /* as the whole text, then from its '{' */
}

Test(json_extract_if, null_accept_is_json_extract_reply) {
  static const char *const texts[] = {"{\"a\":1}",
                                      "Sure:\n```json\n{bad\n```\n{\"a\":1}",
                                      "[1] {\"a\":1}", "no json", ""};
  size_t i;

  for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    size_t len = strlen(texts[i]), a1, b1, a2, b2;
    int r1 = json_extract_reply(texts[i], len, &a1, &b1);
    int r2 = json_extract_reply_if(texts[i], len, NULL, NULL, &a2, &b2);

    cr_assert_eq(r1, r2, "%s", texts[i]);
    cr_assert_eq(a1, a2, "%s", texts[i]);
    cr_assert_eq(b1, b2, "%s", texts[i]);
  }
}

Test(json_fence, walks_blocks_as_commonmark_pairs_them) {
  /* A ```json line inside a ``` block is content, an inline span line is
   * no fence, ~~~ blocks hold ``` lines, and the last block is open. */
  static const char text[] = "intro\n"
                             "``` one ```\n" /* 6: inline code */
                             "```python\n"   /* 18 */
                             "```json\n"     /* 28: content */
                             "````  \n"      /* 36: closes */
                             "~~~\n"         /* 43 */
                             "```\n"         /* 47: content */
                             "~~~\n"         /* 51 */
                             "```JSON\n"     /* 55 */
                             "{}";           /* 63 */
  size_t len = sizeof(text) - 1, pos = 0;
  char *copy = fixture_exact_copy(text, len);
  json_fence f;

  cr_assert_eq(json_fence_next(copy, len, &pos, &f), 1);
  cr_assert_eq(f.start, 18);
  cr_assert_eq(f.content, 28);
  cr_assert_eq(f.content_end, 36);
  cr_assert_eq(f.end, 42);
  cr_assert(f.closed);
  cr_assert_not(f.json);
  cr_assert_eq(pos, 43);

  cr_assert_eq(json_fence_next(copy, len, &pos, &f), 1);
  cr_assert_eq(f.start, 43);
  cr_assert_eq(f.content, 47);
  cr_assert_eq(f.content_end, 51);
  cr_assert_eq(f.end, 54);
  cr_assert(f.closed);
  cr_assert(f.json); /* untagged */

  cr_assert_eq(json_fence_next(copy, len, &pos, &f), 1);
  cr_assert_eq(f.start, 55);
  cr_assert_eq(f.content, 63);
  cr_assert_eq(f.content_end, len);
  cr_assert_eq(f.end, len);
  cr_assert_not(f.closed);
  cr_assert(f.json);
  cr_assert_eq(pos, len);

  cr_assert_eq(json_fence_next(copy, len, &pos, &f), 0);
  pos = 0;
  cr_assert_eq(json_fence_next(NULL, 0, &pos, &f), 0);
  free(copy);
}

Test(json_fence, fence_on_the_last_line) {
  static const char text[] = "x\n```";
  size_t pos = 0;
  json_fence f;
  char *copy = fixture_exact_copy(text, 5);

  cr_assert_eq(json_fence_next(copy, 5, &pos, &f), 1);
  cr_assert_eq(f.start, 2);
  cr_assert_eq(f.content, 5);
  cr_assert_eq(f.content_end, 5);
  cr_assert_not(f.closed);
  free(copy);
}
