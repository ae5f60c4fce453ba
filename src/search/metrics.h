// Information-retrieval metrics over one ranked list of ids and the graded
// relevance judgments (qrels) of its query, as trec_eval / pytrec_eval (which
// BEIR uses) define them:
//
//   recall@k = |relevant ∩ top k| / |relevant|
//   nDCG@k   = DCG@k / IDCG@k,  DCG@k = Σ_{i=1..k} grade(d_i) / log2(i + 1)
//              (linear gain); IDCG@k is the DCG of the judgments sorted by
//              grade, best first (the ideal ranking of the qrels)
//   RR@k     = 1 / rank of the first relevant id within the top k, else 0
//              (MRR@k is its mean over queries)
//
// "Relevant" means grade > 0; grades ≤ 0 count as non-relevant. A query with
// no relevant judgment scores 0 on every metric (callers skip such queries).
// `ranked` is best first and should hold distinct ids.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace ragline::search {

// One query's judgments: document id -> grade.
using Judgments = std::map<std::string, int, std::less<>>;

// Number of judgments with grade > 0.
size_t CountRelevant(const Judgments& judgments);

double RecallAt(std::span<const std::string> ranked, const Judgments& judgments, size_t k);
double NdcgAt(std::span<const std::string> ranked, const Judgments& judgments, size_t k);
double ReciprocalRankAt(std::span<const std::string> ranked, const Judgments& judgments, size_t k);

// The nearest-rank percentile p ∈ (0, 100] of `values`: the ⌈p/100 · n⌉-th
// smallest (p99 of fewer than 100 values is the largest). 0 when empty.
double Percentile(std::vector<double> values, double p);

}  // namespace ragline::search
