#include "index/lexical_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/byte_io.h"
#include "core/strings.h"
#include "index/top_k.h"

namespace ragline::index {

TermHash HashTerm(std::string_view term) {
  uint64_t h = Fnv1a64(term);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

// ---------------------------------------------------------------- TermVector

TermVector TermVector::FromTerms(std::span<const std::string> terms) {
  TermVector v;
  if (terms.empty()) return v;
  std::vector<TermHash> hashes;
  hashes.reserve(terms.size());
  for (const auto& t : terms) hashes.push_back(HashTerm(t));
  std::sort(hashes.begin(), hashes.end());
  for (TermHash h : hashes) {
    if (!v.entries.empty() && v.entries.back().term == h) {
      ++v.entries.back().tf;
    } else {
      v.entries.push_back({h, 1});
    }
  }
  v.entries.shrink_to_fit();
  v.length = static_cast<uint32_t>(std::min<size_t>(hashes.size(), UINT32_MAX));
  return v;
}

uint32_t TermVector::Frequency(TermHash term) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), term,
                             [](const Entry& e, TermHash t) { return e.term < t; });
  return it != entries.end() && it->term == term ? it->tf : 0;
}

// ---------------------------------------------------------------- BM25

Status Bm25Params::Validate() const {
  if (!std::isfinite(k1) || k1 < 0) {
    return absl::InvalidArgumentError(StrCat("bm25 k1=", k1, " must be >= 0"));
  }
  if (!std::isfinite(b) || b < 0 || b > 1) {
    return absl::InvalidArgumentError(StrCat("bm25 b=", b, " must be in [0, 1]"));
  }
  return absl::OkStatus();
}

Result<Bm25Params> Bm25Params::Parse(std::string_view spec) {
  Bm25Params base;
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    std::string item(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    if (eq == std::string::npos || (key != "k1" && key != "b")) {
      return absl::InvalidArgumentError(StrCat("'", item, "': expected k1=NUMBER or b=NUMBER"));
    }
    char* end = nullptr;
    const double v = std::strtod(item.c_str() + eq + 1, &end);
    if (end == item.c_str() + eq + 1 || *end != '\0') {
      return absl::InvalidArgumentError(StrCat("'", item, "': not a number"));
    }
    (key == "k1" ? base.k1 : base.b) = v;
  }
  RETURN_IF_ERROR(base.Validate());
  return base;
}

Bm25Query::Bm25Query(const TermVector& query, const Bm25Stats& stats, const Bm25Params& params) {
  const double n = static_cast<double>(stats.doc_count);
  const double avgdl = stats.doc_count > 0 ? static_cast<double>(stats.total_doc_length) / n : 1.0;
  norm_base_ = static_cast<float>(params.k1 * (1 - params.b));
  norm_per_term_ = static_cast<float>(params.k1 * params.b / std::max(avgdl, 1e-9));
  terms_.reserve(query.entries.size());
  weights_.reserve(query.entries.size());
  for (size_t i = 0; i < query.entries.size(); ++i) {
    const double df = std::min<double>(i < stats.doc_freq.size() ? stats.doc_freq[i] : 0, n);
    const double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
    terms_.push_back(query.entries[i].term);
    weights_.push_back(static_cast<float>(query.entries[i].tf * idf));
  }
}

float Bm25Query::Score(const TermVector& doc) const {
  float score = 0;
  size_t i = 0, j = 0;
  while (i < terms_.size() && j < doc.entries.size()) {
    if (terms_[i] < doc.entries[j].term) {
      ++i;
    } else if (doc.entries[j].term < terms_[i]) {
      ++j;
    } else {
      score += TermScore(weights_[i], doc.entries[j].tf, doc.length);
      ++i;
      ++j;
    }
  }
  return score;
}

// ---------------------------------------------------------------- index

void LexicalIndex::Clear() {
  doc_lengths_.clear();
  terms_.clear();
  offsets_.clear();
  labels_.clear();
  tfs_.clear();
  doc_count_ = 0;
  total_doc_length_ = 0;
}

void LexicalIndex::Build(std::span<const TermVector> docs) {
  Clear();
  // Gather (term, label, tf) and sort by term; labels stay increasing
  // within a term because the sort is stable over label order.
  struct Posting {
    TermHash term;
    Label label;
    uint32_t tf;
  };
  std::vector<Posting> postings;
  size_t total = 0;
  for (const auto& d : docs) total += d.entries.size();
  postings.reserve(total);
  doc_lengths_.resize(docs.size());
  for (size_t row = 0; row < docs.size(); ++row) {
    const TermVector& d = docs[row];
    doc_lengths_[row] = d.length;
    if (!d.entries.empty()) {
      ++doc_count_;
      total_doc_length_ += d.length;
    }
    for (const auto& e : d.entries) postings.push_back({e.term, static_cast<Label>(row), e.tf});
  }
  std::stable_sort(postings.begin(), postings.end(),
                   [](const Posting& a, const Posting& b) { return a.term < b.term; });
  labels_.reserve(postings.size());
  tfs_.reserve(postings.size());
  for (size_t i = 0; i < postings.size(); ++i) {
    if (i == 0 || postings[i].term != postings[i - 1].term) {
      terms_.push_back(postings[i].term);
      offsets_.push_back(i);
    }
    labels_.push_back(postings[i].label);
    tfs_.push_back(postings[i].tf);
  }
  offsets_.push_back(postings.size());
}

ptrdiff_t LexicalIndex::Find(TermHash term) const {
  auto it = std::lower_bound(terms_.begin(), terms_.end(), term);
  if (it == terms_.end() || *it != term) return -1;
  return it - terms_.begin();
}

uint64_t LexicalIndex::DocFreq(TermHash term) const {
  const ptrdiff_t t = Find(term);
  return t < 0 ? 0 : offsets_[t + 1] - offsets_[t];
}

std::vector<Neighbor> LexicalIndex::Search(const Bm25Query& query, size_t k,
                                           const LabelFilter* filter) const {
  if (k == 0 || query.size() == 0 || size() == 0) return {};
  // Term-at-a-time into a dense accumulator; `touched` lists the rows to
  // visit and reset. Scratch is per thread and reused across searches.
  thread_local std::vector<float> acc;
  thread_local std::vector<Label> touched;
  if (acc.size() < size()) acc.assign(size(), 0.0f);
  touched.clear();
  for (size_t i = 0; i < query.size(); ++i) {
    const ptrdiff_t t = Find(query.term(i));
    if (t < 0) continue;
    const float w = query.weight(i);
    for (uint64_t p = offsets_[t]; p < offsets_[t + 1]; ++p) {
      const Label row = labels_[p];
      if (acc[row] == 0.0f) touched.push_back(row);  // every contribution is > 0 (idf > 0, tf >= 1)
      acc[row] += query.TermScore(w, tfs_[p], doc_lengths_[row]);
    }
  }
  const bool filtered = filter != nullptr && filter->admits;
  TopK top(k);
  for (Label row : touched) {
    const float distance = -acc[row];
    acc[row] = 0.0f;
    // Ask the (possibly expensive) filter only about rows that could get in
    // (an equal distance still may, on label order).
    if (distance > top.threshold()) continue;
    if (filtered && !filter->admits(row)) continue;
    top.Push(distance, row);
  }
  return top.TakeSorted();
}

std::vector<TermVector> LexicalIndex::ToTermVectors() const {
  std::vector<TermVector> docs(size());
  for (size_t t = 0; t < terms_.size(); ++t) {
    for (uint64_t p = offsets_[t]; p < offsets_[t + 1]; ++p) {
      docs[labels_[p]].entries.push_back({terms_[t], tfs_[p]});  // terms_ is sorted, so entries are too
    }
  }
  for (size_t row = 0; row < docs.size(); ++row) docs[row].length = doc_lengths_[row];
  return docs;
}

size_t LexicalIndex::MemoryBytes() const {
  return doc_lengths_.capacity() * sizeof(uint32_t) + terms_.capacity() * sizeof(TermHash) +
         offsets_.capacity() * sizeof(uint64_t) + labels_.capacity() * sizeof(Label) +
         tfs_.capacity() * sizeof(uint32_t);
}

// ---------------------------------------------------------------- serialisation

namespace {
constexpr char kMagic[8] = {'R', 'L', 'L', 'E', 'X', '0', '0', '1'};
}

void LexicalIndex::Serialize(std::string* out) const {
  const size_t start = out->size();
  ByteWriter w(out);
  w.Bytes(kMagic, sizeof(kMagic));
  w.U64(doc_lengths_.size());
  w.U64(terms_.size());
  w.U64(labels_.size());
  w.Array(doc_lengths_.data(), doc_lengths_.size());
  w.Array(terms_.data(), terms_.size());
  w.Array(offsets_.data(), offsets_.size());
  w.Array(labels_.data(), labels_.size());
  w.Array(tfs_.data(), tfs_.size());
  w.U64(Checksum64(out->data() + start, out->size() - start));
}

Status LexicalIndex::Deserialize(std::string_view bytes, size_t n) {
  Clear();
  auto corrupt = [&](std::string_view what) {
    Clear();
    return absl::DataLossError(StrCat("lexical index: ", what));
  };
  if (bytes.size() < sizeof(kMagic) + 3 * 8 + 8) return corrupt("truncated header");
  uint64_t stored_sum;
  std::memcpy(&stored_sum, bytes.data() + bytes.size() - 8, 8);
  std::string_view body = bytes.substr(0, bytes.size() - 8);
  if (Checksum64(body.data(), body.size()) != stored_sum) return corrupt("checksum mismatch");
  if (std::memcmp(body.data(), kMagic, sizeof(kMagic)) != 0) return corrupt("bad magic");
  ByteReader r(body.substr(sizeof(kMagic)));
  uint64_t rows, terms, postings;
  if (!r.U64(&rows) || !r.U64(&terms) || !r.U64(&postings)) return corrupt("truncated header");
  if (rows != n) return corrupt(StrCat("indexes ", rows, " rows, the segment has ", n));
  // Check sizes against the bytes present before allocating anything.
  const unsigned __int128 need =
      (unsigned __int128)rows * 4 + (unsigned __int128)terms * 16 + 8 + (unsigned __int128)postings * 8;
  if (need != r.remaining()) return corrupt("section sizes do not add up");
  doc_lengths_.resize(rows);
  terms_.resize(terms);
  offsets_.resize(terms + 1);
  labels_.resize(postings);
  tfs_.resize(postings);
  if (!r.Array(doc_lengths_.data(), rows) || !r.Array(terms_.data(), terms) ||
      !r.Array(offsets_.data(), terms + 1) || !r.Array(labels_.data(), postings) ||
      !r.Array(tfs_.data(), postings) || !r.AtEnd()) {
    return corrupt("truncated sections");
  }
  if (offsets_[0] != 0 || offsets_[terms] != postings) return corrupt("bad posting offsets");
  std::vector<uint64_t> length_check(rows, 0);
  for (size_t t = 0; t < terms; ++t) {
    if (t > 0 && terms_[t] <= terms_[t - 1]) return corrupt("terms not sorted");
    if (offsets_[t + 1] <= offsets_[t] || offsets_[t + 1] > postings) return corrupt("bad posting offsets");
    for (uint64_t p = offsets_[t]; p < offsets_[t + 1]; ++p) {
      if (labels_[p] >= rows) return corrupt("posting label out of range");
      if (p > offsets_[t] && labels_[p] <= labels_[p - 1]) return corrupt("postings not sorted");
      if (tfs_[p] == 0) return corrupt("zero term frequency");
      length_check[labels_[p]] += tfs_[p];
    }
  }
  for (size_t row = 0; row < rows; ++row) {
    if (length_check[row] != doc_lengths_[row]) return corrupt("document length does not match its postings");
    if (doc_lengths_[row] > 0) {
      ++doc_count_;
      total_doc_length_ += doc_lengths_[row];
    }
  }
  return absl::OkStatus();
}

}  // namespace ragline::index
