// Analyzer: turns text into the terms the lexical (BM25) index stores and
// queries with. The same analyzer must be used for documents and queries.
//
// Pipeline (docs/lexical.md):
//   1. Unicode normalisation: NFKC, default-ignorable code points removed
//      (soft hyphen, zero-width joiners), and case folding when `lowercase`.
//      Invalid UTF-8 bytes act as separators.
//   2. Word splitting: runs of letters (L*), marks (M*) and digits (N*) form a
//      word; everything else separates. Inside a word, an apostrophe (' or ’)
//      or a period joins two letters ("don't", "u.s.a"), and a period or comma
//      joins two digits ("3.14", "1,000"), as UAX #29's MidLetter/MidNum rules
//      do. CJK ideographs and Hiragana become one-character tokens (there is
//      no dictionary segmentation).
//   3. Tokens longer than `max_token_chars` code points are dropped.
//   4. With an English stemmer ("english", "porter"), a trailing possessive 's
//      is removed (Lucene's EnglishPossessiveFilter).
//   5. Stop words removed (before stemming, as Lucene does).
//   6. Snowball stemming (libstemmer), unless stemmer is "none".
//
// Thread safety: Analyze is const and thread-safe. Snowball stemmers are not,
// so the Analyzer keeps a mutex-protected pool of them and each Analyze call
// borrows one for its duration. Each pooled stemmer caches up to 32768 recent
// token → stem results (stemming is most of the analysis cost otherwise).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "nlohmann/json.hpp"

namespace ragline::text {

struct AnalyzerOptions {
  bool lowercase = true;
  // Any algorithm libstemmer knows ("english", "porter", "french", "german",
  // ... or their ISO 639 codes), or "none".
  std::string stemmer = "english";
  // "english" (Lucene's EnglishAnalyzer default set, 33 words) or "none".
  std::string stop_words = "english";
  size_t max_token_chars = 64;  // in code points, after normalisation; 1..1024

  // InvalidArgument naming the bad value (an unknown stemmer lists the known ones).
  Status Validate() const;
  // Sets one option from text: "lowercase" (true|false), "stemmer",
  // "stop_words", "max_token_chars". InvalidArgument names an unknown key or
  // a bad value.
  Status Set(std::string_view key, std::string_view value);
  // Parses "key=value,key=value" (the CLI's --analyzer), applying Set to each.
  Status SetFromString(std::string_view spec);

  nlohmann::json ToJson() const;
  // Missing keys keep their defaults; InvalidArgument for wrong types,
  // unknown keys or invalid values.
  static Result<AnalyzerOptions> FromJson(const nlohmann::json& j);

  bool operator==(const AnalyzerOptions&) const = default;
};

// Names of the stemming algorithms libstemmer offers (canonical names).
std::vector<std::string> StemmerLanguages();

// The "english" stop word set, in the order Lucene lists it.
const std::vector<std::string_view>& EnglishStopWords();

class Analyzer {
 public:
  // Validates `options` (InvalidArgument as AnalyzerOptions::Validate).
  static Result<std::unique_ptr<Analyzer>> Create(const AnalyzerOptions& options);
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  const AnalyzerOptions& options() const { return options_; }

  // The terms of `text`, in order of appearance (repeats kept).
  std::vector<std::string> Analyze(std::string_view text) const;

 private:
  explicit Analyzer(AnalyzerOptions options);
  struct PooledStemmer;  // a Snowball stemmer and its cache of recent stems
  PooledStemmer* AcquireStemmer() const;
  void ReleaseStemmer(PooledStemmer* stemmer) const;
  // Appends `token` (normalised) to `out` unless it is too long or a stop word.
  void EmitToken(std::string& token, size_t code_points, PooledStemmer* stemmer,
                 std::vector<std::string>* out) const;

  const AnalyzerOptions options_;
  const bool stem_;
  const bool english_possessive_;
  const bool english_stop_words_;
  mutable std::mutex pool_mu_;
  mutable std::vector<PooledStemmer*> pool_;  // GUARDED_BY(pool_mu_): idle stemmers (owned)
};

}  // namespace ragline::text
