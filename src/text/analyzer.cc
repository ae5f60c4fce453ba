#include "text/analyzer.h"

#include <libstemmer.h>
#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <unordered_map>

#include "core/json_fields.h"
#include "core/strings.h"

namespace ragline::text {

using nlohmann::json;

namespace {

// Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (Lucene 9, 33 words).
const std::vector<std::string_view> kEnglishStopWords = {
    "a",    "an",    "and",  "are",  "as",    "at",   "be",   "but",   "by",   "for",  "if",
    "in",   "into",  "is",   "it",   "no",    "not",  "of",   "on",    "or",   "such", "that",
    "the",  "their", "then", "there", "these", "they", "this", "to",   "was",  "will", "with"};

constexpr size_t kMaxTokenCharsLimit = 1024;

bool IsEnglishStemmer(std::string_view name) {
  return name == "english" || name == "en" || name == "eng" || name == "porter";
}

enum class CharClass { kSeparator, kLetter, kDigit, kIdeograph };

// Scripts written without spaces between words, tokenised one character at
// a time (as Lucene's StandardTokenizer does for ideographs and Hiragana).
bool IsSingleCharScript(utf8proc_int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) ||    // CJK Unified Ideographs
         (c >= 0x3400 && c <= 0x4DBF) ||    // Extension A
         (c >= 0x20000 && c <= 0x3134F) ||  // Extensions B..G
         (c >= 0xF900 && c <= 0xFAFF) ||    // Compatibility Ideographs
         (c >= 0x3040 && c <= 0x309F);      // Hiragana
}

CharClass Classify(utf8proc_int32_t c) {
  if (c < 0x80) {  // fast path for ASCII
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CharClass::kLetter;
    if (c >= '0' && c <= '9') return CharClass::kDigit;
    return CharClass::kSeparator;
  }
  if (IsSingleCharScript(c)) return CharClass::kIdeograph;
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return CharClass::kLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::kDigit;
    default:
      return CharClass::kSeparator;
  }
}

// Replaces every byte that is not part of a valid UTF-8 sequence with a space,
// so utf8proc_map (which rejects invalid input) always succeeds.
std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    if (*p < 0x80) {
      out.push_back(static_cast<char>(*p++));
      --left;
      continue;
    }
    utf8proc_int32_t c;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &c);
    if (n <= 0 || c < 0) {
      out.push_back(' ');
      ++p;
      --left;
      continue;
    }
    out.append(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
    p += n;
    left -= n;
  }
  return out;
}

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// NFKC (+ case folding) of valid UTF-8 `text`. Normalisation never reaches
// across ASCII white space (a space is a starter that composes with nothing),
// so each white-space-separated run is normalised on its own: ASCII runs by a
// plain lowercase, the rest by utf8proc. Equivalent to mapping the whole text,
// and several times faster on mostly-ASCII text.
std::string Normalize(std::string_view text, bool casefold) {
  const int flags =
      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_IGNORE | (casefold ? UTF8PROC_CASEFOLD : 0);
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (IsAsciiSpace(text[i])) {
      out.push_back(' ');
      ++i;
      continue;
    }
    size_t end = i;
    bool ascii = true;
    while (end < text.size() && !IsAsciiSpace(text[end])) ascii &= static_cast<unsigned char>(text[end++]) < 0x80;
    if (ascii) {
      for (size_t j = i; j < end; ++j) {
        const char c = text[j];
        out.push_back(casefold && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
      }
    } else {
      utf8proc_uint8_t* mapped = nullptr;
      const utf8proc_ssize_t len =
          utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i),
                       static_cast<utf8proc_ssize_t>(end - i), &mapped, static_cast<utf8proc_option_t>(flags));
      if (len > 0) out.append(reinterpret_cast<const char*>(mapped), static_cast<size_t>(len));
      std::free(mapped);  // len < 0 only on allocation failure: the run is dropped
    }
    i = end;
  }
  return out;
}

Status BadValue(std::string_view key, std::string_view value, std::string_view expected) {
  return absl::InvalidArgumentError(
      StrCat("analyzer option ", key, "='", value, "' is invalid: expected ", expected));
}

}  // namespace

const std::vector<std::string_view>& EnglishStopWords() { return kEnglishStopWords; }

std::vector<std::string> StemmerLanguages() {
  std::vector<std::string> out;
  for (const char** name = sb_stemmer_list(); *name != nullptr; ++name) out.emplace_back(*name);
  return out;
}

// ---------------------------------------------------------------- options

Status AnalyzerOptions::Validate() const {
  if (stemmer.empty()) return BadValue("stemmer", stemmer, "a libstemmer language or 'none'");
  if (stemmer != "none") {
    sb_stemmer* s = sb_stemmer_new(stemmer.c_str(), nullptr);
    if (s == nullptr) {
      std::string known;
      for (const auto& name : StemmerLanguages()) known += (known.empty() ? "" : ", ") + name;
      return absl::InvalidArgumentError(
          StrCat("unknown stemmer language '", stemmer, "' (known: none, ", known, ")"));
    }
    sb_stemmer_delete(s);
  }
  if (stop_words != "english" && stop_words != "none") {
    return BadValue("stop_words", stop_words, "'english' or 'none'");
  }
  if (max_token_chars < 1 || max_token_chars > kMaxTokenCharsLimit) {
    return BadValue("max_token_chars", std::to_string(max_token_chars), "an integer in [1, 1024]");
  }
  return absl::OkStatus();
}

Status AnalyzerOptions::Set(std::string_view key, std::string_view value) {
  if (key == "lowercase") {
    if (value != "true" && value != "false") return BadValue(key, value, "true or false");
    lowercase = value == "true";
  } else if (key == "stemmer") {
    stemmer = std::string(value);
  } else if (key == "stop_words") {
    stop_words = std::string(value);
  } else if (key == "max_token_chars") {
    size_t v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || ptr != value.data() + value.size()) {
      return BadValue(key, value, "an integer in [1, 1024]");
    }
    max_token_chars = v;
  } else {
    return absl::InvalidArgumentError(StrCat("unknown analyzer option '", key,
                                             "' (expected lowercase, stemmer, stop_words, max_token_chars)"));
  }
  return Validate();
}

Status AnalyzerOptions::SetFromString(std::string_view spec) {
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(StrCat("analyzer option '", item, "': expected KEY=VALUE"));
    }
    RETURN_IF_ERROR(Set(item.substr(0, eq), item.substr(eq + 1)));
  }
  return absl::OkStatus();
}

json AnalyzerOptions::ToJson() const {
  return {{"lowercase", lowercase},
          {"stemmer", stemmer},
          {"stop_words", stop_words},
          {"max_token_chars", max_token_chars}};
}

Result<AnalyzerOptions> AnalyzerOptions::FromJson(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("analyzer options must be a JSON object");
  AnalyzerOptions o;
  for (const auto& [key, value] : j.items()) {
    if (key == "lowercase" && value.is_boolean()) {
      o.lowercase = value.get<bool>();
    } else if ((key == "stemmer" || key == "stop_words") && value.is_string()) {
      (key == "stemmer" ? o.stemmer : o.stop_words) = value.get<std::string>();
    } else if (key == "max_token_chars" && JsonUnsigned(value)) {
      o.max_token_chars = static_cast<size_t>(std::min<uint64_t>(*JsonUnsigned(value), SIZE_MAX));
    } else if (key == "lowercase" || key == "stemmer" || key == "stop_words" || key == "max_token_chars") {
      return absl::InvalidArgumentError(StrCat("analyzer option '", key, "' has the wrong type"));
    } else {
      return absl::InvalidArgumentError(StrCat("unknown analyzer option '", key, "'"));
    }
  }
  RETURN_IF_ERROR(o.Validate());
  return o;
}

// ---------------------------------------------------------------- analyzer

struct Analyzer::PooledStemmer {
  static constexpr size_t kCacheEntries = 32768;  // cleared when full: a few MB at most
  sb_stemmer* stemmer = nullptr;
  std::unordered_map<std::string, std::string> cache;
  ~PooledStemmer() { sb_stemmer_delete(stemmer); }
};

Result<std::unique_ptr<Analyzer>> Analyzer::Create(const AnalyzerOptions& options) {
  RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<Analyzer>(new Analyzer(options));
}

Analyzer::Analyzer(AnalyzerOptions options)
    : options_(std::move(options)),
      stem_(options_.stemmer != "none"),
      english_possessive_(IsEnglishStemmer(options_.stemmer)),
      english_stop_words_(options_.stop_words == "english") {}

Analyzer::~Analyzer() {
  for (PooledStemmer* s : pool_) delete s;
}

Analyzer::PooledStemmer* Analyzer::AcquireStemmer() const {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      PooledStemmer* s = pool_.back();
      pool_.pop_back();
      return s;
    }
  }
  auto* s = new PooledStemmer;
  s->stemmer = sb_stemmer_new(options_.stemmer.c_str(), nullptr);  // validated at Create
  return s;
}

void Analyzer::ReleaseStemmer(PooledStemmer* stemmer) const {
  if (stemmer == nullptr) return;
  std::lock_guard<std::mutex> lock(pool_mu_);
  pool_.push_back(stemmer);
}

void Analyzer::EmitToken(std::string& token, size_t code_points, PooledStemmer* stemmer,
                         std::vector<std::string>* out) const {
  if (code_points > options_.max_token_chars) return;
  if (english_possessive_ && token.size() > 2 && token.compare(token.size() - 2, 2, "'s") == 0) {
    token.resize(token.size() - 2);
  }
  if (english_stop_words_ &&
      std::find(kEnglishStopWords.begin(), kEnglishStopWords.end(), token) != kEnglishStopWords.end()) {
    return;
  }
  if (stemmer != nullptr && stemmer->stemmer != nullptr) {
    if (auto it = stemmer->cache.find(token); it != stemmer->cache.end()) {
      out->push_back(it->second);
      return;
    }
    const sb_symbol* stemmed = sb_stemmer_stem(
        stemmer->stemmer, reinterpret_cast<const sb_symbol*>(token.data()), static_cast<int>(token.size()));
    if (stemmed != nullptr) {
      out->emplace_back(reinterpret_cast<const char*>(stemmed),
                        static_cast<size_t>(sb_stemmer_length(stemmer->stemmer)));
      if (stemmer->cache.size() >= PooledStemmer::kCacheEntries) stemmer->cache.clear();
      stemmer->cache.emplace(token, out->back());
      return;
    }
  }
  out->push_back(token);
}

std::vector<std::string> Analyzer::Analyze(std::string_view text) const {
  std::vector<std::string> out;
  if (text.empty()) return out;
  const std::string normalized = Normalize(SanitizeUtf8(text), options_.lowercase);
  const auto* mapped = reinterpret_cast<const utf8proc_uint8_t*>(normalized.data());
  const auto len = static_cast<utf8proc_ssize_t>(normalized.size());

  // Decode once so the joiner rules can look one code point ahead.
  std::vector<utf8proc_int32_t> cps;
  std::vector<size_t> offsets;  // byte offset of each code point in `normalized`
  cps.reserve(normalized.size());
  offsets.reserve(normalized.size() + 1);
  for (utf8proc_ssize_t pos = 0; pos < len;) {
    if (mapped[pos] < 0x80) {
      cps.push_back(mapped[pos]);
      offsets.push_back(static_cast<size_t>(pos++));
      continue;
    }
    utf8proc_int32_t c;
    utf8proc_ssize_t n = utf8proc_iterate(mapped + pos, len - pos, &c);
    if (n <= 0) break;  // cannot happen: utf8proc_map emits valid UTF-8
    cps.push_back(c);
    offsets.push_back(static_cast<size_t>(pos));
    pos += n;
  }
  offsets.push_back(static_cast<size_t>(len));
  const char* bytes = normalized.data();

  PooledStemmer* stemmer = stem_ ? AcquireStemmer() : nullptr;
  std::string token;
  size_t token_cps = 0;
  CharClass last = CharClass::kSeparator;
  auto flush = [&] {
    if (token_cps > 0) EmitToken(token, token_cps, stemmer, &out);
    token.clear();
    token_cps = 0;
    last = CharClass::kSeparator;
  };
  for (size_t i = 0; i < cps.size(); ++i) {
    const utf8proc_int32_t c = cps[i];
    const CharClass cls = Classify(c);
    if (cls == CharClass::kLetter || cls == CharClass::kDigit) {
      token.append(bytes + offsets[i], offsets[i + 1] - offsets[i]);
      ++token_cps;
      last = cls;
      continue;
    }
    if (cls == CharClass::kIdeograph) {
      flush();
      token.append(bytes + offsets[i], offsets[i + 1] - offsets[i]);
      token_cps = 1;
      flush();
      continue;
    }
    // A joiner stays inside the word when the same kind of character follows.
    if (token_cps > 0 && i + 1 < cps.size()) {
      const CharClass next = Classify(cps[i + 1]);
      const bool apostrophe = c == '\'' || c == 0x2019;
      const bool word_char = last == CharClass::kLetter || last == CharClass::kDigit;
      const bool joins = (apostrophe && last == CharClass::kLetter && next == CharClass::kLetter) ||
                         (c == '.' && last == next && word_char) ||
                         (c == ',' && last == CharClass::kDigit && next == CharClass::kDigit);
      if (joins) {
        token.push_back(apostrophe ? '\'' : static_cast<char>(c));
        ++token_cps;
        continue;
      }
    }
    flush();
  }
  flush();
  ReleaseStemmer(stemmer);
  return out;
}

}  // namespace ragline::text
