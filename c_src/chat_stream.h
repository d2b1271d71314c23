/* chat_stream.h - assembling a streamed response.
 *
 * Bytes from the wire go to chat_stream_feed in chunks of any size. The
 * framing parser (sse.c or ndjson.c, by the codec's framing) cuts them into
 * events, the codec's stream_event decodes each one and reports what it
 * found through the chat_stream_* calls below, and the stream assembles
 * them into the same chat_response a non-streamed call gives. Text deltas
 * are also handed to on_text as they arrive (the :member_token events).
 * The result must not depend on where the chunks were cut. Pure C. */
#ifndef CX_CHAT_STREAM_H
#define CX_CHAT_STREAM_H

#include <stddef.h>

#include "chat.h"
#include "codec.h"

typedef struct chat_stream chat_stream;

/* Called for each text delta, in order; text is not NUL-terminated. */
typedef void (*chat_stream_text_cb)(void *ud, const char *text, size_t len);

/* NULL on out-of-memory. max_bytes caps the assembled text and any single
 * pending event (0: 8 MiB). on_text may be NULL. */
chat_stream *chat_stream_new(const chat_codec *codec, size_t max_bytes,
                             chat_stream_text_cb on_text, void *ud);
void chat_stream_free(chat_stream *st);

/* Feeds the next chunk of the body. 0, or -1 once the stream has failed
 * (malformed event, error event, size cap): later feeds are ignored. */
int chat_stream_feed(chat_stream *st, const char *data, size_t len);

/* Ends the stream. Returns 0 with resp filled, or -1 with err set: an
 * error event in the stream, a malformed event, or a stream cut off before
 * the dialect's end marker (reason "truncated_stream"). */
int chat_stream_finish(chat_stream *st, chat_response *resp, chat_error *err);

/* --- Called by codecs' stream_event ------------------------------------ */
int chat_stream_text(chat_stream *st, const char *text, size_t len);
/* Starts (or continues) tool call `index`; id/name may be NULL when the
 * chunk does not repeat them. */
int chat_stream_tool_call(chat_stream *st, size_t index, const char *id,
                          const char *name);
/* How many tool calls the stream holds so far (indexes 0..n-1 in use).
 * Lets codecs number new calls when the wire doesn't: Gemini sends each
 * call whole without an index, and Anthropic numbers content blocks, not
 * calls. */
size_t chat_stream_tool_count(const chat_stream *st);
/* Appends a fragment of tool call `index`'s JSON arguments. */
int chat_stream_tool_args(chat_stream *st, size_t index, const char *frag,
                          size_t len);
/* Sets the stop reason (raw is the provider's word, copied). */
int chat_stream_stop(chat_stream *st, chat_stop stop, const char *raw);
/* Token counts; -1 leaves a count as it was. */
void chat_stream_usage(chat_stream *st, long input_tokens, long output_tokens);
void chat_stream_cost(chat_stream *st, double cost);
int chat_stream_model(chat_stream *st, const char *model);
/* The dialect's end marker ([DONE], message_stop, done:true) was seen.
 * Gemini has none: its codec marks the end on a finishReason. */
void chat_stream_end(chat_stream *st);
/* An error inside a 200 stream: the stream fails with it. message may be
 * NULL. Returns -1 so codecs can `return chat_stream_fail(...)`. */
int chat_stream_fail(chat_stream *st, chat_error_kind kind,
                     const char *reason, const char *type, const char *message);

#endif
