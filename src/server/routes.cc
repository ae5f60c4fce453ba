#include "server/routes.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "core/json_fields.h"
#include "core/strings.h"
#include "obs/metrics.h"
#include "pipeline/reindex.h"
#include "query/query.h"
#include "server/chat_routes.h"
#include "server/fallback.h"
#include "server/http_error.h"
#include "server/pinecone_routes.h"
#include "server/web_routes.h"
#include "store/record_json.h"

namespace ragline::server {
namespace {

using nlohmann::json;
using store::Collection;

Result<size_t> ParseK(const json& body, size_t default_k) {
  auto k = body.find("k");
  if (k == body.end() || k->is_null()) return default_k;
  const auto value = JsonUnsigned(*k);
  if (!value || *value == 0 || *value > 10000)
    return absl::InvalidArgumentError("\"k\" must be an integer in [1, 10000]");
  return static_cast<size_t>(*value);
}

Result<std::optional<store::PayloadFilter>> ParseFilter(const json& body) {
  auto f = body.find("filter");
  if (f == body.end() || f->is_null()) return std::optional<store::PayloadFilter>();
  auto filter = store::PayloadFilter::Parse(*f);
  if (!filter.ok())
    return absl::InvalidArgumentError(StrCat("\"filter\": ", std::string(filter.status().message())));
  return std::optional<store::PayloadFilter>(std::move(*filter));
}

Result<store::CollectionConfig> ParseCollectionConfig(const json& body, const embed::Embedder* embedder) {
  RETURN_IF_ERROR(RefuseUnknownFields(
      body,
      {"name", "dim", "dimension", "metric", "index", "index_params", "seal_threshold", "fsync", "lexical"},
      ""));
  store::CollectionConfig config;
  auto name = body.find("name");
  if (name == body.end() || !name->is_string())
    return absl::InvalidArgumentError("\"name\" (a string) is required");
  config.name = name->get<std::string>();
  config.dim = embedder != nullptr ? static_cast<uint32_t>(embedder->dim()) : 384;
  for (const auto& [key, v] : body.items()) {
    if (key == "name") continue;
    if (key == "dim" || key == "dimension") {
      const auto dim = JsonUnsigned(v);
      if (!dim || *dim == 0 || *dim > 65536) {
        return absl::InvalidArgumentError(StrCat("\"", key, "\" must be an integer in [1, 65536]"));
      }
      config.dim = static_cast<uint32_t>(*dim);
    } else if (key == "metric") {
      if (!v.is_string())
        return absl::InvalidArgumentError("\"metric\" must be \"cosine\", \"dot\" or \"l2\"");
      ASSIGN_OR_RETURN(config.metric, store::ParseMetric(v.get<std::string>()));
    } else if (key == "index") {
      RETURN_IF_ERROR(store::ApplyIndexJson(v, &config));
    } else if (key == "index_params") {
      if (!v.is_object()) return absl::InvalidArgumentError("\"index_params\" must be an object");
      RETURN_IF_ERROR(store::ApplyIndexParamsJson(v, &config.index_params));
    } else if (key == "seal_threshold") {
      const auto threshold = JsonUnsigned(v);
      if (!threshold || *threshold == 0 || *threshold > (1u << 24)) {
        return absl::InvalidArgumentError("\"seal_threshold\" must be an integer in [1, 16777216]");
      }
      config.seal_threshold = static_cast<uint32_t>(*threshold);
    } else if (key == "fsync") {
      if (!v.is_string() || (v != "batch" && v != "none")) {
        return absl::InvalidArgumentError("\"fsync\" must be \"batch\" or \"none\"");
      }
      config.fsync = v == "none" ? store::FsyncPolicy::kNone : store::FsyncPolicy::kBatch;
    } else if (key == "lexical") {
      auto lexical = store::LexicalConfig::FromJson(v);
      if (!lexical.ok())
        return absl::InvalidArgumentError(StrCat("\"lexical\": ", std::string(lexical.status().message())));
      config.lexical = std::move(*lexical);
    }
  }
  RETURN_IF_ERROR(config.Validate());
  return config;
}

class Routes {
 public:
  Routes(Server& server, bool vector_writes)
      : server_(server),
        db_(*server.deps().db),
        vector_writes_(vector_writes),
        fallback_(std::make_unique<Fallback>(server)) {}

  void Register() {
    RegisterHealthAndMetricsRoutes(server_);
    RegisterWebRoutes(server_);
    fallback_->RegisterRoutes();
    Add("GET", "/readyz", Access::kOpen, -1, [this](RouteRequest& r) { return Ready(r); });
    Add("POST", "/v1/collections", Access::kWrite, -1,
        [this](RouteRequest& r) { return CreateCollection(r); });
    Add("GET", "/v1/collections", Access::kRead, -1, [this](RouteRequest&) -> Result<json> {
      ASSIGN_OR_RETURN(auto names, db_.ListCollections());
      ASSIGN_OR_RETURN(auto aliases, db_.ListAliases());
      return json{{"collections", names}, {"aliases", aliases}};
    });
    Add("GET", "/v1/collections/{name}", Access::kRead, 0,
        [this](RouteRequest& r) { return DescribeCollection(r); });
    Add("DELETE", "/v1/collections/{name}", Access::kWrite, 0, [this](RouteRequest& r) -> Result<json> {
      const std::string name = r.PathParam(0);
      Observed observed(server_.deps().catalog_observer, name);
      std::unique_lock lock(server_.catalog_mutex());
      RETURN_IF_ERROR(db_.DropCollection(name));
      return json{{"dropped", name}};
    });
    Add("GET", "/v1/collections/{name}/stats", Access::kRead, 0, [this](RouteRequest& r) -> Result<json> {
      std::shared_lock lock(server_.catalog_mutex());
      ASSIGN_OR_RETURN(Collection * c, db_.GetCollection(r.PathParam(0)));
      return store::StatsJson(*c);
    });
    Add("PUT", "/v1/aliases/{alias}", Access::kWrite, -1, [this](RouteRequest& r) { return PutAlias(r); });
    Add("DELETE", "/v1/aliases/{alias}", Access::kWrite, -1, [this](RouteRequest& r) -> Result<json> {
      Observed observed(server_.deps().catalog_observer, r.PathParam(0));
      RETURN_IF_ERROR(db_.DeleteAlias(r.PathParam(0)));
      return json{{"deleted_alias", r.PathParam(0)}};
    });
    Add("GET", "/v1/aliases", Access::kRead, -1, [this](RouteRequest&) -> Result<json> {
      ASSIGN_OR_RETURN(auto aliases, db_.ListAliases());
      return json{{"aliases", aliases}};
    });
    Add("GET", "/v1/aliases/{alias}", Access::kRead, -1,
        [this](RouteRequest& r) { return db_.DescribeAlias(r.PathParam(0)); });
    Add("POST", "/v1/aliases/{alias}/rollback", Access::kWrite, -1, [this](RouteRequest& r) -> Result<json> {
      const std::string alias = r.PathParam(0);
      Observed observed(server_.deps().catalog_observer, alias);
      ASSIGN_OR_RETURN(json before, db_.DescribeAlias(alias));
      ASSIGN_OR_RETURN(std::string restored, db_.RollbackAlias(alias));
      return json{{"alias", alias}, {"collection", restored}, {"rolled_back_from", before["collection"]}};
    });
    if (vector_writes_) {
      Add("POST", "/v1/collections/{name}/vectors", Access::kWrite, 0,
          [this](RouteRequest& r) { return Upsert(r); });
      Add("POST", "/v1/collections/{name}/vectors/delete", Access::kWrite, 0,
          [this](RouteRequest& r) { return DeleteVectors(r); });
      Add("POST", "/v1/collections/{name}/reindex", Access::kWrite, 0,
          [this](RouteRequest& r) { return Reindex(r); });
      RegisterPineconeRoutes(server_);
    }
    Add("POST", "/v1/collections/{name}/vectors/search", Access::kRead, 0,
        [this](RouteRequest& r) { return SearchVectors(r); });
    Add("GET", "/v1/collections/{name}/vectors/{id...}", Access::kRead, 0,
        [this](RouteRequest& r) -> Result<json> {
          std::shared_lock lock(server_.catalog_mutex());
          ASSIGN_OR_RETURN(Collection * c, db_.GetCollection(r.PathParam(0)));
          auto rec = c->Get(r.PathParam(1));
          if (!rec) {
            return absl::NotFoundError(
                StrCat("vector '", r.PathParam(1), "' not found in collection '", r.PathParam(0), "'"));
          }
          return json{
              {"id", rec->id}, {"version", rec->version}, {"vector", rec->vector}, {"payload", rec->payload}};
        });
    Add("POST", "/v1/collections/{name}/query", Access::kRead, 0,
        [this](RouteRequest& r) { return Query(r); });
    RegisterChatRoutes(
        server_,
        {[this](RouteRequest&, const std::string& name, const query::QueryRequest& request, const json&,
                const query::QueryInstruments& ins, json* extra) { return Retrieve(name, request, ins, extra); },
         [this]() -> Result<std::vector<std::string>> {
           ASSIGN_OR_RETURN(std::vector<std::string> names, db_.ListCollections());
           ASSIGN_OR_RETURN(auto aliases, db_.ListAliases());
           for (const auto& [alias, target] : aliases) names.push_back(alias);
           std::sort(names.begin(), names.end());
           return names;
         }});
  }

 private:
  // Hold(name) now, Release(name) when it goes out of scope (a CatalogObserver's bracket).
  class Observed {
   public:
    Observed(CatalogObserver* o, std::string name) : o_(o), name_(std::move(name)) {
      if (o_ != nullptr) o_->Hold(name_);
    }
    ~Observed() {
      if (o_ != nullptr) o_->Release(name_);
    }
    Observed(const Observed&) = delete;
    Observed& operator=(const Observed&) = delete;

   private:
    CatalogObserver* o_;
    std::string name_;
  };

  void Add(std::string method, std::string path, Access access, int collection_param, RouteHandler handler) {
    server_.AddRoute({std::move(method), std::move(path), access, collection_param, std::move(handler)});
  }

  Result<json> Ready(RouteRequest& r) {
    const embed::Embedder* e = server_.deps().embedder;
    auto names = db_.ListCollections();
    const bool ready = e != nullptr && names.ok();
    // Collections that serve degraded (quarantined segments) or not at all
    // (their open failed): by name, never by path.
    json collections = json::object();
    for (const std::string& name : db_.OpenCollectionNames()) {
      auto c = db_.GetCollection(name);
      if (!c.ok() || !(*c)->degraded()) continue;
      collections[name] = {{"status", "degraded"},
                           {"quarantined_segments", store::QuarantineJson((*c)->quarantined())}};
    }
    for (const auto& [name, status] : db_.FailedOpens()) {
      collections[name] = {{"status", "unavailable"},
                           {"error",
                            {{"code", ErrorCodeName(status)},
                             {"message", server_.ClientMessage(std::string(status.message()))}}}};
    }
    json out = {{"ready", ready},
                {"model", e != nullptr ? json(e->model_id()) : json(nullptr)},
                {"data_dir_open", names.ok()},
                {"degraded", !collections.empty()},
                {"collections", collections},
                {"llm", server_.deps().chat != nullptr ? json(server_.deps().chat->url()) : json(nullptr)},
                {"breakers", server_.BreakersJson()}};
    if (!ready) {
      const std::string why = e == nullptr ? std::string("no embedding model loaded")
                                           : server_.ClientMessage(std::string(names.status().message()));
      out["error"] = {{"code", "unavailable"}, {"message", why}};
      r.response.log.error_code = "unavailable";  // the request log says why, too
      r.response.log.error_message = why;
      r.response.status = 503;
      r.response.SetContent(DumpJson(out), "application/json");
      r.MarkResponded();
    }
    return out;
  }

  Result<json> CreateCollection(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    ASSIGN_OR_RETURN(store::CollectionConfig config, ParseCollectionConfig(body, server_.deps().embedder));
    ASSIGN_OR_RETURN(Collection * c, CreateObserved(config));
    r.SetSuccessStatus(201);
    return c->config().ToJson();
  }

  // Creates a collection, telling the catalog observer (undone when it refuses).
  Result<Collection*> CreateObserved(const store::CollectionConfig& config) {
    CatalogObserver* observer = server_.deps().catalog_observer;
    Observed observed(observer, config.name);
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * c, db_.CreateCollection(config));
    if (observer != nullptr) {
      if (Status st = observer->Created(*c); !st.ok()) {
        lock.unlock();
        std::unique_lock drop(server_.catalog_mutex());
        (void)db_.DropCollection(config.name);
        return st;
      }
    }
    return c;
  }

  // POST .../reindex {"target", "index"?, "reembed"?, "rate"?, "alias"?}:
  // copies the collection into `target` (created from the source's config
  // with the index given, or resumed when it exists), streaming NDJSON
  // progress lines; then, with writes paused, a last pass, a verification
  // and (with "alias") the flip. docs/reliability.md "Re-index with rollback".
  Result<json> Reindex(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    RETURN_IF_ERROR(RefuseUnknownFields(body, {"target", "index", "reembed", "rate", "alias"}, ""));
    auto target_name = body.find("target");
    if (target_name == body.end() || !target_name->is_string()) {
      return absl::InvalidArgumentError("\"target\" (the new collection's name) is required");
    }
    const bool reembed = body.value("reembed", json(false)) == json(true);
    if (body.contains("reembed") && !body["reembed"].is_boolean())
      return absl::InvalidArgumentError("\"reembed\" must be true or false");
    double rate = 0;
    if (auto v = body.find("rate"); v != body.end() && !v->is_null()) {
      if (!v->is_number() || v->get<double>() < 0) {
        return absl::InvalidArgumentError(
            "\"rate\" must be a non-negative number (records per second; 0 = unthrottled)");
      }
      rate = v->get<double>();
    }
    std::string alias;
    if (auto v = body.find("alias"); v != body.end() && !v->is_null()) {
      if (!v->is_string()) return absl::InvalidArgumentError("\"alias\" must be a string");
      alias = v->get<std::string>();
      RETURN_IF_ERROR(store::ValidateName("alias", alias));
    }
    embed::Embedder* embedder = reembed ? server_.deps().embedder : nullptr;
    if (reembed && embedder == nullptr) {
      return absl::FailedPreconditionError(
          "\"reembed\" needs the server's embedding model, and none is loaded");
    }
    std::string source_name;
    store::CollectionConfig target_config;
    {
      std::shared_lock lock(server_.catalog_mutex());
      ASSIGN_OR_RETURN(Collection * source, db_.GetCollection(r.PathParam(0)));
      source_name = source->config().name;
      ASSIGN_OR_RETURN(target_config,
                       pipeline::ReindexTargetConfig(
                           source->config(), target_name->get<std::string>(), body.value("index", json()),
                           embedder != nullptr ? static_cast<uint32_t>(embedder->dim()) : 0));
    }
    if (source_name == target_config.name) {
      return absl::InvalidArgumentError("\"target\" must name another collection than the source");
    }
    {
      std::shared_lock lock(server_.catalog_mutex());
      auto existing = db_.GetCollection(target_config.name);
      if (!existing.ok() && !absl::IsNotFound(existing.status())) return existing.status();
      if (!existing.ok()) {
        lock.unlock();
        RETURN_IF_ERROR(CreateObserved(target_config).status());
      }
    }
    // The copy runs in the stream's writer, after this handler returned; the
    // HTTP request outlives it (the transport writes the stream in its scope).
    const HttpRequest* http = &r.http;
    r.response.SetStream("application/x-ndjson", [this, http, source_name, target_config, embedder, rate,
                                                  alias](DataSink& sink) {
      auto line = [&sink](const json& j) { return sink.IsWritable() && sink.Write(DumpJson(j) + "\n"); };
      Result<json> done = RunReindex([http] { return http->IsCancelled(); }, source_name, target_config.name,
                                     embedder, rate, alias, line);
      if (!done.ok()) {
        line({{"error",
               {{"code",
                 ErrorCodeName(done.status()),
                 {"message", server_.ClientMessage(std::string(done.status().message()))}}}}});
      } else {
        line({{"done", *done}});
      }
      sink.Done();
    });
    r.MarkResponded();
    return json();
  }

  Result<json> RunReindex(const std::function<bool()>& cancelled, const std::string& source_name,
                          const std::string& target_name, embed::Embedder* embedder, double rate,
                          const std::string& alias, const std::function<bool(const json&)>& line) {
    pipeline::ReindexOptions options;
    options.embedder = embedder;
    options.rate = rate;
    options.cancelled = cancelled;
    auto last = std::chrono::steady_clock::now();
    options.on_progress = [&](const pipeline::ReindexProgress& p) {
      if (std::chrono::steady_clock::now() - last < std::chrono::milliseconds(500)) return;
      last = std::chrono::steady_clock::now();
      line({{"progress", {{"pass", p.pass}, {"total", p.total}, {"done", p.done}, {"copied", p.copied}}}});
    };
    json out = {{"source", source_name}, {"target", target_name}};
    {
      std::shared_lock lock(server_.catalog_mutex());
      ASSIGN_OR_RETURN(Collection * source, db_.GetCollection(source_name));
      ASSIGN_OR_RETURN(Collection * target, db_.GetCollection(target_name));
      ASSIGN_OR_RETURN(pipeline::ReindexReport copy, pipeline::CopyCollection(*source, *target, options));
      out["copy"] = copy.ToJson();
    }
    // Writes paused (every writer holds the catalog lock shared): the last
    // records, the check, the flip. Queries wait here, they do not fail.
    std::unique_lock pause(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * source, db_.GetCollection(source_name));
    ASSIGN_OR_RETURN(Collection * target, db_.GetCollection(target_name));
    options.on_progress = nullptr;
    ASSIGN_OR_RETURN(pipeline::ReindexReport last_pass, pipeline::CopyCollection(*source, *target, options));
    out["final_pass"] = last_pass.ToJson();
    out["verify"] = pipeline::VerifyCopy(*source, *target);
    if (out["verify"]["ok"] != true) {
      return absl::FailedPreconditionError(
          StrCat("the copy did not verify, so no alias was flipped: ", out["verify"].dump()));
    }
    out["alias"] = nullptr;
    if (!alias.empty()) {
      Observed observed(server_.deps().catalog_observer, alias);
      Status st = db_.CreateAlias(alias, target_name);
      if (absl::IsAlreadyExists(st)) st = db_.FlipAlias(alias, target_name);
      RETURN_IF_ERROR(st);
      out["alias"] = {{"alias", alias},
                      {"collection", target_name},
                      {"rollback", StrCat("POST /v1/aliases/", alias, "/rollback")}};
    }
    return out;
  }

  Result<json> DescribeCollection(RouteRequest& r) {
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * c, db_.GetCollection(r.PathParam(0)));
    json out = c->config().ToJson();
    const auto s = c->Stats();
    out["vector_count"] = s.vector_count;
    out["unindexed"] = s.unindexed;
    return out;
  }

  Result<json> PutAlias(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    RETURN_IF_ERROR(RefuseUnknownFields(body, {"collection"}, ""));
    auto target = body.find("collection");
    if (target == body.end() || !target->is_string()) {
      return absl::InvalidArgumentError("\"collection\" (a string) is required");
    }
    const std::string alias = r.PathParam(0);
    const std::string collection = target->get<std::string>();
    Observed observed(server_.deps().catalog_observer, alias);
    Status st = db_.CreateAlias(alias, collection);
    bool created = true;
    if (absl::IsAlreadyExists(st)) {
      created = false;
      st = db_.FlipAlias(alias, collection);
    }
    RETURN_IF_ERROR(st);
    return json{{"alias", alias}, {"collection", collection}, {"created", created}};
  }

  Result<json> Upsert(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    RETURN_IF_ERROR(RefuseUnknownFields(body, {"vectors"}, ""));
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * c, db_.GetCollection(r.PathParam(0)));
    auto vectors = body.find("vectors");
    if (vectors == body.end() || !vectors->is_array()) {
      return absl::InvalidArgumentError(
          "\"vectors\" (an array of {\"id\", \"version\", \"vector\", \"payload\"}) is required");
    }
    std::vector<store::Record> records;
    records.reserve(vectors->size());
    for (size_t i = 0; i < vectors->size(); ++i) {
      ASSIGN_OR_RETURN(store::Record rec,
                       store::RecordFromJson((*vectors)[i], c->config().dim, StrCat("vectors[", i, "]")));
      records.push_back(std::move(rec));
    }
    ASSIGN_OR_RETURN(store::UpsertSummary s, c->Upsert(std::move(records)));
    // "upserted" counts what was written: not the stale and unchanged records.
    return json{{"upserted", s.inserted + s.replaced},
                {"inserted", s.inserted},
                {"replaced", s.replaced},
                {"stale", s.stale},
                {"unchanged", s.unchanged}};
  }

  Result<json> DeleteVectors(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    RETURN_IF_ERROR(RefuseUnknownFields(body, {"ids", "filter", "all"}, ""));
    const bool has_ids = body.contains("ids"), has_filter = body.contains("filter"),
               has_all = body.contains("all");
    if (int{has_ids} + int{has_filter} + int{has_all} != 1) {
      return absl::InvalidArgumentError("give exactly one of \"ids\", \"filter\" and \"all\": true");
    }
    if (has_all && body["all"] != true) return absl::InvalidArgumentError("\"all\" must be true");
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * c, db_.GetCollection(r.PathParam(0)));
    store::DeleteSummary s;
    if (has_all) {
      ASSIGN_OR_RETURN(s, c->DeleteAll());
    } else if (has_ids) {
      const json& ids = body["ids"];
      if (!ids.is_array()) return absl::InvalidArgumentError("\"ids\" must be an array of strings");
      std::vector<std::string> list;
      for (const auto& id : ids) {
        if (!id.is_string()) return absl::InvalidArgumentError("\"ids\" must be an array of strings");
        list.push_back(id.get<std::string>());
      }
      ASSIGN_OR_RETURN(s, c->Delete(list));
    } else {
      ASSIGN_OR_RETURN(auto filter, ParseFilter(body));
      if (!filter) return absl::InvalidArgumentError("\"filter\" must be a filter object");
      if (filter->MatchesAll()) {
        return absl::InvalidArgumentError(
            "\"filter\" is empty and would delete every record; send {\"all\": true} for that");
      }
      ASSIGN_OR_RETURN(s, c->DeleteByFilter(*filter));
    }
    return json{{"deleted", s.deleted}, {"not_found", s.not_found}};
  }

  Result<json> SearchVectors(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    RETURN_IF_ERROR(RefuseUnknownFields(body, {"vector", "k", "filter", "ef_search"}, ""));
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * c, db_.GetCollection(r.PathParam(0)));
    auto vec = body.find("vector");
    if (vec == body.end()) return absl::InvalidArgumentError("\"vector\" is required");
    ASSIGN_OR_RETURN(std::vector<float> query, store::VectorFromJson(*vec, c->config().dim, ""));
    ASSIGN_OR_RETURN(size_t k, ParseK(body, 10));
    ASSIGN_OR_RETURN(auto filter, ParseFilter(body));
    index::SearchOptions options;
    if (auto ef = body.find("ef_search"); ef != body.end()) {
      const auto value = JsonUnsigned(*ef);
      if (!value || *value > 100000)
        return absl::InvalidArgumentError("\"ef_search\" must be an integer in [0, 100000]");
      options.ef_search = static_cast<uint32_t>(*value);
    }
    ASSIGN_OR_RETURN(const resilience::Deadline deadline, server_.QueryDeadline(r, std::nullopt));
    ASSIGN_OR_RETURN(auto slot, server_.AdmitQuery(deadline));
    const auto start = std::chrono::steady_clock::now();
    auto hits = c->Search(query, k, filter ? &*filter : nullptr, options);
    server_.vectorstore_query_time().WithLabels({"dense"}).Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!hits.ok()) return hits.status();
    json out = json::array();
    for (const auto& h : *hits) {
      out.push_back({{"id", h.id}, {"score", h.score}, {"version", h.version}, {"payload", h.payload}});
    }
    return json{{"hits", out}};
  }

  Result<json> Query(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    ASSIGN_OR_RETURN(query::QueryRequest request, query::QueryRequest::FromJson(body));
    ASSIGN_OR_RETURN(auto slot, AdmitQuery(server_, r, request));
    const query::QueryInstruments ins = QueryInstrumentsFor(server_, r);
    json extra = json::object();  // the fallback's degraded fields
    ASSIGN_OR_RETURN(auto hits, Retrieve(r.PathParam(0), request, ins, &extra));
    auto retrieved = std::make_shared<query::RetrievedHits>(std::move(hits));
    return RespondToQuery(r, std::move(retrieved), std::move(request), server_.deps().chat,
                          server_.options().answer, ins, std::move(extra), std::move(slot));
  }

  // A query's hits on collection or alias `name` (the fallback's when the
  // store cannot answer; `extra` then says so).
  Result<query::RetrievedHits> Retrieve(const std::string& name, const query::QueryRequest& request,
                                        const query::QueryInstruments& ins, json* extra) {
    std::shared_lock lock(server_.catalog_mutex());
    ASSIGN_OR_RETURN(Collection * c, db_.GetCollection(name));
    return fallback_->Retrieve(*c, request, ins, extra);
  }

  Server& server_;
  store::Database& db_;
  const bool vector_writes_;
  std::unique_ptr<Fallback> fallback_;
};

}  // namespace

query::QueryInstruments QueryInstrumentsFor(Server& server, const RouteRequest& r) {
  query::QueryInstruments ins;
  ins.embed_latency = &server.stage_latency("embed");
  ins.retrieve_latency = &server.stage_latency("retrieve");
  ins.generate_latency = &server.stage_latency("generate");
  ins.vectorstore_time = &server.vectorstore_query_time();
  ins.logger = server.deps().logger;
  ins.request_id = r.request_id;
  return ins;
}

void RegisterHealthAndMetricsRoutes(Server& server) {
  server.AddRoute({"GET", "/healthz", Access::kOpen, -1, [](RouteRequest&) -> Result<json> {
                     return json{{"status", "ok"}};
                   }});
  // Per-collection gauges, read from the store at each scrape (what index-health
  // alerts watch: deploy/prometheus/rules.yml). A collection no longer open (dropped)
  // reads 0 vectors from then on.
  obs::MetricsRegistry& m = *server.deps().metrics;
  auto* vectors = &m.Gauge("rag_collection_vectors", "Live vectors (records) per open collection.", {"collection"});
  auto* unindexed = &m.Gauge("rag_collection_unindexed_vectors",
                             "Live vectors not yet covered by an ANN index (searched exactly), per collection.",
                             {"collection"});
  auto* memory = &m.Gauge("rag_collection_memory_bytes", "Memory held by a collection's segments and indexes.",
                          {"collection"});
  auto reported = std::make_shared<std::pair<std::mutex, std::set<std::string>>>();
  auto refresh = [&server, vectors, unindexed, memory, reported] {
    store::Database* db = server.deps().db;
    if (db == nullptr) return;
    std::lock_guard<std::mutex> lock(reported->first);
    std::shared_lock catalog(server.catalog_mutex());  // no drop while we read
    std::set<std::string> open;
    for (const std::string& name : db->OpenCollectionNames()) {
      auto c = db->GetCollection(name);
      if (!c.ok()) continue;
      const store::CollectionStats st = (*c)->Stats();
      vectors->WithLabels({name}).Set(static_cast<double>(st.vector_count));
      unindexed->WithLabels({name}).Set(static_cast<double>(st.unindexed));
      memory->WithLabels({name}).Set(static_cast<double>(st.memory_bytes));
      open.insert(name);
    }
    for (const std::string& name : reported->second) {
      if (open.count(name) == 0) {
        vectors->WithLabels({name}).Set(0);
        unindexed->WithLabels({name}).Set(0);
        memory->WithLabels({name}).Set(0);
      }
    }
    reported->second.insert(open.begin(), open.end());
  };
  server.AddRoute({"GET", "/metrics", Access::kOpen, -1, [&server, refresh](RouteRequest& r) -> Result<json> {
                     refresh();
                     r.response.SetContent(server.deps().metrics->ExposeText(),
                                           std::string(obs::kPrometheusTextContentType));
                     r.MarkResponded();
                     return json();
                   }});
}

Result<resilience::AdmissionController::Ticket> AdmitQuery(Server& server, const RouteRequest& r,
                                                           query::QueryRequest& request) {
  ASSIGN_OR_RETURN(request.deadline, server.QueryDeadline(r, request.timeout));
  return server.AdmitQuery(request.deadline);
}

Result<json> RespondToQuery(RouteRequest& r, std::shared_ptr<const query::RetrievedHits> retrieved,
                            query::QueryRequest request, const generate::ChatClient* chat,
                            const generate::AnswerOptions& options, const query::QueryInstruments& ins,
                            json extra, resilience::AdmissionController::Ticket slot) {
  if (!request.stream) {
    json out;
    if (request.generate) {
      generate::Answer answer = query::RunAnswer(request, *retrieved, chat, options, nullptr, ins);
      out = query::QueryResponseJson(*retrieved, &answer);
    } else {
      out = query::QueryResponseJson(*retrieved, nullptr);
    }
    out.update(extra);
    return out;
  }
  // Server-sent events: hits, then answer deltas, then done.
  r.response.SetHeader("Cache-Control", "no-cache");
  r.response.SetHeader("X-Accel-Buffering", "no");
  auto held = std::make_shared<resilience::AdmissionController::Ticket>(std::move(slot));
  r.response.SetStream("text/event-stream", [retrieved, request = std::move(request), chat, options, ins,
                                             extra = std::move(extra), held](DataSink& sink) {
    auto send = [&sink](const std::string& event) { return sink.IsWritable() && sink.Write(event); };
    json hits = {{"hits", retrieved->hits_json}};
    hits.update(extra);
    if (!send(SseEvent("hits", hits))) return;
    json done;
    if (request.generate) {
      generate::DeltaCallback on_delta = [&](std::string_view delta) {
        return send(SseEvent("delta", {{"text", std::string(delta)}}));
      };
      generate::Answer answer = query::RunAnswer(request, *retrieved, chat, options, &on_delta, ins);
      if (answer.llm_status.code() == absl::StatusCode::kCancelled && !answer.degraded) {
        return;  // the client went away
      }
      done = query::QueryResponseJson(*retrieved, &answer);
    } else {
      done = query::QueryResponseJson(*retrieved, nullptr);
    }
    done.erase("hits");
    done.update(extra);
    if (!send(SseEvent("done", done))) return;
    sink.Done();
  });
  r.MarkResponded();
  return json();
}

std::string SseEvent(std::string_view name, const json& data) {
  return StrCat("event: ", name, "\ndata: ", DumpJson(data), "\n\n");
}

void RegisterCoreRoutes(Server& server, bool vector_writes) {
  // The handlers capture the Routes object; the server keeps it alive.
  auto routes = std::make_shared<Routes>(server, vector_writes);
  routes->Register();
  server.KeepAlive(std::move(routes));
}

}  // namespace ragline::server
