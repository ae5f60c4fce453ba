#include "server/pinecone_routes.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <regex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/json_fields.h"
#include "core/strings.h"
#include "store/filter.h"
#include "store/record_json.h"

namespace ragline::server {
namespace {

using nlohmann::json;
using store::Collection;

constexpr char kNamespaceSeparator[] = "__";
constexpr uint64_t kMaxTopK = 10000;
constexpr size_t kMaxUpsert = 1000;  // Pinecone's own batch limit
constexpr size_t kDefaultListLimit = 100;

std::string_view PineconeMetric(store::DistanceMetric m) {
  switch (m) {
    case store::DistanceMetric::kDot: return "dotproduct";
    case store::DistanceMetric::kL2: return "euclidean";
    default: return "cosine";
  }
}

uint64_t NowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

Result<std::string> NamespaceOf(const json& body) {
  auto ns = body.find("namespace");
  if (ns == body.end() || ns->is_null()) return std::string();
  if (!ns->is_string()) return absl::InvalidArgumentError("\"namespace\" must be a string");
  return ns->get<std::string>();
}

Result<std::optional<store::PayloadFilter>> FilterOf(const json& body) {
  auto f = body.find("filter");
  if (f == body.end() || f->is_null()) return std::optional<store::PayloadFilter>();
  auto filter = store::PayloadFilter::Parse(*f);
  if (!filter.ok()) {
    return absl::InvalidArgumentError(StrCat("\"filter\": ", std::string(filter.status().message())));
  }
  return std::optional<store::PayloadFilter>(std::move(*filter));
}

Result<json> MetadataOf(const json& v, const std::string& where) {
  if (v.is_null()) return json::object();
  if (!v.is_object()) return absl::InvalidArgumentError(StrCat("\"", where, "\" must be an object"));
  return v;
}

Status RefuseSparse(const json& body, const char* field) {
  if (auto s = body.find(field); s != body.end() && !s->is_null()) {
    return absl::InvalidArgumentError(StrCat("\"", field,
                                             "\": sparse vectors are not supported (ragline has no sparse index; "
                                             "its hybrid query searches text: docs/compat.md)"));
  }
  return absl::OkStatus();
}

class PineconeRoutes {
 public:
  explicit PineconeRoutes(Server& server) : server_(server), db_(*server.deps().db) {}

  void Register() {
    Add("POST", "/vectors/upsert", Access::kWrite, [this](RouteRequest& r) { return Upsert(r); });
    Add("POST", "/query", Access::kRead, [this](RouteRequest& r) { return Query(r); });
    Add("GET", "/vectors/fetch", Access::kRead, [this](RouteRequest& r) { return Fetch(r); });
    Add("POST", "/vectors/update", Access::kWrite, [this](RouteRequest& r) { return Update(r); });
    Add("POST", "/vectors/delete", Access::kWrite, [this](RouteRequest& r) { return Delete(r); });
    Add("POST", "/describe_index_stats", Access::kRead, [this](RouteRequest& r) { return Stats(r, true); });
    Add("GET", "/describe_index_stats", Access::kRead, [this](RouteRequest& r) { return Stats(r, false); });
    Add("GET", "/vectors/list", Access::kRead, [this](RouteRequest& r) { return List(r); });
  }

 private:
  void Add(std::string method, const std::string& path, Access access, RouteHandler handler) {
    server_.AddRoute({std::move(method), StrCat("/pinecone/{index}", path), access, 0, std::move(handler)});
  }

  // The collection behind `index`'s namespace `ns` ("" = the index itself).
  static Result<std::string> CollectionName(const std::string& index, const std::string& ns) {
    if (index.find(kNamespaceSeparator) != std::string::npos) {
      return absl::InvalidArgumentError(
          StrCat("index '", index, "': an index name with \"__\" cannot have namespaces; rename the collection"));
    }
    if (ns.empty()) return index;
    static const std::regex kName("[A-Za-z0-9_-]+");
    const std::string name = StrCat(index, kNamespaceSeparator, ns);
    if (!std::regex_match(ns, kName) || name.size() > 64) {
      return absl::InvalidArgumentError(
          StrCat("namespace '", ns, "': ragline keeps a namespace as the collection '{index}__{namespace}', so a "
                 "namespace is letters, digits, '_' and '-', and the name at most 64 characters"));
    }
    return name;
  }

  // The index's collection (404 naming it when there is none).
  Result<Collection*> Index(const std::string& index) {
    auto c = db_.GetCollection(index);
    if (absl::IsNotFound(c.status())) {
      return absl::NotFoundError(StrCat("index '", index, "' not found: create it as a ragline collection "
                                        "(POST /v1/collections {\"name\": \"", index, "\", \"dim\": N})"));
    }
    return c;
  }

  // The namespace's collection; null when it does not exist yet (an empty namespace).
  Result<Collection*> Namespace(const std::string& index, const std::string& ns) {
    ASSIGN_OR_RETURN(Collection * idx, Index(index));
    if (ns.empty()) return idx;
    ASSIGN_OR_RETURN(std::string name, CollectionName(index, ns));
    auto c = db_.GetCollection(name);
    if (absl::IsNotFound(c.status())) return static_cast<Collection*>(nullptr);
    return c;
  }

  // The namespace's collection, made from the index's configuration if needed.
  Result<Collection*> NamespaceForWrite(const std::string& index, const std::string& ns) {
    ASSIGN_OR_RETURN(Collection * c, Namespace(index, ns));
    if (c != nullptr) return c;
    ASSIGN_OR_RETURN(Collection * idx, Index(index));
    store::CollectionConfig config = idx->config();
    ASSIGN_OR_RETURN(config.name, CollectionName(index, ns));
    std::lock_guard<std::mutex> lock(create_mu_);
    auto made = db_.GetCollection(config.name);
    if (made.ok()) return made;
    return db_.CreateCollection(config);
  }

  // A version past `stored` (0: none), so a write replaces what is stored.
  static uint64_t NextVersion(uint64_t stored) { return std::max(NowMs(), stored + 1); }

  Result<json> Upsert(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    RETURN_IF_ERROR(RefuseUnknownFields(body, {"vectors", "namespace"}, ""));
    ASSIGN_OR_RETURN(std::string ns, NamespaceOf(body));
    auto vectors = body.find("vectors");
    if (vectors == body.end() || !vectors->is_array() || vectors->empty() || vectors->size() > kMaxUpsert) {
      return absl::InvalidArgumentError(
          StrCat("\"vectors\" must be an array of 1 to ", kMaxUpsert, " {\"id\", \"values\", \"metadata\"?}"));
    }
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * c, NamespaceForWrite(r.PathParam(0), ns));
    std::vector<store::Record> records;
    for (size_t i = 0; i < vectors->size(); ++i) {
      const json& v = (*vectors)[i];
      const std::string at = StrCat("vectors[", i, "]");
      RETURN_IF_ERROR(RefuseUnknownFields(v, {"id", "values", "metadata", "sparseValues"}, at));
      RETURN_IF_ERROR(RefuseSparse(v, "sparseValues"));
      if (!v.contains("id") || !v["id"].is_string()) return absl::InvalidArgumentError(StrCat(at, ": \"id\" (a string) is required"));
      if (!v.contains("values")) return absl::InvalidArgumentError(StrCat(at, ": \"values\" is required"));
      ASSIGN_OR_RETURN(json metadata, MetadataOf(v.value("metadata", json()), StrCat(at, ".metadata")));
      ASSIGN_OR_RETURN(store::Record rec,
                       store::RecordFromJson({{"id", v["id"]}, {"vector", v["values"]}, {"payload", metadata}},
                                             c->config().dim, at));
      auto stored = c->Get(rec.id);
      rec.version = NextVersion(stored ? stored->version : 0);
      records.push_back(std::move(rec));
    }
    ASSIGN_OR_RETURN(store::UpsertSummary s, c->Upsert(std::move(records)));
    return json{{"upsertedCount", s.inserted + s.replaced}};
  }

  Result<json> Query(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    RETURN_IF_ERROR(RefuseUnknownFields(body, {"topK", "vector", "id", "filter", "includeValues", "includeMetadata",
                                               "namespace", "sparseVector", "scanFactor", "maxCandidates"},
                                        ""));
    RETURN_IF_ERROR(RefuseSparse(body, "sparseVector"));
    ASSIGN_OR_RETURN(std::string ns, NamespaceOf(body));
    const auto top_k = JsonUnsigned(body.value("topK", json()));
    if (!top_k || *top_k == 0 || *top_k > kMaxTopK) {
      return absl::InvalidArgumentError(StrCat("\"topK\" must be an integer in [1, ", kMaxTopK, "]"));
    }
    if (body.contains("vector") == body.contains("id")) {
      return absl::InvalidArgumentError("give exactly one of \"vector\" and \"id\"");
    }
    ASSIGN_OR_RETURN(const bool values, OptionalFlag(body, "includeValues"));
    ASSIGN_OR_RETURN(const bool metadata, OptionalFlag(body, "includeMetadata"));
    ASSIGN_OR_RETURN(auto filter, FilterOf(body));
    ASSIGN_OR_RETURN(const resilience::Deadline deadline, server_.QueryDeadline(r, std::nullopt));
    ASSIGN_OR_RETURN(auto slot, server_.AdmitQuery(deadline));
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * c, Namespace(r.PathParam(0), ns));
    json matches = json::array();
    if (c != nullptr) {
      std::vector<float> query;
      if (body.contains("vector")) {
        ASSIGN_OR_RETURN(query, store::VectorFromJson(body["vector"], c->config().dim, "vector"));
      } else {
        if (!body["id"].is_string()) return absl::InvalidArgumentError("\"id\" must be a string");
        auto stored = c->Get(body["id"].get<std::string>());
        if (!stored) return absl::NotFoundError(StrCat("\"id\": no vector '", body["id"].get<std::string>(), "' in this namespace"));
        query = std::move(stored->vector);
      }
      const auto start = std::chrono::steady_clock::now();
      ASSIGN_OR_RETURN(auto hits, c->Search(query, static_cast<size_t>(*top_k), filter ? &*filter : nullptr, {}));
      server_.vectorstore_query_time().WithLabels({"dense"}).Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      for (auto& h : hits) {
        json m = {{"id", h.id}, {"score", h.score}};
        if (values) {
          auto stored = c->Get(h.id);
          m["values"] = stored ? json(stored->vector) : json::array();
        }
        if (metadata) m["metadata"] = std::move(h.payload);
        matches.push_back(std::move(m));
      }
    }
    return json{{"matches", std::move(matches)}, {"namespace", ns}, {"usage", {{"readUnits", 1}}}};
  }

  Result<json> Fetch(RouteRequest& r) {
    std::vector<std::string> ids;
    for (const auto& [key, value] : r.http.params) {
      if (key == "ids") ids.push_back(value);
    }
    if (ids.empty() || ids.size() > kMaxUpsert) {
      return absl::InvalidArgumentError(StrCat("give 1 to ", kMaxUpsert, " ?ids= parameters"));
    }
    const std::string ns = r.http.Param("namespace");
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * c, Namespace(r.PathParam(0), ns));
    json vectors = json::object();
    for (const std::string& id : ids) {
      if (c == nullptr) break;
      if (auto rec = c->Get(id)) {
        vectors[id] = {{"id", id}, {"values", rec->vector}, {"metadata", std::move(rec->payload)}};
      }
    }
    return json{{"vectors", std::move(vectors)}, {"namespace", ns}, {"usage", {{"readUnits", 1}}}};
  }

  Result<json> Update(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    RETURN_IF_ERROR(RefuseUnknownFields(
        body, {"id", "values", "sparseValues", "setMetadata", "namespace", "filter", "dryRun"}, ""));
    RETURN_IF_ERROR(RefuseSparse(body, "sparseValues"));
    ASSIGN_OR_RETURN(std::string ns, NamespaceOf(body));
    ASSIGN_OR_RETURN(json set, MetadataOf(body.value("setMetadata", json()), "setMetadata"));
    ASSIGN_OR_RETURN(auto filter, FilterOf(body));
    if (body.contains("id") == filter.has_value()) {
      return absl::InvalidArgumentError("give exactly one of \"id\" and \"filter\"");
    }
    if (filter && body.contains("values")) {
      return absl::InvalidArgumentError("\"values\" updates one vector: give \"id\", not \"filter\"");
    }
    if (filter && filter->MatchesAll()) return absl::InvalidArgumentError("\"filter\" must not be empty");
    ASSIGN_OR_RETURN(const bool dry_run, OptionalFlag(body, "dryRun"));
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * c, Namespace(r.PathParam(0), ns));
    if (c == nullptr) return json{{"matchedRecords", 0}};
    std::vector<store::StoredRecord> targets;
    if (filter) {
      targets = c->ListRecords(&*filter);
    } else {
      if (!body["id"].is_string()) return absl::InvalidArgumentError("\"id\" must be a string");
      auto rec = c->Get(body["id"].get<std::string>());
      if (!rec) {
        return absl::NotFoundError(StrCat("no vector '", body["id"].get<std::string>(), "' in this namespace"));
      }
      targets.push_back(std::move(*rec));
    }
    if (dry_run || targets.empty()) return json{{"matchedRecords", targets.size()}};
    std::vector<store::Record> records;
    for (auto& t : targets) {
      if (t.vector.empty()) {  // listed without its vector: read it, and its current version
        auto stored = c->Get(t.id);
        if (!stored) continue;  // deleted meanwhile
        t.vector = std::move(stored->vector);
        t.version = stored->version;
      }
      if (body.contains("values")) {
        ASSIGN_OR_RETURN(t.vector, store::VectorFromJson(body["values"], c->config().dim, "values"));
      }
      json payload = t.payload.is_object() ? std::move(t.payload) : json::object();
      payload.update(set);
      records.push_back({t.id, NextVersion(t.version), std::move(t.vector), payload.dump()});
    }
    ASSIGN_OR_RETURN(store::UpsertSummary s, c->Upsert(std::move(records)));
    return json{{"matchedRecords", s.inserted + s.replaced}};
  }

  Result<json> Delete(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    RETURN_IF_ERROR(RefuseUnknownFields(body, {"ids", "deleteAll", "namespace", "filter"}, ""));
    ASSIGN_OR_RETURN(std::string ns, NamespaceOf(body));
    ASSIGN_OR_RETURN(auto filter, FilterOf(body));
    ASSIGN_OR_RETURN(const bool all, OptionalFlag(body, "deleteAll"));
    if (int{body.contains("ids")} + int{filter.has_value()} + int{all} != 1) {
      return absl::InvalidArgumentError("give exactly one of \"ids\", \"filter\" and \"deleteAll\": true");
    }
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * c, Namespace(r.PathParam(0), ns));
    if (c == nullptr) return json::object();  // an empty namespace
    if (all) {
      RETURN_IF_ERROR(c->DeleteAll().status());
    } else if (filter) {
      if (filter->MatchesAll()) return absl::InvalidArgumentError("\"filter\" must not be empty; use \"deleteAll\"");
      RETURN_IF_ERROR(c->DeleteByFilter(*filter).status());
    } else {
      const json& ids = body["ids"];
      if (!ids.is_array() || ids.size() > kMaxUpsert) {
        return absl::InvalidArgumentError(StrCat("\"ids\" must be an array of at most ", kMaxUpsert, " strings"));
      }
      std::vector<std::string> list;
      for (const json& id : ids) {
        if (!id.is_string()) return absl::InvalidArgumentError("\"ids\" must be an array of strings");
        list.push_back(id.get<std::string>());
      }
      RETURN_IF_ERROR(c->Delete(list).status());
    }
    return json::object();
  }

  Result<json> Stats(RouteRequest& r, bool post) {
    if (post) {
      ASSIGN_OR_RETURN(json body, r.JsonBody());
      RETURN_IF_ERROR(RefuseUnknownFields(body, {"filter"}, ""));
      if (body.contains("filter") && !body["filter"].is_null()) {
        return absl::InvalidArgumentError("\"filter\" in describe_index_stats is not supported (as on Pinecone's "
                                          "serverless indexes); count with a query or list instead");
      }
    }
    const std::string index = r.PathParam(0);
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * idx, Index(index));
    json namespaces = json::object();
    size_t total = 0;
    auto count = [&](const std::string& ns, const Collection& c) {
      const size_t n = c.Stats().vector_count;
      if (n > 0) namespaces[ns] = {{"vectorCount", n}};
      total += n;
    };
    count("", *idx);
    if (index.find(kNamespaceSeparator) == std::string::npos) {
      ASSIGN_OR_RETURN(std::vector<std::string> names, db_.ListCollections());
      const std::string prefix = StrCat(index, kNamespaceSeparator);
      for (const std::string& name : names) {
        if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
        ASSIGN_OR_RETURN(Collection * c, db_.GetCollection(name));
        count(name.substr(prefix.size()), *c);
      }
    }
    return json{{"namespaces", std::move(namespaces)},
                {"dimension", idx->config().dim},
                {"indexFullness", 0.0},
                {"totalVectorCount", total},
                {"metric", PineconeMetric(idx->config().metric)},
                {"vectorType", "dense"}};
  }

  Result<json> List(RouteRequest& r) {
    const std::string ns = r.http.Param("namespace");
    const std::string prefix = r.http.Param("prefix");
    const std::string after = r.http.Param("paginationToken");
    size_t limit = kDefaultListLimit;
    if (const std::string l = r.http.Param("limit"); !l.empty()) {
      static const std::regex kDigits("[0-9]{1,4}");
      if (!std::regex_match(l, kDigits) || std::stoul(l) == 0 || std::stoul(l) > 1000) {
        return absl::InvalidArgumentError("\"limit\" must be an integer in [1, 1000]");
      }
      limit = std::stoul(l);
    }
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * c, Namespace(r.PathParam(0), ns));
    std::vector<std::string> ids;
    if (c != nullptr) {
      for (const auto& rec : c->ListRecords(nullptr)) {
        if (rec.id.compare(0, prefix.size(), prefix) == 0 && rec.id > after) ids.push_back(rec.id);
      }
    }
    std::sort(ids.begin(), ids.end());
    json out = {{"vectors", json::array()}, {"namespace", ns}, {"usage", {{"readUnits", 1}}}};
    for (size_t i = 0; i < ids.size() && i < limit; ++i) out["vectors"].push_back({{"id", ids[i]}});
    if (ids.size() > limit) out["pagination"] = {{"next", ids[limit - 1]}};
    return out;
  }

  Server& server_;
  store::Database& db_;
  std::mutex create_mu_;  // one namespace collection made at a time
};

}  // namespace

void RegisterPineconeRoutes(Server& server) {
  auto routes = std::make_shared<PineconeRoutes>(server);
  routes->Register();
  server.KeepAlive(routes);
}

}  // namespace ragline::server
