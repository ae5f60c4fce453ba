#include "generate/answer.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

#include "core/strings.h"

namespace ragline::generate {

const char kNoPassagesAnswer[] = "No passages matched the question, so there is nothing to answer from.";

namespace {

constexpr std::array<std::string_view, 48> kStopWords = {
    "a",    "an",   "and",   "are",   "as",   "at",    "be",    "by",   "can",  "did",   "do",   "does",
    "for",  "from", "had",   "has",   "have", "how",   "in",    "is",   "it",   "its",   "many", "much",
    "of",   "on",   "or",    "that",  "the",  "their", "there", "they", "this", "to",    "was",  "were",
    "what", "when", "where", "which", "who",  "whom",  "why",   "will", "with", "would", "you",  "your"};

bool IsWordByte(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return std::isalnum(u) || u >= 0x80;  // UTF-8 letters count as word bytes
}
bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Lower-cased words of 2+ bytes, minus stop words.
std::set<std::string> Terms(std::string_view text) {
  std::set<std::string> terms;
  size_t i = 0;
  while (i < text.size()) {
    if (!IsWordByte(text[i])) {
      ++i;
      continue;
    }
    size_t begin = i;
    while (i < text.size() && IsWordByte(text[i])) ++i;
    std::string word(text.substr(begin, i - begin));
    for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (word.size() < 2) continue;
    if (std::find(kStopWords.begin(), kStopWords.end(), word) != kStopWords.end()) continue;
    terms.insert(std::move(word));
  }
  return terms;
}

// Splits text into sentences (see answer.h), whitespace collapsed.
std::vector<std::string> Sentences(std::string_view text) {
  std::vector<std::string> sentences;
  std::string current;
  auto flush = [&] {
    while (!current.empty() && current.back() == ' ') current.pop_back();
    if (!current.empty()) sentences.push_back(std::move(current));
    current.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (IsSpace(c)) {
      // A blank line ends the sentence.
      if (c == '\n') {
        size_t j = i + 1;
        while (j < text.size() && IsSpace(text[j]) && text[j] != '\n') ++j;
        if (j < text.size() && text[j] == '\n') {
          flush();
          i = j;
          continue;
        }
      }
      if (!current.empty() && current.back() != ' ') current.push_back(' ');
      continue;
    }
    current.push_back(c);
    if (c == '.' || c == '!' || c == '?') {
      size_t j = i + 1;
      while (j < text.size() && std::string_view("\"')]").find(text[j]) != std::string_view::npos) {
        current.push_back(text[j]);
        ++j;
      }
      if (j >= text.size() || IsSpace(text[j])) {
        flush();
        i = j - 1;
      }
    }
  }
  flush();
  // A fragment of one or two words ("CYNIC, n.", a heading, "Fig. 3.") is not
  // an answer on its own: it leads into the sentence after it.
  std::vector<std::string> merged;
  std::string pending;
  for (std::string& s : sentences) {
    if (!pending.empty()) s = StrCat(pending, " ", s);
    pending.clear();
    if (std::count(s.begin(), s.end(), ' ') < 2) {
      pending = std::move(s);
    } else {
      merged.push_back(std::move(s));
    }
  }
  if (!pending.empty()) merged.push_back(std::move(pending));
  return merged;
}

// A whole sentence: it starts as one does (not with a lower-case letter or
// a comma, as a chunk cut mid-sentence does) and ends with '.', '!' or '?'
// (a heading or a cut-off tail does not).
bool IsWhole(std::string_view s) {
  size_t b = s.find_first_not_of("\"'([*_ ");
  if (b == std::string_view::npos) return false;
  const unsigned char first = static_cast<unsigned char>(s[b]);
  if (std::islower(first) || std::string_view(",;:)]-").find(s[b]) != std::string_view::npos) return false;
  size_t e = s.find_last_not_of("\"')]*_ ");
  return e != std::string_view::npos && std::string_view(".!?").find(s[e]) != std::string_view::npos;
}

std::string Shorten(std::string sentence, size_t max_bytes) {
  if (sentence.size() <= max_bytes) return sentence;
  size_t cut = sentence.rfind(' ', max_bytes);
  if (cut == std::string::npos || cut == 0) {
    cut = max_bytes;  // one huge word: cut at a UTF-8 character start
    while (cut > 0 && (static_cast<unsigned char>(sentence[cut]) & 0xC0) == 0x80) --cut;
  }
  sentence.resize(cut);
  return sentence + " ...";
}

constexpr char kNoLlmDetail[] = "no LLM configured";

// The extractive answer after the LLM call failed with `status`.
Answer LlmFailed(std::string_view question, std::span<const Passage> passages, const AnswerOptions& options,
                 const Status& status) {
  Answer answer =
      ExtractiveAnswer(question, passages, options,
                       absl::IsDeadlineExceeded(status) ? kDegradedLlmTimeout : kDegradedLlmUnavailable,
                       StrCat("LLM failed: ", status.ToString()));
  answer.llm_status = status;
  return answer;
}

Answer NoPassages() {
  Answer answer;
  answer.text = kNoPassagesAnswer;
  return answer;
}

}  // namespace

Answer ExtractiveAnswer(std::string_view question, std::span<const Passage> passages,
                        const AnswerOptions& options, std::string reason, std::string detail) {
  if (passages.empty()) return NoPassages();
  const std::set<std::string> question_terms = Terms(question);
  const size_t per_passage = std::max<size_t>(1, options.extractive_sentences_per_passage);
  const size_t count = std::min(std::max<size_t>(1, options.extractive_passages), passages.size());

  Answer answer;
  answer.degraded = true;
  answer.degraded_reason = std::move(reason);
  answer.degraded_detail = std::move(detail);
  answer.passages_used = count;
  std::set<std::string> used;
  for (size_t p = 0; p < count; ++p) {
    std::vector<std::string> sentences = Sentences(passages[p].text);
    std::vector<std::pair<size_t, size_t>> scored;  // (rank key, index)
    for (size_t s = 0; s < sentences.size(); ++s) {
      if (used.count(sentences[s])) continue;
      size_t overlap = 0;
      for (const std::string& term : Terms(sentences[s])) overlap += question_terms.count(term);
      // Whole sentences before fragments of the same overlap.
      scored.emplace_back(2 * overlap + (IsWhole(sentences[s]) ? 1 : 0), s);
    }
    // Most overlap first, whole before fragments, earlier first on ties.
    std::stable_sort(scored.begin(), scored.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    if (scored.size() > per_passage) scored.resize(per_passage);
    std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    bool cited = false;
    for (const auto& [overlap, s] : scored) {
      used.insert(sentences[s]);
      if (!answer.text.empty()) answer.text += ' ';
      answer.text += Shorten(sentences[s], options.extractive_max_sentence_bytes);
      answer.text += StrCat(" [", p + 1, "]");
      cited = true;
    }
    if (cited) answer.citations.push_back({static_cast<int>(p + 1), passages[p].chunk_id});
  }
  return answer;
}

Answer Generate(std::string_view question, std::span<const Passage> passages, const ChatClient* client,
                const AnswerOptions& options, const resilience::Deadline& deadline) {
  if (passages.empty()) return NoPassages();
  if (client == nullptr) return ExtractiveAnswer(question, passages, options, kDegradedNoLlm, kNoLlmDetail);
  Prompt prompt = BuildPrompt(question, passages, options.prompt);
  Result<ChatResponse> response = client->Complete(prompt.messages, deadline);
  if (!response.ok()) return LlmFailed(question, passages, options, response.status());
  if (response->content.find_first_not_of(" \t\r\n") == std::string::npos) {
    return ExtractiveAnswer(question, passages, options, kDegradedLlmEmpty,
                            "the LLM returned an empty answer");
  }
  Answer answer;
  answer.text = std::move(response->content);
  answer.citations = ParseCitations(answer.text, prompt.chunk_ids);
  answer.finish_reason = std::move(response->finish_reason);
  answer.usage = response->usage;
  answer.passages_used = prompt.chunk_ids.size();
  return answer;
}

Answer GenerateStream(std::string_view question, std::span<const Passage> passages, const ChatClient* client,
                      const DeltaCallback& on_delta, const AnswerOptions& options,
                      const resilience::Deadline& deadline) {
  auto send_whole = [&](Answer answer) {
    on_delta(answer.text);
    return answer;
  };
  if (passages.empty()) return send_whole(NoPassages());
  if (client == nullptr) {
    return send_whole(ExtractiveAnswer(question, passages, options, kDegradedNoLlm, kNoLlmDetail));
  }
  Prompt prompt = BuildPrompt(question, passages, options.prompt);
  std::string received;
  bool caller_stopped = false;
  Result<ChatResponse> response = client->Stream(
      prompt.messages,
      [&](std::string_view delta) {
        received.append(delta);
        if (!on_delta(delta)) {
          caller_stopped = true;
          return false;
        }
        return true;
      },
      deadline);

  bool nothing_arrived = received.find_first_not_of(" \t\r\n") == std::string::npos;
  if (nothing_arrived && !caller_stopped) {
    if (!response.ok()) return send_whole(LlmFailed(question, passages, options, response.status()));
    return send_whole(
        ExtractiveAnswer(question, passages, options, kDegradedLlmEmpty, "the LLM returned an empty answer"));
  }

  Answer answer;
  answer.text = std::move(received);
  answer.citations = ParseCitations(answer.text, prompt.chunk_ids);
  answer.passages_used = prompt.chunk_ids.size();
  if (response.ok()) {
    answer.finish_reason = std::move(response->finish_reason);
    answer.usage = response->usage;
    return answer;
  }
  answer.llm_status = response.status();
  if (!caller_stopped) {
    answer.degraded = true;
    answer.degraded_reason = kDegradedLlmIncomplete;
    answer.degraded_detail = StrCat("LLM stream failed after ", answer.text.size(),
                                    " bytes; the answer is incomplete: ", response.status().ToString());
  }
  return answer;
}

}  // namespace ragline::generate
