// Fusion of ranked hit lists (dense and lexical) into one ranking.
//
// Two methods (docs/retrieval.md):
//   - weighted reciprocal-rank fusion (Cormack et al. 2009):
//       score(d) = Σ_i w_i / (k + rank_i(d)),   rank 1-based, k = 60 by default;
//     a list that does not contain d adds nothing.
//   - convex combination of min-max normalised scores:
//       score(d) = Σ_i w_i · norm_i(d),  norm_i = (s - min_i) / (max_i - min_i)
//     (reversed for lists where lower is better, e.g. l2 distances); a list that
//     does not contain d contributes 0; a list whose scores are all equal
//     normalises every hit to 1. Hybrid search uses w = (alpha, 1 - alpha).
//
// Inputs are ranked best first. An id repeated within one list keeps its first
// (best) occurrence; later ones are dropped before ranks are assigned. The
// fused hit keeps the version and payload of the first list that holds it and
// the fused score. Output is sorted by fused score descending, ties by id
// ascending, so results are deterministic. Scores are summed in list order.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/collection.h"

namespace ragline::search {

enum class FusionMethod { kRrf, kConvex };
std::string_view FusionMethodName(FusionMethod method);
// "rrf" | "convex"; InvalidArgument otherwise.
Result<FusionMethod> ParseFusionMethod(std::string_view name);

// One ranked input list. `hits` must outlive the call.
struct RankedList {
  std::span<const store::SearchHit> hits;  // best first
  double weight = 1.0;                     // ≥ 0
  bool lower_is_better = false;            // scores are distances (convex only)
};

// How hybrid search fuses its dense and lexical lists. The default, a convex
// combination with alpha 0.5, beat RRF (k = 60, equal weights) by 2-3 nDCG@10
// points on both evaluation datasets (docs/retrieval.md, docs/BENCHMARKS.md).
struct FusionOptions {
  FusionMethod method = FusionMethod::kConvex;
  double rrf_k = 60.0;          // > 0
  double dense_weight = 1.0;    // RRF weight of the dense list, ≥ 0
  double lexical_weight = 1.0;  // RRF weight of the lexical list, ≥ 0
  double alpha = 0.5;           // convex weight of dense in [0, 1]; lexical gets 1 - alpha

  // InvalidArgument naming the bad option.
  Status Validate() const;
  // Parses "dense=1,lexical=0.5" into the two RRF weights.
  Status SetWeights(std::string_view spec);
};

// Weighted RRF over `lists`; at most `top_k` hits.
std::vector<store::SearchHit> FuseRrf(std::span<const RankedList> lists, double rrf_k, size_t top_k);

// Convex combination of min-max normalised scores; at most `top_k` hits.
std::vector<store::SearchHit> FuseConvex(std::span<const RankedList> lists, size_t top_k);

}  // namespace ragline::search
