#include "query/probe.h"

#include <algorithm>

#include "core/strings.h"

namespace ragline::query {

using nlohmann::json;

Result<ProbeSpec> ProbeSpec::FromJson(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("config: \"probe\" must be an object");
  ProbeSpec spec;
  auto need = [](const std::string& key, bool ok, const char* what) -> Status {
    if (ok) return absl::OkStatus();
    return absl::InvalidArgumentError(StrCat("config: \"probe.", key, "\" must be ", what));
  };
  for (const auto& [key, v] : j.items()) {
    if (key == "collection" || key == "question") {
      RETURN_IF_ERROR(need(key, v.is_string() && !v.get<std::string>().empty(), "a non-empty string"));
      (key == "collection" ? spec.collection : spec.question) = v.get<std::string>();
    } else if (key == "mode") {
      RETURN_IF_ERROR(need(key, v == "hybrid" || v == "dense" || v == "lexical", "hybrid, dense or lexical"));
      spec.mode = v.get<std::string>();
    } else if (key == "expect_docs") {
      const bool ok = v.is_array() && std::all_of(v.begin(), v.end(), [](const json& d) { return d.is_string(); });
      RETURN_IF_ERROR(need(key, ok, "an array of document ids"));
      spec.expect_docs = v.get<std::vector<std::string>>();
    } else if (key == "min_similarity") {
      RETURN_IF_ERROR(need(key, v.is_number() && v.get<double>() >= -1 && v.get<double>() <= 1, "a number in [-1, 1]"));
      spec.min_similarity = v.get<double>();
    } else if (key == "k" || key == "timeout_ms" || key == "interval_ms") {
      const bool ok = v.is_number_unsigned() && v.get<uint64_t>() >= 1 &&
                      v.get<uint64_t>() <= (key == "k" ? 1000 : 86'400'000);
      RETURN_IF_ERROR(need(key, ok, key == "k" ? "an integer in [1, 1000]" : "an integer in [1, 86400000]"));
      const uint64_t n = v.get<uint64_t>();
      if (key == "k") spec.k = n;
      if (key == "timeout_ms") spec.timeout = std::chrono::milliseconds(n);
      if (key == "interval_ms") spec.interval = std::chrono::milliseconds(n);
    } else {
      return absl::InvalidArgumentError(StrCat("config: unknown key \"probe.", key, "\""));
    }
  }
  if (spec.collection.empty() || spec.question.empty()) {
    return absl::InvalidArgumentError("config: \"probe\" needs \"collection\" and \"question\"");
  }
  return spec;
}

json ProbeSpec::QueryBody() const {
  return {{"query", question}, {"k", k}, {"mode", mode}, {"generate", false}, {"timeout_ms", timeout.count()}};
}

json ProbeResult::ToJson() const {
  json j = {{"ok", ok}, {"similarity", similarity}, {"duration_ms", seconds * 1000}};
  if (!ok) j["reason"] = reason;
  return j;
}

ProbeResult CheckProbeReply(const ProbeSpec& spec, const json& reply, double seconds) {
  ProbeResult r;
  r.seconds = seconds;
  auto fail = [&](std::string reason) {
    r.reason = std::move(reason);
    return r;
  };
  const json hits = reply.is_object() ? reply.value("hits", json::array()) : json::array();
  if (!hits.is_array() || hits.empty()) return fail("no hits");
  const json& best = hits[0];
  for (const char* key : {"similarity", "score"}) {  // lexical hits carry no similarity
    if (auto it = best.find(key); it != best.end() && it->is_number()) {
      r.similarity = it->get<double>();
      break;
    }
  }
  for (const std::string& doc : spec.expect_docs) {
    const bool found = std::any_of(hits.begin(), hits.end(), [&](const json& h) {
      return (h.contains("doc_id") && h["doc_id"] == doc) || (h.contains("id") && h["id"] == doc);
    });
    if (!found) return fail(StrCat("expected document ", doc, " is not among the ", hits.size(), " hits"));
  }
  if (r.similarity < spec.min_similarity) {
    return fail(StrCat("best similarity ", r.similarity, " is below ", spec.min_similarity));
  }
  if (seconds * 1000 > static_cast<double>(spec.timeout.count())) {
    return fail(StrCat("took ", static_cast<int64_t>(seconds * 1000), " ms, more than ", spec.timeout.count()));
  }
  r.ok = true;
  return r;
}

}  // namespace ragline::query
