#include "embed/tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "core/strings.h"

namespace ragline::embed {
namespace {

using Span = std::pair<uint32_t, uint32_t>;
using CodePointRange = std::pair<char32_t, char32_t>;  // inclusive

// --- Unicode data -----------------------------------------------------------
//
// tokenizers (0.23.3) classifies characters with the unicode_categories crate,
// whose tables are Unicode 8.0; utf8proc 2.8.0 has Unicode 15.0. The lists
// below are every code point where the two disagree, found by running each of
// the 1,112,064 scalar values through tokenizers' BertNormalizer and
// BertPreTokenizer and comparing with utf8proc. They are exact only for
// Unicode 15.0.0; tokenizer_test.cc checks utf8proc's version.

// Cf since Unicode 9+: HF's clean_text keeps them.
constexpr CodePointRange kNotFormatInHf[] = {
    {0x0890, 0x0891}, {0x08E2, 0x08E2}, {0x110CD, 0x110CD}, {0x13430, 0x1343F}};

// P* since Unicode 9+: HF's pre-tokenizer does not split them off.
constexpr CodePointRange kNotPunctuationInHf[] = {
    {0x061D, 0x061D},   {0x09FD, 0x09FD},   {0x0A76, 0x0A76},   {0x0C77, 0x0C77},   {0x0C84, 0x0C84},
    {0x1B7D, 0x1B7E},   {0x2E43, 0x2E4F},   {0x2E52, 0x2E5D},   {0x10EAD, 0x10EAD}, {0x10F55, 0x10F59},
    {0x10F86, 0x10F89}, {0x1144B, 0x1144F}, {0x1145A, 0x1145B}, {0x1145D, 0x1145D}, {0x11660, 0x1166C},
    {0x116B9, 0x116B9}, {0x1183B, 0x1183B}, {0x11944, 0x11946}, {0x119E2, 0x119E2}, {0x11A3F, 0x11A46},
    {0x11A9A, 0x11A9C}, {0x11A9E, 0x11AA2}, {0x11B00, 0x11B09}, {0x11C41, 0x11C45}, {0x11C70, 0x11C71},
    {0x11EF7, 0x11EF8}, {0x11F43, 0x11F4F}, {0x11FFF, 0x11FFF}, {0x12FF1, 0x12FF2}, {0x16E97, 0x16E9A},
    {0x16FE2, 0x16FE2}, {0x1E95E, 0x1E95F}};

// Po in Unicode 8.0, So/Mn now: HF still splits them off.
constexpr CodePointRange kPunctuationOnlyInHf[] = {{0x166D, 0x166D}, {0x111C9, 0x111C9}};

// Mn since Unicode 9+: HF's strip_accents keeps them.
constexpr CodePointRange kNotNonspacingMarkInHf[] = {
    {0x07FD, 0x07FD},   {0x0898, 0x089F},   {0x08CA, 0x08E1},   {0x09FE, 0x09FE},   {0x0AFA, 0x0AFF},
    {0x0B55, 0x0B55},   {0x0C04, 0x0C04},   {0x0C3C, 0x0C3C},   {0x0D00, 0x0D00},   {0x0D3B, 0x0D3C},
    {0x0D81, 0x0D81},   {0x0EBA, 0x0EBA},   {0x0ECE, 0x0ECE},   {0x180F, 0x180F},   {0x1885, 0x1886},
    {0x1ABF, 0x1ACE},   {0x1DF6, 0x1DFB},   {0xA82C, 0xA82C},   {0xA8C5, 0xA8C5},   {0xA8FF, 0xA8FF},
    {0xA9BD, 0xA9BD},   {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50},
    {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x11073, 0x11074}, {0x110C2, 0x110C2}, {0x111C9, 0x111C9},
    {0x111CF, 0x111CF}, {0x1123E, 0x1123E}, {0x11241, 0x11241}, {0x1133B, 0x1133B}, {0x11438, 0x1143F},
    {0x11442, 0x11444}, {0x11446, 0x11446}, {0x1145E, 0x1145E}, {0x1182F, 0x11837}, {0x11839, 0x1183A},
    {0x1193B, 0x1193C}, {0x1193E, 0x1193E}, {0x11943, 0x11943}, {0x119D4, 0x119D7}, {0x119DA, 0x119DB},
    {0x119E0, 0x119E0}, {0x11A01, 0x11A0A}, {0x11A33, 0x11A38}, {0x11A3B, 0x11A3E}, {0x11A47, 0x11A47},
    {0x11A51, 0x11A56}, {0x11A59, 0x11A5B}, {0x11A8A, 0x11A96}, {0x11A98, 0x11A99}, {0x11C30, 0x11C36},
    {0x11C38, 0x11C3D}, {0x11C3F, 0x11C3F}, {0x11C92, 0x11CA7}, {0x11CAA, 0x11CB0}, {0x11CB2, 0x11CB3},
    {0x11CB5, 0x11CB6}, {0x11D31, 0x11D36}, {0x11D3A, 0x11D3A}, {0x11D3C, 0x11D3D}, {0x11D3F, 0x11D45},
    {0x11D47, 0x11D47}, {0x11D90, 0x11D91}, {0x11D95, 0x11D95}, {0x11D97, 0x11D97}, {0x11EF3, 0x11EF4},
    {0x11F00, 0x11F01}, {0x11F36, 0x11F3A}, {0x11F40, 0x11F40}, {0x11F42, 0x11F42}, {0x13440, 0x13440},
    {0x13447, 0x13455}, {0x16F4F, 0x16F4F}, {0x16FE4, 0x16FE4}, {0x1CF00, 0x1CF2D}, {0x1CF30, 0x1CF46},
    {0x1E000, 0x1E006}, {0x1E008, 0x1E018}, {0x1E01B, 0x1E021}, {0x1E023, 0x1E024}, {0x1E026, 0x1E02A},
    {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF},
    {0x1E944, 0x1E94A}};

// Mn in Unicode 8.0, Mc now: HF still strips it.
constexpr char32_t kNonspacingMarkOnlyInHf = 0x1734;
// Has a canonical decomposition since Unicode 13; HF's NFD leaves it alone.
constexpr char32_t kNotDecomposedInHf = 0x11938;

bool InRanges(char32_t c, const CodePointRange* begin, const CodePointRange* end) {
  const CodePointRange* it =
      std::upper_bound(begin, end, c, [](char32_t v, const CodePointRange& r) { return v < r.first; });
  return it != begin && c <= (it - 1)->second;
}
template <size_t N>
bool InRanges(char32_t c, const CodePointRange (&ranges)[N]) {
  return InRanges(c, ranges, ranges + N);
}

// Rust's char::is_whitespace (the White_Space property), which HF uses both to
// turn whitespace into ' ' and to split words.
bool IsWhiteSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// The ranges BERT calls "Chinese characters" (CJK ideographs, not kana/hangul).
bool IsChineseChar(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) ||
         (c >= 0x2B920 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Rust's char::to_lowercase (Unicode 16+) for the one-to-one mappings; U+0130
// (the only one-to-many mapping) is handled by the caller.
char32_t Lowercase(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
  // Capitals added after Unicode 15.0, which utf8proc does not know.
  if (c >= 0x10D50 && c <= 0x10D65) return c + 0x20;  // Garay
  if (c >= 0x16EA0 && c <= 0x16EB8) return c + 0x1B;  // Beria Erfe
  switch (c) {
    case 0x1C89: return 0x1C8A;
    case 0xA7CB: return 0x0264;
    case 0xA7CC: return 0xA7CD;
    case 0xA7CE: return 0xA7CF;
    case 0xA7D2: return 0xA7D3;
    case 0xA7D4: return 0xA7D5;
    case 0xA7DA: return 0xA7DB;
    case 0xA7DC: return 0x019B;
    default: return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  }
}

constexpr char32_t kMaxCodePoint = 0x10FFFF;
constexpr char32_t kReplacementChar = 0xFFFD;

// Per-code-point classification, as HF's normaliser and pre-tokenizer see it.
enum CharFlag : uint8_t {
  kRemovedByClean = 1 << 0,  // NUL, U+FFFD, Cc/Cf/Co/Cs other than \t \n \r
  kWhiteSpace = 1 << 1,
  kPunctuation = 1 << 2,  // ASCII punctuation or P*
  kChinese = 1 << 3,
  kNonspacingMark = 1 << 4,  // Mn: dropped by strip_accents
  kDecomposes = 1 << 5,      // NFD changes it
  kLowercaseChanges = 1 << 6,
};

std::unique_ptr<uint8_t[]> BuildCharFlags() {
  auto flags = std::make_unique<uint8_t[]>(kMaxCodePoint + 1);
  for (char32_t c = 0; c <= kMaxCodePoint; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) {
      flags[c] = kRemovedByClean;  // never decoded; kept consistent with Cs
      continue;
    }
    const auto cp = static_cast<utf8proc_int32_t>(c);
    const utf8proc_property_t* property = utf8proc_get_property(cp);
    const auto category = static_cast<utf8proc_category_t>(property->category);
    uint8_t f = 0;
    const bool control = c != '\t' && c != '\n' && c != '\r' &&
                         (category == UTF8PROC_CATEGORY_CC || category == UTF8PROC_CATEGORY_CO ||
                          category == UTF8PROC_CATEGORY_CS ||
                          (category == UTF8PROC_CATEGORY_CF && !InRanges(c, kNotFormatInHf)));
    if (c == 0 || c == kReplacementChar || control) f |= kRemovedByClean;
    if (IsWhiteSpace(c)) f |= kWhiteSpace;
    const bool ascii_punctuation = (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
                                   (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
    const bool unicode_punctuation = category >= UTF8PROC_CATEGORY_PC && category <= UTF8PROC_CATEGORY_PO &&
                                     !InRanges(c, kNotPunctuationInHf);
    if (ascii_punctuation || unicode_punctuation || InRanges(c, kPunctuationOnlyInHf)) f |= kPunctuation;
    if (IsChineseChar(c)) f |= kChinese;
    if ((category == UTF8PROC_CATEGORY_MN && !InRanges(c, kNotNonspacingMarkInHf)) ||
        c == kNonspacingMarkOnlyInHf) {
      f |= kNonspacingMark;
    }
    const bool hangul_syllable = c >= 0xAC00 && c <= 0xD7A3;
    if (c != kNotDecomposedInHf && (property->decomp_seqindex != UINT16_MAX || hangul_syllable)) {
      utf8proc_int32_t buffer[8];
      int boundclass = 0;
      const utf8proc_ssize_t n = utf8proc_decompose_char(cp, buffer, 8, UTF8PROC_DECOMPOSE, &boundclass);
      if (n != 1 || buffer[0] != cp) f |= kDecomposes;
    }
    if (c == 0x130 || Lowercase(c) != c) f |= kLowercaseChanges;
    flags[c] = f;
  }
  return flags;
}

const uint8_t* CharFlags() {
  static const std::unique_ptr<uint8_t[]> flags = BuildCharFlags();
  return flags.get();
}

// Decodes the code point at `p` (n > 0 bytes left) and sets *length; a
// malformed or truncated sequence reads as U+FFFD of one byte.
char32_t DecodeUtf8(const unsigned char* p, size_t n, size_t* length) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    *length = 1;
    return b0;
  }
  *length = 1;
  auto continuation = [&](size_t i) { return i < n && (p[i] & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!continuation(1)) return kReplacementChar;
    *length = 2;
    return ((b0 & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!continuation(1) || !continuation(2)) return kReplacementChar;
    const char32_t c = ((b0 & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF)) return kReplacementChar;
    *length = 3;
    return c;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return kReplacementChar;
    const char32_t c =
        ((b0 & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
    if (c < 0x10000 || c > kMaxCodePoint) return kReplacementChar;
    *length = 4;
    return c;
  }
  return kReplacementChar;
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

struct WordPieceTokenizer::State {
  TokenizerOptions options;
  bool strip_accents = true;
  std::vector<std::string> vocab;
  // Every token, for the first piece of a word.
  absl::flat_hash_map<std::string, int32_t> word_start_ids;
  // Tokens that start with the continuing-subword prefix, keyed without it.
  absl::flat_hash_map<std::string, int32_t> continuation_ids;
  size_t max_word_start_bytes = 0;
  size_t max_continuation_bytes = 0;
  int32_t unk_id = 0, cls_id = 0, sep_id = 0, pad_id = 0;
  // Added tokens, longest first, with their ids; `added_first_byte` marks
  // the bytes they can start with.
  std::vector<std::pair<std::string, int32_t>> added;
  std::array<bool, 256> added_first_byte{};
};

namespace {

// Runs normaliser, pre-tokenizer and WordPiece over one text, appending the
// pieces to an Encoding. Buffers are reused across words.
class PieceWriter {
 public:
  PieceWriter(const WordPieceTokenizer::State& state, size_t stop_after, Encoding* out)
      : state_(state), options_(state.options), flags_(CharFlags()), stop_after_(stop_after), out_(out) {}

  // Tokenizes the whole text (added tokens first), stopping early once the
  // output has more than `stop_after` tokens.
  void Run(std::string_view text) {
    size_t segment_begin = 0;
    size_t i = 0;
    while (i < text.size() && !Full()) {
      if (!state_.added_first_byte[static_cast<unsigned char>(text[i])]) {
        ++i;
        continue;
      }
      const std::pair<std::string, int32_t>* match = nullptr;
      for (const auto& added : state_.added) {
        if (text.compare(i, added.first.size(), added.first) == 0) {
          match = &added;
          break;
        }
      }
      if (match == nullptr) {
        ++i;
        continue;
      }
      Segment(text, segment_begin, i);
      if (Full()) return;
      Emit(match->second, {static_cast<uint32_t>(i), static_cast<uint32_t>(i + match->first.size())});
      i += match->first.size();
      segment_begin = i;
    }
    if (!Full()) Segment(text, segment_begin, text.size());
  }

 private:
  bool Full() const { return out_->ids.size() > stop_after_; }

  void Emit(int32_t id, Span span) {
    out_->ids.push_back(id);
    out_->offsets.push_back(span);
  }

  // Normalises and splits text[begin, end), which holds no added token.
  void Segment(std::string_view text, size_t begin, size_t end) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    size_t i = begin;
    while (i < end) {
      size_t length;
      const char32_t c = DecodeUtf8(bytes + i, end - i, &length);
      const Span span{static_cast<uint32_t>(i), static_cast<uint32_t>(i + length)};
      i += length;
      const uint8_t f = flags_[c];
      if (options_.clean_text && (f & kRemovedByClean)) continue;
      if (f & kWhiteSpace) {
        FlushWord();
        if (Full()) return;
        continue;
      }
      if (options_.handle_chinese_chars && (f & kChinese)) {
        FlushWord();
        Normalize(c, f, span);
        FlushWord();
        if (Full()) return;
        continue;
      }
      Normalize(c, f, span);
      if (Full()) return;
    }
    FlushWord();
  }

  // strip_accents (NFD, drop Mn), then lowercase, then the pre-tokenizer's
  // view of each resulting character.
  void Normalize(char32_t c, uint8_t f, Span span) {
    if (state_.strip_accents) {
      if (f & kDecomposes) {
        utf8proc_int32_t buffer[8];
        int boundclass = 0;
        const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buffer, 8,
                                                           UTF8PROC_DECOMPOSE, &boundclass);
        for (utf8proc_ssize_t k = 0; k < n && k < 8; ++k) {
          const auto d = static_cast<char32_t>(buffer[k]);
          const uint8_t df = flags_[d];
          if (!(df & kNonspacingMark)) Lower(d, df, span);
        }
        return;
      }
      if (f & kNonspacingMark) return;
    }
    Lower(c, f, span);
  }

  void Lower(char32_t c, uint8_t f, Span span) {
    if (options_.lowercase && (f & kLowercaseChanges)) {
      if (c == 0x130) {  // İ -> i + combining dot above
        Split(U'i', flags_[U'i'], span);
        Split(0x307, flags_[0x307], span);
        return;
      }
      c = Lowercase(c);
      f = flags_[c];
    }
    Split(c, f, span);
  }

  // BertPreTokenizer: whitespace ends a word, punctuation is a word.
  void Split(char32_t c, uint8_t f, Span span) {
    if (f & kWhiteSpace) {
      FlushWord();
    } else if (f & kPunctuation) {
      FlushWord();
      Append(c, span);
      FlushWord();
    } else {
      Append(c, span);
    }
  }

  void Append(char32_t c, Span span) {
    AppendUtf8(c, &word_);
    char_end_.push_back(static_cast<uint32_t>(word_.size()));
    spans_.push_back(span);
  }

  // WordPiece over the buffered word: greedy longest match from the left.
  void FlushWord() {
    const size_t n = char_end_.size();
    if (n == 0) return;
    const size_t mark = out_->ids.size();
    bool unknown = n > options_.max_input_chars_per_word;
    size_t i = 0;
    while (!unknown && i < n) {
      const size_t begin = i == 0 ? 0 : char_end_[i - 1];
      const auto& ids = i == 0 ? state_.word_start_ids : state_.continuation_ids;
      const size_t max_bytes = i == 0 ? state_.max_word_start_bytes : state_.max_continuation_bytes;
      size_t j = n;
      while (j > i && char_end_[j - 1] - begin > max_bytes) --j;
      int32_t id = -1;
      for (; j > i; --j) {
        auto it = ids.find(absl::string_view(word_.data() + begin, char_end_[j - 1] - begin));
        if (it != ids.end()) {
          id = it->second;
          break;
        }
      }
      if (id < 0) {
        unknown = true;
        break;
      }
      Emit(id, {spans_[i].first, spans_[j - 1].second});
      i = j;
    }
    if (unknown) {
      out_->ids.resize(mark);
      out_->offsets.resize(mark);
      Emit(state_.unk_id, {spans_.front().first, spans_.back().second});
    }
    word_.clear();
    char_end_.clear();
    spans_.clear();
  }

  const WordPieceTokenizer::State& state_;
  const TokenizerOptions& options_;
  const uint8_t* flags_;
  const size_t stop_after_;
  Encoding* out_;
  std::string word_;               // the word so far, normalised, UTF-8
  std::vector<uint32_t> char_end_;  // byte end in word_ of each character
  std::vector<Span> spans_;        // each character's bytes in the input
};

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat(path.string(), ": cannot open"));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(StrCat(path.string(), ": read failed"));
  return contents.str();
}

Result<nlohmann::json> ReadJson(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(StrCat(path.string(), ": malformed JSON: ", e.what()));
  }
}

// vocab.txt: one token per line, line number = id (trailing whitespace and
// '\r' trimmed, as tokenizers does).
Result<std::vector<std::string>> ReadVocabTxt(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<std::string> vocab;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    size_t last = end;
    while (last > begin && std::isspace(static_cast<unsigned char>(text[last - 1]))) --last;
    vocab.emplace_back(text, begin, last - begin);
    begin = end + 1;
  }
  if (vocab.empty()) return absl::InvalidArgumentError(StrCat(path.string(), ": vocab is empty"));
  return vocab;
}

// A special token in tokenizer_config.json: "[CLS]" or {"content": "[CLS]"}.
std::optional<std::string> SpecialTokenString(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return std::nullopt;
}

// tokenizer_config.json (slow-tokenizer settings): the fallback.
Status ApplyTokenizerConfig(const nlohmann::json& config, TokenizerOptions* options) {
  if (!config.is_object()) return absl::InvalidArgumentError("not a JSON object");
  if (config.contains("do_lower_case") && config["do_lower_case"].is_boolean()) {
    options->lowercase = config["do_lower_case"].get<bool>();
  }
  if (config.contains("strip_accents")) {
    const auto& strip = config["strip_accents"];
    if (strip.is_boolean()) options->strip_accents = strip.get<bool>();
    if (strip.is_null()) options->strip_accents.reset();
  }
  if (config.contains("tokenize_chinese_chars") && config["tokenize_chinese_chars"].is_boolean()) {
    options->handle_chinese_chars = config["tokenize_chinese_chars"].get<bool>();
  }
  const std::pair<const char*, std::string*> specials[] = {{"unk_token", &options->unk_token},
                                                           {"cls_token", &options->cls_token},
                                                           {"sep_token", &options->sep_token},
                                                           {"pad_token", &options->pad_token}};
  for (const auto& [key, field] : specials) {
    if (!config.contains(key)) continue;
    std::optional<std::string> token = SpecialTokenString(config[key]);
    if (!token) return absl::InvalidArgumentError(StrCat(key, " is neither a string nor {\"content\": ...}"));
    *field = *token;
  }
  return Status();
}

// tokenizer.json (the fast tokenizer): normaliser, model, added tokens and
// the [CLS]/[SEP] template. Anything we would not reproduce is an error.
Status ApplyTokenizerJson(const nlohmann::json& json, TokenizerOptions* options) {
  if (!json.is_object()) return absl::InvalidArgumentError("not a JSON object");
  if (json.contains("normalizer") && !json["normalizer"].is_null()) {
    const auto& normalizer = json["normalizer"];
    const std::string type = normalizer.value("type", "");
    if (type != "BertNormalizer") {
      return absl::UnimplementedError(StrCat("normalizer type \"", type, "\" is not supported"));
    }
    options->clean_text = normalizer.value("clean_text", true);
    options->handle_chinese_chars = normalizer.value("handle_chinese_chars", true);
    options->lowercase = normalizer.value("lowercase", true);
    if (normalizer.contains("strip_accents") && normalizer["strip_accents"].is_boolean()) {
      options->strip_accents = normalizer["strip_accents"].get<bool>();
    } else {
      options->strip_accents.reset();
    }
  }
  if (json.contains("pre_tokenizer") && !json["pre_tokenizer"].is_null()) {
    const std::string type = json["pre_tokenizer"].value("type", "");
    if (type != "BertPreTokenizer") {
      return absl::UnimplementedError(StrCat("pre_tokenizer type \"", type, "\" is not supported"));
    }
  }
  if (json.contains("model") && !json["model"].is_null()) {
    const auto& model = json["model"];
    const std::string type = model.value("type", "WordPiece");
    if (type != "WordPiece") {
      return absl::UnimplementedError(StrCat("model type \"", type, "\" is not supported"));
    }
    options->unk_token = model.value("unk_token", options->unk_token);
    options->continuing_subword_prefix =
        model.value("continuing_subword_prefix", options->continuing_subword_prefix);
    options->max_input_chars_per_word =
        model.value("max_input_chars_per_word", options->max_input_chars_per_word);
  }
  if (json.contains("post_processor") && !json["post_processor"].is_null()) {
    const auto& post = json["post_processor"];
    const std::string type = post.value("type", "");
    if (type == "BertProcessing") {
      options->cls_token = post.at("cls").at(0).get<std::string>();
      options->sep_token = post.at("sep").at(0).get<std::string>();
    } else if (type == "TemplateProcessing") {
      const auto& single = post.at("single");
      if (!single.is_array() || single.size() != 3 || !single[0].contains("SpecialToken") ||
          !single[1].contains("Sequence") || !single[2].contains("SpecialToken")) {
        return absl::UnimplementedError("post_processor template is not [CLS] $A [SEP]");
      }
      options->cls_token = single[0]["SpecialToken"].at("id").get<std::string>();
      options->sep_token = single[2]["SpecialToken"].at("id").get<std::string>();
    } else {
      return absl::UnimplementedError(StrCat("post_processor type \"", type, "\" is not supported"));
    }
  }
  if (json.contains("added_tokens") && json["added_tokens"].is_array()) {
    options->added_tokens.clear();
    for (const auto& added : json["added_tokens"]) {
      const std::string content = added.at("content").get<std::string>();
      for (const char* flag : {"single_word", "lstrip", "rstrip", "normalized"}) {
        if (added.value(flag, false)) {
          return absl::UnimplementedError(
              StrCat("added token \"", content, "\" sets ", flag, ", not supported"));
        }
      }
      options->added_tokens.push_back(content);
    }
  }
  return Status();
}

// tokenizer.json's model.vocab ({"token": id, ...}) as a dense id list.
Result<std::vector<std::string>> VocabFromTokenizerJson(const nlohmann::json& json) {
  if (!json.contains("model") || !json["model"].contains("vocab") || !json["model"]["vocab"].is_object()) {
    return absl::NotFoundError("has no model.vocab");
  }
  const auto& entries = json["model"]["vocab"];
  std::vector<std::string> vocab(entries.size());
  std::vector<bool> seen(entries.size(), false);
  for (const auto& [token, id_json] : entries.items()) {
    const int64_t id = id_json.get<int64_t>();
    if (id < 0 || static_cast<size_t>(id) >= vocab.size() || seen[id]) {
      return absl::InvalidArgumentError(StrCat("model.vocab ids are not 0..", vocab.size() - 1, " (token \"",
                                               token, "\" has id ", id, ")"));
    }
    seen[id] = true;
    vocab[id] = token;
  }
  if (vocab.empty()) return absl::InvalidArgumentError("model.vocab is empty");
  return vocab;
}

Status InFile(const std::filesystem::path& path, const Status& status) {
  if (status.ok()) return status;
  return Status(status.code(), StrCat(path.string(), ": ", std::string(status.message())));
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::shared_ptr<const State> state) : state_(std::move(state)) {}

Result<WordPieceTokenizer> WordPieceTokenizer::Load(const std::filesystem::path& model_dir) {
  std::error_code error;
  if (!std::filesystem::is_directory(model_dir, error)) {
    return absl::NotFoundError(StrCat(model_dir.string(), ": model directory not found"));
  }
  const std::filesystem::path vocab_path = model_dir / "vocab.txt";
  const std::filesystem::path json_path = model_dir / "tokenizer.json";
  const std::filesystem::path config_path = model_dir / "tokenizer_config.json";

  TokenizerOptions options;
  std::optional<nlohmann::json> tokenizer_json;
  try {
    if (std::filesystem::exists(config_path, error)) {
      ASSIGN_OR_RETURN(nlohmann::json config, ReadJson(config_path));
      RETURN_IF_ERROR(InFile(config_path, ApplyTokenizerConfig(config, &options)));
    }
    if (std::filesystem::exists(json_path, error)) {
      ASSIGN_OR_RETURN(tokenizer_json, ReadJson(json_path));
      RETURN_IF_ERROR(InFile(json_path, ApplyTokenizerJson(*tokenizer_json, &options)));
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        StrCat(model_dir.string(), ": unexpected tokenizer settings: ", e.what()));
  }

  std::vector<std::string> vocab;
  std::filesystem::path vocab_source;
  if (std::filesystem::exists(vocab_path, error)) {
    ASSIGN_OR_RETURN(vocab, ReadVocabTxt(vocab_path));
    vocab_source = vocab_path;
  } else if (tokenizer_json.has_value()) {
    Result<std::vector<std::string>> from_json;
    try {
      from_json = VocabFromTokenizerJson(*tokenizer_json);
    } catch (const nlohmann::json::exception& e) {
      from_json = absl::InvalidArgumentError(StrCat("model.vocab: ", e.what()));
    }
    if (!from_json.ok()) return InFile(json_path, from_json.status());
    vocab = *std::move(from_json);
    vocab_source = json_path;
  } else {
    return absl::NotFoundError(
        StrCat(model_dir.string(), ": no vocab (neither vocab.txt nor tokenizer.json is present)"));
  }

  Result<WordPieceTokenizer> tokenizer = FromVocab(std::move(vocab), std::move(options));
  if (!tokenizer.ok()) return InFile(vocab_source, tokenizer.status());
  if (tokenizer_json.has_value() && tokenizer_json->contains("added_tokens")) {
    // tokenizer.json's ids for its added tokens must be the vocab's.
    for (const auto& added : (*tokenizer_json)["added_tokens"]) {
      if (!added.contains("id") || !added["id"].is_number_integer()) continue;
      const std::string content = added["content"].get<std::string>();
      if (tokenizer->TokenId(content) != added["id"].get<int32_t>()) {
        return absl::InvalidArgumentError(StrCat(json_path.string(), ": added token \"", content,
                                                 "\" has id ", added["id"].get<int32_t>(), " but ",
                                                 vocab_source.string(), " disagrees"));
      }
    }
  }
  return tokenizer;
}

Result<WordPieceTokenizer> WordPieceTokenizer::FromVocab(std::vector<std::string> vocab,
                                                         TokenizerOptions options) {
  if (vocab.empty()) return absl::InvalidArgumentError("vocab is empty");
  if (vocab.size() > static_cast<size_t>(INT32_MAX)) return absl::InvalidArgumentError("vocab is too large");
  auto state = std::make_shared<State>();
  state->strip_accents = options.strip_accents.value_or(options.lowercase);
  const std::string& prefix = options.continuing_subword_prefix;
  state->word_start_ids.reserve(vocab.size());
  for (size_t id = 0; id < vocab.size(); ++id) {
    const std::string& token = vocab[id];
    // A repeated token keeps its last id, as tokenizers does.
    state->word_start_ids.insert_or_assign(token, static_cast<int32_t>(id));
    state->max_word_start_bytes = std::max(state->max_word_start_bytes, token.size());
    if (token.size() > prefix.size() && token.compare(0, prefix.size(), prefix) == 0) {
      state->continuation_ids.insert_or_assign(token.substr(prefix.size()), static_cast<int32_t>(id));
      state->max_continuation_bytes = std::max(state->max_continuation_bytes, token.size() - prefix.size());
    }
  }
  auto lookup = [&](const std::string& token, const char* role, int32_t* id) -> Status {
    auto it = state->word_start_ids.find(ToAbsl(token));
    if (it == state->word_start_ids.end()) {
      return absl::InvalidArgumentError(StrCat(role, " \"", token, "\" is not in the vocab"));
    }
    *id = it->second;
    return Status();
  };
  RETURN_IF_ERROR(lookup(options.unk_token, "unk_token", &state->unk_id));
  RETURN_IF_ERROR(lookup(options.cls_token, "cls_token", &state->cls_id));
  RETURN_IF_ERROR(lookup(options.sep_token, "sep_token", &state->sep_id));
  RETURN_IF_ERROR(lookup(options.pad_token, "pad_token", &state->pad_id));
  for (const std::string& token : options.added_tokens) {
    if (token.empty()) return absl::InvalidArgumentError("an added token is empty");
    int32_t id;
    RETURN_IF_ERROR(lookup(token, "added token", &id));
    state->added.emplace_back(token, id);
    state->added_first_byte[static_cast<unsigned char>(token[0])] = true;
  }
  std::stable_sort(state->added.begin(), state->added.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  state->vocab = std::move(vocab);
  state->options = std::move(options);
  CharFlags();  // build the shared table now rather than in the first Encode
  return WordPieceTokenizer(std::move(state));
}

Encoding WordPieceTokenizer::Tokenize(std::string_view text) const {
  Encoding encoding;
  PieceWriter(*state_, SIZE_MAX, &encoding).Run(text);
  return encoding;
}

Encoding WordPieceTokenizer::Encode(std::string_view text, size_t max_length) const {
  const size_t max_pieces = std::max<size_t>(max_length, 2) - 2;
  Encoding encoding;
  encoding.ids.reserve(std::min<size_t>(max_pieces + 2, text.size() / 3 + 8));
  encoding.offsets.reserve(encoding.ids.capacity());
  encoding.ids.push_back(state_->cls_id);
  encoding.offsets.push_back({0, 0});
  // One piece past the limit is enough to know the text was truncated.
  PieceWriter(*state_, max_pieces + 1, &encoding).Run(text);
  if (encoding.ids.size() > max_pieces + 1) {
    encoding.ids.resize(max_pieces + 1);
    encoding.offsets.resize(max_pieces + 1);
    encoding.truncated = true;
  }
  encoding.ids.push_back(state_->sep_id);
  encoding.offsets.push_back({0, 0});
  return encoding;
}

std::optional<int32_t> WordPieceTokenizer::TokenId(std::string_view token) const {
  auto it = state_->word_start_ids.find(ToAbsl(token));
  if (it == state_->word_start_ids.end()) return std::nullopt;
  return it->second;
}

const std::string& WordPieceTokenizer::Token(int32_t id) const {
  static const std::string* const kEmpty = new std::string();
  if (id < 0 || static_cast<size_t>(id) >= state_->vocab.size()) return *kEmpty;
  return state_->vocab[id];
}

size_t WordPieceTokenizer::vocab_size() const { return state_->vocab.size(); }
int32_t WordPieceTokenizer::cls_id() const { return state_->cls_id; }
int32_t WordPieceTokenizer::sep_id() const { return state_->sep_id; }
int32_t WordPieceTokenizer::pad_id() const { return state_->pad_id; }
int32_t WordPieceTokenizer::unk_id() const { return state_->unk_id; }
const TokenizerOptions& WordPieceTokenizer::options() const { return state_->options; }

}  // namespace ragline::embed
