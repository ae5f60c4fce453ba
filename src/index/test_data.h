// Synthetic data for the index tests and benchmarks: Gaussian clusters in a
// low-dimensional latent space projected to `dim` (like sentence embeddings,
// whose intrinsic dimension is far below their width) plus full-rank noise,
// optionally normalised. Latent coordinates have variance ~5, so each output
// dimension carries signal variance ~5 * latent_dim before the noise.
//
// Thread safety: pure functions.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "index/distance.h"
#include "index/vector_index.h"

namespace ragline::index::testing {

// n × dim row-major floats.
inline std::vector<float> ClusteredVectors(size_t n, size_t dim, uint64_t seed,
                                           bool normalize = false, size_t clusters = 64,
                                           size_t latent_dim = 24, float noise = 0.1f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  latent_dim = std::min(latent_dim, dim);
  std::vector<float> projection(latent_dim * dim);
  for (float& x : projection) x = normal(rng);
  std::vector<float> centers(clusters * latent_dim);
  for (float& x : centers) x = 2.0f * normal(rng);
  std::vector<float> out(n * dim);
  std::vector<float> latent(latent_dim);
  std::uniform_int_distribution<size_t> pick(0, clusters - 1);
  for (size_t i = 0; i < n; ++i) {
    const float* c = &centers[pick(rng) * latent_dim];
    for (size_t l = 0; l < latent_dim; ++l) latent[l] = c[l] + normal(rng);
    float* row = &out[i * dim];
    for (size_t d = 0; d < dim; ++d) {
      float v = noise * normal(rng);  // full-rank noise
      for (size_t l = 0; l < latent_dim; ++l) v += latent[l] * projection[l * dim + d];
      row[d] = v;
    }
    if (normalize) NormalizeL2(row, dim);
  }
  return out;
}

// Mean fraction of `exact`'s labels found in `approx`, per query.
inline double RecallAt(const std::vector<std::vector<Neighbor>>& approx,
                       const std::vector<std::vector<Neighbor>>& exact) {
  double sum = 0.0;
  size_t queries = 0;
  for (size_t q = 0; q < exact.size(); ++q) {
    if (exact[q].empty()) continue;
    size_t hits = 0;
    for (const Neighbor& e : exact[q]) {
      for (const Neighbor& a : approx[q]) {
        if (a.label == e.label) {
          ++hits;
          break;
        }
      }
    }
    sum += double(hits) / double(exact[q].size());
    ++queries;
  }
  return queries == 0 ? 1.0 : sum / double(queries);
}

}  // namespace ragline::index::testing
