#include "server/fallback.h"

#include <shared_mutex>

#include "core/json_fields.h"
#include "core/strings.h"
#include "server/http_error.h"

namespace ragline::server {
namespace {

using nlohmann::json;

constexpr char kKnowledgeLimited[] =
    "The knowledge base can only search a limited cache of its most-used passages right now, and it holds "
    "nothing on this question. Please try again later.";

// A failure inside the store, not the request's own mistake.
bool StoreFault(const Status& st) {
  return absl::IsInternal(st) || absl::IsDataLoss(st) || absl::IsUnknown(st);
}

}  // namespace

Fallback::Fallback(Server& server)
    : server_(server),
      options_(server.options().fallback),
      cache_(options_.capacity),
      breaker_("search", options_.breaker),
      forced_(options_.enabled) {
  obs::MetricsRegistry& m = *server.deps().metrics;
  answered_ = &m.Counter("rag_fallback_queries_total",
                         "Queries answered from the hot-cache fallback index, by why: forced (operator), "
                         "breaker_open, search_failed.",
                         {"reason"});
  cached_ = &m.Gauge("rag_hot_cache_records", "Records in the hot-cache fallback index, per collection.",
                     {"collection"});
  server.WatchBreaker(breaker_);
  if (Status st = cache_.Load(server.deps().data_dir + "/hot_cache.json"); !st.ok()) {
    server.deps().logger->Warn("hot cache counts not loaded; starting empty").Error(st);
  }
  refresher_ = std::thread([this] { RefreshLoop(); });
}

Fallback::~Fallback() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  refresher_.join();
  (void)cache_.Save(server_.deps().data_dir + "/hot_cache.json");
}

void Fallback::RefreshLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    lock.unlock();
    if (Status st = Refresh(); !st.ok()) server_.deps().logger->Warn("hot cache refresh failed").Error(st);
    lock.lock();
    if (cv_.wait_for(lock, options_.refresh, [this] { return stop_; })) return;
  }
}

Status Fallback::Refresh() {
  {
    std::shared_lock catalog(server_.catalog_mutex());
    RETURN_IF_ERROR(cache_.Refresh(*server_.deps().db));
  }
  for (const auto& [name, n] : cache_.Sizes()) cached_->WithLabels({name}).Set(static_cast<double>(n));
  return cache_.Save(server_.deps().data_dir + "/hot_cache.json");
}

Result<std::optional<query::RetrievedHits>> Fallback::Primary(store::Collection& c,
                                                              const query::QueryRequest& request,
                                                              const query::QueryInstruments& ins,
                                                              std::string* why) {
  if (forced_) {
    answered_->WithLabels({"forced"}).Increment();
    *why = "fallback mode is on";
    return std::nullopt;
  }
  if (Status allowed = breaker_.Allow(); !allowed.ok()) {
    answered_->WithLabels({"breaker_open"}).Increment();
    *why = std::string(allowed.message());
    return std::nullopt;
  }
  const auto start = std::chrono::steady_clock::now();
  Status fault = server_.deps().search_fault ? server_.deps().search_fault() : absl::OkStatus();
  Result<query::RetrievedHits> hits = fault.ok()
                                          ? query::RunRetrieval(c, server_.deps().embedder, request, ins)
                                          : Result<query::RetrievedHits>(fault);
  if (!hits.ok()) {
    if (!StoreFault(hits.status())) {
      breaker_.Succeeded();  // the store answered; the request was at fault
      return hits.status();
    }
    breaker_.Failed();
    answered_->WithLabels({"search_failed"}).Increment();
    *why = StrCat("the search failed: ", std::string(hits.status().message()));
    return std::nullopt;
  }
  if (std::chrono::steady_clock::now() - start > options_.search_timeout) {
    breaker_.Failed();  // slow: counted, but its hits are good
  } else {
    breaker_.Succeeded();
  }
  cache_.CountHits(c.config().name, hits->hits);
  return std::optional<query::RetrievedHits>(std::move(*hits));
}

Result<query::RetrievedHits> Fallback::Retrieve(store::Collection& c, const query::QueryRequest& request,
                                                const query::QueryInstruments& ins, json* extra) {
  std::string why;
  ASSIGN_OR_RETURN(std::optional<query::RetrievedHits> primary, Primary(c, request, ins, &why));
  if (primary) return std::move(*primary);
  std::vector<float> vector;
  embed::Embedder* embedder = server_.deps().embedder;
  if (request.mode != search::Mode::kLexical && embedder != nullptr && embedder->dim() == c.config().dim) {
    if (auto v = query::EmbedQuestion(*embedder, request.question, ins); v.ok()) vector = std::move(*v);
  }
  auto hits = cache_.Search(c.config().name, vector, request.question, request.k,
                            request.filter ? &*request.filter : nullptr);
  const size_t found = hits.size();
  query::RetrievedHits out = query::ShapeHits(std::move(hits), c.config().lexical.text_field);
  (*extra)["degraded"] = true;
  (*extra)["degraded_reason"] = "fallback_index";
  (*extra)["degraded_detail"] =
      StrCat(why, "; answered from the hot cache of the most-used passages (", found, " found)");
  if (found == 0) (*extra)["answer"] = kKnowledgeLimited;
  ins.logger->Warn("query answered from the fallback index")
      .RequestId(ins.request_id)
      .Field("collection", c.config().name)
      .Field("why", why);
  return out;
}

void Fallback::RegisterRoutes() {
  server_.AddRoute({"GET", "/v1/admin/fallback", Access::kRead, -1, [this](RouteRequest&) -> Result<json> {
                      json cached = json::object();
                      for (const auto& [name, n] : cache_.Sizes()) cached[name] = n;
                      return json{{"enabled", forced_.load()},
                                  {"search_breaker", breaker_.ToJson()},
                                  {"capacity", cache_.capacity()},
                                  {"cached", cached}};
                    }});
  server_.AddRoute({"PUT", "/v1/admin/fallback", Access::kWrite, -1, [this](RouteRequest& r) -> Result<json> {
                      ASSIGN_OR_RETURN(json body, r.JsonBody());
                      RETURN_IF_ERROR(RefuseUnknownFields(body, {"enabled"}, ""));
                      if (!body.contains("enabled") || !body["enabled"].is_boolean()) {
                        return absl::InvalidArgumentError("\"enabled\" (true or false) is required");
                      }
                      forced_ = body["enabled"].get<bool>();
                      server_.deps().logger->Warn("fallback mode changed").Field("enabled", forced_.load());
                      if (forced_) RETURN_IF_ERROR(Refresh());  // the cache as hot as it gets, now
                      return json{{"enabled", forced_.load()}};
                    }});
}

}  // namespace ragline::server
