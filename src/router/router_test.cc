// The router end to end in process: two shards (shard 0 with two replicas
// over one database), one node holding everything, and the router in front of
// the shards, all real servers on free ports. The router must answer as the
// whole node does, and leave out (flagged) a shard that is down or late.
#include "router/router.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <random>

#include "core/strings.h"
#include "core/temp_dir_for_test.h"
#include "pipeline/chunk_payload.h"
#include "server/routes.h"
#include "server/shard_routes.h"
#include "store/database.h"

namespace ragline::router {
namespace {

using nlohmann::json;

// 8 dimensions from the text's bytes: deterministic, few ties.
class SeededEmbedder : public embed::Embedder {
 public:
  size_t dim() const override { return 8; }
  const std::string& model_id() const override { return id_; }
  Result<Matrix> Embed(std::span<const std::string> texts) override {
    Matrix m(texts.size(), 8);
    for (size_t i = 0; i < texts.size(); ++i) {
      std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>()(texts[i])));
      std::normal_distribution<float> normal;
      for (size_t d = 0; d < 8; ++d) m.row(i)[d] = normal(rng);
    }
    return m;
  }

 private:
  std::string id_ = "seeded-8";
};

const std::vector<std::string> kWords = {
    "kafka",  "shard",   "router", "replica", "index",   "vector", "token",  "merge",  "deadline", "offset",
    "broker", "segment", "query",  "answer",  "lexical", "dense",  "hybrid", "fusion", "score",    "partial"};

// A node: a database and the servers over it (replicas share the database).
struct Node {
  std::unique_ptr<store::Database> db;
  std::vector<std::unique_ptr<server::Server>> servers;
  std::vector<int> ports;
};

// A listening socket nobody accepts from: connections open, replies never come.
struct HangingPeer {
  HangingPeer() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 16) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on a loopback port";
    }
    url = StrCat("http://127.0.0.1:", ntohs(addr.sin_port));
  }
  ~HangingPeer() { ::close(fd); }
  HangingPeer(const HangingPeer&) = delete;
  HangingPeer& operator=(const HangingPeer&) = delete;
  int fd;
  std::string url;
};

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    whole_ = OpenNode("whole");
    shards_.push_back(OpenNode("shard0"));
    shards_.push_back(OpenNode("shard1"));
    store::CollectionConfig config;
    config.name = "docs";
    config.dim = 8;
    config.index_kind = index::IndexKind::kFlat;
    for (Node* n : {&whole_, &shards_[0], &shards_[1]}) ASSERT_TRUE(n->db->CreateCollection(config).ok());
    std::mt19937 rng(5);
    std::vector<store::Record> all, part[2];
    for (int i = 0; i < 300; ++i) {
      std::string text;
      const int n = 4 + static_cast<int>(rng() % 10);
      for (int w = 0; w < n; ++w)
        text += (w ? " " : "") + kWords[std::min(rng() % kWords.size(), rng() % kWords.size())];
      const std::string id = StrCat("c", i);
      auto v = *embedder_.Embed(std::vector<std::string>{id});
      store::Record r{id, 1, std::vector<float>(v.row(0).begin(), v.row(0).end()),
                      json{{"text", text}, {"doc_id", StrCat("d", i / 3)}, {"group", i % 4}}.dump()};
      all.push_back(r);
      part[(i / 3) % 2].push_back(std::move(r));
    }
    ASSERT_TRUE((*whole_.db->GetCollection("docs"))->Upsert(std::move(all)).ok());
    for (int s = 0; s < 2; ++s)
      ASSERT_TRUE((*shards_[s].db->GetCollection("docs"))->Upsert(std::move(part[s])).ok());
    StartServer(&whole_);
    StartServer(&shards_[0]);
    StartServer(&shards_[0]);  // a replica
    StartServer(&shards_[1]);
  }

  void TearDown() override {
    router_.reset();
    for (Node* n : {&whole_, &shards_[0], &shards_[1]}) n->servers.clear();
  }

  Node OpenNode(const std::string& name) {
    Node n;
    auto db = store::Database::Open(*store::Env::Default(), tmp_.path() + "/" + name,
                                    {.read_only = false, .threads = 1, .salvage = false, .on_open = {}});
    EXPECT_TRUE(db.ok()) << db.status();
    n.db = std::move(*db);
    return n;
  }

  // Starts (or, with `port`, restarts on that port) a server over the node's database.
  void StartServer(Node* node, int port = 0, size_t slot = SIZE_MAX) {
    server::ServerDeps deps{node->db.get(), &embedder_, nullptr, &metrics_, &logger_, ""};
    auto s = std::make_unique<server::Server>(deps, server::ServerOptions{});
    server::RegisterCoreRoutes(*s);
    server::RegisterShardRoutes(*s);
    auto bound = s->StartInBackground("127.0.0.1", port);
    ASSERT_TRUE(bound.ok()) << bound.status();
    if (slot == SIZE_MAX) {
      node->servers.push_back(std::move(s));
      node->ports.push_back(*bound);
    } else {
      node->servers[slot] = std::move(s);
    }
  }

  static std::string Url(int port) { return StrCat("http://127.0.0.1:", port); }

  void StartRouter(std::vector<std::vector<std::string>> shards,
                   std::chrono::milliseconds deadline = std::chrono::milliseconds(2000)) {
    ShardSetOptions options;
    options.shards = std::move(shards);
    options.deadline = deadline;
    auto set = ShardSet::Create(options, &metrics_);
    ASSERT_TRUE(set.ok()) << set.status();
    shard_set_ = std::move(*set);
    server::ServerDeps deps{nullptr, &embedder_, nullptr, &metrics_, &logger_, ""};
    router_ = std::make_unique<server::Server>(deps, server::ServerOptions{});
    RegisterRouterRoutes(*router_, *shard_set_);
    auto port = router_->StartInBackground("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status();
    router_port_ = *port;
  }

  void StartRouterOverBothShards(std::chrono::milliseconds deadline = std::chrono::milliseconds(2000)) {
    StartRouter({{Url(shards_[0].ports[0]), Url(shards_[0].ports[1])}, {Url(shards_[1].ports[0])}}, deadline);
  }

  static std::pair<int, json> Call(int port, const std::string& method, const std::string& path,
                                   const json& body = json()) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(30, 0);
    auto res = method == "POST"     ? client.Post(path.c_str(), body.dump(), "application/json")
               : method == "PUT"    ? client.Put(path.c_str(), body.dump(), "application/json")
               : method == "DELETE" ? client.Delete(path.c_str())
                                    : client.Get(path.c_str());
    if (!res) return {0, json()};
    return {res->status, json::parse(res->body, nullptr, false)};
  }

  json Query(int port, const json& body, int expect_status = 200) {
    auto [status, reply] = Call(port, "POST", "/v1/collections/docs/query", body);
    EXPECT_EQ(status, expect_status) << reply.dump();
    return reply;
  }

  // Same scores rank by rank, and the same ids wherever a score is not tied
  // (`want` may hold one hit more than `got`, to see a tie at the cut).
  static void ExpectSameHits(const json& got, const json& want, const std::string& context) {
    ASSERT_TRUE(got.size() == want.size() || got.size() + 1 == want.size()) << context;
    for (size_t i = 0; i < got.size(); ++i) {
      const double a = got[i]["score"].get<double>(), b = want[i]["score"].get<double>();
      EXPECT_NEAR(a, b, 1e-4 * std::max(1.0, std::abs(b))) << context << " rank " << i;
      const bool tied = (i > 0 && std::abs(want[i - 1]["score"].get<double>() - b) < 1e-6) ||
                        (i + 1 < want.size() && std::abs(want[i + 1]["score"].get<double>() - b) < 1e-6);
      if (!tied) {
        EXPECT_EQ(got[i]["id"], want[i]["id"]) << context << " rank " << i;
      }
    }
  }

  TempDir tmp_{"ragline_router_test"};
  SeededEmbedder embedder_;
  obs::MetricsRegistry metrics_;
  obs::Logger logger_{obs::LogDestination::Stderr(), obs::LogLevel::kError};
  Node whole_;
  std::vector<Node> shards_;
  std::unique_ptr<ShardSet> shard_set_;
  std::unique_ptr<server::Server> router_;
  int router_port_ = 0;
};

TEST_F(RouterTest, AnswersEveryModeAsOneNodeHoldingEverything) {
  StartRouterOverBothShards();
  for (const char* mode : {"dense", "lexical", "hybrid"}) {
    for (const char* question : {"kafka shard router", "partial answer deadline", "fusion", "c17"}) {
      for (const json& filter : {json(), json{{"group", 2}}}) {
        json body = {{"query", question}, {"mode", mode}, {"k", 7}, {"generate", false}};
        if (!filter.is_null()) body["filter"] = filter;
        const json got = Query(router_port_, body);
        body["k"] = 8;  // one more, to see ties at the cut
        const json want = Query(whole_.ports[0], body);
        const std::string context = StrCat(mode, " '", question, "' ", filter.dump());
        EXPECT_EQ(got["partial"], false) << context;
        ExpectSameHits(got["hits"], want["hits"], context);
        if (!want["hits"].empty()) {
          EXPECT_EQ(got["hits"][0]["text"], want["hits"][0]["text"]) << context;
          EXPECT_EQ(got["hits"][0]["doc_id"], want["hits"][0]["doc_id"]) << context;
        }
      }
    }
  }
  // An answer is built from the merged hits (extractive without an LLM).
  const json answered = Query(router_port_, {{"query", "kafka broker offset"}, {"k", 3}});
  EXPECT_FALSE(answered["answer"].get<std::string>().empty());
  EXPECT_FALSE(answered["citations"].empty());
}

TEST_F(RouterTest, ChatCompletionsAnswerOverEveryShardAsTheQueryRouteDoes) {
  StartRouterOverBothShards();
  const json want = Query(router_port_, {{"query", "kafka broker offset"}, {"k", 3}, {"mode", "lexical"}});
  auto [status, chat] = Call(router_port_, "POST", "/v1/chat/completions",
                             {{"model", "docs"},
                              {"messages", {{{"role", "user"}, {"content", "kafka broker offset"}}}},
                              {"k", 3},
                              {"mode", "lexical"}});
  ASSERT_EQ(status, 200) << chat.dump();
  EXPECT_EQ(chat["choices"][0]["message"]["content"], want["answer"]);
  EXPECT_EQ(chat["citations"], want["citations"]);
  EXPECT_EQ(chat["hits"], want["hits"]);
  auto [models_status, models] = Call(router_port_, "GET", "/v1/models", json());
  ASSERT_EQ(models_status, 200) << models.dump();
  EXPECT_EQ(models["data"].back()["id"], "docs");
}

TEST_F(RouterTest, CountsEachRecordOnceAndPassesClientErrorsThrough) {
  StartRouterOverBothShards();
  auto [status, stats] = Call(router_port_, "GET", "/v1/collections/docs/stats");
  ASSERT_EQ(status, 200) << stats.dump();
  EXPECT_EQ(stats["vector_count"], 300);
  EXPECT_EQ(stats["shards"].size(), 2u);
  EXPECT_EQ(stats["shards"][0]["vector_count"].get<int>() + stats["shards"][1]["vector_count"].get<int>(),
            300);
  auto [list_status, list] = Call(router_port_, "GET", "/v1/collections");
  EXPECT_EQ(list_status, 200);
  EXPECT_EQ(list["collections"], json::array({"docs"}));
  // A record comes from whichever shard holds it.
  for (const char* id : {"c4", "c5"}) {
    auto [get_status, record] = Call(router_port_, "GET", StrCat("/v1/collections/docs/vectors/", id));
    EXPECT_EQ(get_status, 200) << record.dump();
    EXPECT_EQ(record["id"], id);
  }
  EXPECT_EQ(Call(router_port_, "GET", "/v1/collections/docs/vectors/nope").first, 404);
  // A document is read from its head, on whichever shard holds it.
  pipeline::ChunkPayload head;
  head.doc_id = "guide.md";
  head.title = "Guide";
  head.chunk_count = 1;
  head.text = "kafka";
  ASSERT_TRUE(
      (*shards_[1].db->GetCollection("docs"))
          ->Upsert({store::Record{"guide.md#0", 7, std::vector<float>(8, 0.5f), head.ToJson().dump()}})
          .ok());
  auto [doc_status, doc] = Call(router_port_, "GET", "/v1/collections/docs/documents/guide.md");
  EXPECT_EQ(doc_status, 200) << doc.dump();
  EXPECT_EQ(doc["version"], 7);
  EXPECT_EQ(doc["chunk_ids"], json::array({"guide.md#0"}));
  EXPECT_EQ(doc["title"], "Guide");
  EXPECT_EQ(Call(router_port_, "GET", "/v1/collections/docs/documents/absent.md").first, 404);
  // The request's fault is not a shard's: no partial answer, the shard's own error.
  auto [missing_status, missing] =
      Call(router_port_, "POST", "/v1/collections/nope/query", {{"query", "kafka"}, {"mode", "lexical"}});
  EXPECT_EQ(missing_status, 404) << missing.dump();
  Query(router_port_, {{"query", "kafka"}, {"filter", {{"group", {{"$near", 1}}}}}}, 400);
  Query(router_port_, {{"query", "kafka"}, {"k", 0}}, 400);
}

TEST_F(RouterTest, ShardDownGivesAFlaggedPartialAnswerAndShardBackGivesFullOnes) {
  StartRouterOverBothShards();
  const json body = {{"query", "router replica"}, {"mode", "hybrid"}, {"k", 10}, {"generate", false}};
  const json full = Query(router_port_, body);
  ASSERT_EQ(full["partial"], false);
  const int port = shards_[1].ports[0];
  shards_[1].servers[0]->Stop();
  shards_[1].servers[0].reset();
  const json partial = Query(router_port_, body);
  EXPECT_EQ(partial["partial"], true);
  ASSERT_EQ(partial["missing_shards"].size(), 1u);
  EXPECT_EQ(partial["missing_shards"][0]["shard"], 1);
  for (const auto& hit : partial["hits"]) {
    const int n = std::stoi(hit["id"].get<std::string>().substr(1));
    EXPECT_EQ((n / 3) % 2, 0) << "hit " << hit["id"] << " lives on the missing shard";
  }
  auto [ready_status, ready] = Call(router_port_, "GET", "/readyz");
  EXPECT_EQ(ready_status, 503) << ready.dump();
  EXPECT_EQ(Call(router_port_, "GET", "/v1/cluster").second["all_shards_up"], false);
  // The same shard comes back on its port: full answers, nothing restarted elsewhere.
  StartServer(&shards_[1], port, 0);
  const json again = Query(router_port_, body);
  EXPECT_EQ(again["partial"], false);
  ExpectSameHits(again["hits"], full["hits"], "after the shard came back");
  EXPECT_NE(metrics_.ExposeText().find("rag_router_partial_answers_total 1"), std::string::npos);
}

TEST_F(RouterTest, AReplicaDownIsSkippedWithoutAPartialAnswer) {
  StartRouterOverBothShards();
  shards_[0].servers[0]->Stop();
  shards_[0].servers[0].reset();
  for (int i = 0; i < 4; ++i) {  // round robin reaches the dead replica; its sibling answers
    const json reply =
        Query(router_port_, {{"query", "segment merge"}, {"mode", "lexical"}, {"generate", false}});
    EXPECT_EQ(reply["partial"], false) << reply.dump();
  }
  auto [status, cluster] = Call(router_port_, "GET", "/v1/cluster");
  ASSERT_EQ(status, 200);
  EXPECT_EQ(cluster["all_shards_up"], true);  // shard 0 still has a replica
  EXPECT_EQ(cluster["shards"][0]["replicas"][0]["up"], false);
  EXPECT_EQ(cluster["shards"][0]["replicas"][1]["up"], true);
  EXPECT_EQ(cluster["shards"][1]["replicas"][0]["collections"]["docs"]["vector_count"], 150);
  // The dead replica's circuit breaker is open: on /metrics and in /readyz.
  const std::string dead = StrCat("shard0 ", cluster["shards"][0]["replicas"][0]["url"].get<std::string>());
  EXPECT_NE(metrics_.ExposeText().find(StrCat("rag_circuit_breaker_state{dependency=\"", dead, "\"} 1")),
            std::string::npos)
      << dead;
  auto [ready_status, ready] = Call(router_port_, "GET", "/readyz");
  EXPECT_EQ(ready["breakers"][dead]["state"], "open") << ready.dump();
}

TEST_F(RouterTest, AShardThatNeverAnswersIsCutAtTheDeadline) {
  const HangingPeer hanging;
  StartRouter({{Url(shards_[0].ports[0])}, {Url(shards_[1].ports[0])}, {hanging.url}},
              std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  const json reply = Query(router_port_, {{"query", "kafka"}, {"mode", "dense"}, {"generate", false}});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(reply["partial"], true);
  ASSERT_EQ(reply["missing_shards"].size(), 1u);
  EXPECT_EQ(reply["missing_shards"][0]["shard"], 2);
  EXPECT_EQ(reply["hits"].size(), 5u);
  EXPECT_LT(seconds, 3.0) << "the router waited far past its 300 ms deadline";
}

// The client's deadline ("timeout_ms") cuts the fan-out before the shard
// deadline does; the shard that never answers is missing, but its replica's
// breaker stays closed (the request ran out of time, not the replica). With
// every shard hanging, the reply is 504.
TEST_F(RouterTest, TheRequestsDeadlineCutsTheFanOutWithoutBlamingTheReplica) {
  const HangingPeer peer;
  const std::string& hanging = peer.url;
  StartRouter({{Url(shards_[0].ports[0])}, {Url(shards_[1].ports[0])}, {hanging}}, std::chrono::seconds(20));
  auto start = std::chrono::steady_clock::now();
  const json reply =
      Query(router_port_, {{"query", "kafka"}, {"mode", "dense"}, {"generate", false}, {"timeout_ms", 400}});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(reply["partial"], true) << reply.dump();
  EXPECT_EQ(reply["hits"].size(), 5u);
  EXPECT_LT(seconds, 3.0) << "the router ignored the request's 400 ms deadline";
  EXPECT_NE(
      metrics_.ExposeText().find(StrCat("rag_circuit_breaker_state{dependency=\"shard2 ", hanging, "\"} 0")),
      std::string::npos)
      << "the request's deadline was blamed on the replica";

  router_.reset();
  StartRouter({{hanging}}, std::chrono::seconds(20));
  start = std::chrono::steady_clock::now();
  auto [status, body] =
      Call(router_port_, "POST", "/v1/collections/docs/query",
           {{"query", "kafka"}, {"mode", "dense"}, {"generate", false}, {"timeout_ms", 300}});
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(status, 504) << body.dump();
  EXPECT_LT(seconds, 3.0);
}

// Collections and aliases made through the router exist on every index node
// (each replica has its own catalog), or, for a create that fails anywhere,
// on none.
TEST_F(RouterTest, CatalogChangesReachEveryReplicaOrNone) {
  Node replica = OpenNode("shard1-replica");  // shard 1's second replica, with its own database
  store::CollectionConfig config;
  config.name = "docs";
  config.dim = 8;
  config.index_kind = index::IndexKind::kFlat;
  ASSERT_TRUE(replica.db->CreateCollection(config).ok());
  StartServer(&replica);
  StartRouter({{Url(shards_[0].ports[0])}, {Url(shards_[1].ports[0]), Url(replica.ports[0])}});
  std::vector<store::Database*> dbs = {shards_[0].db.get(), shards_[1].db.get(), replica.db.get()};
  auto everywhere = [&](const std::string& name) {
    int n = 0;
    for (auto* db : dbs) n += db->GetCollection(name).ok();
    return n;
  };
  const json notes = {{"name", "notes"}, {"dim", 8}, {"index", "flat"}};
  auto [created, body] = Call(router_port_, "POST", "/v1/collections", notes);
  EXPECT_EQ(created, 201) << body.dump();
  EXPECT_EQ(body["index_nodes"], 3);
  EXPECT_EQ(everywhere("notes"), 3);
  EXPECT_EQ(Call(router_port_, "POST", "/v1/collections", notes).first, 409);
  EXPECT_EQ(everywhere("notes"), 3) << "a refused create dropped what it had not made";
  EXPECT_EQ(Call(router_port_, "POST", "/v1/collections", {{"name", "bad/name"}, {"dim", 8}}).first, 400);

  // Aliases: on every node; a query through one reaches the collection on every shard.
  EXPECT_EQ(Call(router_port_, "PUT", "/v1/aliases/current", {{"collection", "docs"}}).first, 200);
  for (auto* db : dbs) EXPECT_EQ((*db->ListAliases())["current"], "docs");
  auto [q_status, q] = Call(router_port_, "POST", "/v1/collections/current/query",
                            {{"query", "kafka"}, {"mode", "lexical"}, {"generate", false}});
  EXPECT_EQ(q_status, 200) << q.dump();
  EXPECT_EQ(q["partial"], false);
  EXPECT_EQ(Call(router_port_, "GET", "/v1/aliases").second["aliases"]["current"], "docs");
  EXPECT_EQ(Call(router_port_, "DELETE", "/v1/aliases/current").first, 200);
  for (auto* db : dbs) EXPECT_FALSE(db->ListAliases()->count("current"));

  // Drop: everywhere; a node that lacks it already is not an error; none having it is 404.
  ASSERT_TRUE(replica.db->DropCollection("notes").ok());
  EXPECT_EQ(Call(router_port_, "DELETE", "/v1/collections/notes").first, 200);
  EXPECT_EQ(everywhere("notes"), 0);
  EXPECT_EQ(Call(router_port_, "DELETE", "/v1/collections/notes").first, 404);

  // A create that one node refuses (it has the name) is undone where it was made.
  config.name = "taken";
  ASSERT_TRUE(replica.db->CreateCollection(config).ok());
  EXPECT_EQ(Call(router_port_, "POST", "/v1/collections", {{"name", "taken"}, {"dim", 8}}).first, 409);
  EXPECT_EQ(everywhere("taken"), 1);
  // A node that cannot be reached: 503 naming it, and nothing made anywhere.
  replica.servers[0]->Stop();
  auto [down, why] = Call(router_port_, "POST", "/v1/collections", {{"name", "later"}, {"dim", 8}});
  EXPECT_EQ(down, 503) << why.dump();
  EXPECT_NE(why.dump().find(Url(replica.ports[0])), std::string::npos) << why.dump();
  EXPECT_EQ(everywhere("later"), 0);
  router_.reset();
}

}  // namespace
}  // namespace ragline::router
