/* fuzz_stream_anthropic.c - stream assembly for the anthropic dialect:
 * Anthropic Messages stream events (anthropic_stream_event) over SSE, fed whole
 * and in fuzzed chunks (see fuzz_stream.h). */
#include "anthropic_codec.h"
#include "fuzz_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return stream_fuzz_one(&chat_codec_anthropic, data, size);
}
