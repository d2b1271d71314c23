/* fuzz_stream_ollama.c - stream assembly for the ollama dialect: Ollama
 * /api/chat lines (ollama_stream_event) over NDJSON, fed whole and in fuzzed
 * chunks (see fuzz_stream.h). */
#include "ollama_codec.h"
#include "fuzz_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return stream_fuzz_one(&chat_codec_ollama, data, size);
}
