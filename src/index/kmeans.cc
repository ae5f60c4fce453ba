#include "index/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "core/thread_pool.h"
#include "index/distance.h"

namespace ragline::index {
namespace {

// Plain loops: the fallback, and the reference for the AVX2 kernels.
// out[j] = sum_a x[a] * t[a*k + j].
void DotsTransposedScalar(const float* t, size_t k, size_t dim, const float* x, float* out) {
  std::fill(out, out + k, 0.0f);
  for (size_t a = 0; a < dim; ++a) {
    const float xa = x[a];
    const float* row = t + a * k;
    for (size_t j = 0; j < k; ++j) out[j] += xa * row[j];
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// AVX2+FMA (per-function target, chosen at run time): a register tile of
// columns accumulates over all of `dim`, so sums never round-trip memory.
__attribute__((target("avx2,fma"))) void DotsTransposedAvx2(const float* t, size_t k, size_t dim,
                                                            const float* x, float* out) {
  size_t j = 0;
  for (; j + 32 <= k; j += 32) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const float* col = t + j;
    for (size_t a = 0; a < dim; ++a, col += k) {
      const __m256 xa = _mm256_broadcast_ss(x + a);
      s0 = _mm256_fmadd_ps(xa, _mm256_loadu_ps(col), s0);
      s1 = _mm256_fmadd_ps(xa, _mm256_loadu_ps(col + 8), s1);
      s2 = _mm256_fmadd_ps(xa, _mm256_loadu_ps(col + 16), s2);
      s3 = _mm256_fmadd_ps(xa, _mm256_loadu_ps(col + 24), s3);
    }
    _mm256_storeu_ps(out + j, s0);
    _mm256_storeu_ps(out + j + 8, s1);
    _mm256_storeu_ps(out + j + 16, s2);
    _mm256_storeu_ps(out + j + 24, s3);
  }
  for (; j + 8 <= k; j += 8) {
    __m256 s0 = _mm256_setzero_ps();
    const float* col = t + j;
    for (size_t a = 0; a < dim; ++a, col += k) {
      s0 = _mm256_fmadd_ps(_mm256_broadcast_ss(x + a), _mm256_loadu_ps(col), s0);
    }
    _mm256_storeu_ps(out + j, s0);
  }
  for (; j < k; ++j) {
    float sum = 0;
    for (size_t a = 0; a < dim; ++a) sum += x[a] * t[a * k + j];
    out[j] = sum;
  }
}

// Four points share each centroid load: 4 points × 16 columns of sums.
__attribute__((target("avx2,fma"))) void DotsTransposed4Avx2(const float* t, size_t k, size_t dim,
                                                             const float* const x[4], float* out) {
  const float* x0 = x[0];
  const float* x1 = x[1];
  const float* x2 = x[2];
  const float* x3 = x[3];
  size_t j = 0;
  for (; j + 16 <= k; j += 16) {
    __m256 s00 = _mm256_setzero_ps(), s01 = s00, s10 = s00, s11 = s00;
    __m256 s20 = s00, s21 = s00, s30 = s00, s31 = s00;
    const float* col = t + j;
    for (size_t a = 0; a < dim; ++a, col += k) {
      const __m256 c0 = _mm256_loadu_ps(col);
      const __m256 c1 = _mm256_loadu_ps(col + 8);
      const __m256 a0 = _mm256_broadcast_ss(x0 + a);
      const __m256 a1 = _mm256_broadcast_ss(x1 + a);
      const __m256 a2 = _mm256_broadcast_ss(x2 + a);
      const __m256 a3 = _mm256_broadcast_ss(x3 + a);
      s00 = _mm256_fmadd_ps(a0, c0, s00);
      s01 = _mm256_fmadd_ps(a0, c1, s01);
      s10 = _mm256_fmadd_ps(a1, c0, s10);
      s11 = _mm256_fmadd_ps(a1, c1, s11);
      s20 = _mm256_fmadd_ps(a2, c0, s20);
      s21 = _mm256_fmadd_ps(a2, c1, s21);
      s30 = _mm256_fmadd_ps(a3, c0, s30);
      s31 = _mm256_fmadd_ps(a3, c1, s31);
    }
    _mm256_storeu_ps(out + j, s00);
    _mm256_storeu_ps(out + j + 8, s01);
    _mm256_storeu_ps(out + k + j, s10);
    _mm256_storeu_ps(out + k + j + 8, s11);
    _mm256_storeu_ps(out + 2 * k + j, s20);
    _mm256_storeu_ps(out + 2 * k + j + 8, s21);
    _mm256_storeu_ps(out + 3 * k + j, s30);
    _mm256_storeu_ps(out + 3 * k + j + 8, s31);
  }
  for (; j < k; ++j) {
    float s[4] = {0, 0, 0, 0};
    for (size_t a = 0; a < dim; ++a) {
      const float v = t[a * k + j];
      s[0] += x0[a] * v;
      s[1] += x1[a] * v;
      s[2] += x2[a] * v;
      s[3] += x3[a] * v;
    }
    for (size_t p = 0; p < 4; ++p) out[p * k + j] = s[p];
  }
}
#endif

// The AVX2 kernels run when distance.h's dispatch allows AVX2 or better
// (so RAGLINE_SIMD=scalar forces the plain loops here too).
bool UseAvx2() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool use = ActiveSimdLevel() != SimdLevel::kScalar &&
                          __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return use;
#else
  return false;
#endif
}

void DotsTransposed1(const float* t, size_t k, size_t dim, const float* x, float* out) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (UseAvx2()) return DotsTransposedAvx2(t, k, dim, x, out);
#endif
  DotsTransposedScalar(t, k, dim, x, out);
}

void DotsTransposed4(const float* t, size_t k, size_t dim, const float* const x[4], float* out) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (UseAvx2()) return DotsTransposed4Avx2(t, k, dim, x, out);
#endif
  for (size_t p = 0; p < 4; ++p) DotsTransposedScalar(t, k, dim, x[p], out + p * k);
}

// Folds eight running (best, index) lanes into one: lowest index on ties.
uint32_t ReduceLanes(const float* lane_best, const uint32_t* lane_index, float* best_value) {
  float best = std::numeric_limits<float>::infinity();
  uint32_t index = std::numeric_limits<uint32_t>::max();
  for (size_t l = 0; l < 8; ++l) {
    if (lane_best[l] < best || (lane_best[l] == best && lane_index[l] < index)) {
      best = lane_best[l];
      index = lane_index[l];
    }
  }
  *best_value = best;
  return index == std::numeric_limits<uint32_t>::max() ? 0 : index;
}

// Index of the smallest norms[j] - 2 * dots[j] (= ||x - c_j||² - ||x||²),
// lowest index on ties.
uint32_t ArgminPartialScalar(const float* dots, const float* norms, size_t k, float* best_value) {
  float best = std::numeric_limits<float>::infinity();
  uint32_t index = 0;
  for (size_t j = 0; j < k; ++j) {
    const float d = norms[j] - 2.0f * dots[j];
    if (d < best) {
      best = d;
      index = static_cast<uint32_t>(j);
    }
  }
  *best_value = best;
  return index;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) uint32_t ArgminPartialAvx2(const float* dots, const float* norms,
                                                           size_t k, float* best_value) {
  const __m256 two = _mm256_set1_ps(2.0f);
  const __m256i step = _mm256_set1_epi32(8);
  __m256 best = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  __m256i best_index = _mm256_setzero_si256();
  __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  size_t j = 0;
  for (; j + 8 <= k; j += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(norms + j),
                                   _mm256_mul_ps(two, _mm256_loadu_ps(dots + j)));
    const __m256 better = _mm256_cmp_ps(d, best, _CMP_LT_OQ);
    best = _mm256_blendv_ps(best, d, better);
    best_index = _mm256_blendv_epi8(best_index, index, _mm256_castps_si256(better));
    index = _mm256_add_epi32(index, step);
  }
  alignas(32) float lane_best[8];
  alignas(32) uint32_t lane_index[8];
  _mm256_store_ps(lane_best, best);
  _mm256_store_si256(reinterpret_cast<__m256i*>(lane_index), best_index);
  float value;
  uint32_t result = ReduceLanes(lane_best, lane_index, &value);
  for (; j < k; ++j) {  // tail indices exceed every lane's, so strict < keeps ties low
    const float d = norms[j] - 2.0f * dots[j];
    if (d < value) {
      value = d;
      result = static_cast<uint32_t>(j);
    }
  }
  *best_value = value;
  return result;
}
#endif

uint32_t ArgminPartial(const float* dots, const float* norms, size_t k, float* best_value) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (UseAvx2()) return ArgminPartialAvx2(dots, norms, k, best_value);
#endif
  return ArgminPartialScalar(dots, norms, k, best_value);
}

float SquaredNorm(const float* x, size_t dim) { return Dot(x, x, dim); }

}  // namespace

void ParallelRanges(ThreadPool* pool, size_t n, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  if (pool == nullptr || pool->size() == 0) {
    fn(0, n);
    return;
  }
  pool->ParallelFor(n, fn);
}

CentroidTable::CentroidTable(const float* centroids, size_t k, size_t dim)
    : k_(k), dim_(dim), transposed_(k * dim), norms_(k) {
  for (size_t j = 0; j < k; ++j) {
    const float* c = centroids + j * dim;
    for (size_t a = 0; a < dim; ++a) transposed_[a * k + j] = c[a];
    norms_[j] = SquaredNorm(c, dim);
  }
}

std::vector<float> CentroidTable::Centroids() const {
  std::vector<float> rows(k_ * dim_);
  for (size_t a = 0; a < dim_; ++a) {
    for (size_t j = 0; j < k_; ++j) rows[j * dim_ + a] = transposed_[a * k_ + j];
  }
  return rows;
}

void CentroidTable::Dots(const float* x, float* out) const {
  DotsTransposed1(transposed_.data(), k_, dim_, x, out);
}

void CentroidTable::Dots4(const float* const x[4], float* out) const {
  DotsTransposed4(transposed_.data(), k_, dim_, x, out);
}

void CentroidTable::L2Sqrs(const float* x, float* out) const {
  Dots(x, out);
  const float xn = SquaredNorm(x, dim_);
  for (size_t j = 0; j < k_; ++j) out[j] = std::max(0.0f, xn + norms_[j] - 2.0f * out[j]);
}

uint32_t CentroidTable::Nearest(const float* x, float* scratch, float* distance) const {
  Dots(x, scratch);
  float partial = 0;
  const uint32_t best = ArgminPartial(scratch, norms_.data(), k_, &partial);
  if (distance != nullptr) *distance = std::max(0.0f, SquaredNorm(x, dim_) + partial);
  return best;
}

void AssignToNearest(const float* data, size_t n, const CentroidTable& table,
                     uint32_t* assignment, float* distances, ThreadPool* pool) {
  const size_t k = table.k();
  const size_t dim = table.dim();
  if (n == 0 || k == 0) return;
  ParallelRanges(pool, n, [&](size_t begin, size_t end) {
    std::vector<float> scratch(4 * k);
    size_t i = begin;
    for (; i + 4 <= end; i += 4) {
      const float* rows[4] = {data + i * dim, data + (i + 1) * dim, data + (i + 2) * dim,
                              data + (i + 3) * dim};
      table.Dots4(rows, scratch.data());
      for (size_t p = 0; p < 4; ++p) {
        float partial = 0;
        assignment[i + p] = ArgminPartial(scratch.data() + p * k, table.norms(), k, &partial);
        if (distances != nullptr) {
          distances[i + p] = std::max(0.0f, SquaredNorm(rows[p], dim) + partial);
        }
      }
    }
    for (; i < end; ++i) {
      assignment[i] = table.Nearest(data + i * dim, scratch.data(),
                                    distances != nullptr ? distances + i : nullptr);
    }
  });
}

namespace {

// k-means++: each next seed is drawn with probability proportional to its
// squared distance from the nearest seed so far.
std::vector<float> SeedPlusPlus(const float* data, size_t n, size_t dim, size_t k,
                                std::mt19937_64& rng, ThreadPool* pool) {
  std::vector<float> centroids(k * dim);
  std::vector<float> nearest(n, std::numeric_limits<float>::infinity());
  size_t chosen = std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  for (size_t j = 0; j < k; ++j) {
    const float* c = data + chosen * dim;
    std::copy(c, c + dim, centroids.begin() + j * dim);
    if (j + 1 == k) break;
    ParallelRanges(pool, n, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        nearest[i] = std::min(nearest[i], L2Sqr(data + i * dim, c, dim));
      }
    });
    double total = 0;
    for (float d : nearest) total += d;
    if (!(total > 0)) {  // every row coincides with a seed: any row will do
      chosen = std::uniform_int_distribution<size_t>(0, n - 1)(rng);
      continue;
    }
    const double target = std::uniform_real_distribution<double>(0.0, total)(rng);
    double cumulative = 0;
    chosen = n - 1;
    for (size_t i = 0; i < n; ++i) {
      cumulative += nearest[i];
      if (cumulative > target && nearest[i] > 0) {
        chosen = i;
        break;
      }
    }
  }
  return centroids;
}

std::vector<float> SeedRandom(const float* data, size_t n, size_t dim, size_t k,
                              std::mt19937_64& rng) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::vector<float> centroids(k * dim);
  for (size_t j = 0; j < k; ++j) {  // partial Fisher-Yates: k distinct rows (k < n here)
    std::swap(order[j], order[std::uniform_int_distribution<size_t>(j, n - 1)(rng)]);
    const float* row = data + order[j] * dim;
    std::copy(row, row + dim, centroids.begin() + j * dim);
  }
  return centroids;
}

// An empty cluster takes half of the largest one: both get the old centroid
// nudged in opposite directions, so the next assignment splits its rows.
void RepairEmptyClusters(std::vector<float>& centroids, std::vector<size_t>& counts, size_t dim) {
  constexpr float kEpsilon = 1.0f / 1024.0f;
  const size_t k = counts.size();
  for (size_t j = 0; j < k; ++j) {
    if (counts[j] != 0) continue;
    const size_t largest = static_cast<size_t>(
        std::max_element(counts.begin(), counts.end()) - counts.begin());
    if (counts[largest] < 2) return;  // nothing left to split
    float* empty = centroids.data() + j * dim;
    float* donor = centroids.data() + largest * dim;
    for (size_t a = 0; a < dim; ++a) {
      const float sign = (a % 2 == 0) ? 1.0f : -1.0f;
      const float v = donor[a];
      empty[a] = v * (1.0f + sign * kEpsilon);
      donor[a] = v * (1.0f - sign * kEpsilon);
    }
    counts[j] = counts[largest] / 2;
    counts[largest] -= counts[j];
  }
}

}  // namespace

Result<KMeansResult> TrainKMeans(const float* data, size_t n, size_t dim,
                                 const KMeansOptions& options, ThreadPool* pool) {
  const size_t k = options.num_clusters;
  if (n == 0 || dim == 0 || k == 0 || data == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("k-means needs rows, dimensions and clusters (n=",
                                                   n, ", dim=", dim, ", k=", k, ")"));
  }
  std::mt19937_64 rng(options.seed);
  KMeansResult result;

  // A seeded sample bounds training cost; rows are copied in index order.
  std::vector<float> sample;
  const float* train = data;
  size_t rows = n;
  const size_t cap = options.max_points_per_cluster == 0
                         ? n
                         : (k > n / options.max_points_per_cluster ? n
                                                                   : k * options.max_points_per_cluster);
  if (cap < n) {
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    for (size_t i = 0; i < cap; ++i) {
      std::swap(order[i], order[std::uniform_int_distribution<size_t>(i, n - 1)(rng)]);
    }
    order.resize(cap);
    std::sort(order.begin(), order.end());
    sample.resize(cap * dim);
    for (size_t i = 0; i < cap; ++i) {
      std::copy(data + order[i] * dim, data + (order[i] + 1) * dim, sample.begin() + i * dim);
    }
    train = sample.data();
    rows = cap;
  }
  result.training_rows = rows;

  if (rows <= k) {  // every row is a centroid; extra centroids repeat rows
    result.centroids.resize(k * dim);
    for (size_t j = 0; j < k; ++j) {
      const float* row = train + (j % rows) * dim;
      std::copy(row, row + dim, result.centroids.begin() + j * dim);
    }
    return result;
  }

  std::vector<float> centroids = options.plus_plus_init
                                     ? SeedPlusPlus(train, rows, dim, k, rng, pool)
                                     : SeedRandom(train, rows, dim, k, rng);
  std::vector<uint32_t> assignment(rows), previous(rows);
  std::vector<float> distances(rows);
  std::vector<double> sums(k * dim);
  std::vector<size_t> counts(k);
  for (size_t iteration = 0;; ++iteration) {
    AssignToNearest(train, rows, CentroidTable(centroids.data(), k, dim), assignment.data(),
                    distances.data(), pool);
    double objective = 0;
    for (float d : distances) objective += d;
    result.objective = objective / static_cast<double>(rows);
    if (iteration == options.iterations || (iteration > 0 && assignment == previous)) break;
    result.iterations_run = iteration + 1;

    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (size_t i = 0; i < rows; ++i) {
      const uint32_t c = assignment[i];
      ++counts[c];
      double* sum = sums.data() + static_cast<size_t>(c) * dim;
      const float* row = train + i * dim;
      for (size_t a = 0; a < dim; ++a) sum[a] += row[a];
    }
    for (size_t j = 0; j < k; ++j) {
      if (counts[j] == 0) continue;
      const double inv = 1.0 / static_cast<double>(counts[j]);
      for (size_t a = 0; a < dim; ++a) {
        centroids[j * dim + a] = static_cast<float>(sums[j * dim + a] * inv);
      }
    }
    RepairEmptyClusters(centroids, counts, dim);
    previous.swap(assignment);
  }
  result.centroids = std::move(centroids);
  return result;
}

}  // namespace ragline::index
