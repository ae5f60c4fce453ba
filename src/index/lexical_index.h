// LexicalIndex: a BM25 inverted index over already-analysed terms (the
// analyzer lives in text/; this file knows nothing about text).
//
// Term identity is a 64-bit hash of the term's bytes (`HashTerm`, stable
// across versions because it is persisted). Two distinct terms colliding
// would merge their postings; with n distinct terms the chance that any pair
// collides is about n² / 2^65 (≈ 3·10⁻⁶ for 10 million terms). In exchange no
// term strings are stored, and postings look-ups compare integers. The cost:
// the index cannot list or prefix-match its terms.
//
// Scoring is Lucene's BM25Similarity (Lucene ≥ 8, so without the constant
// (k1 + 1) factor, which does not change rankings):
//
//   score(q, d) = Σ_{t ∈ q} qtf(t) · idf(t) · tf / (tf + k1 · (1 − b + b · |d| / avgdl))
//   idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
//
// N, df and avgdl come from `Bm25Stats`, which the caller sums over every
// segment of a collection so that scores from different segments are
// comparable. Documents with no terms count in neither N nor avgdl (as in
// Lucene, where a document without the field has no norm).
//
// Rows are `Label`s in [0, n) like the vector indexes; Search returns
// `Neighbor`s with distance = −score (smaller is closer, as everywhere), and
// only rows that contain at least one query term.
//
// Thread safety: Build/Deserialize are not thread-safe; after them Search,
// DocFreq and the accessors are const and safe from many threads. Bm25Query
// is immutable once constructed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "index/vector_index.h"

namespace ragline::index {

using TermHash = uint64_t;

// Stable 64-bit hash of a term's bytes (FNV-1a, then the splitmix64 finaliser).
TermHash HashTerm(std::string_view term);

// A document (or query) as a bag of terms.
struct TermVector {
  struct Entry {
    TermHash term;
    uint32_t tf;  // occurrences, ≥ 1
  };
  std::vector<Entry> entries;  // sorted by term, unique
  uint32_t length = 0;         // Σ tf: the document length in terms

  // Hashes, sorts and counts `terms` (repeats allowed).
  static TermVector FromTerms(std::span<const std::string> terms);
  bool empty() const { return entries.empty(); }
  // tf of `term`, 0 if absent (binary search).
  uint32_t Frequency(TermHash term) const;
  size_t MemoryBytes() const { return sizeof(*this) + entries.capacity() * sizeof(Entry); }
};

struct Bm25Params {
  // Lucene's defaults. Anserini's 0.9 / 0.4 scored 7.4 nDCG@10 points lower on the
  // manpages eval dataset (docs/BENCHMARKS.md, bench/eval/bm25_params.py).
  double k1 = 1.2;
  double b = 0.75;
  Status Validate() const;  // k1 ≥ 0, b ∈ [0, 1], both finite
  // Parses "k1=1.2,b=0.75"; a key left out keeps its default. Validated;
  // errors name the bad item.
  static Result<Bm25Params> Parse(std::string_view spec);
};

// Collection-wide statistics for one query: sum them over segments.
struct Bm25Stats {
  uint64_t doc_count = 0;         // documents with at least one term
  uint64_t total_doc_length = 0;  // Σ document lengths
  std::vector<uint64_t> doc_freq; // per query term, parallel to Bm25Query::terms()
};

// A query ready to score: its unique terms with their weights qtf · idf, and
// the length-normalisation constants from the global stats.
class Bm25Query {
 public:
  // `query`: the analysed query. `stats.doc_freq` must be parallel to
  // query.entries.
  Bm25Query(const TermVector& query, const Bm25Stats& stats, const Bm25Params& params);

  size_t size() const { return terms_.size(); }
  TermHash term(size_t i) const { return terms_[i]; }
  float weight(size_t i) const { return weights_[i]; }  // qtf · idf
  // Contribution of a term with weight w and frequency tf in a document of `doc_length`.
  float TermScore(float w, uint32_t tf, uint32_t doc_length) const {
    const float tff = static_cast<float>(tf);
    return w * tff / (tff + norm_base_ + norm_per_term_ * static_cast<float>(doc_length));
  }
  // Full score of a document (merge of the two sorted term lists).
  float Score(const TermVector& doc) const;

 private:
  std::vector<TermHash> terms_;  // sorted, unique
  std::vector<float> weights_;
  float norm_base_ = 0;      // k1 · (1 − b)
  float norm_per_term_ = 0;  // k1 · b / avgdl
};

class LexicalIndex {
 public:
  LexicalIndex() = default;

  // Builds over `docs` (row i = label i). Replaces any previous content.
  void Build(std::span<const TermVector> docs);

  size_t size() const { return doc_lengths_.size(); }  // rows
  size_t term_count() const { return terms_.size(); }
  size_t posting_count() const { return labels_.size(); }
  uint64_t doc_count() const { return doc_count_; }  // rows with at least one term
  uint64_t total_doc_length() const { return total_doc_length_; }
  uint32_t doc_length(Label row) const { return doc_lengths_[row]; }
  // Rows containing `term`.
  uint64_t DocFreq(TermHash term) const;

  // Top-k rows by BM25 score that `filter` admits (null = all), best first,
  // distance = −score. Only rows containing a query term are candidates;
  // returns min(k, admitted candidates) hits.
  std::vector<Neighbor> Search(const Bm25Query& query, size_t k, const LabelFilter* filter) const;

  // The per-row term vectors (inverts the postings; for compaction).
  std::vector<TermVector> ToTermVectors() const;

  // Appends the serialised index to `out` (format: docs/formats/segment.md).
  void Serialize(std::string* out) const;
  // Restores from Serialize's output for an index of `n` rows. DataLoss for
  // truncated or inconsistent input, never a crash; leaves the index empty on failure.
  Status Deserialize(std::string_view bytes, size_t n);

  size_t MemoryBytes() const;

 private:
  void Clear();
  // Index into terms_ of `term`, or -1.
  ptrdiff_t Find(TermHash term) const;

  std::vector<uint32_t> doc_lengths_;  // per row
  std::vector<TermHash> terms_;        // sorted, unique
  // terms_.size() + 1 entries: the postings of terms_[i] are [offsets_[i], offsets_[i + 1]).
  std::vector<uint64_t> offsets_;
  std::vector<Label> labels_;          // per posting, increasing within a term
  std::vector<uint32_t> tfs_;          // per posting
  uint64_t doc_count_ = 0;
  uint64_t total_doc_length_ = 0;
};

}  // namespace ragline::index
