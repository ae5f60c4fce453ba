#include "search/fusion.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "core/strings.h"

namespace ragline::search {
namespace {

// Accumulates fused scores per id, remembering the first hit seen for each.
class Accumulator {
 public:
  void Add(const store::SearchHit& hit, double contribution) {
    auto [it, inserted] = index_.try_emplace(hit.id, entries_.size());
    if (inserted) entries_.push_back({&hit, 0.0});
    entries_[it->second].score += contribution;
  }

  std::vector<store::SearchHit> TopK(size_t top_k) {
    auto better = [](const Entry& a, const Entry& b) {
      if (a.score != b.score) return a.score > b.score;
      return a.hit->id < b.hit->id;
    };
    const size_t n = std::min(top_k, entries_.size());
    std::partial_sort(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(n), entries_.end(), better);
    std::vector<store::SearchHit> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      store::SearchHit h = *entries_[i].hit;
      h.score = static_cast<float>(entries_[i].score);
      out.push_back(std::move(h));
    }
    return out;
  }

 private:
  struct Entry {
    const store::SearchHit* hit;
    double score;
  };
  absl::flat_hash_map<std::string, size_t> index_;
  std::vector<Entry> entries_;
};

// The list without repeated ids (first occurrence kept), in order.
std::vector<const store::SearchHit*> Unique(std::span<const store::SearchHit> hits) {
  absl::flat_hash_set<std::string_view> seen;
  std::vector<const store::SearchHit*> out;
  out.reserve(hits.size());
  for (const auto& h : hits) {
    if (seen.insert(h.id).second) out.push_back(&h);
  }
  return out;
}

}  // namespace

std::string_view FusionMethodName(FusionMethod method) {
  return method == FusionMethod::kRrf ? "rrf" : "convex";
}

Result<FusionMethod> ParseFusionMethod(std::string_view name) {
  if (name == "rrf") return FusionMethod::kRrf;
  if (name == "convex") return FusionMethod::kConvex;
  return absl::InvalidArgumentError(StrCat("unknown fusion method '", name, "' (expected rrf or convex)"));
}

Status FusionOptions::Validate() const {
  if (!(rrf_k > 0) || !std::isfinite(rrf_k)) return absl::InvalidArgumentError(StrCat("rrf k=", rrf_k, " must be > 0"));
  if (!(dense_weight >= 0) || !(lexical_weight >= 0) || !std::isfinite(dense_weight) ||
      !std::isfinite(lexical_weight)) {
    return absl::InvalidArgumentError("fusion weights must be finite and >= 0");
  }
  if (!(alpha >= 0 && alpha <= 1)) return absl::InvalidArgumentError(StrCat("alpha=", alpha, " must be in [0, 1]"));
  return absl::OkStatus();
}

Status FusionOptions::SetWeights(std::string_view spec) {
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    const std::string item(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    if (eq == std::string::npos || (key != "dense" && key != "lexical")) {
      return absl::InvalidArgumentError(StrCat("'", item, "': expected dense=NUMBER or lexical=NUMBER"));
    }
    const char* begin = item.c_str() + eq + 1;
    char* end = nullptr;
    const double v = std::strtod(begin, &end);
    if (end == begin || *end != '\0') return absl::InvalidArgumentError(StrCat("'", item, "': not a number"));
    if (!(v >= 0) || !std::isfinite(v)) return absl::InvalidArgumentError(StrCat("'", item, "': weight must be >= 0"));
    (key == "dense" ? dense_weight : lexical_weight) = v;
  }
  return absl::OkStatus();
}

std::vector<store::SearchHit> FuseRrf(std::span<const RankedList> lists, double rrf_k, size_t top_k) {
  Accumulator acc;
  for (const auto& list : lists) {
    const auto unique = Unique(list.hits);
    for (size_t r = 0; r < unique.size(); ++r) {
      acc.Add(*unique[r], list.weight / (rrf_k + static_cast<double>(r + 1)));
    }
  }
  return acc.TopK(top_k);
}

std::vector<store::SearchHit> FuseConvex(std::span<const RankedList> lists, size_t top_k) {
  Accumulator acc;
  for (const auto& list : lists) {
    const auto unique = Unique(list.hits);
    if (unique.empty()) continue;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto* h : unique) {
      lo = std::min(lo, static_cast<double>(h->score));
      hi = std::max(hi, static_cast<double>(h->score));
    }
    const double range = hi - lo;
    for (const auto* h : unique) {
      double norm = 1.0;
      if (range > 0) {
        norm = (static_cast<double>(h->score) - lo) / range;
        if (list.lower_is_better) norm = 1.0 - norm;
      }
      acc.Add(*h, list.weight * norm);
    }
  }
  return acc.TopK(top_k);
}

}  // namespace ragline::search
