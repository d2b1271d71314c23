/* fuzz_codec_openai.c - the openai dialect's non-streamed parsers:
 * openai_parse_response and openai_parse_error (OpenRouter's codec uses the
 * same functions), on any bytes (see fuzz_codec.h). */
#include "openai_codec.h"
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return codec_fuzz_one(&chat_codec_openai, data, size);
}
