/* fuzz_codec_anthropic.c - the anthropic dialect's non-streamed parsers:
 * anthropic_parse_response and anthropic_parse_error, on any bytes (see
 * fuzz_codec.h). */
#include "anthropic_codec.h"
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return codec_fuzz_one(&chat_codec_anthropic, data, size);
}
