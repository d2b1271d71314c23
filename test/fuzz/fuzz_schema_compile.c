/* fuzz_schema_compile.c - compiling a JSON Schema (json_schema.c:
 * json_schema_compile, _ref, _free, _text) from any text, then validating
 * a fixed set of replies, and the schema's own text, against what
 * compiled (see fuzz_schema.h for what is checked). The message a refused
 * schema gets must fit the room given, NUL included, and nothing past it
 * may be written.
 *
 * Input: a room byte (% 64 bytes for the message; 255: no buffer at
 * all), a reply byte (% the replies below), then the schema. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_schema.h"

static const char *const REPLIES[] = {
    "null",
    "true",
    "0",
    "-1.5e3",
    "1e308",
    "\"\"",
    "\"h\xc3\xa9llo \xf0\x9f\x98\x80\"",
    "[]",
    "[1, \"a\", null, [{}], 2.5]",
    "{}",
    "{\"ranking\": [\"A\", \"B\"], \"confidence\": 0.5, \"abstain\": false}",
    "{\"a\": {\"b\": [1, 2, {\"c\": \"d\"}]}, \"a\": 3}",
    "Sure:\n```json\n{\"verdict\": \"yes\", \"score\": 7}\n```\n",
};
#define N_REPLIES (sizeof(REPLIES) / sizeof(REPLIES[0]))
#define WHY_ROOM 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  unsigned room_byte = fuzz_byte(&in);
  size_t room = room_byte % WHY_ROOM, which = fuzz_byte(&in) % N_REPLIES;
  char why[WHY_ROOM + 16];
  char *text = fuzz_exact(in.p, in.n);
  json_schema *s, *again;

  memset(why, 'Z', sizeof(why));
  s = json_schema_compile(text, in.n, room_byte == 255 ? NULL : why, room);
  for (size_t i = room; i < sizeof(why); i++)
    FUZZ_CHECK(why[i] == 'Z', "a write past the %zu bytes of room at %zu", room,
               i);
  if (room > 0 && room_byte != 255) {
    FUZZ_CHECK(memchr(why, '\0', room) != NULL, "the message is cut, no NUL");
    FUZZ_CHECK(s != NULL || why[0] != '\0' || room == 1,
               "a refused schema says why");
  }
  if (s != NULL) {
    const char *own = json_schema_text(s);

    FUZZ_CHECK(own != NULL && fuzz_same(own, strlen(own), text, in.n),
               "the schema's text is the text it was compiled from");
    again = json_schema_ref(s);
    FUZZ_CHECK(again == s, "a reference is the schema");
    schema_check_validate(s, REPLIES[which], strlen(REPLIES[which]));
    json_schema_free(again);
    schema_check_validate(s, own, strlen(own));
    json_schema_free(s);
  }
  free(text);
  return 0;
}
