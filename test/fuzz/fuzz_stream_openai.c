/* fuzz_stream_openai.c - stream assembly for the openai dialect: OpenAI
 * chat.completion.chunk events (openai_stream_event; OpenRouter's codec uses
 * the same function) over SSE, fed whole and in fuzzed chunks (see
 * fuzz_stream.h). */
#include "openai_codec.h"
#include "fuzz_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return stream_fuzz_one(&chat_codec_openai, data, size);
}
