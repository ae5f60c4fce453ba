#include "text/chunker.h"

#include <algorithm>

#include "core/strings.h"

namespace ragline::text {
namespace {

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsAsciiPunct(char c) {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

// How good a cut between two tokens is; higher is better.
enum class CutClass { kToken = 0, kWord = 1, kLine = 2, kSentence = 3, kParagraph = 4 };

// Closing quotes and brackets that may follow a sentence's full stop.
size_t ClosingSuffixLength(std::string_view before) {
  static constexpr std::string_view kClosers[] = {"\"", "'", ")", "]", "}", "\xE2\x80\x9D" /* ” */,
                                                  "\xE2\x80\x99" /* ’ */, "\xC2\xBB" /* » */,
                                                  "\xE3\x80\x8D" /* 」 */, "\xE3\x80\x8F" /* 』 */};
  size_t total = 0;
  for (bool found = true; found;) {
    found = false;
    for (std::string_view c : kClosers) {
      if (before.size() > total && before.substr(0, before.size() - total).ends_with(c)) {
        total += c.size();
        found = true;
        break;
      }
    }
  }
  return total;
}

class Cutter {
 public:
  Cutter(std::string_view text, const std::vector<TokenSpan>& spans) : text_(text), spans_(spans) {}

  // The class of cutting between token t-1 and token t (0 < t < n).
  CutClass Classify(size_t t) const {
    uint32_t gap_begin = spans_[t - 1].end, gap_end = spans_[t].begin;
    std::string_view gap = text_.substr(gap_begin, gap_end - gap_begin);
    size_t newlines = std::count(gap.begin(), gap.end(), '\n');
    if (newlines >= 2 || gap.find('\f') != std::string_view::npos) return CutClass::kParagraph;
    bool has_space = false;
    for (char c : gap) has_space = has_space || IsAsciiSpace(c);
    std::string_view before = text_.substr(0, gap_begin);
    before.remove_suffix(ClosingSuffixLength(before));
    if ((has_space && (before.ends_with('.') || before.ends_with('!') || before.ends_with('?') ||
                       before.ends_with("\xE2\x80\xA6" /* … */))) ||
        before.ends_with("\xE3\x80\x82" /* 。 */) || before.ends_with("\xEF\xBC\x81" /* ！ */) ||
        before.ends_with("\xEF\xBC\x9F" /* ？ */)) {
      return CutClass::kSentence;
    }
    if (newlines == 1) return CutClass::kLine;
    if (!gap.empty() || IsAsciiPunct(text_[gap_begin - 1]) || IsAsciiPunct(text_[gap_end])) {
      return CutClass::kWord;
    }
    return CutClass::kToken;
  }

  // The chunk's first byte: its first token's start, moved back over bytes
  // no token covers (characters the tokenizer drops) up to whitespace.
  uint32_t Begin(size_t first) const {
    uint32_t floor = first == 0 ? 0 : spans_[first - 1].end;
    uint32_t b = spans_[first].begin;
    while (b > floor && !IsAsciiSpace(text_[b - 1])) --b;
    return b;
  }
  // One past the chunk's last byte, likewise moved forward.
  uint32_t End(size_t last_exclusive) const {
    uint32_t ceiling =
        last_exclusive < spans_.size() ? spans_[last_exclusive].begin : static_cast<uint32_t>(text_.size());
    uint32_t e = spans_[last_exclusive - 1].end;
    while (e < ceiling && !IsAsciiSpace(text_[e])) ++e;
    return e;
  }

 private:
  std::string_view text_;
  const std::vector<TokenSpan>& spans_;
};

}  // namespace

Status ChunkerOptions::Validate(size_t special_tokens) const {
  if (max_tokens <= special_tokens) {
    return absl::InvalidArgumentError(StrCat("max_tokens (", max_tokens, ") must exceed the model's ",
                                             special_tokens, " special tokens"));
  }
  size_t budget = max_tokens - special_tokens;
  if (overlap_tokens >= budget) {
    return absl::InvalidArgumentError(StrCat("overlap_tokens (", overlap_tokens,
                                             ") must be smaller than the content tokens per chunk (", budget,
                                             " = max_tokens - specials)"));
  }
  return absl::OkStatus();
}

Result<std::vector<Chunk>> ChunkText(std::string_view text, const ChunkTokenizer& tokenizer,
                                     const ChunkerOptions& options) {
  const size_t specials = tokenizer.special_tokens();
  RETURN_IF_ERROR(options.Validate(specials));
  if (text.size() > UINT32_MAX) return absl::InvalidArgumentError("text larger than 4 GiB cannot be chunked");
  const size_t budget = options.max_tokens - specials;
  const size_t lookback = std::min(options.lookback_tokens, budget - 1);

  std::vector<TokenSpan> spans;
  {
    std::vector<TokenSpan> raw = tokenizer.Tokenize(text);
    spans.reserve(raw.size());
    uint32_t prev_end = 0;
    for (const TokenSpan& s : raw) {
      if (s.begin > s.end || s.end > text.size() || s.begin < prev_end) {
        return absl::InvalidArgumentError(StrCat("tokenizer returned the span [", s.begin, ", ", s.end,
                                                 ") after one ending at ", prev_end, " in a text of ",
                                                 text.size(), " bytes"));
      }
      if (s.begin == s.end) continue;
      spans.push_back(s);
      prev_end = s.end;
    }
  }
  std::vector<Chunk> chunks;
  const size_t n = spans.size();
  if (n == 0) return chunks;
  Cutter cutter(text, spans);

  size_t start = 0;
  size_t prev_end = 0;  // token index one past the previous chunk
  while (true) {
    size_t limit = std::min(n, start + budget);
    size_t end = limit;
    if (limit < n) {
      // Never cut in the first half of the budget (no tiny chunks), nor at
      // or before the previous chunk's end.
      size_t lowest = std::max({start + 1, start + budget / 2, prev_end + 1,
                                limit > lookback ? limit - lookback : size_t{0}});
      CutClass best = cutter.Classify(limit);
      for (size_t t = limit - 1; best != CutClass::kParagraph && t >= lowest; --t) {
        CutClass c = cutter.Classify(t);
        if (c > best) {
          best = c;
          end = t;
        }
      }
    }
    // The chunk alone must fit: WordPiece may split its first word
    // differently without the left context.
    uint32_t begin_byte = cutter.Begin(start), end_byte = cutter.End(end);
    size_t count = tokenizer.Tokenize(text.substr(begin_byte, end_byte - begin_byte)).size();
    while (count > budget && end > start + 1) {
      end = std::max(start + 1, end - std::max<size_t>(1, count - budget));
      end_byte = cutter.End(end);
      count = tokenizer.Tokenize(text.substr(begin_byte, end_byte - begin_byte)).size();
    }
    Chunk chunk;
    chunk.ordinal = chunks.size();
    chunk.begin = begin_byte;
    chunk.end = end_byte;
    chunk.token_count = count;
    chunks.push_back(std::move(chunk));
    if (end >= n) break;

    // Next start: `overlap` tokens back, then back to the start of a word,
    // but always past the current start and close enough that the next
    // window reaches beyond `end`.
    size_t min_next = std::max(start + 1, end + 1 > budget ? end + 1 - budget : size_t{0});
    size_t next = std::max(min_next, end > options.overlap_tokens ? end - options.overlap_tokens : size_t{0});
    for (size_t back = 0, t = next; back < 16 && t > min_next && t > 0; ++back, --t) {
      if (cutter.Classify(t) >= CutClass::kWord) {
        next = t;
        break;
      }
    }
    prev_end = end;
    start = next;
  }
  return chunks;
}

Result<std::vector<Chunk>> ChunkDocument(const ExtractedDocument& doc, const ChunkTokenizer& tokenizer,
                                         const ChunkerOptions& options) {
  ASSIGN_OR_RETURN(std::vector<Chunk> chunks, ChunkText(doc.text, tokenizer, options));
  for (Chunk& c : chunks) c.heading_path = std::string(doc.HeadingPathAt(c.begin));
  return chunks;
}

}  // namespace ragline::text
