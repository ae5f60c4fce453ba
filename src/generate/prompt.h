// Prompt assembly for grounded answers: numbered passages under a token
// budget, and the parsing of the [n] citations the model writes back.
//
// Prompt format (docs/generation.md):
//   system: kDefaultSystemPrompt (answer only from the passages, cite as [n])
//   user:   "Passages:\n\n[1] <title>\n<text>\n\n[2] ...\n\nQuestion: <question>"
// Passages keep the caller's rank order; [n] is the n-th passage included.
// The title line falls back to doc_id when a passage has no title.
//
// Budget: PromptOptions::max_prompt_tokens covers the whole prompt (system
// message, question and passage blocks, each counted separately with the
// token counter and summed). Passages are added whole while they fit; the
// first passage that does not fit ends the list, except that the first
// passage is always included: if it alone does not fit it is cut at a word
// boundary (whitespace) to fit, and marked with " ...".
//
// Thread safety: pure functions; the token counter must be thread-safe if
// they run concurrently.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "generate/chat_client.h"

namespace ragline::generate {

// One retrieved passage, as search returns it (best first).
struct Passage {
  std::string chunk_id;  // "doc_id#ordinal" (DESIGN.md §2)
  std::string doc_id;
  std::string title;  // title or heading path; may be empty
  std::string text;
};

// Counts the tokens of a piece of text for the model that will read it.
using TokenCounter = std::function<size_t(std::string_view text)>;

// The default counter: ceil(1.3 × whitespace-separated words), a rough
// estimate for English with BPE/SentencePiece vocabularies.
size_t EstimateTokens(std::string_view text);

extern const char kDefaultSystemPrompt[];

struct PromptOptions {
  size_t max_prompt_tokens = 3000;
  TokenCounter count_tokens = EstimateTokens;
  std::string system_prompt = kDefaultSystemPrompt;
  // Some chat templates (Gemma's) have no system role; false puts the
  // instructions at the top of the user message instead.
  bool use_system_role = true;
};

struct Prompt {
  std::vector<ChatMessage> messages;
  // chunk_ids[n - 1] is the chunk that [n] refers to; its size is the number
  // of passages included.
  std::vector<std::string> chunk_ids;
  bool last_passage_truncated = false;
  size_t estimated_tokens = 0;  // by options.count_tokens
};

Prompt BuildPrompt(std::string_view question, std::span<const Passage> passages,
                   const PromptOptions& options = {});

struct Citation {
  int n = 0;  // the passage number as written in the answer, 1-based
  std::string chunk_id;
  friend bool operator==(const Citation&, const Citation&) = default;
};

// The citations in `answer`, in order of first appearance, each passage once.
// chunk_ids is Prompt::chunk_ids (chunk_ids[n - 1] is [n]).
//
// Supported: "[3]", adjacent "[1][2]", lists "[1, 2]" / "[1,2]" / "[1; 2]",
// ranges "[1-3]" / "[1–3]" (en dash) and mixes "[1, 3-4]"; spaces inside the
// brackets are allowed. Numbers outside 1..chunk_ids.size() are ignored (a
// range is clipped to it). A bracket holding anything else ("[see 1]",
// "[1a]", "[^1]", "[]") is not a citation and is ignored whole.
std::vector<Citation> ParseCitations(std::string_view answer,
                                     std::span<const std::string> chunk_ids);

}  // namespace ragline::generate
