// HotCache: the fallback index (docs/reliability.md "Fallback retrieval"): per
// collection, the records queries hit most, kept in memory and searched
// exactly, so questions still get answers while the primary search is down
// (its breaker open), too slow, or switched off by an operator.
//
// - Hit counts: every answered query's hits are counted per collection. The
//   counts decay: past 4 x capacity ids, every count is halved and zeros
//   dropped, so the cache follows what is asked now.
// - Refresh (a background thread in the server): the `capacity` most-hit ids
//   still live are read from the store (vector, payload, version) into an
//   immutable snapshot per collection, and their text is analysed with the
//   collection's analyzer.
// - Search: dense (cosine/dot similarity, or squared L2) over the snapshot's
//   vectors, or lexical (distinct query terms found in a record's text), with
//   the payload filter applied; closest first, like store::SearchHit.
// - Persistence: Save/Load keep the counts (a JSON file); a refresh after a
//   restart rebuilds the records from the store.
//
// Thread safety: every method may be called from any thread; searches read an
// immutable snapshot while a refresh builds the next.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "store/collection.h"
#include "store/database.h"
#include "store/filter.h"

namespace ragline::query {

class HotCache {
 public:
  explicit HotCache(size_t capacity = 10'000) : capacity_(capacity) {}

  // Counts the hits one query returned from `collection` (its real name).
  void CountHits(const std::string& collection, const std::vector<store::SearchHit>& hits);

  // Rebuilds every counted collection's snapshot from `db` (the caller holds
  // off drops: server/ holds its catalog lock shared). A collection gone
  // from `db` is forgotten.
  Status Refresh(store::Database& db);

  // The cached records of `collection` closest to `vector` (dense) or, with
  // an empty vector, sharing the most terms with `text` (lexical; records
  // sharing none are left out); at most k, passing `filter` (may be null).
  std::vector<store::SearchHit> Search(const std::string& collection, std::span<const float> vector,
                                       const std::string& text, size_t k,
                                       const store::PayloadFilter* filter) const;

  // Records cached per collection (what the last refresh kept).
  std::map<std::string, size_t> Sizes() const;
  size_t capacity() const { return capacity_; }

  // The hit counts as {"collections": {NAME: {ID: COUNT}}}, written atomically.
  Status Save(const std::string& path) const;
  // Reads a file Save wrote; a missing file is no counts. DataLoss for a malformed one.
  Status Load(const std::string& path);

 private:
  struct Snapshot {
    store::DistanceMetric metric = store::DistanceMetric::kCosine;
    size_t dim = 0;
    std::vector<store::SearchHit> records;        // id, version, payload (score unused)
    std::vector<float> vectors;                   // records.size() x dim, row-major
    std::vector<std::vector<std::string>> terms;  // per record, analysed text, sorted, unique
    std::unique_ptr<text::Analyzer> analyzer;     // the collection's, for the question
  };

  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<std::string, std::unordered_map<std::string, uint64_t>> counts_;  // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<const Snapshot>> snapshots_;         // GUARDED_BY(mu_)
};

}  // namespace ragline::query
