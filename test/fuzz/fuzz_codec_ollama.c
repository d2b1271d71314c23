/* fuzz_codec_ollama.c - the ollama dialect's non-streamed parsers:
 * ollama_parse_response (/api/chat) and its parse_error (openai_parse_error,
 * fed Ollama-shaped bodies), on any bytes (see fuzz_codec.h). */
#include "ollama_codec.h"
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return codec_fuzz_one(&chat_codec_ollama, data, size);
}
