#include "generate/prompt.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/strings.h"

namespace ragline::generate {

const char kDefaultSystemPrompt[] =
    "You answer questions using only the numbered passages given with the question. "
    "After every statement, cite the passage it comes from by its number in square "
    "brackets, like [1], or [1][3] for several. If the passages do not contain the "
    "answer, say that you do not know. Do not use any other knowledge.";

namespace {

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string BlockHeader(size_t n, const Passage& passage) {
  const std::string& title = passage.title.empty() ? passage.doc_id : passage.title;
  return title.empty() ? StrCat("[", n, "]\n") : StrCat("[", n, "] ", title, "\n");
}

std::string Block(size_t n, const Passage& passage, std::string_view text) {
  return StrCat(BlockHeader(n, passage), text, "\n\n");
}

// The end of each word in `text` (a position just before whitespace), in order.
std::vector<size_t> WordEnds(std::string_view text) {
  std::vector<size_t> ends;
  for (size_t i = 1; i < text.size(); ++i) {
    if (IsSpace(text[i]) && !IsSpace(text[i - 1])) ends.push_back(i);
  }
  return ends;
}

// The longest word-boundary prefix of the passage whose block fits in
// `budget` tokens (at least its first word).
std::string TruncatedBlock(size_t n, const Passage& passage, size_t budget,
                           const TokenCounter& count) {
  std::vector<size_t> ends = WordEnds(passage.text);
  auto block_at = [&](size_t i) {
    return Block(n, passage, StrCat(std::string_view(passage.text).substr(0, ends[i]), " ..."));
  };
  if (ends.empty()) return Block(n, passage, passage.text);  // one word: nothing to cut
  size_t lo = 0, hi = ends.size();  // answer in [lo, hi): the largest fitting index
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (count(block_at(mid)) <= budget) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return block_at(lo);
}

}  // namespace

size_t EstimateTokens(std::string_view text) {
  size_t words = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = IsSpace(c);
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return (words * 13 + 9) / 10;
}

Prompt BuildPrompt(std::string_view question, std::span<const Passage> passages,
                   const PromptOptions& options) {
  const TokenCounter& count = options.count_tokens ? options.count_tokens : TokenCounter(EstimateTokens);
  const std::string header = "Passages:\n\n";
  const std::string footer = StrCat("Question: ", question);

  Prompt prompt;
  size_t used = count(options.system_prompt) + count(header) + count(footer);
  std::string blocks;
  for (size_t i = 0; i < passages.size(); ++i) {
    size_t n = i + 1;
    std::string block = Block(n, passages[i], passages[i].text);
    size_t cost = count(block);
    if (used + cost > options.max_prompt_tokens) {
      if (i > 0) break;
      size_t left = options.max_prompt_tokens > used ? options.max_prompt_tokens - used : 0;
      block = TruncatedBlock(n, passages[i], left, count);
      cost = count(block);
      prompt.last_passage_truncated = true;
    }
    used += cost;
    blocks += block;
    prompt.chunk_ids.push_back(passages[i].chunk_id);
    if (prompt.last_passage_truncated) break;
  }
  prompt.estimated_tokens = used;

  std::string user = StrCat(header, blocks, footer);
  if (options.use_system_role) {
    prompt.messages.push_back({"system", options.system_prompt});
    prompt.messages.push_back({"user", std::move(user)});
  } else {
    prompt.messages.push_back({"user", StrCat(options.system_prompt, "\n\n", user)});
  }
  return prompt;
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// A whole number of at most 6 digits, else -1.
int ParseNumber(std::string_view s) {
  s = Trim(s);
  if (s.empty() || s.size() > 6) return -1;
  int value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) return -1;
  return value;
}

// Appends the numbers of one bracket's content ("1", "1, 2", "1-3") to *out;
// false if the content is not a citation list.
bool ParseBracket(std::string_view content, std::vector<std::pair<int, int>>* out) {
  if (Trim(content).empty()) return false;
  size_t begin = 0;
  while (begin <= content.size()) {
    size_t end = content.find_first_of(",;", begin);
    if (end == std::string_view::npos) end = content.size();
    std::string_view item = content.substr(begin, end - begin);
    size_t dash = item.find('-');
    size_t dash_len = 1;
    if (dash == std::string_view::npos) {
      dash = item.find("\xE2\x80\x93");  // en dash
      dash_len = 3;
    }
    if (dash == std::string_view::npos) {
      int n = ParseNumber(item);
      if (n < 0) return false;
      out->emplace_back(n, n);
    } else {
      int first = ParseNumber(item.substr(0, dash));
      int last = ParseNumber(item.substr(dash + dash_len));
      if (first < 0 || last < 0 || first > last) return false;
      out->emplace_back(first, last);
    }
    begin = end + 1;
  }
  return true;
}

}  // namespace

std::vector<Citation> ParseCitations(std::string_view answer,
                                     std::span<const std::string> chunk_ids) {
  constexpr size_t kMaxBracket = 64;
  const int limit = static_cast<int>(chunk_ids.size());
  std::vector<Citation> citations;
  std::vector<bool> seen(chunk_ids.size(), false);
  size_t pos = 0;
  while ((pos = answer.find('[', pos)) != std::string_view::npos) {
    size_t close = answer.find_first_of("[]", pos + 1);
    if (close == std::string_view::npos) break;
    if (answer[close] == '[' || close - pos - 1 > kMaxBracket) {  // "[[1]" or not a citation
      pos = answer[close] == '[' ? close : pos + 1;
      continue;
    }
    std::vector<std::pair<int, int>> ranges;
    if (ParseBracket(answer.substr(pos + 1, close - pos - 1), &ranges)) {
      for (auto [first, last] : ranges) {
        for (int n = std::max(first, 1); n <= std::min(last, limit); ++n) {
          if (seen[n - 1]) continue;
          seen[n - 1] = true;
          citations.push_back({n, chunk_ids[n - 1]});
        }
      }
    }
    pos = close + 1;
  }
  return citations;
}

}  // namespace ragline::generate
