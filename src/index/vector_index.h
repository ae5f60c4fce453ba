// VectorIndex: the interface every ANN kernel (FLAT, HNSW, IVF-PQ) implements.
//
// An index is built once over an immutable n × dim row-major float32 matrix
// (a sealed segment's vectors) and answers top-k queries over it. Rows are
// addressed by their position, a `Label` in [0, n). The index does NOT own the
// vectors: the caller keeps `data` alive and unchanged for the index's life
// (the segment owns both). Serialised form excludes the vectors too.
//
// Distances: smaller is closer for every metric. kL2 = squared Euclidean;
// kInnerProduct = -dot(q, x). Cosine is served as kInnerProduct over
// L2-normalised vectors (the store normalises on insert and on query).
//
// Filtering happens inside the walk: a label the filter rejects is never
// returned but may still be traversed, so a selective filter still yields k
// hits when k exist (indexes fall back to an exact scan of admitted rows when
// too few rows pass for the graph walk to find them).
//
// Thread safety: Build/Extend/Deserialize are not thread-safe; after them, Search is const
// and may run from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ragline {
class ThreadPool;
}

namespace ragline::index {

using Label = uint32_t;

enum class Metric { kL2, kInnerProduct };

enum class IndexKind { kFlat, kHnsw, kIvfPq };

std::string_view IndexKindName(IndexKind kind);  // "flat", "hnsw", "ivf_pq"
Result<IndexKind> ParseIndexKind(std::string_view name);

// Build- and search-time parameters. Unused fields are ignored by an index kind.
struct IndexParams {
  // HNSW
  uint32_t m = 16;                 // max neighbours per node above layer 0 (2m at layer 0)
  uint32_t ef_construction = 200;  // candidate list size while building
  uint32_t ef_search = 64;         // default candidate list size while searching
  // IVF-PQ
  uint32_t nlist = 0;    // coarse clusters; 0 = about sqrt(n)
  uint32_t pq_m = 0;     // sub-quantisers; 0 = dim / 8 (must divide dim)
  uint32_t nbits = 8;    // bits per sub-quantiser code (4..8)
  uint32_t nprobe = 16;  // clusters visited per query
  uint32_t rerank = 0;   // re-rank this many candidates with exact distances (0 = k*4; needs vectors)
  uint64_t seed = 42;    // training / level-assignment seed, for reproducible builds

  // Parses "M=16", "ef_construction=200", ... (names as above; "M" == "m").
  // Returns InvalidArgument naming the key for unknown keys or bad values.
  Status Set(std::string_view key, std::string_view value);
  // Key/value form for describe/stats output; only the keys relevant to `kind`.
  std::map<std::string, uint64_t> ToMap(IndexKind kind) const;
};

// Per-query overrides; 0 means "use the index's default".
struct SearchOptions {
  uint32_t ef_search = 0;
  uint32_t nprobe = 0;
  uint32_t rerank = 0;
};

struct Neighbor {
  float distance;  // smaller is closer (see file comment)
  Label label;
  bool operator<(const Neighbor& o) const {
    return distance < o.distance || (distance == o.distance && label < o.label);
  }
};

// Admits or rejects a row. Must be cheap and thread-safe (called from the walk).
// `admitted_estimate` is an upper bound on how many rows pass, or n if unknown;
// indexes use it to choose between a graph walk and an exact scan.
struct LabelFilter {
  std::function<bool(Label)> admits;
  size_t admitted_estimate = 0;
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  virtual IndexKind kind() const = 0;
  virtual size_t dim() const = 0;
  virtual size_t size() const = 0;  // rows indexed

  // Builds over `data` (n × dim, row-major, kept alive by the caller). `pool`
  // may be null (single-threaded build).
  virtual Status Build(const float* data, size_t n, ThreadPool* pool) = 0;

  // Grows the index to rows [0, n) of `data` by inserting rows [size(), n);
  // the first size() rows of `data` must be the rows it was built or loaded
  // over (they may have moved: `data` replaces the old pointer). Cheaper than
  // Build when most rows are already indexed (compaction merges segments onto
  // the largest one's graph this way). Kinds that cannot grow return
  // Unimplemented and stay unchanged; the caller then calls Build. On other
  // errors the index is left empty.
  virtual Status Extend(const float* data, size_t n, ThreadPool* pool);

  // Top-k nearest rows to `query` (dim floats), closest first; fewer than k
  // only when fewer than k rows are admitted. `filter` may be null.
  virtual std::vector<Neighbor> Search(const float* query, size_t k, const SearchOptions& options,
                                       const LabelFilter* filter) const = 0;

  // Appends the serialised index (not the vectors) to `out`.
  virtual Status Serialize(std::string* out) const = 0;
  // Restores from Serialize's output over the same `data` it was built on.
  // Returns DataLoss for truncated or inconsistent input, never crashes.
  virtual Status Deserialize(std::string_view bytes, const float* data, size_t n) = 0;

  // Bytes this index holds beyond the vectors themselves.
  virtual size_t MemoryBytes() const = 0;
};

// Makes an empty index of `kind`.
std::unique_ptr<VectorIndex> MakeIndex(IndexKind kind, size_t dim, Metric metric,
                                       const IndexParams& params);

}  // namespace ragline::index
