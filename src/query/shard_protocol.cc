#include "query/shard_protocol.h"

#include <algorithm>
#include <charconv>

#include "core/json_fields.h"
#include "core/strings.h"

namespace ragline::query {

using nlohmann::json;

json HitToWire(const store::SearchHit& hit) {
  return {{"id", hit.id}, {"score", hit.score}, {"version", hit.version}, {"payload", hit.payload}};
}

Result<store::SearchHit> HitFromWire(const json& j, const std::string& where) {
  if (!j.is_object()) return absl::InvalidArgumentError(StrCat(where, ": a hit must be an object"));
  store::SearchHit hit;
  auto id = j.find("id");
  auto score = j.find("score");
  auto version = j.find("version");
  if (id == j.end() || !id->is_string())
    return absl::InvalidArgumentError(StrCat(where, ": \"id\" must be a string"));
  if (score == j.end() || !score->is_number()) {
    return absl::InvalidArgumentError(StrCat(where, ": \"score\" must be a number"));
  }
  const auto v = version == j.end() ? std::nullopt : JsonUnsigned(*version);
  if (!v) return absl::InvalidArgumentError(StrCat(where, ": \"version\" must be a non-negative integer"));
  hit.id = id->get<std::string>();
  hit.score = score->get<float>();
  hit.version = *v;
  if (auto p = j.find("payload"); p != j.end()) hit.payload = *p;
  return hit;
}

Result<std::vector<store::SearchHit>> HitsFromWire(const json& j, const std::string& where) {
  if (!j.is_array()) return absl::InvalidArgumentError(StrCat(where, " must be an array of hits"));
  std::vector<store::SearchHit> hits;
  hits.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    ASSIGN_OR_RETURN(store::SearchHit hit, HitFromWire(j[i], StrCat(where, "[", i, "]")));
    hits.push_back(std::move(hit));
  }
  return hits;
}

json LexicalStatsToWire(const store::LexicalTermStats& stats) {
  json df = json::object();
  for (const auto& [term, n] : stats.doc_freq) df[std::to_string(term)] = n;
  return {{"doc_count", stats.doc_count}, {"total_doc_length", stats.total_doc_length}, {"doc_freq", df}};
}

Result<store::LexicalTermStats> LexicalStatsFromWire(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("\"lexical_stats\" must be an object");
  RETURN_IF_ERROR(RefuseUnknownFields(j, {"doc_count", "total_doc_length", "doc_freq"}, "\"lexical_stats\""));
  store::LexicalTermStats stats;
  const auto n = j.contains("doc_count") ? JsonUnsigned(j["doc_count"]) : std::nullopt;
  const auto length = j.contains("total_doc_length") ? JsonUnsigned(j["total_doc_length"]) : std::nullopt;
  if (!n || !length) {
    return absl::InvalidArgumentError(
        "\"lexical_stats\": \"doc_count\" and \"total_doc_length\" must be non-negative integers");
  }
  stats.doc_count = *n;
  stats.total_doc_length = *length;
  auto df = j.find("doc_freq");
  if (df == j.end() || !df->is_object()) {
    return absl::InvalidArgumentError("\"lexical_stats\": \"doc_freq\" must be an object");
  }
  for (const auto& [key, value] : df->items()) {
    index::TermHash term = 0;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), term);
    const auto count = JsonUnsigned(value);
    if (ec != std::errc() || end != key.data() + key.size() || !count) {
      return absl::InvalidArgumentError(StrCat("\"lexical_stats\": bad \"doc_freq\" entry \"", key, "\""));
    }
    stats.doc_freq[term] = *count;
  }
  return stats;
}

void AddLexicalStats(const store::LexicalTermStats& part, store::LexicalTermStats* total) {
  total->doc_count += part.doc_count;
  total->total_doc_length += part.total_doc_length;
  for (const auto& [term, n] : part.doc_freq) total->doc_freq[term] += n;
}

std::vector<store::SearchHit> MergeShardHits(std::vector<std::vector<store::SearchHit>> lists, size_t k,
                                             bool lower_is_better) {
  std::vector<store::SearchHit> all;
  for (auto& list : lists) std::move(list.begin(), list.end(), std::back_inserter(all));
  std::sort(all.begin(), all.end(), [lower_is_better](const store::SearchHit& a, const store::SearchHit& b) {
    if (a.score != b.score) return lower_is_better ? a.score < b.score : a.score > b.score;
    return a.id < b.id;
  });
  if (all.size() > k) all.resize(k);
  return all;
}

}  // namespace ragline::query
