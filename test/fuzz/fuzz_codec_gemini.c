/* fuzz_codec_gemini.c - the gemini dialect's non-streamed parsers:
 * gemini_parse_response and gemini_parse_error, on any bytes (see
 * fuzz_codec.h). */
#include "gemini_codec.h"
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return codec_fuzz_one(&chat_codec_gemini, data, size);
}
