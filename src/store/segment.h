// Segments: the units a collection's records live in.
//
// A GrowingSegment takes new records (append-only, exact search). When it is
// full it is frozen and a SealedSegment is built from it in the background:
// immutable rows plus an ANN index and a BM25 lexical index, written to one
// checksummed file (docs/formats/segment.md).
//
// Lexical search: every row carries the TermVector of its payload text (the
// collection analyses it; rows without text have an empty one). A growing
// segment keeps them per row; each full chunk of kChunkRows rows also gets a
// small inverted index (built by the writer when the chunk fills), so only the
// last, partial chunk is scanned. A sealed segment keeps only the inverted
// index built from them. BM25 statistics (document count,
// length, document frequencies) count every row of a segment, dead ones
// included, until compaction drops them (as Lucene does with deleted docs). Both carry a TombstoneBitmap: a row is dead once
// its record was deleted or replaced by a newer version elsewhere.
//
// Rows are addressed by position (`Row`), which equals the index Label.
//
// Thread safety: readers (Search, vector, meta, IsAlive, size) may run
// concurrently with one writer. GrowingSegment::Append and Kill are called by
// the collection's writer only; a row becomes visible to readers only after
// all its fields are written (release/acquire on the row count).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "index/lexical_index.h"
#include "index/vector_index.h"
#include "nlohmann/json.hpp"
#include "store/env.h"
#include "store/filter.h"

namespace ragline::store {

using Row = uint32_t;

struct RowMeta {
  std::string id;
  uint64_t version = 0;
  nlohmann::json payload;  // always an object
};

// Fixed-capacity bitmap of dead rows; set bits never clear.
class TombstoneBitmap {
 public:
  explicit TombstoneBitmap(size_t capacity);
  bool IsDead(Row row) const {
    return (words_[row >> 6].load(std::memory_order_acquire) >> (row & 63)) & 1;
  }
  // Returns true if the row was alive before.
  bool Kill(Row row);
  size_t dead_count() const { return dead_.load(std::memory_order_relaxed); }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
  std::atomic<size_t> dead_{0};
};

class Segment {
 public:
  Segment(uint64_t id, size_t dim, index::Metric metric, size_t capacity)
      : id_(id), dim_(dim), metric_(metric), tombstones_(capacity) {}
  virtual ~Segment() = default;

  uint64_t id() const { return id_; }
  size_t dim() const { return dim_; }
  index::Metric metric() const { return metric_; }
  // Rows visible to readers (alive or dead).
  virtual size_t size() const = 0;
  virtual const float* vector(Row row) const = 0;
  virtual const RowMeta& meta(Row row) const = 0;
  virtual bool sealed() const = 0;
  virtual size_t MemoryBytes() const = 0;

  bool IsAlive(Row row) const { return !tombstones_.IsDead(row); }
  bool Kill(Row row) { return tombstones_.Kill(row); }
  size_t dead_count() const { return tombstones_.dead_count(); }
  size_t alive_count() const { return size() - dead_count(); }

  // Top-k alive rows passing `filter` (null = all), closest first. Returns k
  // rows whenever k such rows exist.
  virtual std::vector<index::Neighbor> Search(const float* query, size_t k,
                                              const index::SearchOptions& options,
                                              const PayloadFilter* filter) const = 0;

  // Adds rows [0, rows) (rows ≤ size(), fixed by the caller so that stats and
  // search see the same rows) to `stats`: documents with terms, their total
  // length, and stats->doc_freq[i] += rows containing terms[i]. Dead rows count.
  virtual void AddBm25Stats(std::span<const index::TermHash> terms, size_t rows,
                            index::Bm25Stats* stats) const = 0;
  // Top-k alive rows among [0, rows) that pass `filter` (null = all) and contain
  // a query term, best first, distance = −BM25 score. Returns k rows whenever
  // k such rows exist.
  virtual std::vector<index::Neighbor> LexicalSearch(const index::Bm25Query& query, size_t k, size_t rows,
                                                     const PayloadFilter* filter) const = 0;
  // Alive rows with at least one term.
  virtual size_t LexicalDocuments() const = 0;
  // Bytes of term vectors (growing) or the inverted index (sealed); part of MemoryBytes().
  virtual size_t LexicalMemoryBytes() const = 0;

 protected:
  // Exact scan over rows [0, n) that are alive and pass `filter`.
  std::vector<index::Neighbor> ExactSearch(const float* query, size_t k, size_t n,
                                           const PayloadFilter* filter) const;

  const uint64_t id_;
  const size_t dim_;
  const index::Metric metric_;
  TombstoneBitmap tombstones_;
};

class GrowingSegment : public Segment {
 public:
  GrowingSegment(uint64_t id, size_t dim, index::Metric metric, size_t capacity);

  size_t capacity() const { return tombstones_.capacity(); }
  bool full() const { return count_.load(std::memory_order_relaxed) >= capacity(); }
  // Appends a row (writer only; must not be full). Returns its position.
  Row Append(const float* vector, RowMeta meta, index::TermVector terms);
  const index::TermVector& term_vector(Row row) const;

  size_t size() const override { return count_.load(std::memory_order_acquire); }
  const float* vector(Row row) const override;
  const RowMeta& meta(Row row) const override;
  bool sealed() const override { return false; }
  size_t MemoryBytes() const override;
  std::vector<index::Neighbor> Search(const float* query, size_t k, const index::SearchOptions& options,
                                      const PayloadFilter* filter) const override;
  void AddBm25Stats(std::span<const index::TermHash> terms, size_t rows,
                    index::Bm25Stats* stats) const override;
  std::vector<index::Neighbor> LexicalSearch(const index::Bm25Query& query, size_t k, size_t rows,
                                             const PayloadFilter* filter) const override;
  size_t LexicalDocuments() const override;
  size_t LexicalMemoryBytes() const override;

 private:
  static constexpr size_t kChunkRows = 1024;
  struct Chunk {
    std::vector<float> vectors;  // kChunkRows × dim
    RowMeta meta[kChunkRows];
    index::TermVector terms[kChunkRows];
    // Inverted index of the full chunk (labels = row − first row), published
    // by the writer with a release store; null until then, and readers scan.
    std::unique_ptr<index::LexicalIndex> lexical_owner;
    std::atomic<const index::LexicalIndex*> lexical{nullptr};
  };
  // The chunk's published index if rows [begin, end) cover all of it, else null.
  const index::LexicalIndex* ChunkIndex(size_t chunk, size_t begin, size_t end) const;
  std::vector<std::unique_ptr<Chunk>> chunks_;  // sized at construction; filled by the writer
  std::atomic<size_t> count_{0};
};

// Computes a row's TermVector from its payload (the collection's analyzer and
// text field); used to build the lexical index of segment files written
// before it existed (format version 1).
using PayloadAnalyzer = std::function<index::TermVector(const nlohmann::json& payload)>;

class SealedSegment : public Segment {
 public:
  // Builds from rows (vectors: n × dim; terms: n term vectors). The ANN index
  // is built with `pool`. With a `base` whose rows are the first rows given
  // (all of them, in order), its ANN index is grown by the remaining rows
  // instead of rebuilt, when its kind can grow (HNSW); else built anew.
  static Result<std::shared_ptr<SealedSegment>> Build(uint64_t id, size_t dim, index::Metric metric,
                                                       index::IndexKind kind,
                                                       const index::IndexParams& params,
                                                       std::vector<float> vectors, std::vector<RowMeta> metas,
                                                       std::vector<index::TermVector> terms, ThreadPool* pool,
                                                       const SealedSegment* base = nullptr);
  // Copies the rows of a frozen growing segment, dead ones included, so rows keep positions.
  static Result<std::shared_ptr<SealedSegment>> BuildFrom(const GrowingSegment& frozen, index::IndexKind kind,
                                                           const index::IndexParams& params, ThreadPool* pool);
  // Loads and verifies a segment file. DataLoss names the file and the
  // problem. A version-1 file has no lexical index: it is built in memory
  // from the payloads with `analyze`.
  static Result<std::shared_ptr<SealedSegment>> Load(Env& env, const std::string& path, uint64_t id,
                                                      size_t dim, index::Metric metric,
                                                      index::IndexKind kind, const index::IndexParams& params,
                                                      const PayloadAnalyzer& analyze);
  // Writes the segment file atomically.
  Status Write(Env& env, const std::string& path) const;

  size_t size() const override { return metas_.size(); }
  const float* vector(Row row) const override { return vectors_.data() + size_t{row} * dim_; }
  const RowMeta& meta(Row row) const override { return metas_[row]; }
  bool sealed() const override { return true; }
  size_t MemoryBytes() const override;
  std::vector<index::Neighbor> Search(const float* query, size_t k, const index::SearchOptions& options,
                                      const PayloadFilter* filter) const override;
  void AddBm25Stats(std::span<const index::TermHash> terms, size_t rows,
                    index::Bm25Stats* stats) const override;
  std::vector<index::Neighbor> LexicalSearch(const index::Bm25Query& query, size_t k, size_t rows,
                                             const PayloadFilter* filter) const override;
  size_t LexicalDocuments() const override;
  size_t LexicalMemoryBytes() const override { return lexical_.MemoryBytes(); }
  const index::LexicalIndex& lexical_index() const { return lexical_; }
  // Every row's TermVector, recovered from the inverted index (for compaction).
  std::vector<index::TermVector> TermVectors() const { return lexical_.ToTermVectors(); }

  // Marks dead every row that is dead in `other` (same row count).
  void CopyTombstones(const Segment& other);

 private:
  SealedSegment(uint64_t id, size_t dim, index::Metric metric, std::vector<float> vectors,
                std::vector<RowMeta> metas);

  std::vector<float> vectors_;
  std::vector<RowMeta> metas_;
  // Admits alive rows that pass `filter`; `estimate` as LabelFilter's.
  index::LabelFilter AliveFilter(const PayloadFilter* filter, size_t estimate) const;

  std::unique_ptr<index::VectorIndex> index_;
  index::LexicalIndex lexical_;
};

}  // namespace ragline::store
