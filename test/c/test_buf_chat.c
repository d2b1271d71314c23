/* test_buf_chat.c - unit tests for buf.c (growth, limits, printf, detach,
 * the growable array)
 * and chat.c (init/free, error_set, status classification, the strict
 * UTF-8 validator). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixtures.h"

#include "buf.h"
#include "chat.h"

/* --- buf ----------------------------------------------------------------- */

Test(buf, starts_empty) {
  buf b;

  buf_init(&b, 0);
  cr_assert_null(b.data);
  cr_assert_eq(b.len, 0);
  cr_assert_eq(b.cap, 0);
  cr_assert_eq(b.limit, 0);
  buf_free(&b);
}

Test(buf, append_keeps_data_nul_terminated) {
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(buf_append(&b, "abc", 3), 0);
  cr_assert_eq(b.len, 3);
  cr_assert_str_eq(b.data, "abc");
  cr_assert_eq(buf_append(&b, "defgh", 2), 0);
  cr_assert_eq(b.len, 5);
  cr_assert_str_eq(b.data, "abcde");
  cr_assert(b.cap > b.len);
  buf_free(&b);
}

Test(buf, append_binary_with_embedded_nul) {
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(buf_append(&b, "a\0b", 3), 0);
  cr_assert_eq(b.len, 3);
  cr_assert_eq(memcmp(b.data, "a\0b", 4), 0);
  buf_free(&b);
}

Test(buf, append_zero_bytes_is_a_no_op) {
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(buf_append(&b, "x", 0), 0);
  cr_assert_eq(buf_append(&b, NULL, 0), 0);
  cr_assert_eq(b.len, 0);
  cr_assert_null(b.data);
  buf_free(&b);
}

Test(buf, append_null_data_fails) {
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(buf_append(&b, NULL, 4), -1);
  cr_assert_eq(b.len, 0);
  cr_assert_eq(buf_puts(&b, NULL), -1);
  buf_free(&b);
}

Test(buf, grows_across_many_appends) {
  buf b;
  size_t i;

  buf_init(&b, 0);
  for (i = 0; i < 100000; i++)
    cr_assert_eq(buf_append(&b, &"0123456789"[i % 10], 1), 0);
  cr_assert_eq(b.len, 100000);
  cr_assert(b.cap >= 100001);
  for (i = 0; i < 100000; i++)
    cr_assert_eq(b.data[i], (char)('0' + i % 10));
  cr_assert_eq(b.data[100000], '\0');
  buf_free(&b);
}

Test(buf, one_large_append) {
  size_t n = 3 * 1024 * 1024 + 7;
  char *big = malloc(n);
  buf b;

  cr_assert_not_null(big);
  memset(big, 'q', n);
  buf_init(&b, 0);
  cr_assert_eq(buf_puts(&b, "<"), 0);
  cr_assert_eq(buf_append(&b, big, n), 0);
  cr_assert_eq(b.len, n + 1);
  cr_assert_eq(b.data[0], '<');
  cr_assert_eq(b.data[n], 'q');
  cr_assert_eq(b.data[n + 1], '\0');
  buf_free(&b);
  free(big);
}

/* A reply's buffer is sized once from its Content-Length: the body then
 * fits without another allocation, and appends past it still grow. */
Test(buf, reserve_sizes_a_known_body_exactly) {
  char body[3000];
  buf b;

  memset(body, 'r', sizeof(body));
  buf_init(&b, 0);
  cr_assert_eq(buf_reserve(&b, sizeof(body)), 0);
  cr_assert_eq(b.cap, sizeof(body) + 1);
  cr_assert_eq(b.len, 0);
  char *data = b.data;
  cr_assert_eq(buf_append(&b, body, sizeof(body)), 0);
  cr_assert_eq(b.data, data);
  cr_assert_eq(b.cap, sizeof(body) + 1);
  cr_assert_eq(buf_append(&b, "!", 1), 0);
  cr_assert_eq(b.len, sizeof(body) + 1);
  cr_assert_eq(b.data[sizeof(body)], '!');
  cr_assert_eq(b.data[b.len], '\0');
  buf_free(&b);
}

Test(buf, reserve_respects_the_limit) {
  buf b;

  buf_init(&b, 100);
  cr_assert_eq(buf_reserve(&b, 101), -1);
  cr_assert_null(b.data);
  cr_assert_eq(buf_reserve(&b, 100), 0);
  cr_assert_eq(buf_append(&b, "ok", 2), 0);
  cr_assert_str_eq(b.data, "ok");
  buf_free(&b);
}

Test(buf, limit_allows_exactly_limit_bytes) {
  buf b;

  buf_init(&b, 10);
  cr_assert_eq(buf_append(&b, "0123456789", 10), 0);
  cr_assert_eq(b.len, 10);
  cr_assert_eq(buf_append(&b, "x", 1), -1);
  cr_assert_eq(b.len, 10);
  cr_assert_str_eq(b.data, "0123456789");
  buf_free(&b);
}

Test(buf, append_past_limit_leaves_buffer_unchanged) {
  buf b;

  buf_init(&b, 10);
  cr_assert_eq(buf_puts(&b, "01234567"), 0);
  cr_assert_eq(buf_append(&b, "abc", 3), -1);
  cr_assert_eq(b.len, 8);
  cr_assert_str_eq(b.data, "01234567");
  /* A smaller append still fits. */
  cr_assert_eq(buf_append(&b, "ab", 2), 0);
  cr_assert_str_eq(b.data, "01234567ab");
  buf_free(&b);
}

Test(buf, first_append_over_limit_allocates_nothing) {
  buf b;

  buf_init(&b, 4);
  cr_assert_eq(buf_puts(&b, "hello"), -1);
  cr_assert_eq(b.len, 0);
  cr_assert_null(b.data);
  buf_free(&b);
}

Test(buf, huge_length_fails_without_overflow) {
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(buf_puts(&b, "ab"), 0);
  cr_assert_eq(buf_append(&b, "x", (size_t)-1), -1);
  cr_assert_eq(buf_append(&b, "x", (size_t)-2), -1);
  cr_assert_eq(b.len, 2);
  cr_assert_str_eq(b.data, "ab");
  buf_free(&b);
}

Test(buf, printf_formats_and_appends) {
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(buf_printf(&b, "n=%d s=%s", 42, "hi"), 0);
  cr_assert_eq(buf_printf(&b, " %ld", -7L), 0);
  cr_assert_str_eq(b.data, "n=42 s=hi -7");
  cr_assert_eq(b.len, strlen("n=42 s=hi -7"));
  buf_free(&b);
}

Test(buf, printf_empty_result) {
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(buf_printf(&b, "%s", ""), 0);
  cr_assert_eq(b.len, 0);
  buf_free(&b);
}

Test(buf, printf_longer_than_initial_capacity) {
  char big[5000];
  buf b;

  memset(big, 'z', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  buf_init(&b, 0);
  cr_assert_eq(buf_puts(&b, "x"), 0);
  cr_assert_eq(buf_printf(&b, "[%s]", big), 0);
  cr_assert_eq(b.len, 1 + 1 + 4999 + 1);
  cr_assert_eq(b.data[0], 'x');
  cr_assert_eq(b.data[1], '[');
  cr_assert_eq(b.data[b.len - 1], ']');
  cr_assert_eq(b.data[b.len], '\0');
  buf_free(&b);
}

Test(buf, printf_past_limit_leaves_buffer_unchanged) {
  buf b;

  buf_init(&b, 8);
  cr_assert_eq(buf_puts(&b, "abc"), 0);
  cr_assert_eq(buf_printf(&b, "%d", 123456), -1);
  cr_assert_eq(b.len, 3);
  cr_assert_str_eq(b.data, "abc");
  cr_assert_eq(buf_printf(&b, "%d", 12345), 0);
  cr_assert_str_eq(b.data, "abc12345");
  buf_free(&b);
}

Test(buf, detach_hands_over_and_resets) {
  buf b;
  char *s;
  size_t len = 0;

  buf_init(&b, 100);
  cr_assert_eq(buf_puts(&b, "payload"), 0);
  s = buf_detach(&b, &len);
  cr_assert_not_null(s);
  cr_assert_str_eq(s, "payload");
  cr_assert_eq(len, 7);
  cr_assert_null(b.data);
  cr_assert_eq(b.len, 0);
  cr_assert_eq(b.cap, 0);
  cr_assert_eq(b.limit, 100);
  free(s);
  /* The buffer is usable again. */
  cr_assert_eq(buf_puts(&b, "again"), 0);
  cr_assert_str_eq(b.data, "again");
  buf_free(&b);
}

Test(buf, detach_empty_gives_empty_string) {
  buf b;
  char *s;
  size_t len = 99;

  buf_init(&b, 0);
  s = buf_detach(&b, &len);
  cr_assert_not_null(s);
  cr_assert_str_eq(s, "");
  cr_assert_eq(len, 0);
  free(s);
  s = buf_detach(&b, NULL);
  cr_assert_not_null(s);
  free(s);
}

Test(buf, free_resets_and_keeps_limit) {
  buf b;

  buf_init(&b, 5);
  cr_assert_eq(buf_puts(&b, "abc"), 0);
  buf_free(&b);
  cr_assert_null(b.data);
  cr_assert_eq(b.len, 0);
  cr_assert_eq(b.limit, 5);
  buf_free(&b); /* twice is harmless */
  cr_assert_eq(buf_puts(&b, "abcdef"), -1);
}

/* --- chat: init, free, error_set ----------------------------------------- */

Test(chat, response_init_and_free) {
  chat_response r;

  chat_response_init(&r);
  assert_response_empty(&r);
  r.content = strdup("hi");
  r.content_len = 2;
  r.model = strdup("m");
  r.finish_reason = strdup("stop");
  r.input_tokens = 3;
  chat_response_free(&r);
  cr_assert_null(r.content);
  cr_assert_eq(r.content_len, 0);
  cr_assert_eq(r.input_tokens, -1);
  chat_response_free(&r); /* twice is harmless */
}

Test(chat, error_init_defaults) {
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(e.kind, CHAT_OK);
  cr_assert_null(e.reason);
  cr_assert_eq(e.http_status, 0);
  cr_assert_null(e.type);
  cr_assert_null(e.code);
  cr_assert_null(e.message);
  cr_assert_eq(e.retry_after_ms, -1);
  chat_error_free(&e);
}

Test(chat, error_set_copies_and_replaces) {
  chat_error e;
  char msg[] = "first";

  chat_error_init(&e);
  e.http_status = 503;
  e.retry_after_ms = 1500;
  chat_error_set(&e, CHAT_ERR_TRANSIENT, "http_error", msg);
  msg[0] = 'X'; /* the message was copied */
  cr_assert_str_eq(e.message, "first");
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.reason, "http_error");

  e.type = strdup("t");
  e.code = strdup("c");
  chat_error_set(&e, CHAT_ERR_TIMEOUT, "timeout", NULL);
  cr_assert_null(e.message);
  cr_assert_null(e.type);
  cr_assert_null(e.code);
  cr_assert_eq(e.kind, CHAT_ERR_TIMEOUT);
  cr_assert_str_eq(e.reason, "timeout");
  /* http_status and retry_after_ms belong to the caller. */
  cr_assert_eq(e.http_status, 503);
  cr_assert_eq(e.retry_after_ms, 1500);
  chat_error_free(&e);
}

Test(chat, error_set_with_its_own_message) {
  chat_error e;

  chat_error_init(&e);
  chat_error_set(&e, CHAT_ERR_PERMANENT, "http_error", "keep me");
  chat_error_set(&e, CHAT_ERR_CANCELLED, "cancelled", e.message);
  cr_assert_str_eq(e.message, "keep me");
  cr_assert_eq(e.kind, CHAT_ERR_CANCELLED);
  chat_error_free(&e);
}

Test(chat, kind_names) {
  cr_assert_str_eq(chat_error_kind_name(CHAT_OK), "ok");
  cr_assert_str_eq(chat_error_kind_name(CHAT_ERR_TRANSIENT), "transient");
  cr_assert_str_eq(chat_error_kind_name(CHAT_ERR_PERMANENT), "permanent");
  cr_assert_str_eq(chat_error_kind_name(CHAT_ERR_TIMEOUT), "timeout");
  cr_assert_str_eq(chat_error_kind_name(CHAT_ERR_CANCELLED), "cancelled");
  cr_assert_str_eq(chat_error_kind_name((chat_error_kind)99), "unknown");
}

/* --- chat: status classification ----------------------------------------- */

Test(chat, status_kind_table) {
  static const struct {
    long status;
    chat_error_kind kind;
  } cases[] = {
      {-1, CHAT_OK},
      {0, CHAT_OK},
      {100, CHAT_OK},
      {200, CHAT_OK},
      {204, CHAT_OK},
      {301, CHAT_OK},
      {399, CHAT_OK},
      {400, CHAT_ERR_PERMANENT},
      {401, CHAT_ERR_PERMANENT},
      {402, CHAT_ERR_PERMANENT},
      {403, CHAT_ERR_PERMANENT},
      {404, CHAT_ERR_PERMANENT},
      {405, CHAT_ERR_PERMANENT},
      {407, CHAT_ERR_PERMANENT},
      {408, CHAT_ERR_TRANSIENT},
      {409, CHAT_ERR_TRANSIENT},
      {410, CHAT_ERR_PERMANENT},
      {413, CHAT_ERR_PERMANENT},
      {422, CHAT_ERR_PERMANENT},
      {424, CHAT_ERR_PERMANENT},
      {425, CHAT_ERR_TRANSIENT},
      {426, CHAT_ERR_PERMANENT},
      {428, CHAT_ERR_PERMANENT},
      {429, CHAT_ERR_TRANSIENT},
      {430, CHAT_ERR_PERMANENT},
      {451, CHAT_ERR_PERMANENT},
      {499, CHAT_ERR_PERMANENT},
      {500, CHAT_ERR_TRANSIENT},
      {501, CHAT_ERR_TRANSIENT},
      {502, CHAT_ERR_TRANSIENT},
      {503, CHAT_ERR_TRANSIENT},
      {504, CHAT_ERR_TRANSIENT},
      {529, CHAT_ERR_TRANSIENT},
      {599, CHAT_ERR_TRANSIENT},
      {999, CHAT_ERR_TRANSIENT},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    cr_assert_eq(chat_status_kind(cases[i].status), cases[i].kind,
                 "status %ld: got %s, want %s", cases[i].status,
                 chat_error_kind_name(chat_status_kind(cases[i].status)),
                 chat_error_kind_name(cases[i].kind));
}

/* --- chat: UTF-8 --------------------------------------------------------- */

/* Checks s (a C string literal) through an exact-size copy, so a read past
 * the length would trip ASan. */
static int utf8_ok(const char *s, size_t len) {
  char *copy = malloc(len > 0 ? len : 1);
  int ok;

  cr_assert_not_null(copy);
  memcpy(copy, s, len);
  ok = chat_utf8_valid(copy, len);
  free(copy);
  return ok;
}

#define VALID(lit) cr_assert(utf8_ok(lit, sizeof(lit) - 1), "%s", #lit)
#define INVALID(lit) cr_assert(!utf8_ok(lit, sizeof(lit) - 1), "%s", #lit)

Test(utf8, accepts_valid_text) {
  VALID("");
  VALID("plain ascii");
  VALID("\x00"); /* U+0000 is a character */
  VALID("\x7f");
  VALID("caf\xc3\xa9");      /* é, 2 bytes */
  VALID("\xc2\x80");         /* U+0080, lowest 2-byte */
  VALID("\xdf\xbf");         /* U+07FF */
  VALID("\xe0\xa0\x80");     /* U+0800, lowest 3-byte */
  VALID("\xe2\x82\xac");     /* € */
  VALID("\xed\x9f\xbf");     /* U+D7FF, just below surrogates */
  VALID("\xee\x80\x80");     /* U+E000, just above surrogates */
  VALID("\xef\xbf\xbf");     /* U+FFFF */
  VALID("\xe2\x80\xa8");     /* U+2028 */
  VALID("\xf0\x90\x80\x80"); /* U+10000, lowest 4-byte */
  VALID("\xf0\x9f\x98\x80"); /* 😀 */
  VALID("\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last code point */
  VALID("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z");
}

Test(utf8, rejects_overlongs) {
  INVALID("\xc0\x80"); /* U+0000 in 2 bytes */
  INVALID("\xc0\xaf");
  INVALID("\xc1\xbf");
  INVALID("\xe0\x80\x80");
  INVALID("\xe0\x9f\xbf"); /* U+07FF in 3 bytes */
  INVALID("\xf0\x80\x80\x80");
  INVALID("\xf0\x8f\xbf\xbf"); /* U+FFFF in 4 bytes */
}

Test(utf8, rejects_surrogates) {
  INVALID("\xed\xa0\x80");             /* U+D800 */
  INVALID("\xed\xad\xbf");             /* U+DB7F */
  INVALID("\xed\xb0\x80");             /* U+DC00 */
  INVALID("\xed\xbf\xbf");             /* U+DFFF */
  INVALID("\xed\xa0\xbd\xed\xb8\x80"); /* CESU-8 style pair */
}

Test(utf8, rejects_code_points_above_10ffff) {
  INVALID("\xf4\x90\x80\x80"); /* U+110000 */
  INVALID("\xf5\x80\x80\x80");
  INVALID("\xf7\xbf\xbf\xbf");
  INVALID("\xf8\x88\x80\x80\x80");
  INVALID("\xfc\x84\x80\x80\x80\x80");
  INVALID("\xfe");
  INVALID("\xff");
}

Test(utf8, rejects_truncated_sequences) {
  INVALID("\xc3");
  INVALID("\xe2\x82");
  INVALID("\xe2");
  INVALID("\xf0\x9f\x98");
  INVALID("\xf0\x9f");
  INVALID("\xf0");
  INVALID("abc\xc3");
  INVALID("\xe2\x82z"); /* cut short, then ASCII */
  INVALID("\xf0\x9f\x98z");
}

Test(utf8, rejects_stray_and_bad_continuations) {
  INVALID("\x80");
  INVALID("\xbf");
  INVALID("a\x80z");
  INVALID("\xc3\x28");
  INVALID("\xc3\xc3\xa9");
  INVALID("\xe2\x28\xa1");
  INVALID("\xe2\x82\x28");
  INVALID("\xf0\x28\x8c\xbc");
  INVALID("\xf0\x90\x28\xbc");
  INVALID("\xf0\x90\x8c\x28");
  INVALID("\xc3\xa9\x80"); /* one continuation too many */
}

Test(utf8, honours_length_not_nul) {
  const char *s = "ok\xe2\x82\xac";

  cr_assert(chat_utf8_valid(s, 5));
  cr_assert(!chat_utf8_valid(s, 4)); /* cuts the euro sign */
  cr_assert(chat_utf8_valid(s, 2));
  cr_assert(chat_utf8_valid(NULL, 0));
  cr_assert(!chat_utf8_valid(NULL, 3));
}

/* Independent decoder for the exhaustive tests: decodes one sequence of n
 * bytes the long way and says whether it is a valid encoding. */
static int reference_valid(const unsigned char *p, size_t n) {
  unsigned long cp;
  size_t want, i;

  if (p[0] < 0x80) {
    want = 1;
    cp = p[0];
  } else if ((p[0] & 0xE0) == 0xC0) {
    want = 2;
    cp = p[0] & 0x1F;
  } else if ((p[0] & 0xF0) == 0xE0) {
    want = 3;
    cp = p[0] & 0x0F;
  } else if ((p[0] & 0xF8) == 0xF0) {
    want = 4;
    cp = p[0] & 0x07;
  } else {
    return 0;
  }
  if (want != n)
    return 0;
  for (i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
      (n == 4 && cp < 0x10000))
    return 0; /* overlong */
  if (cp >= 0xD800 && cp <= 0xDFFF)
    return 0;
  return cp <= 0x10FFFF;
}

Test(utf8, all_two_byte_sequences_match_reference) {
  unsigned char s[2];
  unsigned a, b;

  for (a = 0x80; a < 0x100; a++) {
    for (b = 0; b < 0x100; b++) {
      s[0] = (unsigned char)a;
      s[1] = (unsigned char)b;
      cr_assert_eq(chat_utf8_valid((const char *)s, 2), reference_valid(s, 2),
                   "%02x %02x", a, b);
    }
  }
}

Test(utf8, all_three_byte_sequences_match_reference) {
  unsigned char s[3];
  unsigned a, b, c;

  for (a = 0xE0; a < 0xF0; a++) {
    for (b = 0; b < 0x100; b++) {
      for (c = 0; c < 0x100; c++) {
        s[0] = (unsigned char)a;
        s[1] = (unsigned char)b;
        s[2] = (unsigned char)c;
        if (chat_utf8_valid((const char *)s, 3) != reference_valid(s, 3))
          cr_assert_fail("%02x %02x %02x", a, b, c);
      }
    }
  }
}

Test(utf8, four_byte_sequences_match_reference) {
  static const unsigned char tails[] = {0x00, 0x7F, 0x80, 0x8F, 0x90,
                                        0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
  unsigned char s[4];
  unsigned a, b;
  size_t c, d;

  for (a = 0xF0; a < 0x100; a++) {
    for (b = 0; b < 0x100; b++) {
      for (c = 0; c < sizeof(tails); c++) {
        for (d = 0; d < sizeof(tails); d++) {
          s[0] = (unsigned char)a;
          s[1] = (unsigned char)b;
          s[2] = tails[c];
          s[3] = tails[d];
          if (chat_utf8_valid((const char *)s, 4) != reference_valid(s, 4))
            cr_assert_fail("%02x %02x %02x %02x", a, b, s[2], s[3]);
        }
      }
    }
  }
}

/* --- buf_grow_array ------------------------------------------------------ */

Test(buf_grow_array, doubles_from_sixteen_only_when_full) {
  long *items = NULL;
  size_t cap = 0;

  cr_assert_eq(buf_grow_array(&items, &cap, 0, sizeof(long)), 0);
  cr_assert_eq(cap, 16);
  cr_assert_not_null(items);
  for (size_t i = 0; i < 100; i++) {
    long *before = items;
    size_t had = cap;

    cr_assert_eq(buf_grow_array(&items, &cap, i, sizeof(long)), 0);
    if (i < had)
      cr_assert(items == before && cap == had, "room already at %zu", i);
    items[i] = (long)i; /* ASan checks the room is there */
  }
  cr_assert_eq(cap, 128);
  for (size_t i = 0; i < 100; i++)
    cr_assert_eq(items[i], (long)i, "kept across reallocs");
  free(items);
}

Test(buf_grow_array, refuses_an_overflowing_size_unchanged) {
  char *items = malloc(1);
  size_t cap = SIZE_MAX / 2 + 1;

  cr_assert_eq(buf_grow_array(&items, &cap, cap, 1), -1);
  cr_assert_eq(cap, SIZE_MAX / 2 + 1);
  cap = 16;
  cr_assert_eq(buf_grow_array(&items, &cap, 16, SIZE_MAX / 20), -1);
  cr_assert_eq(cap, 16);
  free(items);
}
