#include "server/shard_routes.h"

#include <chrono>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "core/json_fields.h"
#include "core/strings.h"
#include "query/shard_protocol.h"
#include "store/record_json.h"

namespace ragline::server {
namespace {

using nlohmann::json;

// k of one list: a router asks for a hybrid query's candidates (≤ 10,000).
Result<size_t> ShardK(const json& body) {
  auto k = body.find("k");
  const auto value = k == body.end() ? std::nullopt : JsonUnsigned(*k);
  if (!value || *value == 0 || *value > 10000) {
    return absl::InvalidArgumentError("\"k\" must be an integer in [1, 10000]");
  }
  return static_cast<size_t>(*value);
}

Result<std::string> QueryText(const json& body) {
  auto q = body.find("query");
  if (q == body.end() || !q->is_string())
    return absl::InvalidArgumentError("\"query\" (a string) is required");
  return q->get<std::string>();
}

Result<json> LexicalStats(Server& server, RouteRequest& r) {
  ASSIGN_OR_RETURN(json body, r.JsonBody());
  RETURN_IF_ERROR(RefuseUnknownFields(body, {"query"}, ""));
  ASSIGN_OR_RETURN(std::string text, QueryText(body));
  std::shared_lock lock(server.catalog_mutex());
  ASSIGN_OR_RETURN(store::Collection * c, server.deps().db->GetCollection(r.PathParam(0)));
  return query::LexicalStatsToWire(c->LexicalQueryStats(text));
}

Result<json> Search(Server& server, RouteRequest& r) {
  ASSIGN_OR_RETURN(json body, r.JsonBody());
  RETURN_IF_ERROR(
      RefuseUnknownFields(body, {"k", "filter", "vector", "query", "lexical_stats", "payloads"}, ""));
  bool payloads = true;
  if (auto p = body.find("payloads"); p != body.end()) {
    if (!p->is_boolean()) return absl::InvalidArgumentError("\"payloads\" must be true or false");
    payloads = p->get<bool>();
  }
  ASSIGN_OR_RETURN(size_t k, ShardK(body));
  std::optional<store::PayloadFilter> filter;
  if (auto f = body.find("filter"); f != body.end() && !f->is_null()) {
    auto parsed = store::PayloadFilter::Parse(*f);
    if (!parsed.ok())
      return absl::InvalidArgumentError(StrCat("\"filter\": ", std::string(parsed.status().message())));
    filter = std::move(*parsed);
  }
  ASSIGN_OR_RETURN(const resilience::Deadline deadline, server.QueryDeadline(r, std::nullopt));
  ASSIGN_OR_RETURN(auto slot, server.AdmitQuery(deadline));
  std::optional<store::LexicalTermStats> stats;
  if (auto s = body.find("lexical_stats"); s != body.end()) {
    ASSIGN_OR_RETURN(stats, query::LexicalStatsFromWire(*s));
  }
  if (!body.contains("vector") && !body.contains("query")) {
    return absl::InvalidArgumentError("give a \"vector\", a \"query\" or both");
  }
  std::shared_lock lock(server.catalog_mutex());
  ASSIGN_OR_RETURN(store::Collection * c, server.deps().db->GetCollection(r.PathParam(0)));
  const store::PayloadFilter* f = filter ? &*filter : nullptr;
  json out = {{"metric", store::MetricName(c->config().metric)},
              {"text_field", c->config().lexical.text_field}};
  auto wire = [payloads](const std::vector<store::SearchHit>& hits) {
    json list = json::array();
    for (const auto& h : hits) {
      list.push_back(query::HitToWire(h));
      if (!payloads) list.back().erase("payload");
    }
    return list;
  };
  auto& timing = server.vectorstore_query_time();
  if (auto v = body.find("vector"); v != body.end()) {
    ASSIGN_OR_RETURN(std::vector<float> vec, store::VectorFromJson(*v, c->config().dim, "\"vector\""));
    const auto start = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(auto hits, c->Search(vec, k, f));
    timing.WithLabels({"dense"}).Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    out["dense"] = wire(hits);
  }
  if (body.contains("query")) {
    ASSIGN_OR_RETURN(std::string text, QueryText(body));
    const auto start = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(auto hits, c->LexicalSearch(text, k, f, nullptr, stats ? &*stats : nullptr));
    timing.WithLabels({"lexical"})
        .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    out["lexical"] = wire(hits);
  }
  return out;
}

Result<json> Fetch(Server& server, RouteRequest& r) {
  ASSIGN_OR_RETURN(json body, r.JsonBody());
  RETURN_IF_ERROR(RefuseUnknownFields(body, {"ids"}, ""));
  auto ids = body.find("ids");
  if (ids == body.end() || !ids->is_array() || ids->size() > 10000) {
    return absl::InvalidArgumentError("\"ids\" must be an array of at most 10000 strings");
  }
  std::shared_lock lock(server.catalog_mutex());
  ASSIGN_OR_RETURN(store::Collection * c, server.deps().db->GetCollection(r.PathParam(0)));
  json records = json::array();
  for (const auto& id : *ids) {
    if (!id.is_string()) return absl::InvalidArgumentError("\"ids\" must be an array of strings");
    auto rec = c->Get(id.get<std::string>());
    if (rec) records.push_back({{"id", rec->id}, {"version", rec->version}, {"payload", rec->payload}});
  }
  return json{{"records", records}};
}

}  // namespace

void RegisterShardRoutes(Server& server) {
  server.AddRoute({"POST", "/v1/collections/{name}/shard/lexical-stats", Access::kRead, 0,
                   [&server](RouteRequest& r) { return LexicalStats(server, r); }});
  server.AddRoute({"POST", "/v1/collections/{name}/shard/search", Access::kRead, 0,
                   [&server](RouteRequest& r) { return Search(server, r); }});
  server.AddRoute({"POST", "/v1/collections/{name}/shard/fetch", Access::kRead, 0,
                   [&server](RouteRequest& r) { return Fetch(server, r); }});
}

}  // namespace ragline::server
