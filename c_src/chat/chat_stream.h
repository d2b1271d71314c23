/* chat_stream.h - assembling a streamed response.
 *
 * Bytes from the wire go to chat_stream_feed in chunks of any size. The
 * framing parser (sse.c or ndjson.c, by the codec's framing) cuts them into
 * events, the codec's stream_event decodes each one and reports what it
 * found through the chat_stream_* calls below, and the stream assembles
 * them into the same chat_response a non-streamed call gives. Text deltas
 * are also handed to on_text as they arrive (the :member_token events).
 * The result must not depend on where the chunks were cut. Pure C.
 *
 * The `reason` words a stream failure can carry, besides those a codec
 * passes to chat_stream_fail (all permanent unless said otherwise):
 *   truncated_stream        the body ended before the dialect's end marker
 *                           (transient)
 *   response_too_large      a pending event or line, or the text and tool
 *                           arguments together, passed max_bytes
 *   too_many_tool_calls     more tool calls than max_tool_calls (the
 *                           message names the cap)
 *   invalid_utf8            an event, the assembled text, or a tool call's
 *                           id or name is not UTF-8
 *   invalid_tool_arguments  a tool call's assembled arguments are not one
 *                           JSON value
 *   missing_field           a tool call never got a name
 *   invalid_stream          the codec refused an event without saying why,
 *                           or an SSE event name holds a NUL byte
 *   out_of_memory */
#ifndef CX_CHAT_STREAM_H
#define CX_CHAT_STREAM_H

#include <stddef.h>

#include "chat.h"
#include "codec.h"

typedef struct chat_stream chat_stream;

/* Called for each text delta, in order; text is not NUL-terminated. */
typedef void (*chat_stream_text_cb)(void *ud, const char *text, size_t len);

/* NULL on out-of-memory or when the codec has no stream_event. max_bytes
 * caps the assembled text (with the tool arguments) and any single pending
 * event or line (0: 8 MiB); max_tool_calls the number of tool calls, as
 * chat_tool_call_cap reads it (0: CHAT_MAX_TOOL_CALLS): the first call
 * past it fails the stream. on_text may be NULL. */
chat_stream *chat_stream_new(const chat_codec *codec, size_t max_bytes,
                             size_t max_tool_calls, chat_stream_text_cb on_text,
                             void *ud);
void chat_stream_free(chat_stream *st);

/* Feeds the next chunk of the body. 0, or -1 once the stream has failed
 * (malformed event, error event, size cap): later feeds are ignored. Also
 * -1, and ignored, after chat_stream_finish. */
int chat_stream_feed(chat_stream *st, const char *data, size_t len);

/* Ends the stream. Returns 0 with resp filled, or -1 with err set: an
 * error event in the stream, a malformed event, or a stream cut off before
 * the dialect's end marker (reason "truncated_stream"). resp is output
 * only (overwritten, left empty on failure); err is only touched on
 * failure (its old strings are freed; http_status and retry_after_ms are
 * kept). Tool calls come out sorted by index; one without an id gets
 * "call_<position>", empty arguments become "{}", and when there are tool
 * calls a stop of CHAT_STOP_END or CHAT_STOP_NONE becomes
 * CHAT_STOP_TOOL_CALLS. Calling it again gives the same result. */
int chat_stream_finish(chat_stream *st, chat_response *resp, chat_error *err);

/* --- Called by codecs' stream_event ------------------------------------ */
/* Each returns -1 (and does nothing) once the stream has failed, and fails
 * it on out-of-memory or a size cap; the void ones are then no-ops. */

/* Appends a text delta and hands it to on_text. Empty deltas are dropped. */
int chat_stream_text(chat_stream *st, const char *text, size_t len);
/* Starts (or continues) tool call `index`; id/name may be NULL when the
 * chunk does not repeat them. The first non-empty id and name stick; later
 * ones are ignored. `index` is only a key: it need not start at 0 (an
 * Anthropic content block index) but must be unique per call, so a
 * dialect whose indexes restart per chunk must number its calls itself. */
int chat_stream_tool_call(chat_stream *st, size_t index, const char *id,
                          const char *name);
/* How many tool calls the stream holds so far (indexes 0..n-1 in use).
 * Lets codecs number new calls when the wire doesn't: Gemini sends each
 * call whole without an index, and Anthropic numbers content blocks, not
 * calls. */
size_t chat_stream_tool_count(const chat_stream *st);
/* Appends a fragment of tool call `index`'s JSON arguments (starting the
 * call if new). They are checked as JSON only at finish. */
int chat_stream_tool_args(chat_stream *st, size_t index, const char *frag,
                          size_t len);
/* Sets the stop reason (raw is the provider's word, copied, or NULL);
 * a later call replaces both. */
int chat_stream_stop(chat_stream *st, chat_stop stop, const char *raw);
/* Token counts; -1 (any negative) leaves a count as it was, so the last
 * reported value wins (counts in streams are cumulative). */
void chat_stream_usage(chat_stream *st, long input_tokens, long output_tokens);
/* The cost (last one wins); a non-finite value is ignored. */
void chat_stream_cost(chat_stream *st, double cost);
/* The model name: the first non-empty one sticks (chunks repeat it). */
int chat_stream_model(chat_stream *st, const char *model);
/* The dialect's end marker ([DONE], message_stop, done:true) was seen.
 * Gemini has none: its codec marks the end on a finishReason. Events
 * after it still go to the codec. */
void chat_stream_end(chat_stream *st);
/* An error inside a 200 stream: the stream fails with it. reason must be
 * a static string (a snake_case word); type and message are copied and may
 * be NULL. Only the first failure is kept. Returns -1 so codecs can
 * `return chat_stream_fail(...)`. */
int chat_stream_fail(chat_stream *st, chat_error_kind kind, const char *reason,
                     const char *type, const char *message);

#endif
