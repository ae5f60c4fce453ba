#include "query/hot_cache.h"

#include <algorithm>
#include <cmath>

#include "core/strings.h"
#include "nlohmann/json.hpp"
#include "query/query.h"
#include "text/analyzer.h"

namespace ragline::query {
namespace {

using nlohmann::json;

std::vector<std::string> SortedTerms(const text::Analyzer& analyzer, std::string_view text) {
  std::vector<std::string> terms = analyzer.Analyze(text);
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  return terms;
}

}  // namespace

void HotCache::CountHits(const std::string& collection, const std::vector<store::SearchHit>& hits) {
  if (hits.empty() || capacity_ == 0) return;
  std::lock_guard lock(mu_);
  auto& counts = counts_[collection];
  for (const auto& h : hits) ++counts[h.id];
  if (counts.size() <= 4 * capacity_) return;
  for (auto it = counts.begin(); it != counts.end();) {
    it->second /= 2;
    it = it->second == 0 ? counts.erase(it) : std::next(it);
  }
}

Status HotCache::Refresh(store::Database& db) {
  std::map<std::string, std::vector<std::string>> wanted;  // collection -> most-hit ids
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, counts] : counts_) {
      std::vector<std::pair<uint64_t, std::string>> ranked;
      ranked.reserve(counts.size());
      for (const auto& [id, n] : counts) ranked.emplace_back(n, id);
      const size_t keep = std::min(capacity_, ranked.size());
      std::partial_sort(ranked.begin(), ranked.begin() + keep, ranked.end(),
                        [](const auto& a, const auto& b) { return a.first > b.first; });
      for (size_t i = 0; i < keep; ++i) wanted[name].push_back(std::move(ranked[i].second));
    }
  }
  std::map<std::string, std::shared_ptr<const Snapshot>> built;
  std::vector<std::string> gone;
  for (const auto& [name, ids] : wanted) {
    auto c = db.GetCollection(name);
    if (!c.ok()) {
      if (absl::IsNotFound(c.status())) gone.push_back(name);
      continue;  // unavailable now: keep the last snapshot
    }
    const store::CollectionConfig& config = (*c)->config();
    auto snap = std::make_shared<Snapshot>();
    snap->metric = config.metric;
    snap->dim = config.dim;
    ASSIGN_OR_RETURN(snap->analyzer, text::Analyzer::Create(config.lexical.analyzer));
    for (const std::string& id : ids) {
      auto rec = (*c)->Get(id);
      if (!rec || rec->vector.size() != config.dim) continue;  // deleted since
      snap->terms.push_back(
          SortedTerms(*snap->analyzer, HitFields::Of(rec->payload, config.lexical.text_field).text));
      snap->vectors.insert(snap->vectors.end(), rec->vector.begin(), rec->vector.end());
      snap->records.push_back({rec->id, 0, rec->version, std::move(rec->payload)});
    }
    built[name] = std::move(snap);
  }
  std::lock_guard lock(mu_);
  for (auto& [name, snap] : built) snapshots_[name] = std::move(snap);
  for (const std::string& name : gone) {
    snapshots_.erase(name);
    counts_.erase(name);
  }
  return absl::OkStatus();
}

std::vector<store::SearchHit> HotCache::Search(const std::string& collection, std::span<const float> vector,
                                               const std::string& text, size_t k,
                                               const store::PayloadFilter* filter) const {
  std::shared_ptr<const Snapshot> snap;
  {
    std::lock_guard lock(mu_);
    auto it = snapshots_.find(collection);
    if (it == snapshots_.end()) return {};
    snap = it->second;
  }
  const bool dense = !vector.empty() && vector.size() == snap->dim;
  const bool lower_is_closer = dense && snap->metric == store::DistanceMetric::kL2;
  std::vector<float> query(vector.begin(), vector.end());
  if (dense && snap->metric == store::DistanceMetric::kCosine) {  // stored vectors are unit length
    float norm = 0;
    for (float x : query) norm += x * x;
    if (norm > 0) {
      for (float& x : query) x /= std::sqrt(norm);
    }
  }
  const std::vector<std::string> question =
      dense ? std::vector<std::string>() : SortedTerms(*snap->analyzer, text);
  std::vector<store::SearchHit> out;
  for (size_t i = 0; i < snap->records.size(); ++i) {
    const store::SearchHit& r = snap->records[i];
    if (filter != nullptr && !filter->Matches(r.payload)) continue;
    float score = 0;
    if (dense) {
      const float* row = snap->vectors.data() + i * snap->dim;
      for (size_t d = 0; d < snap->dim; ++d) {
        score += lower_is_closer ? (row[d] - query[d]) * (row[d] - query[d]) : row[d] * query[d];
      }
    } else {
      std::vector<std::string> shared;
      std::set_intersection(question.begin(), question.end(), snap->terms[i].begin(), snap->terms[i].end(),
                            std::back_inserter(shared));
      if (shared.empty()) continue;
      score = static_cast<float>(shared.size());
    }
    out.push_back({r.id, score, r.version, r.payload});
  }
  auto closer = [lower_is_closer](const store::SearchHit& a, const store::SearchHit& b) {
    return lower_is_closer ? a.score < b.score : a.score > b.score;
  };
  const size_t keep = std::min(k, out.size());
  std::partial_sort(out.begin(), out.begin() + keep, out.end(), closer);
  out.resize(keep);
  return out;
}

std::map<std::string, size_t> HotCache::Sizes() const {
  std::lock_guard lock(mu_);
  std::map<std::string, size_t> out;
  for (const auto& [name, snap] : snapshots_) out[name] = snap->records.size();
  return out;
}

Status HotCache::Save(const std::string& path) const {
  json collections = json::object();
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, counts] : counts_) {
      json& c = collections[name] = json::object();
      for (const auto& [id, n] : counts) c[id] = n;
    }
  }
  return store::Env::Default()->WriteFileAtomically(path, json{{"collections", collections}}.dump() + "\n");
}

Status HotCache::Load(const std::string& path) {
  auto bytes = store::Env::Default()->ReadFile(path);
  if (!bytes.ok()) return absl::IsNotFound(bytes.status()) ? absl::OkStatus() : bytes.status();
  json j = json::parse(*bytes, nullptr, false);
  if (j.is_discarded() || !j.contains("collections") || !j["collections"].is_object()) {
    return absl::DataLossError(StrCat(path, ": not a hot-cache file"));
  }
  std::lock_guard lock(mu_);
  for (const auto& [name, counts] : j["collections"].items()) {
    if (!counts.is_object())
      return absl::DataLossError(StrCat(path, ": counts of '", name, "' are not an object"));
    for (const auto& [id, n] : counts.items()) {
      if (n.is_number_unsigned()) counts_[name][id] += n.get<uint64_t>();
    }
  }
  return absl::OkStatus();
}

}  // namespace ragline::query
