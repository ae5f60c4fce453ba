// Answers with citations: ask the LLM over the numbered-passage prompt, or,
// when there is no LLM or it fails, build an extractive answer from the top
// passages and mark it degraded (DESIGN.md §3: breaker open / timeout ->
// extractive answer).
//
// Fallback rules (docs/generation.md):
//   - no passages: a fixed "nothing found" text, no citations, no LLM call,
//     not degraded;
//   - no client: extractive, degraded, reason "no_llm";
//   - Complete() fails, or answers with empty text: extractive, degraded, the
//     reason (a code: "llm_unavailable", "llm_timeout", "llm_empty_answer"),
//     the detail and llm_status record why;
//   - the LLM gets what is left of the request's deadline; past it, the
//     extractive answer ("llm_timeout");
//   - streaming: a failure before the first delta falls back to the
//     extractive answer, which is then sent as one delta; a failure after
//     some deltas keeps the text that arrived, marks it degraded
//     ("llm_incomplete") and records why (the already-streamed text cannot be
//     taken back);
//   - the caller cancelling a stream (on_delta returns false) keeps the text
//     so far, is not degraded, and sets llm_status to Cancelled.
//
// Extractive answer: for each of the first `extractive_passages` passages (in
// rank order), the `extractive_sentences_per_passage` sentences sharing the
// most distinct question terms (lower-cased words of 2+ characters minus
// common English stop words; on equal overlap a whole sentence, one that
// neither starts in lower case or punctuation nor lacks its closing '.', '!'
// or '?' as the ends of a chunk cut mid-sentence do, goes before a
// fragment; then the earlier sentence), in text order, whitespace collapsed, long
// sentences cut at a word boundary, each followed by " [n]". Sentences end
// at '.', '!' or '?' (plus closing quotes or brackets) before whitespace, or
// at a blank line; a one- or two-word fragment ("CYNIC, n.", a heading) is
// joined to the sentence after it. Sentences already used are skipped.
// Deterministic.
//
// Thread safety: pure functions over their arguments; the client is used
// through its thread-safe const methods.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "generate/chat_client.h"
#include "generate/prompt.h"
#include "resilience/deadline.h"

namespace ragline::generate {

struct AnswerOptions {
  PromptOptions prompt;
  size_t extractive_passages = 3;
  size_t extractive_sentences_per_passage = 1;
  size_t extractive_max_sentence_bytes = 400;
};

struct Answer {
  std::string text;
  std::vector<Citation> citations;  // [n] -> chunk_id, in order of first use
  bool degraded = false;            // true: not the LLM's complete answer
  std::string degraded_reason;      // why, when degraded: one of the kDegraded* codes
  std::string degraded_detail;      // why, in words (the LLM's error), when degraded
  Status llm_status;                // the LLM call's outcome; OK when not called
  std::string finish_reason;        // the LLM's, when it answered
  ChatUsage usage;                  // the LLM's, when reported
  size_t passages_used = 0;         // passages in the prompt / the extractive answer
};

// Answer::degraded_reason values (clients branch on them; docs/generation.md).
inline constexpr char kDegradedNoLlm[] = "no_llm";
inline constexpr char kDegradedLlmUnavailable[] =
    "llm_unavailable";                                        // refused, 5xx, breaker open, bad answer
inline constexpr char kDegradedLlmTimeout[] = "llm_timeout";  // its timeout or the request's deadline
inline constexpr char kDegradedLlmEmpty[] = "llm_empty_answer";
inline constexpr char kDegradedLlmIncomplete[] = "llm_incomplete";  // a stream broke after some text

// The answer given when retrieval found no passages.
extern const char kNoPassagesAnswer[];

// Asks `client` (may be null: no LLM configured) and falls back to the
// extractive answer as described above. Never fails: failures are recorded
// in the answer.
Answer Generate(std::string_view question, std::span<const Passage> passages, const ChatClient* client,
                const AnswerOptions& options = {},
                const resilience::Deadline& deadline = resilience::Deadline::Never());

// The streaming form: `on_delta` receives the answer text as it is produced
// (the LLM's deltas, or the whole extractive answer at once).
Answer GenerateStream(std::string_view question, std::span<const Passage> passages, const ChatClient* client,
                      const DeltaCallback& on_delta, const AnswerOptions& options = {},
                      const resilience::Deadline& deadline = resilience::Deadline::Never());

// The extractive answer alone (degraded = true, the given reason and detail).
Answer ExtractiveAnswer(std::string_view question, std::span<const Passage> passages,
                        const AnswerOptions& options, std::string reason, std::string detail);

}  // namespace ragline::generate
