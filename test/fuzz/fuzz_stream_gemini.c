/* fuzz_stream_gemini.c - stream assembly for the gemini dialect: Gemini alt=sse
 * GenerateContentResponse chunks (gemini_stream_event) over SSE, fed whole and
 * in fuzzed chunks (see fuzz_stream.h). */
#include "gemini_codec.h"
#include "fuzz_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return stream_fuzz_one(&chat_codec_gemini, data, size);
}
