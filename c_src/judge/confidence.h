/* confidence.h - the confidence a member reports about its own answer: in
 * words (a trailer its system prompt asks for) or from its token logprobs.
 * Replies are model output: any bytes, not NUL-terminated; every reader
 * checks UTF-8 and reads nothing past len. Pure C over cJSON. */
#ifndef CX_CONFIDENCE_H
#define CX_CONFIDENCE_H

#include <stddef.h>

#include <cJSON.h>

/* The sentence added to the system prompt of a member with
 * `confidence: :self_report`. */
extern const char CONFIDENCE_SELF_REPORT_INSTRUCTION[];

/* Reads the trailer CONFIDENCE_SELF_REPORT_INSTRUCTION asks for: a JSON
 * object whose only member is "confidence", at the very end of
 * text[0..len) (trailing whitespace allowed), either
 *   - starting a line of its own (it may span lines), or
 *   - as the whole content of a ```json (or untagged) fence that ends the
 *     text (closed, or left open).
 * Only the end is looked at: an object earlier in the text, an object
 * with other members (an answer in JSON that happens to hold a
 * confidence), or a trailer inside a fence of another language is not a
 * trailer. The value is read as for votes (a number, or a string holding
 * one) and must be in [0, 1].
 * Returns 0 with *value set and *content_len the length of the reply
 * without the trailer and the whitespace before it; -1 when there is no
 * trailer (also on invalid UTF-8 or NULL arguments), *value NaN and
 * *content_len = len; -2 when the trailer is there but its value is not
 * usable (80, "80%", true), *value NaN and *content_len as for 0, so the
 * caller can still strip it. content_len may be NULL. */
int confidence_self_report(const char *text, size_t len, double *value,
                           size_t *content_len);

/* exp(mean(logprobs[0..n))): the geometric mean token probability, in
 * [0, 1]. NaN when n is 0, logprobs is NULL, or any value is NaN,
 * infinite or positive (a log probability is <= 0). A chat_response's
 * mean logprob converts with confidence_from_logprobs(&r.logprob, 1). */
double confidence_from_logprobs(const double *logprobs, size_t n);

/* Reads a confidence value: a number, or a string holding exactly a JSON
 * number, within [0, 1]. 0 with *out set (-0.0 read as 0.0), or -1 with
 * *out untouched. */
int confidence_read(const cJSON *item, double *out);

#endif
