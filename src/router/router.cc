#include "router/router.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>

#include "core/http_peer.h"
#include "core/json_fields.h"
#include "core/strings.h"
#include "obs/stage_timer.h"
#include "pipeline/ingestor.h"
#include "pipeline/messages.h"
#include "pipeline/workers.h"
#include "query/query.h"
#include "query/shard_protocol.h"
#include "search/retriever.h"
#include "server/chat_routes.h"
#include "server/http_error.h"
#include "server/routes.h"

namespace ragline::router {
namespace {

using nlohmann::json;
using server::RouteRequest;

std::string CollectionPath(const std::string& name, const std::string& rest = "") {
  return StrCat("/v1/collections/", UrlSegment(name), rest);
}

std::string AliasPath(const std::string& alias) { return StrCat("/v1/aliases/", UrlSegment(alias)); }

// What the fan-out left out: shards whose every replica failed.
struct Missing {
  json list = json::array();
  std::vector<bool> answered;

  explicit Missing(size_t shards) : answered(shards, true) {}
  bool any() const { return !list.empty(); }
  void Add(size_t shard, const Status& st) {
    answered[shard] = false;
    list.push_back({{"shard", shard}, {"error", std::string(st.message())}});
  }
  json Extra() const {
    json out = {{"partial", any()}};
    if (any()) out["missing_shards"] = list;
    return out;
  }
};

// Sorts replies into answers (returned, in shard order, with their shard) and
// missing shards; a reply that is the request's fault is returned as the
// error; when no shard answered, DeadlineExceeded if the request's deadline
// cut any of them short, else Unavailable.
Result<std::vector<std::pair<size_t, json>>> Answers(std::vector<ShardReply> replies, Missing* missing) {
  std::vector<std::pair<size_t, json>> out;
  bool out_of_time = false;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (!missing->answered[i]) continue;  // left out already
    Result<json>& body = replies[i].body;
    if (body.ok()) {
      out.emplace_back(i, std::move(*body));
    } else if (ReplicaFault(body.status())) {
      missing->Add(i, body.status());
      out_of_time = out_of_time || replies[i].out_of_time;
    } else {
      return body.status();
    }
  }
  if (out.empty() && out_of_time) {
    return absl::DeadlineExceededError(
        StrCat("the request's deadline passed before any shard answered: ", missing->list.dump()));
  }
  if (out.empty()) {
    return absl::UnavailableError(StrCat("no shard answered: ", missing->list.dump()));
  }
  return out;
}

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint64_t Count(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

class RouterRoutes {
 public:
  RouterRoutes(server::Server& server, const ShardSet& shards, RouterOptions options)
      : server_(server), shards_(shards), options_(std::move(options)) {
    partial_ =
        &server.deps().metrics->Counter("rag_router_partial_answers_total",
                                        "Router answers that left out a shard no replica of answered.", {});
  }

  void Register() {
    server::RegisterHealthAndMetricsRoutes(server_);
    Add("GET", "/readyz", -1, [this](RouteRequest& r) { return Ready(r); });
    Add("GET", "/v1/cluster", -1, [this](RouteRequest&) { return Cluster(); });
    Add("GET", "/v1/collections", -1, [this](RouteRequest&) { return ListCollections(); });
    Add("GET", "/v1/collections/{name}", 0, [this](RouteRequest& r) { return Describe(r, ""); });
    Add("GET", "/v1/collections/{name}/stats", 0, [this](RouteRequest& r) { return Describe(r, "/stats"); });
    Add("GET", "/v1/collections/{name}/vectors/{id...}", 0,
        [this](RouteRequest& r) -> Result<json> { return FindRecord(r.PathParam(0), r.PathParam(1)); });
    Add("GET", "/v1/collections/{name}/documents/{id...}", 0,
        [this](RouteRequest& r) { return GetDocument(r); });
    Add("POST", "/v1/collections/{name}/query", 0, [this](RouteRequest& r) { return Query(r); });
    server::RegisterChatRoutes(
        server_, {[this](RouteRequest& r, const std::string& name, const query::QueryRequest& request,
                         const json& body, const query::QueryInstruments& ins,
                         json* extra) { return Retrieve(r, name, request, body, ins, extra); },
                  [this]() -> Result<std::vector<std::string>> {
                    ASSIGN_OR_RETURN(json all, ListCollections());
                    std::vector<std::string> names = all["collections"];
                    for (const auto& [alias, target] : all["aliases"].items()) names.push_back(alias);
                    std::sort(names.begin(), names.end());
                    return names;
                  }});
    Add("GET", "/v1/aliases", -1, [this](RouteRequest&) -> Result<json> {
      ASSIGN_OR_RETURN(json all, ListCollections());
      return json{{"aliases", all["aliases"]}, {"partial", all["partial"]}};
    });
    // Catalog changes: every index node keeps its own catalog.
    server_.AddRoute({"POST", "/v1/collections", server::Access::kWrite, -1,
                      [this](RouteRequest& r) { return CreateCollection(r); }});
    server_.AddRoute({"DELETE", "/v1/collections/{name}", server::Access::kWrite, 0,
                      [this](RouteRequest& r) -> Result<json> {
                        return EveryReplica(
                            shards_.OnEveryReplica("DELETE", CollectionPath(r.PathParam(0)), nullptr),
                            /*gone_is_done=*/true);
                      }});
    server_.AddRoute(
        {"PUT", "/v1/aliases/{alias}", server::Access::kWrite, -1, [this](RouteRequest& r) -> Result<json> {
           ASSIGN_OR_RETURN(json body, r.JsonBody());
           return EveryReplica(shards_.OnEveryReplica("PUT", AliasPath(r.PathParam(0)), &body),
                               /*gone_is_done=*/false);
         }});
    server_.AddRoute({"DELETE", "/v1/aliases/{alias}", server::Access::kWrite, -1,
                      [this](RouteRequest& r) -> Result<json> {
                        return EveryReplica(
                            shards_.OnEveryReplica("DELETE", AliasPath(r.PathParam(0)), nullptr),
                            /*gone_is_done=*/true);
                      }});
    if (!options_.kafka.empty()) {
      server_.AddRoute({"POST", "/v1/collections/{name}/documents", server::Access::kWrite, 0,
                        [this](RouteRequest& r) { return PostDocuments(r); }});
      server_.AddRoute({"DELETE", "/v1/collections/{name}/documents/{id...}", server::Access::kWrite, 0,
                        [this](RouteRequest& r) { return DeleteDocument(r); }});
    }
  }

 private:
  void Add(std::string method, std::string path, int collection_param, server::RouteHandler handler) {
    const server::Access access = path.starts_with("/v1/") ? server::Access::kRead : server::Access::kOpen;
    server_.AddRoute({std::move(method), std::move(path), access, collection_param, std::move(handler)});
  }

  Result<json> Ready(RouteRequest& r) {
    const bool shards_up = Cluster().value()["all_shards_up"].get<bool>();
    const embed::Embedder* e = server_.deps().embedder;
    json out = {{"ready", e != nullptr && shards_up},
                {"role", "router"},
                {"model", e != nullptr ? json(e->model_id()) : json(nullptr)},
                {"shards_up", shards_up},
                {"breakers", server_.BreakersJson()}};
    if (!out["ready"].get<bool>()) {
      r.response.status = 503;
      r.response.SetContent(server::DumpJson(out), "application/json");
      r.MarkResponded();
    }
    return out;
  }

  // A catalog change's replies from every replica: the first replica's
  // answer when each made the change (`gone_is_done`: or had nothing to
  // drop; NotFound when none had it). Otherwise the request's own error (a
  // 4xx, as the first replica refusing it said), or Unavailable naming the
  // index nodes that did not answer: the change is made where it reached
  // (a retry completes it; creating a collection is undone instead).
  static Result<json> EveryReplica(std::vector<ShardReply> replies, bool gone_is_done) {
    std::optional<json> first;
    std::optional<Status> refused;
    json unreached = json::array();
    size_t done = 0;
    for (auto& reply : replies) {
      if (reply.body.ok()) {
        ++done;
        if (!first) first = std::move(*reply.body);
      } else if (ReplicaFault(reply.body.status())) {
        unreached.push_back(
            {{"replica", reply.replica}, {"error", std::string(reply.body.status().message())}});
      } else if (gone_is_done && absl::IsNotFound(reply.body.status())) {
        // nothing to drop there
      } else if (!refused) {
        refused = reply.body.status();
      }
    }
    if (refused) return *refused;
    if (!unreached.empty()) {
      return absl::UnavailableError(StrCat("done on ", done, " of ", replies.size(),
                                           " index nodes; not reached (retry): ", unreached.dump()));
    }
    if (!first) return replies.front().body.status();  // every one: not found
    (*first)["index_nodes"] = replies.size();
    return *first;
  }

  // On every replica, or on none: where the create failed anywhere, the
  // replicas that created it drop it again.
  Result<json> CreateCollection(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    std::vector<ShardReply> replies = shards_.OnEveryReplica("POST", "/v1/collections", &body);
    std::vector<std::string> created;
    std::string name;
    for (const auto& reply : replies) {
      if (!reply.body.ok()) continue;
      created.push_back(reply.replica);
      name = reply.body->value("name", "");
    }
    Result<json> out = EveryReplica(std::move(replies), /*gone_is_done=*/false);
    if (!out.ok()) {
      for (const auto& replica : created) (void)shards_.At(replica, "DELETE", CollectionPath(name));
      if (created.empty()) return out;
      return Status(out.status().code(), StrCat(std::string(out.status().message()), "; undone on the ",
                                                created.size(), " that had made it"));
    }
    r.SetSuccessStatus(201);
    return out;
  }

  // Every replica, asked directly (not through failover): up, and per
  // collection its record count and the Kafka offsets it holds;
  // "all_shards_up": every shard has a replica up.
  Result<json> Cluster() {
    json shards = json::array();
    bool all_up = true;
    const auto& spec = shards_.options().shards;
    for (size_t i = 0; i < spec.size(); ++i) {
      json replicas = json::array();
      bool any_up = false;
      for (const auto& url : spec[i]) {
        json replica = {{"url", url}, {"up", false}, {"collections", json::object()}};
        auto names = shards_.Get(url, "/v1/collections");
        if (!names.ok()) {
          replica["error"] = std::string(names.status().message());
        } else {
          replica["up"] = any_up = true;
          for (const auto& name : (*names)["collections"]) {
            auto stats = shards_.Get(url, CollectionPath(name.get<std::string>(), "/stats"));
            if (!stats.ok()) continue;
            replica["collections"][name.get<std::string>()] = {
                {"vector_count", (*stats)["vector_count"]},
                {"source_positions", stats->value("source_positions", json::object())}};
          }
        }
        replicas.push_back(std::move(replica));
      }
      shards.push_back({{"shard", i}, {"replicas", std::move(replicas)}});
      all_up = all_up && any_up;
    }
    return json{{"role", "router"}, {"all_shards_up", all_up}, {"shards", std::move(shards)}};
  }

  Result<json> ListCollections() {
    Missing missing(shards_.size());
    ASSIGN_OR_RETURN(auto answers, Answers(shards_.FanOut("GET", "/v1/collections", nullptr), &missing));
    std::set<std::string> names;
    json aliases = json::object();
    for (const auto& [shard, body] : answers) {
      for (const auto& n : body["collections"]) names.insert(n.get<std::string>());
      if (body["aliases"].is_object()) aliases.update(body["aliases"]);
    }
    json out = {{"collections", names}, {"aliases", aliases}};
    out.update(missing.Extra());
    return out;
  }

  // The first answering shard's description with the counts summed over
  // shards; per shard its own under "shards".
  Result<json> Describe(RouteRequest& r, const std::string& rest) {
    Missing missing(shards_.size());
    ASSIGN_OR_RETURN(auto answers,
                     Answers(shards_.FanOut("GET", CollectionPath(r.PathParam(0), rest), nullptr), &missing));
    json out = answers.front().second;
    json per_shard = json::array();
    for (const char* key : {"vector_count", "deleted", "unindexed", "memory_bytes", "wal_bytes"}) {
      if (!out.contains(key)) continue;
      uint64_t sum = 0;
      for (const auto& [shard, body] : answers) sum += Count(body, key);
      out[key] = sum;
    }
    if (out.contains("lexical")) {
      for (const char* key : {"documents", "bm25_documents", "bm25_terms", "memory_bytes"}) {
        uint64_t sum = 0;
        for (const auto& [shard, body] : answers) sum += Count(body["lexical"], key);
        out["lexical"][key] = sum;
      }
    }
    // Per-shard details that do not sum (segments, LSNs, offsets) stay per shard.
    for (const char* key : {"segments", "segment_count", "last_lsn", "checkpoint_lsn", "source_positions"})
      out.erase(key);
    for (auto& [shard, body] : answers) {
      body["shard"] = shard;
      per_shard.push_back(std::move(body));
    }
    out["shards"] = std::move(per_shard);
    out.update(missing.Extra());
    return out;
  }

  // The record lives on one shard: its answer; 404 when every shard says so;
  // 503 when the shards that answered do not have it and another did not answer.
  Result<json> FindRecord(const std::string& collection, const std::string& id) {
    const auto replies =
        shards_.FanOut("GET", CollectionPath(collection, StrCat("/vectors/", UrlSegment(id))), nullptr);
    std::optional<Status> fault;
    for (const auto& reply : replies) {
      if (reply.body.ok()) return *reply.body;
      if (ReplicaFault(reply.body.status())) {
        fault = reply.body.status();
      } else if (!absl::IsNotFound(reply.body.status())) {
        return reply.body.status();
      }
    }
    if (fault)
      return absl::UnavailableError(
          StrCat("not found on the shards that answered; ", std::string(fault->message())));
    return absl::NotFoundError(StrCat("vector '", id, "' not found in collection '", collection, "'"));
  }

  // A document is its head (chunk #0) on its shard, as a node reads it.
  Result<json> GetDocument(RouteRequest& r) {
    const std::string& id = r.PathParam(1);
    Result<json> head = FindRecord(r.PathParam(0), pipeline::ChunkId(id, 0));
    std::optional<pipeline::DocumentInfo> info;
    if (head.ok()) {
      info = pipeline::DocumentInfoFromHead(id, head->value("version", uint64_t{0}),
                                            head->value("payload", json::object()));
    } else if (!absl::IsNotFound(head.status())) {
      return head.status();
    }
    if (!info) {
      return absl::NotFoundError(
          StrCat("document '", id, "' not found in collection '", r.PathParam(0), "'"));
    }
    return info->ToJson();
  }

  Result<json> PostDocuments(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    RETURN_IF_ERROR(RefuseUnknownFields(body, {"documents"}, ""));
    auto list = body.find("documents");
    if (list == body.end() || !list->is_array() || list->empty()) {
      return absl::InvalidArgumentError("\"documents\" must be a non-empty array");
    }
    ASSIGN_OR_RETURN(const WaitParams wait, ParseWait(r));
    ASSIGN_OR_RETURN(const std::string collection, ResolveCollection(r.PathParam(0)));
    const uint64_t now_ms = NowMs();
    std::vector<pipeline::RawDocument> docs;
    json versions = json::object();
    for (size_t i = 0; i < list->size(); ++i) {
      ASSIGN_OR_RETURN(auto doc,
                       pipeline::SourceDocument::FromJson((*list)[i], StrCat("documents[", i, "]"), "http"));
      if (!doc.version) doc.version = now_ms;
      versions[doc.id] = *doc.version;
      pipeline::RawDocument raw;
      raw.doc = std::move(doc);
      raw.collection = collection;
      docs.push_back(std::move(raw));
    }
    if (Status st = Publish(docs); !st.ok()) {
      return absl::UnavailableError(StrCat("publishing to Kafka failed: ", std::string(st.message())));
    }
    json out = {{"documents_published", docs.size()}, {"versions", versions}};
    if (!wait.wait) {
      r.SetSuccessStatus(202);
      return out;
    }
    std::map<std::string, uint64_t> pending;
    for (const auto& [id, v] : versions.items()) pending[id] = v.get<uint64_t>();
    RETURN_IF_ERROR(WaitUntil(r, wait.timeout, std::move(pending), /*deleted=*/false));
    return out;
  }

  // A tombstone: the document again, without text, at a newer version; its
  // shard deletes its chunks (a document without chunks has none).
  Result<json> DeleteDocument(RouteRequest& r) {
    ASSIGN_OR_RETURN(const WaitParams wait, ParseWait(r));
    pipeline::RawDocument tombstone;
    ASSIGN_OR_RETURN(tombstone.collection, ResolveCollection(r.PathParam(0)));
    tombstone.doc.id = r.PathParam(1);
    tombstone.doc.content_type = "text/plain";
    tombstone.doc.source = "http";
    tombstone.doc.version = NowMs();
    if (Status st = Publish({tombstone}); !st.ok()) {
      return absl::UnavailableError(StrCat("publishing to Kafka failed: ", std::string(st.message())));
    }
    json out = {{"document_deletion_published", tombstone.doc.id}, {"version", *tombstone.doc.version}};
    if (!wait.wait) {
      r.SetSuccessStatus(202);
      return out;
    }
    RETURN_IF_ERROR(
        WaitUntil(r, wait.timeout, {{tombstone.doc.id, *tombstone.doc.version}}, /*deleted=*/true));
    return out;
  }

  // The collection `name` (a collection or an alias) is on the shards; 404
  // when they do not have it (no document is published to nowhere).
  Result<std::string> ResolveCollection(const std::string& name) {
    Missing missing(shards_.size());
    ASSIGN_OR_RETURN(auto answers, Answers(shards_.FanOut("GET", CollectionPath(name), nullptr), &missing));
    return answers.front().second.value("name", name);
  }

  struct WaitParams {
    bool wait = false;
    std::chrono::milliseconds timeout{0};
  };
  // ?wait=true|false|1|0 and &timeout_ms=N (1..600000; default the router's).
  Result<WaitParams> ParseWait(const RouteRequest& r) const {
    WaitParams out{false, options_.wait_timeout};
    const std::string wait = r.http.Param("wait");
    if (!wait.empty() && wait != "true" && wait != "false" && wait != "1" && wait != "0") {
      return absl::InvalidArgumentError(StrCat("wait must be true or false, not '", wait, "'"));
    }
    out.wait = wait == "true" || wait == "1";
    if (const std::string t = r.http.Param("timeout_ms"); !t.empty()) {
      char* end = nullptr;
      const unsigned long long ms = std::strtoull(t.c_str(), &end, 10);
      if (*end != '\0' || ms < 1 || ms > 600'000) {
        return absl::InvalidArgumentError(
            StrCat("timeout_ms must be an integer in [1, 600000], not '", t, "'"));
      }
      out.timeout = std::chrono::milliseconds(ms);
    }
    return out;
  }

  // Polls the shards until each pending document's first chunk is at its
  // version or newer (or, `deleted`, on no shard), every 100 ms; past
  // `timeout`, DeadlineExceeded naming those still pending.
  Status WaitUntil(RouteRequest& r, std::chrono::milliseconds timeout,
                   std::map<std::string, uint64_t> pending, bool deleted) {
    const std::string name = r.PathParam(0);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      for (auto it = pending.begin(); it != pending.end();) {
        const auto replies = shards_.FanOut(
            "GET", CollectionPath(name, StrCat("/vectors/", UrlSegment(pipeline::ChunkId(it->first, 0)))),
            nullptr);
        bool present = false, current = false, all_answered = true;
        for (const auto& reply : replies) {
          present = present || reply.body.ok();
          current = current || (reply.body.ok() && reply.body->value("version", uint64_t{0}) >= it->second);
          all_answered = all_answered && (reply.body.ok() || absl::IsNotFound(reply.body.status()));
        }
        const bool done = deleted ? (all_answered && !present) : current;
        it = done ? pending.erase(it) : std::next(it);
      }
      if (pending.empty()) return absl::OkStatus();
      if (std::chrono::steady_clock::now() >= deadline || r.Cancelled()) {
        json ids = json::array();
        for (const auto& [id, v] : pending) ids.push_back(id);
        return absl::DeadlineExceededError(StrCat("published, but not ", deleted ? "deleted" : "searchable",
                                                  " after ", timeout.count(), " ms: ", ids.dump(),
                                                  " (still pending)"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // One publisher, made on first use (topics created once); one call at a time.
  Status Publish(const std::vector<pipeline::RawDocument>& docs) {
    std::lock_guard<std::mutex> lock(publish_mu_);
    if (!publisher_) {
      pipeline::WorkerOptions o;
      o.bootstrap = options_.kafka;
      o.topics = pipeline::Topics::WithPrefix(options_.topic_prefix);
      o.partitions = options_.topic_partitions;
      ASSIGN_OR_RETURN(publisher_, pipeline::DocumentPublisher::Create(o));
    }
    Status st = publisher_->Publish(docs);
    if (!st.ok()) publisher_.reset();  // start afresh next time
    return st;
  }

  Result<json> Query(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    ASSIGN_OR_RETURN(query::QueryRequest request, query::QueryRequest::FromJson(body));
    ASSIGN_OR_RETURN(auto slot, server::AdmitQuery(server_, r, request));
    const query::QueryInstruments ins = server::QueryInstrumentsFor(server_, r);
    json extra = json::object();
    ASSIGN_OR_RETURN(query::RetrievedHits hits, Retrieve(r, r.PathParam(0), request, body, ins, &extra));
    return server::RespondToQuery(r, std::make_shared<query::RetrievedHits>(std::move(hits)), std::move(request),
                                  server_.deps().chat, server_.options().answer, ins, std::move(extra),
                                  std::move(slot));
  }

  // The query's hits over every shard (`body`: the query route's body, whose
  // filter goes to the shards as given); `extra` says which shards are missing.
  Result<query::RetrievedHits> Retrieve(RouteRequest& r, const std::string& name,
                                        const query::QueryRequest& request, const json& body,
                                        const query::QueryInstruments& ins, json* extra) {
    const bool dense = request.mode != search::Mode::kLexical;
    const bool lexical = request.mode != search::Mode::kDense;
    search::Query shape;
    shape.k = request.k;
    const size_t depth = request.mode == search::Mode::kHybrid ? search::HybridDepth(shape) : request.k;

    json search = {{"k", depth}};
    if (body.contains("filter") && !body["filter"].is_null()) search["filter"] = body["filter"];
    if (dense) {
      ASSIGN_OR_RETURN(search["vector"], EmbedQuestion(request.question, ins));
    }

    Missing missing(shards_.size());
    // A search round may use half of what the request has left, so that a
    // shard that never answers still leaves time to fetch payloads and answer.
    auto round_deadline = [&request] {
      if (request.deadline.is_never()) return request.deadline;
      return resilience::Deadline::After(request.deadline.Remaining() / 2);
    };
    obs::StageTimer timer(ins.retrieve_latency, ins.logger, "retrieve", ins.request_id);
    if (lexical) {
      // Round 1: BM25 statistics summed over shards.
      const json ask = {{"query", request.question}};
      ASSIGN_OR_RETURN(auto answers,
                       Answers(shards_.FanOut("POST", CollectionPath(name, "/shard/lexical-stats"), &ask,
                                              nullptr, round_deadline()),
                               &missing));
      store::LexicalTermStats total;
      for (const auto& [shard, stats] : answers) {
        ASSIGN_OR_RETURN(store::LexicalTermStats part, query::LexicalStatsFromWire(stats));
        query::AddLexicalStats(part, &total);
      }
      search["query"] = request.question;
      search["lexical_stats"] = query::LexicalStatsToWire(total);
    }
    // Round 2: each shard's top hits, without payloads (the shards that answered round 1).
    search["payloads"] = false;
    ASSIGN_OR_RETURN(auto answers, Answers(shards_.FanOut("POST", CollectionPath(name, "/shard/search"),
                                                          &search, &missing.answered, round_deadline()),
                                           &missing));
    std::vector<std::vector<store::SearchHit>> dense_lists, lexical_lists;
    std::map<std::string, size_t> origin;  // hit id -> its shard
    for (const auto& [shard, reply] : answers) {
      for (const char* list : {"dense", "lexical"}) {
        if (std::string_view(list) == "dense" ? !dense : !lexical) continue;
        ASSIGN_OR_RETURN(auto hits,
                         query::HitsFromWire(reply.value(list, json()), StrCat("shard ", shard, " ", list)));
        for (const auto& h : hits) origin[h.id] = shard;
        (std::string_view(list) == "dense" ? dense_lists : lexical_lists).push_back(std::move(hits));
      }
    }
    const json& first = answers.front().second;
    const bool distances = first.value("metric", "") == "l2";
    std::vector<store::SearchHit> hits;
    if (request.mode == search::Mode::kDense) {
      hits = query::MergeShardHits(std::move(dense_lists), request.k, distances);
    } else if (request.mode == search::Mode::kLexical) {
      hits = query::MergeShardHits(std::move(lexical_lists), request.k, false);
    } else {
      const auto d = query::MergeShardHits(std::move(dense_lists), depth, distances);
      const auto l = query::MergeShardHits(std::move(lexical_lists), depth, false);
      hits = search::FuseHybrid(d, l, search::FusionOptions{}, distances, request.k);
    }
    // Round 3: the kept hits' payloads, from their shards.
    ASSIGN_OR_RETURN(hits, FetchPayloads(name, std::move(hits), origin, request.deadline, &missing));
    timer.Stop();
    if (missing.any()) {
      partial_->WithLabels({}).Increment();
      ins.logger->Warn("partial answer")
          .RequestId(r.request_id)
          .Field("collection", name)
          .Field("missing_shards", missing.list.dump());
    }
    *extra = missing.Extra();
    return query::ShapeHits(std::move(hits), first.value("text_field", std::string("text")));
  }

  // Fills each hit's payload from its shard. A shard that fails now is
  // missing (its hits dropped); a record gone since round 2 is dropped.
  Result<std::vector<store::SearchHit>> FetchPayloads(const std::string& name,
                                                      std::vector<store::SearchHit> hits,
                                                      const std::map<std::string, size_t>& origin,
                                                      const resilience::Deadline& deadline,
                                                      Missing* missing) {
    std::vector<json> asks(shards_.size(), json{{"ids", json::array()}});
    for (const auto& h : hits) asks[origin.at(h.id)]["ids"].push_back(h.id);
    std::vector<const json*> bodies(shards_.size(), nullptr);
    for (size_t i = 0; i < shards_.size(); ++i) {
      if (!asks[i]["ids"].empty()) bodies[i] = &asks[i];
    }
    auto replies = shards_.FanOutEach(CollectionPath(name, "/shard/fetch"), bodies, deadline);
    std::map<std::string, json> payloads;
    for (size_t i = 0; i < replies.size(); ++i) {
      if (bodies[i] == nullptr) continue;
      if (!replies[i].body.ok()) {
        if (!ReplicaFault(replies[i].body.status())) return replies[i].body.status();
        missing->Add(i, replies[i].body.status());
        continue;
      }
      for (auto& rec : (*replies[i].body)["records"])
        payloads[rec.value("id", "")] = std::move(rec["payload"]);
    }
    std::vector<store::SearchHit> out;
    for (auto& h : hits) {
      auto it = payloads.find(h.id);
      if (it == payloads.end()) continue;
      h.payload = std::move(it->second);
      out.push_back(std::move(h));
    }
    if (std::none_of(missing->answered.begin(), missing->answered.end(), [](bool a) { return a; })) {
      return absl::UnavailableError(StrCat("no shard answered: ", missing->list.dump()));
    }
    return out;
  }

  Result<json> EmbedQuestion(const std::string& question, const query::QueryInstruments& ins) {
    embed::Embedder* embedder = server_.deps().embedder;
    if (embedder == nullptr) {
      return absl::UnavailableError(
          "no embedding model is loaded on the router, so dense and hybrid queries cannot run; use \"mode\": "
          "\"lexical\"");
    }
    ASSIGN_OR_RETURN(std::vector<float> vector, query::EmbedQuestion(*embedder, question, ins));
    return json(std::move(vector));
  }

  server::Server& server_;
  const ShardSet& shards_;
  const RouterOptions options_;
  obs::CounterFamily* partial_;
  std::mutex publish_mu_;
  std::unique_ptr<pipeline::DocumentPublisher> publisher_;  // GUARDED_BY(publish_mu_)
};

}  // namespace

void RegisterRouterRoutes(server::Server& server, const ShardSet& shards, RouterOptions options) {
  auto routes = std::make_shared<RouterRoutes>(server, shards, std::move(options));
  routes->Register();
  for (resilience::CircuitBreaker* breaker : shards.breakers()) server.WatchBreaker(*breaker);
  server.KeepAlive(std::move(routes));
}

}  // namespace ragline::router
