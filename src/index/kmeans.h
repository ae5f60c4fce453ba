// K-means clustering (Lloyd's algorithm) for the IVF coarse quantiser and the
// PQ sub-quantisers, plus CentroidTable, the one-point-against-all-centroids
// distance kernel both of them (and IVF-PQ's lookup tables) are built on.
//
// Training seeds with k-means++ (or k distinct random rows), runs a fixed
// number of Lloyd iterations (stopping early once no assignment changes), and
// repairs empty clusters by splitting the largest one. Results depend only on
// the inputs and the seed, not on the thread pool: assignments are computed in
// parallel, sums sequentially.
//
// Distances are squared Euclidean throughout.
//
// Thread safety: TrainKMeans and AssignToNearest are reentrant. CentroidTable
// is immutable after construction; its const methods may run from many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/status.h"

namespace ragline {
class ThreadPool;
}

namespace ragline::index {

struct KMeansOptions {
  size_t num_clusters = 0;              // k, at least 1
  size_t iterations = 20;               // Lloyd iterations at most
  size_t max_points_per_cluster = 256;  // trains on a seeded sample of at most k × this rows
  bool plus_plus_init = true;           // k-means++ seeding; false = k distinct random rows
  uint64_t seed = 42;
};

struct KMeansResult {
  std::vector<float> centroids;  // k × dim, row-major
  double objective = 0;          // mean squared distance of training rows to their centroid
  size_t iterations_run = 0;     // Lloyd iterations done (≤ options.iterations)
  size_t training_rows = 0;      // rows actually used (after sampling)
};

// Clusters `data` (n × dim, row-major, borrowed for the call) into
// options.num_clusters centroids. When n ≤ k every row becomes a centroid and
// the remaining centroids repeat rows (so callers always get exactly k).
// `pool` may be null. Returns InvalidArgument for n == 0, dim == 0 or k == 0.
Result<KMeansResult> TrainKMeans(const float* data, size_t n, size_t dim,
                                 const KMeansOptions& options, ThreadPool* pool);

// Centroids stored transposed (dim × k) with their squared norms, so one
// query's dot products with all k centroids is a vectorised loop over k.
class CentroidTable {
 public:
  CentroidTable() = default;
  // Copies `centroids` (k × dim, row-major).
  CentroidTable(const float* centroids, size_t k, size_t dim);

  size_t k() const { return k_; }
  size_t dim() const { return dim_; }
  const float* norms() const { return norms_.data(); }  // k squared norms
  // The centroids back in row-major order (k × dim), exactly as given.
  std::vector<float> Centroids() const;

  // out[j] = <x, c_j> for j < k. `x` has dim floats, `out` k.
  void Dots(const float* x, float* out) const;
  // Dots for four points at once (sharing the centroid loads): out[p*k + j].
  void Dots4(const float* const x[4], float* out) const;
  // out[j] = ||x - c_j||², clamped at 0.
  void L2Sqrs(const float* x, float* out) const;
  // Index of the nearest centroid (lowest index on ties); `scratch` holds k
  // floats; `*distance` (if not null) gets its squared distance.
  uint32_t Nearest(const float* x, float* scratch, float* distance) const;

  size_t MemoryBytes() const { return (transposed_.capacity() + norms_.capacity()) * sizeof(float); }

 private:
  size_t k_ = 0;
  size_t dim_ = 0;
  std::vector<float> transposed_;  // dim × k
  std::vector<float> norms_;       // k
};

// assignment[i] = nearest centroid of row i of `data` (n × table.dim());
// distances[i] (if not null) = its squared distance. `pool` may be null.
void AssignToNearest(const float* data, size_t n, const CentroidTable& table,
                     uint32_t* assignment, float* distances, ThreadPool* pool);

// Runs fn(begin, end) over [0, n) on `pool`, or inline when it is null.
// May be called from inside a task on the same pool (ParallelFor nests).
void ParallelRanges(ThreadPool* pool, size_t n, const std::function<void(size_t, size_t)>& fn);

}  // namespace ragline::index
