// The HTTP API end to end in process: a real Database in a temp dir, the
// server on a free port, httplib::Client as the caller. LLM answers come from
// the scripted chat-completions peer (generate/chat_peer_for_test.h); dense
// text queries use the real model and are skipped when models/ is absent.
#include "server/server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "core/strings.h"
#include "embed/local_embedder.h"
#include "generate/chat_peer_for_test.h"
#include "server/document_routes.h"
#include "server/embeddings_routes.h"
#include "server/routes.h"
#include "server/web_routes.h"
#include "store/fault_injection_env.h"

namespace ragline::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ragline_server_test_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ModelDir() { return std::string(RAGLINE_SOURCE_DIR) + "/models/all-MiniLM-L6-v2"; }

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_path_ = dir_.path() + "/server.log";
    log_file_ = std::fopen(log_path_.c_str(), "w");
    logger_ = std::make_unique<obs::Logger>(obs::LogDestination::File(log_file_));
    auto db = store::Database::Open(*store::Env::Default(), dir_.path() + "/data",
                                    {.read_only = false, .threads = 2, .salvage = false, .on_open = {}});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
    db_.reset();
    std::fclose(log_file_);
  }

  void Start(ServerOptions options = {}, embed::Embedder* embedder = nullptr,
             const generate::ChatClient* chat = nullptr, embed::LocalEmbedder* document_embedder = nullptr,
             pipeline::IngestOptions ingest = {}) {
    if (options.threads == ServerOptions{}.threads) options.threads = 4;
    ServerDeps deps{db_.get(), embedder, chat, &metrics_, logger_.get(), dir_.path() + "/data"};
    deps.search_fault = search_fault_;
    server_ = std::make_unique<Server>(deps, std::move(options));
    RegisterCoreRoutes(*server_);
    if (document_embedder != nullptr) {
      RegisterDocumentRoutes(*server_, *document_embedder, ingest);
      RegisterEmbeddingsRoutes(*server_, *document_embedder);
    }
    auto port = server_->StartInBackground("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    client_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
    client_->set_read_timeout(30, 0);
  }

  struct Reply {
    int status = 0;
    json body;
    std::string raw;
    httplib::Headers headers;
  };
  Reply Send(const std::string& method, const std::string& path, const std::string& body = "",
             const httplib::Headers& headers = {}) {
    httplib::Result res(nullptr, httplib::Error::Unknown);
    if (method == "GET") {
      res = client_->Get(path.c_str(), headers);
    } else if (method == "POST") {
      res = client_->Post(path.c_str(), headers, body, "application/json");
    } else if (method == "PUT") {
      res = client_->Put(path.c_str(), headers, body, "application/json");
    } else {
      res = client_->Delete(path.c_str(), headers, body, "application/json");
    }
    Reply r;
    if (!res) {
      ADD_FAILURE() << method << " " << path << ": no response (" << httplib::to_string(res.error()) << ")";
      return r;
    }
    r.status = res->status;
    r.raw = res->body;
    r.headers = res->headers;
    r.body = json::parse(res->body, nullptr, false);
    return r;
  }
  Reply Post(const std::string& path, const json& body, const httplib::Headers& headers = {}) {
    return Send("POST", path, body.dump(), headers);
  }
  Reply Put(const std::string& path, const json& body) { return Send("PUT", path, body.dump()); }

  // A dim-4 collection "docs" with three records whose payloads carry text.
  void CreateDocs() {
    ASSERT_EQ(Post("/v1/collections", {{"name", "docs"}, {"dim", 4}, {"index", "flat"}}).status, 201);
    json vectors = json::array();
    vectors.push_back({{"id", "paris#0"},
                       {"version", 1},
                       {"vector", {1, 0, 0, 0}},
                       {"payload",
                        {{"text", "Paris is the capital of France. It lies on the Seine."},
                         {"doc_id", "paris"},
                         {"offsets", {0, 52}},
                         {"metadata", {{"title", "Paris"}, {"lang", "en"}}}}}});
    vectors.push_back({{"id", "berlin#0"},
                       {"version", 1},
                       {"vector", {0, 1, 0, 0}},
                       {"payload", {{"text", "Berlin is the capital of Germany."}, {"lang", "en"}}}});
    vectors.push_back({{"id", "raw"}, {"version", 1}, {"vector", {0, 0, 1, 0}}});
    Reply r = Post("/v1/collections/docs/vectors", {{"vectors", vectors}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["inserted"], 3);
  }

  std::string ReadLog() {
    std::fflush(log_file_);
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  TempDir dir_;
  std::string log_path_;
  FILE* log_file_ = nullptr;
  std::unique_ptr<obs::Logger> logger_;
  obs::MetricsRegistry metrics_;
  std::function<Status()> search_fault_;                 // ServerDeps::search_fault of the next Start
  std::unique_ptr<store::FaultInjectionEnv> fault_env_;  // when a test opens db_ on it
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<httplib::Client> client_;
  int port_ = 0;
};

std::string Header(const httplib::Headers& headers, const std::string& name) {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

// Sends `bytes` on a fresh TCP connection and returns everything the server
// writes back until it closes the connection or `quiet` passes without a byte.
std::string RawExchange(int port, const std::string& bytes,
                        std::chrono::milliseconds quiet = std::chrono::milliseconds(500)) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "<connect failed>";
  }
  for (size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close on a refused request before reading it all
    sent += static_cast<size_t>(n);
  }
  std::string out;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(quiet.count())) <= 0) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      out += "<closed>";
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

std::unique_ptr<generate::ChatClient> PeerClient(const generate::testing::ChatPeer& peer) {
  generate::ChatClientOptions options;
  options.base_url = peer.base_url();
  options.model = "peer-model";
  auto chat = generate::ChatClient::Create(options);
  return chat.ok() ? std::move(*chat) : nullptr;
}

TEST_F(ServerTest, CreatesListsDescribesAndDropsCollections) {
  Start();
  Reply created = Post("/v1/collections", {{"name", "docs"},
                                           {"dim", 4},
                                           {"metric", "l2"},
                                           {"index", {{"kind", "hnsw"}, {"params", {{"M", 8}}}}}});
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["dim"], 4);
  EXPECT_EQ(created.body["metric"], "l2");
  EXPECT_EQ(created.body["index"]["params"]["M"], 8) << created.raw;

  Reply list = Send("GET", "/v1/collections");
  EXPECT_EQ(list.body["collections"], json::array({"docs"}));
  Reply describe = Send("GET", "/v1/collections/docs");
  EXPECT_EQ(describe.status, 200);
  EXPECT_EQ(describe.body["vector_count"], 0);
  Reply stats = Send("GET", "/v1/collections/docs/stats");
  EXPECT_EQ(stats.status, 200);
  for (const char* key : {"vector_count", "deleted", "unindexed", "segments", "memory_bytes", "index"}) {
    EXPECT_TRUE(stats.body.contains(key)) << key;
  }
  EXPECT_EQ(stats.body["index"]["kind"], "hnsw");

  Reply dup = Post("/v1/collections", {{"name", "docs"}, {"dim", 4}});
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.body["error"]["code"], "already_exists");

  EXPECT_EQ(Send("DELETE", "/v1/collections/docs").status, 200);
  Reply gone = Send("GET", "/v1/collections/docs");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.body["error"]["code"], "not_found");
}

TEST_F(ServerTest, CollectionDefaultsToTheServersEmbeddingModel) {
  Start();
  Reply created = Post("/v1/collections", {{"name", "d"}});
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["dim"], 384);
  EXPECT_EQ(created.body["metric"], "cosine");
  EXPECT_EQ(created.body["index"]["kind"], "hnsw");
  EXPECT_EQ(created.body["lexical"]["text_field"], "text");
}

TEST_F(ServerTest, UpsertsSearchesGetsAndDeletesVectors) {
  Start();
  CreateDocs();
  Reply hits = Post("/v1/collections/docs/vectors/search", {{"vector", {0.9, 0.1, 0, 0}}, {"k", 2}});
  ASSERT_EQ(hits.status, 200) << hits.raw;
  ASSERT_EQ(hits.body["hits"].size(), 2u);
  EXPECT_EQ(hits.body["hits"][0]["id"], "paris#0");
  EXPECT_EQ(hits.body["hits"][1]["id"], "berlin#0");

  Reply filtered = Post("/v1/collections/docs/vectors/search",
                        {{"vector", {1, 0, 0, 0}}, {"k", 5}, {"filter", {{"lang", "en"}}}});
  // berlin's top-level "lang" and paris's metadata.lang, as its hits show it.
  EXPECT_EQ(filtered.body["hits"].size(), 2u);
  Reply top_level = Post("/v1/collections/docs/vectors/search",
                         {{"vector", {1, 0, 0, 0}}, {"k", 5}, {"filter", {{"doc_id", "berlin"}}}});
  EXPECT_EQ(top_level.body["hits"].size(), 0u);  // berlin#0 has no doc_id, paris#0's is "paris"

  Reply got = Send("GET", "/v1/collections/docs/vectors/berlin%230");
  ASSERT_EQ(got.status, 200) << got.raw;
  EXPECT_EQ(got.body["payload"]["lang"], "en");

  Reply stale = Post("/v1/collections/docs/vectors",
                     {{"vectors", {{{"id", "raw"}, {"version", 0}, {"vector", {0, 0, 0, 1}}}}}});
  EXPECT_EQ(stale.body["stale"], 1);
  EXPECT_EQ(stale.body["upserted"], 0);  // nothing was written

  Reply del = Post("/v1/collections/docs/vectors/delete", {{"ids", {"raw", "nope"}}});
  EXPECT_EQ(del.body["deleted"], 1);
  EXPECT_EQ(del.body["not_found"], 1);
  EXPECT_EQ(Send("GET", "/v1/collections/docs/vectors/raw").status, 404);
  Reply by_filter = Post("/v1/collections/docs/vectors/delete", {{"filter", {{"lang", "en"}}}});
  EXPECT_EQ(by_filter.body["deleted"], 2);  // berlin's lang and paris's metadata.lang
}

TEST_F(ServerTest, AliasesCreateFlipAndResolve) {
  Start();
  CreateDocs();
  ASSERT_EQ(Post("/v1/collections", {{"name", "other"}, {"dim", 4}}).status, 201);
  Reply put = Send("PUT", "/v1/aliases/live", json{{"collection", "docs"}}.dump());
  ASSERT_EQ(put.status, 200) << put.raw;
  EXPECT_EQ(put.body["created"], true);
  EXPECT_EQ(Post("/v1/collections/live/vectors/search", {{"vector", {1, 0, 0, 0}}}).body["hits"].size(), 3u);
  Reply flip = Send("PUT", "/v1/aliases/live", json{{"collection", "other"}}.dump());
  EXPECT_EQ(flip.body["created"], false);
  EXPECT_EQ(Post("/v1/collections/live/vectors/search", {{"vector", {1, 0, 0, 0}}}).body["hits"].size(), 0u);
  EXPECT_EQ(Send("GET", "/v1/aliases").body["aliases"]["live"], "other");
  EXPECT_EQ(Send("DELETE", "/v1/collections/other").status, 409);  // an alias points at it
  EXPECT_EQ(Send("DELETE", "/v1/aliases/live").status, 200);
  EXPECT_EQ(Send("GET", "/v1/aliases").body["aliases"].size(), 0u);
}

TEST_F(ServerTest, ClientMistakesGet4xxWithAnErrorBody) {
  ServerOptions options;
  options.max_body_bytes = 4096;
  Start(options);
  CreateDocs();
  auto expect_error = [](const Reply& r, int status, const std::string& code, const std::string& needle) {
    EXPECT_EQ(r.status, status) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], code) << r.raw;
    EXPECT_THAT(r.body["error"]["message"].get<std::string>(), HasSubstr(needle)) << r.raw;
  };
  expect_error(Send("POST", "/v1/collections", "{\"name\": "), 400, "invalid_argument", "malformed JSON");
  expect_error(Send("POST", "/v1/collections", "[1,2]"), 400, "invalid_argument", "must be a JSON object");
  expect_error(Post("/v1/collections", {{"name", 5}}), 400, "invalid_argument", "\"name\"");
  expect_error(Post("/v1/collections", {{"name", "a/b"}}), 400, "invalid_argument", "is invalid");
  expect_error(Post("/v1/collections", {{"name", "x"}, {"metric", "hamming"}}), 400, "invalid_argument",
               "hamming");
  expect_error(Post("/v1/collections/docs/vectors", {{"vectors", 5}}), 400, "invalid_argument",
               "\"vectors\"");
  expect_error(Post("/v1/collections/docs/vectors", {{"vectors", {{{"id", "x"}, {"vector", {1, 2, 3}}}}}}),
               400, "invalid_argument",
               "vectors[0] (id 'x'): vector has 3 dimensions, the collection expects 4");
  expect_error(
      Post("/v1/collections/docs/vectors", {{"vectors", {{{"id", "x"}, {"vector", {1, "a", 3, 4}}}}}}), 400,
      "invalid_argument", "vector[1] is not a number");
  expect_error(Send("POST", "/v1/collections/docs/vectors/search", "{\"vector\": [NaN, 0, 0, 0]}"), 400,
               "invalid_argument", "malformed JSON");
  expect_error(Send("POST", "/v1/collections/docs/vectors/search", "{\"vector\": [1e400, 0, 0, 0]}"), 400,
               "invalid_argument", "number overflow");
  expect_error(Send("POST", "/v1/collections/docs/vectors/search", "{\"vector\": [3.5e38, 0, 0, 0]}"), 400,
               "invalid_argument", "vector[0] is not a finite float");
  expect_error(Post("/v1/collections/docs/vectors/search", {{"vector", {1, 0, 0, 0}}, {"k", -1}}), 400,
               "invalid_argument", "\"k\"");
  expect_error(Post("/v1/collections/docs/vectors/search",
                    {{"vector", {1, 0, 0, 0}}, {"filter", {{"a", {{"$bad", 1}}}}}}),
               400, "invalid_argument", "filter");
  expect_error(Post("/v1/collections/nope/vectors/search", {{"vector", {1, 0, 0, 0}}}), 404, "not_found",
               "nope");
  expect_error(Post("/v1/collections/nope/query", {{"query", "x"}, {"mode", "lexical"}}), 404, "not_found",
               "nope");
  expect_error(Send("POST", "/v1/collections/docs/query", "{\"query\": \"caf\xC3\"}"), 400,
               "invalid_argument", "UTF-8");
  expect_error(Post("/v1/collections/docs/query", {{"query", "x"}, {"mode", "fuzzy"}}), 400,
               "invalid_argument", "mode");
  expect_error(Post("/v1/collections/docs/query", {{"query", "x"}, {"generate", "yes"}}), 400,
               "invalid_argument", "\"generate\"");
  expect_error(Post("/v1/collections/docs/query", {{"query", "capital"}, {"mode", "dense"}}), 503,
               "unavailable", "no embedding model");
  expect_error(Send("POST", "/v1/collections/docs/vectors", std::string(8192, ' ')), 413, "payload_too_large",
               "max_body_bytes");
  expect_error(Send("GET", "/v1/nothing"), 404, "not_found", "no route for GET /v1/nothing");
  std::string deep = "{\"vector\": [1, 0, 0, 0], \"filter\": ";
  for (int i = 0; i < 200; ++i) deep += "{\"$not\": ";
  deep += "{\"a\": 1}" + std::string(200, '}') + "}";
  expect_error(Send("POST", "/v1/collections/docs/vectors/search", deep), 400, "invalid_argument",
               "nested deeper than 64 levels");
  // Brackets inside strings (after an escaped quote too) do not count.
  std::string brackets =
      "{\"vector\": [1, 0, 0, 0], \"filter\": {\"note\": {\"$ne\": \"\\\"" + std::string(100, '[') + "\"}}}";
  EXPECT_EQ(Send("POST", "/v1/collections/docs/vectors/search", brackets).status, 200) << brackets;
  // The server is still fine.
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
}

// Issue #13 item 2: no request can be parsed out of another's body.
TEST_F(ServerTest, NoRequestIsParsedOutOfAnotherRequestsBody) {
  ServerOptions options;
  options.api_keys = {ApiKey{"writer", Access::kWrite, {"*"}}};
  Start(options);
  ASSERT_EQ(
      Post("/v1/collections", {{"name", "docs"}, {"dim", 2}}, {{"Authorization", "Bearer writer"}}).status,
      201);
  const std::string smuggled =
      "PUT /v1/aliases/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer writer\r\n"
      "Content-Type: application/json\r\nContent-Length: 22\r\n\r\n{\"collection\": \"docs\"}";
  for (const std::string method : {"TRACE", "GET", "OPTIONS", "FOO", "DELETE"}) {
    SCOPED_TRACE(method);
    const std::string reply = RawExchange(
        port_, StrCat(method, " /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: ", smuggled.size(),
                      "\r\n\r\n", smuggled));
    EXPECT_EQ(Count(reply, "HTTP/1.1 "), 1u) << reply;  // one request, one reply
  }
  // Ambiguous framing is refused and the connection closed.
  for (const std::string framing : {"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
                                    "Content-Length: 4\r\nContent-Length: 5\r\n"}) {
    const std::string reply = RawExchange(
        port_, "POST /v1/collections HTTP/1.1\r\nHost: a\r\n" + framing + "\r\n0\r\n\r\n" + smuggled);
    EXPECT_NE(reply.find("HTTP/1.1 400"), std::string::npos) << reply;
    EXPECT_EQ(Count(reply, "HTTP/1.1 "), 1u) << reply;
    EXPECT_NE(reply.find("<closed>"), std::string::npos) << reply;
  }
  EXPECT_TRUE(Send("GET", "/v1/aliases").body["aliases"].empty()) << "a smuggled PUT ran";
  // Keep-alive still carries real pipelined requests.
  EXPECT_EQ(
      Count(RawExchange(port_,
                        "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"),
            "HTTP/1.1 200"),
      2u);
}

// Issue #13 item 4: every refusal of the transport is an answer.
TEST_F(ServerTest, OversizedHeadersAndUnsupportedMethodsGetAnswers) {
  ServerOptions options;
  options.max_body_bytes = 4096;
  Start(options);
  const std::string big_header =
      "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n";
  std::string many_headers = "GET /healthz HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 10000; ++i) many_headers += StrCat("X-", i, ": 1\r\n");
  many_headers += "\r\n";
  std::string over_count = "GET /healthz HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 150; ++i) over_count += StrCat("X-", i, ": 1\r\n");
  over_count += "\r\n";
  for (const std::string& request : {big_header, many_headers, over_count}) {
    const std::string reply = RawExchange(port_, request);
    EXPECT_EQ(reply.rfind("HTTP/1.1 431 ", 0), 0u) << reply.substr(0, 200);
    EXPECT_NE(reply.find("request_header_fields_too_large"), std::string::npos);
  }
  const std::string long_uri =
      RawExchange(port_, "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(long_uri.rfind("HTTP/1.1 414 ", 0), 0u) << long_uri.substr(0, 200);
  // A declared body over the limit: 413 before it is read, connection closed.
  const std::string big_body =
      RawExchange(port_, "POST /v1/collections HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n" +
                             std::string(8192, 'x'));
  EXPECT_EQ(big_body.rfind("HTTP/1.1 413 ", 0), 0u) << big_body.substr(0, 200);
  EXPECT_NE(big_body.find("max_body_bytes = 4096"), std::string::npos);
  EXPECT_NE(big_body.find("<closed>"), std::string::npos);
  // TRACE and unknown methods: 405 naming what the path allows.
  for (const std::string method : {"TRACE", "FOO"}) {
    const std::string reply = RawExchange(port_, method + " /v1/collections HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 405 ", 0), 0u) << reply;
    EXPECT_NE(reply.find("Allow: GET, HEAD, POST\r\n"), std::string::npos) << reply;
    EXPECT_NE(reply.find("method_not_allowed"), std::string::npos) << reply;
  }
  EXPECT_EQ(RawExchange(port_, "TRACE /nothing HTTP/1.1\r\nHost: a\r\n\r\n").rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(RawExchange(port_, "\x01\x02 nonsense\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(Send("GET", "/healthz").status, 200);  // still serving
}

// Issue #13 items 3, 6, 11, 13: what the API refuses, and what it never says.
TEST_F(ServerTest, StrictBodiesAndErrorsThatNameNoPaths) {
  Start();
  CreateDocs();
  for (const auto& [path, body, field] : std::vector<std::tuple<std::string, json, std::string>>{
           {"/v1/collections/docs/query", {{"query", "x"}, {"filters", {{"lang", "en"}}}}, "filters"},
           {"/v1/collections/docs/query", {{"query", "x"}, {"top_k", 3}}, "top_k"},
           {"/v1/collections/docs/vectors/search", {{"vector", {1, 0, 0, 0}}, {"topk", 3}}, "topk"},
           {"/v1/collections/docs/vectors",
            {{"vectors", {{{"id", "a"}, {"vector", {1, 0, 0, 0}}, {"metadata", json::object()}}}}},
            "metadata"},
           {"/v1/collections/docs/vectors/delete", {{"ids", {"a"}}, {"dry_run", true}}, "dry_run"},
       }) {
    Reply r = Post(path, body);
    EXPECT_EQ(r.status, 400) << path << " " << body.dump();
    EXPECT_THAT(r.body["error"]["message"].get<std::string>(), HasSubstr("unknown field \"" + field + "\""));
  }
  // An empty filter deletes nothing; everything takes {"all": true}.
  Reply empty = Post("/v1/collections/docs/vectors/delete", {{"filter", json::object()}});
  EXPECT_EQ(empty.status, 400);
  EXPECT_THAT(empty.body["error"]["message"].get<std::string>(), HasSubstr("\"all\": true"));
  EXPECT_EQ(Send("GET", "/v1/collections/docs/stats").body["vector_count"], 3);
  // A zero query vector is refused like a zero upsert.
  EXPECT_EQ(Post("/v1/collections/docs/vectors/search", {{"vector", {0, 0, 0, 0}}}).status, 400);
  EXPECT_EQ(
      Post("/v1/collections/docs/vectors", {{"vectors", {{{"id", "z"}, {"vector", {0, 0, 0, 0}}}}}}).status,
      400);
  // Alias targets outside the name rule never reach the file system.
  Reply evil = Send("PUT", "/v1/aliases/evil", R"({"collection": "../../victim/collections/secret"})");
  EXPECT_EQ(evil.status, 400);
  EXPECT_EQ(Send("PUT", "/v1/aliases/evil", R"({"collection": "docs/."})").status, 400);
  // Errors and /readyz name collections and files, never the server's paths.
  Reply ready = Send("GET", "/readyz");
  EXPECT_EQ(ready.raw.find(dir_.path()), std::string::npos) << ready.raw;
  EXPECT_FALSE(ready.body.contains("data_dir"));
  std::filesystem::create_directories(dir_.path() + "/data/collections/broken");
  std::ofstream(dir_.path() + "/data/collections/broken/collection.json") << "{not json";
  Reply broken = Send("GET", "/v1/collections/broken/stats");
  EXPECT_EQ(broken.status, 500);
  EXPECT_EQ(broken.raw.find(dir_.path()), std::string::npos) << broken.raw;
  EXPECT_THAT(broken.body["error"]["message"].get<std::string>(),
              HasSubstr("collections/broken/collection.json"));
  EXPECT_EQ(Post("/v1/collections/docs/vectors/delete", {{"all", true}}).body["deleted"], 3);
}

TEST_F(ServerTest, LexicalQueryWithoutAnLlmGivesADegradedExtractiveAnswer) {
  Start();
  CreateDocs();
  Reply r =
      Post("/v1/collections/docs/query", {{"query", "What is the capital of France?"}, {"mode", "lexical"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_GE(r.body["hits"].size(), 1u);
  const json& top = r.body["hits"][0];
  EXPECT_EQ(top["id"], "paris#0");
  EXPECT_EQ(top["doc_id"], "paris");
  EXPECT_EQ(top["offsets"], json({0, 52}));
  EXPECT_EQ(top["metadata"]["title"], "Paris");
  EXPECT_THAT(top["text"].get<std::string>(), HasSubstr("capital of France"));
  EXPECT_EQ(r.body["degraded"], true);
  EXPECT_EQ(r.body["degraded_reason"], "no_llm");
  EXPECT_EQ(r.body["degraded_detail"], "no LLM configured");
  EXPECT_THAT(r.body["answer"].get<std::string>(), HasSubstr("Paris is the capital of France. [1]"));
  ASSERT_GE(r.body["citations"].size(), 1u);
  EXPECT_EQ(r.body["citations"][0]["n"], 1);
  EXPECT_EQ(r.body["citations"][0]["id"], "paris#0");
  EXPECT_EQ(r.body["citations"][0]["doc_id"], "paris");

  // A hit without "doc_id"/"offsets" falls back.
  Reply berlin =
      Post("/v1/collections/docs/query", {{"query", "Germany"}, {"mode", "lexical"}, {"generate", false}});
  ASSERT_EQ(berlin.body["hits"].size(), 1u);
  EXPECT_EQ(berlin.body["hits"][0]["doc_id"], "berlin#0");
  EXPECT_EQ(berlin.body["hits"][0]["offsets"], nullptr);
  EXPECT_EQ(berlin.body["hits"][0]["metadata"]["lang"], "en");
  EXPECT_EQ(berlin.body["answer"], nullptr);
}

TEST_F(ServerTest, QueryAsksTheLlmAndReturnsItsCitedAnswer) {
  generate::testing::ChatPeer peer;
  auto chat = PeerClient(peer);
  ASSERT_NE(chat, nullptr);
  Start({}, nullptr, chat.get());
  CreateDocs();
  Reply r = Post("/v1/collections/docs/query", {{"query", "capital of France"}, {"mode", "lexical"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["answer"], "Paris is the capital of France [1].");
  EXPECT_EQ(r.body["degraded"], false);
  EXPECT_EQ(r.body["degraded_reason"], nullptr);
  ASSERT_EQ(r.body["citations"].size(), 1u);
  EXPECT_EQ(r.body["citations"][0]["id"], r.body["hits"][0]["id"]);
  EXPECT_EQ(peer.requests(), 1);
  EXPECT_THAT(peer.last_request()["messages"].dump(), HasSubstr("capital of France"));
}

TEST_F(ServerTest, StreamedQuerySendsHitsDeltasAndDoneEvents) {
  generate::testing::ChatPeer peer;
  auto chat = PeerClient(peer);
  ASSERT_NE(chat, nullptr);
  Start({}, nullptr, chat.get());
  CreateDocs();
  Reply r = Post("/v1/collections/docs/query",
                 {{"query", "capital of France"}, {"mode", "lexical"}, {"stream", true}});
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(Header(r.headers, "Content-Type"), HasSubstr("text/event-stream"));
  // Parse "event: X\ndata: Y\n\n" blocks.
  std::vector<std::pair<std::string, json>> events;
  std::stringstream ss(r.raw);
  std::string line, event;
  while (std::getline(ss, line)) {
    if (line.rfind("event: ", 0) == 0) event = line.substr(7);
    if (line.rfind("data: ", 0) == 0) events.emplace_back(event, json::parse(line.substr(6)));
  }
  ASSERT_GE(events.size(), 3u) << r.raw;
  EXPECT_EQ(events.front().first, "hits");
  EXPECT_EQ(events.front().second["hits"][0]["id"], "paris#0");
  std::string text;
  for (const auto& [name, data] : events) {
    if (name == "delta") text += data["text"].get<std::string>();
  }
  EXPECT_EQ(text, "Paris is the capital of France [1].");
  EXPECT_EQ(events.back().first, "done");
  EXPECT_EQ(events.back().second["answer"], text);
  EXPECT_EQ(events.back().second["degraded"], false);
  EXPECT_EQ(events.back().second["citations"][0]["id"], "paris#0");
}

// Data lines of a server-sent event stream, parsed ("[DONE]" as a string).
std::vector<json> SseData(const std::string& raw) {
  std::vector<json> out;
  std::stringstream ss(raw);
  std::string line;
  while (std::getline(ss, line)) {
    if (line.rfind("data: ", 0) != 0) continue;
    const std::string data = line.substr(6);
    out.push_back(data == "[DONE]" ? json("[DONE]") : json::parse(data));
  }
  return out;
}

TEST_F(ServerTest, TheOpenAiChatRouteAnswersTheLastUserMessageWithCitations) {
  generate::testing::ChatPeer peer;
  auto chat = PeerClient(peer);
  ASSERT_NE(chat, nullptr);
  Start({}, nullptr, chat.get());
  CreateDocs();
  ASSERT_EQ(Put("/v1/aliases/kb", {{"collection", "docs"}}).status, 200);
  const json messages = json::array({{{"role", "system"}, {"content", "Be brief."}},
                                     {{"role", "user"}, {"content", "Tell me about Germany"}},
                                     {{"role", "assistant"}, {"content", "Berlin is its capital."}},
                                     {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "capital of France"}}}}}});
  Reply r = Post("/v1/chat/completions", {{"model", "kb"}, {"messages", messages}, {"mode", "lexical"}, {"k", 2}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["object"], "chat.completion");
  EXPECT_EQ(r.body["model"], "kb");
  EXPECT_THAT(r.body["id"].get<std::string>(), ::testing::StartsWith("chatcmpl-"));
  ASSERT_EQ(r.body["choices"].size(), 1u);
  EXPECT_EQ(r.body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], "Paris is the capital of France [1].");
  EXPECT_EQ(r.body["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(r.body["usage"]["total_tokens"], 49);  // the LLM's count
  EXPECT_EQ(r.body["degraded"], false);
  ASSERT_EQ(r.body["citations"].size(), 1u);
  EXPECT_EQ(r.body["citations"][0]["id"], "paris#0");
  EXPECT_EQ(r.body["hits"][0]["id"], "paris#0");
  // Retrieval and the LLM saw the last user message only.
  const std::string sent = peer.last_request()["messages"].dump();
  EXPECT_THAT(sent, HasSubstr("capital of France"));
  EXPECT_THAT(sent, ::testing::Not(HasSubstr("Tell me about Germany")));

  // The models: each collection and alias.
  Reply models = Send("GET", "/v1/models");
  ASSERT_EQ(models.status, 200) << models.raw;
  std::vector<std::string> ids;
  for (const json& m : models.body["data"]) ids.push_back(m["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"docs", "kb"}));

  // Without an LLM: the extractive answer, marked degraded.
  server_.reset();
  Start();
  r = Post("/v1/chat/completions",
           {{"model", "docs"}, {"messages", {{{"role", "user"}, {"content", "capital of France?"}}}}, {"mode", "lexical"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_THAT(r.body["choices"][0]["message"]["content"].get<std::string>(),
              HasSubstr("Paris is the capital of France. [1]"));
  EXPECT_EQ(r.body["degraded"], true);
  EXPECT_EQ(r.body["degraded_reason"], "no_llm");
  EXPECT_EQ(r.body["usage"]["total_tokens"], 0);
}

// Embeds every text as (1, 0, 0, 0): "docs"'s Paris record.
class ParisEmbedder : public embed::Embedder {
 public:
  size_t dim() const override { return 4; }
  const std::string& model_id() const override { return id_; }
  Result<Matrix> Embed(std::span<const std::string> texts) override {
    Matrix m(texts.size(), 4);
    for (size_t i = 0; i < texts.size(); ++i) m.row(i)[0] = 1;
    return m;
  }

 private:
  const std::string id_ = "paris-embedder";
};

TEST_F(ServerTest, TheOpenAiChatRouteStreamsChunksEndingWithDone) {
  generate::testing::ChatPeer peer;
  auto chat = PeerClient(peer);
  ASSERT_NE(chat, nullptr);
  ParisEmbedder embedder;
  Start({}, &embedder, chat.get());
  CreateDocs();
  Reply r = Post("/v1/chat/completions", {{"model", "docs"},
                                          {"messages", {{{"role", "user"}, {"content", "capital of France"}}}},
                                          {"mode", "lexical"},
                                          {"stream", true},
                                          {"stream_options", {{"include_usage", true}}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_THAT(Header(r.headers, "Content-Type"), HasSubstr("text/event-stream"));
  const std::vector<json> data = SseData(r.raw);
  ASSERT_GE(data.size(), 5u) << r.raw;
  EXPECT_EQ(data.back(), "[DONE]");
  EXPECT_EQ(data.front()["object"], "chat.completion.chunk");
  EXPECT_EQ(data.front()["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (size_t i = 0; i + 3 < data.size(); ++i) {
    EXPECT_EQ(data[i]["choices"][0]["finish_reason"], nullptr);
    text += data[i]["choices"][0]["delta"].value("content", "");
  }
  EXPECT_EQ(text, "Paris is the capital of France [1].");
  const json& last = data[data.size() - 3];
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(last["citations"][0]["id"], "paris#0");
  EXPECT_EQ(last["degraded"], false);
  const json& usage = data[data.size() - 2];
  EXPECT_EQ(usage["choices"], json::array());
  EXPECT_EQ(usage["usage"]["total_tokens"], 0);  // the peer's stream reports none

  // ragline's own LLM client reads ragline as an LLM, whole and streamed.
  generate::ChatClientOptions options;
  options.base_url = StrCat("http://127.0.0.1:", port_, "/v1");
  options.model = "docs";
  auto client = generate::ChatClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  const std::vector<generate::ChatMessage> ask = {{"user", "capital of France"}};
  auto whole = (*client)->Complete(ask);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->content, "Paris is the capital of France [1].");
  std::string streamed;
  auto parts = (*client)->Stream(ask, [&](std::string_view d) {
    streamed += d;
    return true;
  });
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(streamed, "Paris is the capital of France [1].");
}

TEST_F(ServerTest, TheOpenAiChatRouteRefusesWhatItCannotDoByName) {
  ServerOptions options;
  options.api_keys = {{"reader", Access::kRead, {"docs"}}, {"writer", Access::kWrite, {"*"}}};
  Start(options);
  const httplib::Headers writer = {{"Authorization", "Bearer writer"}};
  const httplib::Headers reader = {{"Authorization", "Bearer reader"}};
  ASSERT_EQ(Post("/v1/collections", {{"name", "docs"}, {"dim", 4}}, writer).status, 201);
  ASSERT_EQ(Post("/v1/collections", {{"name", "other"}, {"dim", 4}}, writer).status, 201);
  const json user = json::array({{{"role", "user"}, {"content", "hello"}}});
  auto ask = [&](json body) {
    body.emplace("messages", user);
    body.emplace("model", "docs");
    body.emplace("mode", "lexical");
    return Post("/v1/chat/completions", body, reader);
  };
  EXPECT_EQ(ask({}).status, 200);
  Reply other = ask({{"model", "other"}});
  EXPECT_EQ(other.status, 403) << other.raw;
  EXPECT_EQ(other.body["error"]["type"], "permission_error");
  EXPECT_EQ(Post("/v1/chat/completions", {{"model", "docs"}, {"messages", user}}).status, 401);

  struct Bad {
    json body;
    int status;
    const char* says;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{{"model", "nope"}}, 403, "does not cover collection 'nope'"},
           {{{"model", ""}}, 400, "\"model\""},
           {{{"messages", json::array()}}, 400, "\"messages\""},
           {{{"messages", {{{"role", "assistant"}, {"content", "hi"}}}}}, 400, "must end with a user message"},
           {{{"messages", {{{"role", "robot"}, {"content", "hi"}}}}}, 400, "messages[0].role"},
           {{{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}}, 400, "messages[0].content[0]"},
           {{{"n", 2}}, 400, "n = 1"},
           {{{"tools", {{{"type", "function"}}}}}, 400, "tool calls are not supported"},
           {{{"logprobs", true}}, 400, "logprobs"},
           {{{"response_format", {{"type", "json_object"}}}}, 400, "response_format"},
           {{{"stream_options", {{"include_usage", true}}}}, 400, "needs \"stream\": true"},
           {{{"k", 0}}, 400, "\"k\""},
           {{{"top_k", 3}}, 400, "unknown field \"top_k\""},
       }) {
    Reply r = ask(bad.body);
    EXPECT_EQ(r.status, bad.status) << bad.body.dump() << " -> " << r.raw;
    EXPECT_THAT(r.body["error"]["message"].get<std::string>(), HasSubstr(bad.says)) << bad.body.dump();
  }
  // A model that is not a collection, with a key that covers everything: 404.
  Reply missing = Post("/v1/chat/completions", {{"model", "nope"}, {"messages", user}}, writer);
  EXPECT_EQ(missing.status, 404) << missing.raw;
  EXPECT_THAT(missing.body["error"]["message"].get<std::string>(), HasSubstr("GET /v1/models"));
  EXPECT_EQ(missing.body["error"]["type"], "invalid_request_error");
}

TEST(YamlToJsonTest, TypesPlainScalarsAndKeepsQuotedOnesAsStrings) {
  auto j = YamlToJson(
      "a: 1\nb: -2.5e+3\nc: [true, null, ~, 'null', '200', x y]\nd: {e: 3.4e38, f: \"1\"}\n"
      "g: |\n  line one\n  line two\nh:\n");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["a"], 1);
  EXPECT_EQ((*j)["b"], -2500.0);
  EXPECT_EQ((*j)["c"], json::parse(R"([true, null, null, "null", "200", "x y"])"));
  EXPECT_EQ((*j)["d"]["e"], 3.4e38);
  EXPECT_EQ((*j)["d"]["f"], "1");
  EXPECT_EQ((*j)["g"], "line one\nline two\n");
  EXPECT_EQ((*j)["h"], nullptr);
  auto bad = YamlToJson("a: {b: what?}");
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
}

TEST_F(ServerTest, TheServerServesItsOwnApiDescriptionWithoutAKey) {
  ServerOptions options;
  options.api_keys = {{"reader", Access::kRead, {"*"}}};
  Start(options);
  Reply spec = Send("GET", "/openapi.json");
  ASSERT_EQ(spec.status, 200) << spec.raw;
  EXPECT_EQ(spec.body["openapi"], "3.1.0");
  const json& chat = spec.body["paths"]["/v1/chat/completions"]["post"];
  EXPECT_EQ(chat["requestBody"]["content"]["application/json"]["schema"]["properties"]["n"]["enum"],
            json::parse("[1, null]"));
  EXPECT_TRUE(spec.body["paths"]["/v1/collections/{name}/query"]["post"]["responses"].contains("200"));
  Reply yaml = Send("GET", "/openapi.yaml");
  ASSERT_EQ(yaml.status, 200);
  EXPECT_THAT(yaml.raw, ::testing::StartsWith("openapi: 3.1.0\n"));
  Reply page = Send("GET", "/docs");
  ASSERT_EQ(page.status, 200);
  EXPECT_THAT(Header(page.headers, "Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(page.raw, HasSubstr("/openapi.json"));
  Reply ui = Send("GET", "/ui");
  ASSERT_EQ(ui.status, 200);
  EXPECT_THAT(ui.raw, HasSubstr("/query"));
  EXPECT_EQ(Send("GET", "/v1/collections").status, 401);  // the rest still needs the key
}

TEST_F(ServerTest, ThePineconeDataPlaneKeepsNamespacesAsCollectionsAndReadsApiKeyHeaders) {
  ServerOptions options;
  options.api_keys = {{"writer", Access::kWrite, {"*"}}, {"reader", Access::kRead, {"pine"}}};
  Start(options);
  const httplib::Headers writer = {{"Api-Key", "writer"}};
  const httplib::Headers reader = {{"Api-Key", "reader"}};
  EXPECT_EQ(Post("/pinecone/pine/describe_index_stats", json::object(), writer).status, 404);
  ASSERT_EQ(Post("/v1/collections", {{"name", "pine"}, {"dim", 2}, {"metric", "dot"}}, writer).status, 201);
  Reply up = Post("/pinecone/pine/vectors/upsert",
                  {{"vectors", {{{"id", "a"}, {"values", {1, 0}}, {"metadata", {{"genre", "drama"}}}},
                                {{"id", "b"}, {"values", {0, 1}}}}},
                   {"namespace", "eu"}},
                  writer);
  ASSERT_EQ(up.status, 200) << up.raw;
  EXPECT_EQ(up.body["upsertedCount"], 2);
  // Upserting the same ids again replaces them (the version moves past the stored one).
  EXPECT_EQ(Post("/pinecone/pine/vectors/upsert", {{"vectors", {{{"id", "a"}, {"values", {2, 0}}}}}, {"namespace", "eu"}},
                 writer).body["upsertedCount"],
            1);
  Reply stats = Send("GET", "/pinecone/pine/describe_index_stats", "", reader);
  ASSERT_EQ(stats.status, 200) << stats.raw;
  EXPECT_EQ(stats.body["namespaces"], json::parse(R"({"eu": {"vectorCount": 2}})"));
  EXPECT_EQ(stats.body["metric"], "dotproduct");
  EXPECT_EQ(Send("GET", "/v1/collections/pine__eu", "", {{"Authorization", "Bearer writer"}}).status, 200);
  Reply q = Post("/pinecone/pine/query", {{"vector", {1, 0}}, {"topK", 1}, {"namespace", "eu"}, {"includeMetadata", true}},
                 reader);
  ASSERT_EQ(q.status, 200) << q.raw;
  EXPECT_EQ(q.body["matches"][0]["id"], "a");
  EXPECT_EQ(q.body["matches"][0]["score"], 2.0);
  EXPECT_EQ(q.body["matches"][0]["metadata"], json::object());  // replaced whole by the second upsert
  EXPECT_EQ(Post("/pinecone/pine/query", {{"vector", {1, 0}}, {"topK", 1}}, reader).body["matches"], json::array());
  EXPECT_EQ(Post("/pinecone/pine/vectors/delete", {{"ids", {"a"}}}, reader).status, 403);
  EXPECT_EQ(Post("/pinecone/pine/query", {{"vector", {1, 0}}, {"topK", 1}}).status, 401);
  struct Bad {
    json body;
    const char* says;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{{"vector", {1, 0}}, {"topK", 1}, {"namespace", "e/u"}}, "namespace 'e/u'"},
           {{{"vector", {1, 0}}, {"topK", 0}}, "\"topK\""},
           {{{"vector", {1, 0}}, {"id", "a"}, {"topK", 1}}, "exactly one of"},
           {{{"vector", {1, 0}}, {"topK", 1}, {"filter", {{"x", {{"$regex", "y"}}}}}}, "$regex"},
           {{{"vector", {1, 0}}, {"topK", 1}, {"sparseVector", {{"indices", {1}}, {"values", {1}}}}}, "sparse"},
           {{{"vector", {1, 0}}, {"topK", 1}, {"top_k", 1}}, "unknown field \"top_k\""},
       }) {
    Reply r = Post("/pinecone/pine/query", bad.body, reader);
    EXPECT_EQ(r.status, 400) << bad.body.dump() << " -> " << r.raw;
    EXPECT_THAT(r.body["error"]["message"].get<std::string>(), HasSubstr(bad.says)) << r.raw;
  }
}

TEST_F(ServerTest, ApiKeysGate401And403) {
  ServerOptions options;
  options.api_keys = {{"reader", Access::kRead, {"docs"}}, {"writer", Access::kWrite, {"*"}}};
  Start(options);
  const httplib::Headers writer = {{"Authorization", "Bearer writer"}};
  const httplib::Headers reader = {{"Authorization", "Bearer reader"}};
  ASSERT_EQ(Post("/v1/collections", {{"name", "docs"}, {"dim", 4}}, writer).status, 201);
  ASSERT_EQ(Post("/v1/collections", {{"name", "other"}, {"dim", 4}}, writer).status, 201);

  Reply none = Send("GET", "/v1/collections/docs");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body["error"]["code"], "unauthenticated");
  EXPECT_EQ(Send("GET", "/v1/collections/docs", "", {{"Authorization", "Bearer nope"}}).status, 401);
  EXPECT_EQ(Send("GET", "/v1/collections/docs", "", reader).status, 200);
  EXPECT_EQ(Post("/v1/collections/docs/vectors/search", {{"vector", {1, 0, 0, 0}}}, reader).status, 200);
  Reply upsert = Post("/v1/collections/docs/vectors", {{"vectors", json::array()}}, reader);
  EXPECT_EQ(upsert.status, 403);
  EXPECT_EQ(upsert.body["error"]["code"], "permission_denied");
  EXPECT_EQ(Send("GET", "/v1/collections/other", "", reader).status, 403);
  EXPECT_EQ(Post("/v1/collections", {{"name", "x"}, {"dim", 4}}, reader).status, 403);
  EXPECT_EQ(Post("/v1/collections/docs/vectors", {{"vectors", json::array()}}, writer).status, 200);
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
  EXPECT_EQ(Send("GET", "/metrics").status, 200);
}

TEST_F(ServerTest, MetricsCountRequestsByRouteTemplate) {
  Start();
  CreateDocs();
  Post("/v1/collections/docs/query", {{"query", "France"}, {"mode", "lexical"}});
  Send("GET", "/v1/collections/nope");
  // Metrics are updated after a response's last byte is written, so the
  // scrape may overtake the requests just answered: wait for the last one.
  httplib::Result res(nullptr, httplib::Error::Unknown);
  for (int i = 0; i < 200; ++i) {
    res = client_->Get("/metrics");
    ASSERT_TRUE(res);
    if (res->body.find("code=\"404\"") != std::string::npos &&
        res->body.find("query\",method=\"POST\",code=\"200\"") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_THAT(res->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  const std::string& text = res->body;
  EXPECT_THAT(text,
              HasSubstr("rag_http_requests_total{route=\"/v1/collections\",method=\"POST\",code=\"201\"} 1"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "rag_http_requests_total{route=\"/v1/collections/{name}/query\",method=\"POST\",code=\"200\"} 1"));
  EXPECT_THAT(
      text,
      HasSubstr("rag_http_requests_total{route=\"/v1/collections/{name}\",method=\"GET\",code=\"404\"} 1"));
  EXPECT_THAT(text, HasSubstr("rag_http_request_duration_seconds_bucket{route=\"/v1/collections/{name}/"
                              "query\",method=\"POST\",le="));
  EXPECT_THAT(text, HasSubstr("rag_pipeline_latency_seconds_count{stage=\"retrieve\"} 1"));
  EXPECT_THAT(text, HasSubstr("rag_pipeline_latency_seconds_count{stage=\"generate\"} 1"));
  EXPECT_THAT(text, HasSubstr("rag_pipeline_latency_seconds_count{stage=\"embed\"} 0"));
  EXPECT_THAT(text, HasSubstr("rag_vectorstore_query_time_seconds_count{mode=\"lexical\"} 1"));
}

TEST_F(ServerTest, EchoesRequestIdsAndLogsOneJsonLinePerRequest) {
  Start();
  Reply mine = Send("GET", "/v1/collections/nope", "", {{"X-Request-Id", "req-42"}});
  EXPECT_EQ(Header(mine.headers, "X-Request-Id"), "req-42");
  Reply generated = Send("GET", "/healthz");
  EXPECT_EQ(Header(generated.headers, "X-Request-Id").size(), 16u);
  // The log line is written after the response; give the worker a moment.
  std::string log;
  for (int i = 0;
       i < 200 && (log.find("/healthz") == std::string::npos || log.find("req-42") == std::string::npos);
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    log = ReadLog();
  }
  std::stringstream ss(log);
  std::string line;
  bool found = false;
  while (std::getline(ss, line)) {
    json j = json::parse(line);
    if (j.value("request_id", "") != "req-42") continue;
    found = true;
    EXPECT_EQ(j["route"], "/v1/collections/{name}");
    EXPECT_EQ(j["status"], 404);
    EXPECT_EQ(j["error_code"], "not_found");
    EXPECT_TRUE(j.contains("duration_ms"));
  }
  EXPECT_TRUE(found) << log;
}

TEST_F(ServerTest, ReadyzNeedsTheModel) {
  Start();
  Reply r = Send("GET", "/readyz", "", {{"X-Request-Id", "ready-1"}});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body["ready"], false);
  // Its log line is a warning with the reason, not an "internal" error.
  std::string log = ReadLog();
  for (int i = 0; i < 200 && log.find("ready-1") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    log = ReadLog();
  }
  std::stringstream ss(log);
  bool found = false;
  for (std::string line; std::getline(ss, line);) {
    json j = json::parse(line);
    if (j.value("request_id", "") != "ready-1") continue;
    found = true;
    EXPECT_EQ(j["level"], "warn") << line;
    EXPECT_EQ(j["error_code"], "unavailable") << line;
    EXPECT_EQ(j["error"], "no embedding model loaded") << line;
  }
  EXPECT_TRUE(found) << log;
}

TEST_F(ServerTest, ServesQueriesWhileWritesRun) {
  Start();
  CreateDocs();
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    httplib::Client c("127.0.0.1", port_);
    for (int i = 0; i < 30; ++i) {
      json v = {{"vectors",
                 {{{"id", StrCat("w", i)},
                   {"version", 1},
                   {"vector", {0.5, 0.5, 0, 0}},
                   {"payload", {{"text", "a capital city"}}}}}}};
      auto res = c.Post("/v1/collections/docs/vectors", v.dump(), "application/json");
      if (!res || res->status != 200) ++failures;
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      httplib::Client c("127.0.0.1", port_);
      while (!stop) {
        auto res = c.Post("/v1/collections/docs/query",
                          json{{"query", "capital"}, {"mode", "lexical"}, {"generate", false}}.dump(),
                          "application/json");
        if (!res || res->status != 200) ++failures;
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(Send("GET", "/v1/collections/docs/stats").body["vector_count"], 33);
}

TEST_F(ServerTest, DenseAndHybridQueriesEmbedWithTheRealModel) {
  if (!fs::exists(ModelDir() + "/model.safetensors")) GTEST_SKIP() << "no model at " << ModelDir();
  ThreadPool pool(2);
  auto embedder = embed::LocalEmbedder::Open(ModelDir(), {}, &pool);
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  Start({}, embedder->get());
  EXPECT_EQ(Send("GET", "/readyz").status, 200);
  ASSERT_EQ(Post("/v1/collections", {{"name", "kb"}}).status, 201);
  std::vector<std::string> texts = {"The Eiffel Tower is a wrought-iron tower in Paris.",
                                    "Photosynthesis turns light into chemical energy in plants.",
                                    "The stock market fell sharply on Monday."};
  auto m = (*embedder)->Embed(texts);
  ASSERT_TRUE(m.ok());
  json vectors = json::array();
  for (size_t i = 0; i < texts.size(); ++i) {
    auto row = m->row(i);
    vectors.push_back({{"id", StrCat("t", i)},
                       {"version", 1},
                       {"vector", std::vector<float>(row.begin(), row.end())},
                       {"payload", {{"text", texts[i]}}}});
  }
  ASSERT_EQ(Post("/v1/collections/kb/vectors", {{"vectors", vectors}}).status, 200);
  for (const char* mode : {"dense", "hybrid"}) {
    Reply r = Post("/v1/collections/kb/query",
                   {{"query", "How do plants make energy from sunlight?"}, {"mode", mode}, {"k", 2}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["hits"][0]["id"], "t1") << mode;
    EXPECT_EQ(r.body["degraded"], true);
  }
  // Stage histograms are observed before the reply is sent: no wait needed.
  std::string metrics = Send("GET", "/metrics").raw;
  EXPECT_THAT(metrics, HasSubstr("rag_pipeline_latency_seconds_count{stage=\"embed\"} 2"));
}

// POST /v1/embeddings speaks OpenAI's embeddings API: the vectors are the
// model's (as Embed() makes them), for texts and token ids alike, float or
// base64, with usage counted; bad requests get OpenAI-shaped 4xx bodies.
TEST_F(ServerTest, TheOpenAiEmbeddingsRouteReturnsTheModelsVectors) {
  if (!fs::exists(ModelDir() + "/model.safetensors")) GTEST_SKIP() << "no model at " << ModelDir();
  ThreadPool pool(2);
  auto embedder = embed::LocalEmbedder::Open(ModelDir(), {}, &pool);
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  Start({}, embedder->get(), nullptr, embedder->get());
  const std::vector<std::string> texts = {"The Eiffel Tower is in Paris.", "Plants make energy from light."};
  auto expected = (*embedder)->Embed(texts);
  ASSERT_TRUE(expected.ok());
  auto near = [&](const json& got, size_t row) {
    auto want = expected->row(row);
    if (!got.is_array() || got.size() != want.size()) return false;
    for (size_t i = 0; i < want.size(); ++i) {
      if (std::abs(got[i].get<float>() - want[i]) > 1e-6f) return false;
    }
    return true;
  };

  Reply r = Post("/v1/embeddings", {{"input", texts}, {"model", "all-MiniLM-L6-v2"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["object"], "list");
  EXPECT_EQ(r.body["model"], "all-MiniLM-L6-v2");
  ASSERT_EQ(r.body["data"].size(), 2u);
  EXPECT_EQ(r.body["data"][1]["index"], 1);
  EXPECT_TRUE(near(r.body["data"][0]["embedding"], 0));
  EXPECT_TRUE(near(r.body["data"][1]["embedding"], 1));
  const size_t tokens = (*embedder)->InputIds(texts[0]).size() + (*embedder)->InputIds(texts[1]).size();
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], tokens);
  EXPECT_EQ(r.body["usage"]["total_tokens"], tokens);

  // One string; the Hugging Face name; base64 float32.
  r = Post("/v1/embeddings", {{"input", texts[1]},
                              {"model", "sentence-transformers/all-MiniLM-L6-v2"},
                              {"encoding_format", "base64"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  std::string bytes;
  ASSERT_TRUE(absl::Base64Unescape(r.body["data"][0]["embedding"].get<std::string>(), &bytes));
  ASSERT_EQ(bytes.size(), 384 * sizeof(float));
  std::vector<float> decoded(384);
  std::memcpy(decoded.data(), bytes.data(), bytes.size());
  EXPECT_TRUE(near(json(decoded), 1));

  // Token ids (word pieces without [CLS]/[SEP]) embed like the text they spell.
  std::vector<int32_t> ids = (*embedder)->InputIds(texts[0]);
  json pieces(std::vector<int32_t>(ids.begin() + 1, ids.end() - 1));
  r = Post("/v1/embeddings", {{"input", json::array({pieces})}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_TRUE(near(r.body["data"][0]["embedding"], 0));
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], ids.size());

  EXPECT_EQ(Send("GET", "/v1/models").body["data"][0]["id"], "all-MiniLM-L6-v2");

  struct Bad {
    json body;
    int status;
    const char* says;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{{"input", "x"}, {"model", "text-embedding-3-small"}}, 404, "is not served here"},
           {{{"input", "x"}, {"dimensions", 256}}, 400, "cannot shorten"},
           {{{"input", "x"}, {"encoding_format", "int8"}}, 400, "encoding_format"},
           {{{"input", ""}}, 400, "empty string"},
           {{{"input", json::array()}}, 400, "empty"},
           {{{"input", json::array({1, 999999})}}, 400, "outside the model's vocabulary"},
           {{{"input", {{"a", 1}}}}, 400, "must be a string"},
           {{{"model", "all-MiniLM-L6-v2"}}, 400, "\"input\" is required"},
           {{{"input", "x"}, {"temperature", 1}}, 400, "temperature"},
           {{{"input", std::vector<std::string>(kMaxEmbeddingInputs + 1, "x")}}, 400, "at most 2048"},
       }) {
    r = Post("/v1/embeddings", bad.body);
    EXPECT_EQ(r.status, bad.status) << bad.body.dump() << " " << r.raw;
    EXPECT_THAT(r.body["error"]["message"].get<std::string>(), HasSubstr(bad.says)) << bad.body.dump();
    EXPECT_EQ(r.body["error"]["type"], "invalid_request_error") << r.raw;
    EXPECT_TRUE(r.body["error"].contains("param")) << r.raw;
  }
}

// GET .../documents pages through the documents in id order, each with
// its title, version, chunk count and source; records written through the
// vectors API are no documents.
TEST_F(ServerTest, DocumentsAreListedPageByPage) {
  if (!fs::exists(ModelDir() + "/model.safetensors")) GTEST_SKIP() << "no model at " << ModelDir();
  ThreadPool pool(2);
  auto embedder = embed::LocalEmbedder::Open(ModelDir(), {}, &pool);
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  Start({}, embedder->get(), nullptr, embedder->get());
  ASSERT_EQ(Post("/v1/collections", {{"name", "kb"}}).status, 201);
  const std::string path = "/v1/collections/kb/documents";
  ASSERT_EQ(Post(path, {{"documents",
                         {{{"id", "c.md"}, {"text", "# Cynic\n\nOne who sees things as they are."},
                           {"content_type", "text/markdown"}, {"source", "dict/c.md"}},
                          {{"id", "a.txt"}, {"text", "Abasement."}, {"metadata", {{"lang", "en"}}}},
                          {{"id", "b.txt"}, {"text", "Bore."}}}}})
                .status,
            200);
  json vec = {{"id", "z#0"}, {"vector", std::vector<float>(384, 0.05f)}, {"payload", {{"ordinal", 0}}}};
  ASSERT_EQ(Post("/v1/collections/kb/vectors", {{"vectors", {vec}}}).status, 200);

  Reply r = Send("GET", path + "?limit=2");
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["documents"].size(), 2u);
  EXPECT_EQ(r.body["documents"][0]["id"], "a.txt");
  EXPECT_EQ(r.body["documents"][0]["metadata"]["lang"], "en");
  EXPECT_EQ(r.body["documents"][1]["id"], "b.txt");
  EXPECT_EQ(r.body["next"], "b.txt");
  r = Send("GET", path + "?limit=2&after=b.txt");
  ASSERT_EQ(r.body["documents"].size(), 1u) << r.raw;
  EXPECT_EQ(r.body["documents"][0]["id"], "c.md");
  EXPECT_EQ(r.body["documents"][0]["title"], "Cynic");
  EXPECT_EQ(r.body["documents"][0]["source"], "dict/c.md");
  EXPECT_EQ(r.body["documents"][0]["chunk_count"], 1);
  EXPECT_GT(r.body["documents"][0]["version"].get<uint64_t>(), 0u);
  EXPECT_TRUE(r.body["next"].is_null());
  EXPECT_EQ(Send("GET", path).body["documents"].size(), 3u);
  for (const char* bad : {"0", "1001", "x", "-1"}) {
    EXPECT_EQ(Send("GET", path + "?limit=" + bad).status, 400) << bad;
  }
  EXPECT_EQ(Send("GET", "/v1/collections/nope/documents").status, 404);
}

TEST_F(ServerTest, DocumentsAreChunkedEmbeddedReplacedAndDeleted) {
  if (!fs::exists(ModelDir() + "/model.safetensors")) GTEST_SKIP() << "no model at " << ModelDir();
  ThreadPool pool(2);
  auto embedder = embed::LocalEmbedder::Open(ModelDir(), {}, &pool);
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  pipeline::IngestOptions ingest;
  ingest.limits.max_call_chunks = 4;
  Start({}, embedder->get(), nullptr, embedder->get(), ingest);
  ASSERT_EQ(Post("/v1/collections", {{"name", "kb"}}).status, 201);
  const std::string path = "/v1/collections/kb/documents";

  // Over a limit: 413 naming it, before anything is embedded or written.
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += StrCat("Sentence ", i, " is about the tides and the moon. ");
  auto over =
      Post(path, {{"documents", {{{"id", "long"}, {"text", long_text}}, {{"id", "fine"}, {"text", "ok"}}}}});
  EXPECT_EQ(over.status, 413) << over.raw;
  EXPECT_EQ(over.body["error"]["code"], "payload_too_large");
  EXPECT_THAT(over.body["error"]["message"].get<std::string>(), HasSubstr("max_request_chunks"));
  std::string deep = "<html><body>";
  for (int i = 0; i < 1000; ++i) deep += "<div>";
  over = Post(path,
              {{"documents", {{{"id", "deep.html"}, {"text", deep + "x"}, {"content_type", "text/html"}}}}});
  EXPECT_EQ(over.status, 413) << over.raw;
  EXPECT_THAT(over.body["error"]["message"].get<std::string>(), HasSubstr("max_html_depth"));
  EXPECT_EQ(Send("GET", path + "/fine").status, 404);

  // Text and a base64 HTML file, one request; then searchable at once.
  const json html = {{"id", "page.html"},
                     {"content_base64", "PGgxPlRpZGVzPC9oMT48cD5UaGUgbW9vbiBwdWxscyB0aGUgc2VhLjwvcD4="},
                     {"content_type", "text/html"},
                     {"metadata", {{"lang", "en"}}}};  // <h1>Tides</h1><p>The moon pulls the sea.</p>
  auto r = Post(path + "?wait=true",
                {{"documents", {{{"id", "note"}, {"text", "Zebras sleep standing up."}}, html}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["documents_added"], 2);
  EXPECT_EQ(r.body["chunks_upserted"], 2);
  r = Post("/v1/collections/kb/query", {{"query", "moon sea"}, {"mode", "lexical"}, {"generate", false}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["hits"][0]["doc_id"], "page.html");
  EXPECT_EQ(r.body["hits"][0]["metadata"]["lang"], "en");
  r = Send("GET", path + "/page.html");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["chunk_count"], 1);
  EXPECT_EQ(r.body["title"], "Tides");

  // Unchanged: nothing re-embedded. Changed: replaced.
  r = Post(path, {{"documents", {{{"id", "note"}, {"text", "Zebras sleep standing up."}}}}});
  EXPECT_EQ(r.body["documents_unchanged"], 1) << r.raw;
  r = Post(path, {{"documents", {{{"id", "note"}, {"text", "Zebras sleep lying down too."}}}}});
  EXPECT_EQ(r.body["documents_replaced"], 1) << r.raw;

  // Some fail: 207 with the failures named; all fail: 400 naming them.
  r = Post(
      path,
      {{"documents",
        {{{"id", "ok"}, {"text", "fine"}},
         {{"id", "broken.pdf"}, {"content_base64", "bm90IGEgcGRm"}, {"content_type", "application/pdf"}}}}});
  EXPECT_EQ(r.status, 207) << r.raw;
  EXPECT_EQ(r.body["documents_failed"], 1);
  EXPECT_EQ(r.body["failures"][0]["id"], "broken.pdf");
  r = Post(path, {{"documents",
                   {{{"id", "x.bin"}, {"content_base64", "AAEC"}, {"content_type", "application/zip"}}}}});
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_THAT(r.body["error"]["message"].get<std::string>(), HasSubstr("x.bin"));

  // Malformed requests are refused before anything is written.
  const size_t before = db_->GetCollection("kb").value()->Stats().vector_count;
  for (const auto& [body, message] : std::vector<std::pair<json, std::string>>{
           {json{{"documents", json::array()}}, "non-empty array"},
           {json{{"documents", {{{"id", "a"}, {"text", "x"}}, {{"text", "no id"}}}}}, "documents[1]"},
           {json{{"documents", {{{"id", "b"}, {"content_base64", "%%%"}, {"content_type", "txt"}}}}},
            "base64"},
           {json{{"documents", {{{"id", "c"}, {"text", 5}}}}}, "\"text\" must be a string"},
           {json{{"docs", json::array()}}, "unknown field"}}) {
    r = Post(path, body);
    EXPECT_EQ(r.status, 400) << body.dump();
    EXPECT_THAT(r.body["error"]["message"].get<std::string>(), HasSubstr(message)) << body.dump();
  }
  EXPECT_EQ(Post(path + "?wait=maybe", {{"documents", {{{"id", "a"}, {"text", "x"}}}}}).status, 400);
  EXPECT_EQ(db_->GetCollection("kb").value()->Stats().vector_count, before);
  EXPECT_EQ(Post("/v1/collections/nope/documents", {{"documents", {{{"id", "a"}, {"text", "x"}}}}}).status,
            404);
  ASSERT_EQ(Post("/v1/collections", {{"name", "small"}, {"dim", 4}}).status, 201);
  r = Post("/v1/collections/small/documents", {{"documents", {{{"id", "a"}, {"text", "x"}}}}});
  EXPECT_EQ(r.status, 409) << r.raw;  // failed_precondition: the model does not fit the collection
  EXPECT_THAT(r.body["error"]["message"].get<std::string>(), HasSubstr("4 dimensions"));

  // Delete removes every chunk; a second delete or a get is 404.
  r = Send("DELETE", path + "/page.html");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["chunks_deleted"], 1);
  EXPECT_EQ(Send("DELETE", path + "/page.html").status, 404);
  EXPECT_EQ(Send("GET", path + "/page.html").status, 404);
  r = Post("/v1/collections/kb/query", {{"query", "moon sea"}, {"mode", "lexical"}, {"generate", false}});
  for (const auto& h : r.body["hits"]) EXPECT_NE(h["doc_id"], "page.html");
  EXPECT_THAT(Send("GET", "/metrics").raw, HasSubstr("stage=\"ingest_embed\""));
}

// ---- Fault drills (issue 15, docs/reliability.md) ----

// A chat client whose breaker opens after 5 failures and lets a trial through
// after `reset`; one retry 10 ms later.
std::unique_ptr<generate::ChatClient> DrillClient(
    const std::string& base_url, std::chrono::milliseconds reset = std::chrono::milliseconds(300)) {
  generate::ChatClientOptions options;
  options.base_url = base_url;
  options.model = "peer-model";
  options.timeout = std::chrono::milliseconds(10'000);
  options.breaker = {.fail_max = 5, .reset_timeout = reset};
  options.retry = {.max_attempts = 2, .initial_backoff = std::chrono::milliseconds(10)};
  auto chat = generate::ChatClient::Create(options);
  return chat.ok() ? std::move(*chat) : nullptr;
}

// The value of the series `series` (name and labels as exposed) in /metrics text; -1 when absent.
double SeriesValue(const std::string& metrics, const std::string& series) {
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

constexpr char kLlmBreaker[] = "rag_circuit_breaker_state{dependency=\"llm\"}";

class LlmDrillTest : public ServerTest {
 protected:
  // Ten lexical queries with a 1 s deadline: each answered 200, degraded
  // with `reason` (the first five from the failing LLM, the rest from the
  // open breaker: "llm_unavailable"), well within the deadline.
  void AskTenAndExpectDegraded(const std::string& first_reason) {
    for (int i = 0; i < 10; ++i) {
      const auto start = std::chrono::steady_clock::now();
      Reply r = Post("/v1/collections/docs/query", {{"query", "capital of France"}, {"mode", "lexical"}},
                     {{"X-Request-Timeout-Ms", "1000"}});
      const auto took = std::chrono::steady_clock::now() - start;
      ASSERT_EQ(r.status, 200) << i << ": " << r.raw;
      EXPECT_EQ(r.body["degraded"], true) << i;
      EXPECT_EQ(r.body["degraded_reason"], i < 5 ? first_reason : std::string("llm_unavailable"))
          << i << r.raw;
      EXPECT_THAT(r.body["answer"].get<std::string>(), HasSubstr("[1]")) << i;
      EXPECT_LT(took, std::chrono::milliseconds(1500)) << i;
      if (i >= 5) {
        EXPECT_THAT(r.body["degraded_detail"].get<std::string>(), HasSubstr("circuit breaker is open")) << i;
        EXPECT_LT(took, std::chrono::milliseconds(300)) << i << ": an open breaker answers at once";
      }
    }
    EXPECT_EQ(SeriesValue(Metrics(), kLlmBreaker), 1);
    Reply ready = Send("GET", "/readyz");
    EXPECT_EQ(ready.body["breakers"]["llm"]["state"], "open") << ready.raw;
  }
  std::string Metrics() { return Send("GET", "/metrics").raw; }

  // After the reset timeout a healthy LLM closes the breaker again.
  void ExpectRecovery() {
    std::this_thread::sleep_for(std::chrono::milliseconds(350));
    Reply r = Post("/v1/collections/docs/query", {{"query", "capital of France"}, {"mode", "lexical"}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["degraded"], false) << r.raw;
    EXPECT_EQ(r.body["answer"], "Paris is the capital of France [1].");
    const std::string metrics = Metrics();
    EXPECT_EQ(SeriesValue(metrics, kLlmBreaker), 0);
    EXPECT_EQ(SeriesValue(metrics, "rag_circuit_breaker_transitions_total{dependency=\"llm\",to=\"open\"}"),
              1);
    EXPECT_EQ(SeriesValue(metrics, "rag_circuit_breaker_transitions_total{dependency=\"llm\",to=\"closed\"}"),
              1);
  }
};

TEST_F(LlmDrillTest, LlmDownEveryQueryAnsweredDegradedAndTheBreakerOpensAfterFive) {
  std::string base_url;
  {
    generate::testing::ChatPeer gone;  // its port, closed again
    base_url = gone.base_url();
  }
  auto chat = DrillClient(base_url);
  ASSERT_NE(chat, nullptr);
  Start({}, nullptr, chat.get());
  CreateDocs();
  AskTenAndExpectDegraded("llm_unavailable");
}

TEST_F(LlmDrillTest, LlmReturning500sEveryQueryAnsweredDegradedThenTheBreakerClosesOnRecovery) {
  generate::testing::ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    res.status = 500;
    res.set_content(R"({"error": {"message": "out of memory"}})", "application/json");
  });
  auto chat = DrillClient(peer.base_url());
  ASSERT_NE(chat, nullptr);
  Start({}, nullptr, chat.get());
  CreateDocs();
  AskTenAndExpectDegraded("llm_unavailable");
  EXPECT_EQ(peer.requests(), 10);  // 5 queries x 2 attempts; none while open
  peer.set_behaviour(nullptr);
  ExpectRecovery();
}

TEST_F(LlmDrillTest, LlmHangingEachQueryStopsAtItsDeadlineThenTheBreakerAnswersAtOnce) {
  generate::testing::ChatPeer peer;
  std::atomic<bool> hang{true};
  peer.set_behaviour([&hang](const json&, httplib::Response& res) {
    for (int i = 0; i < 300 && hang; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    res.set_content(generate::testing::CompletionJson("Paris is the capital of France [1]."),
                    "application/json");
  });
  auto chat = DrillClient(peer.base_url());
  ASSERT_NE(chat, nullptr);
  Start({}, nullptr, chat.get());
  CreateDocs();
  AskTenAndExpectDegraded("llm_timeout");
  EXPECT_EQ(peer.requests(), 5);  // the deadline leaves no time for a retry
  hang = false;
  peer.set_behaviour(nullptr);
  ExpectRecovery();
}

TEST_F(ServerTest, RequestDeadlinesComeFromTheBodyTheHeaderOrTheDefault) {
  generate::testing::ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    res.set_content(generate::testing::CompletionJson("late [1]"), "application/json");
  });
  auto chat = DrillClient(peer.base_url(), std::chrono::milliseconds(60'000));
  ASSERT_NE(chat, nullptr);
  ServerOptions options;
  options.request_timeout = std::chrono::milliseconds(200);
  Start(options, nullptr, chat.get());
  CreateDocs();
  const json ask = {{"query", "capital of France"}, {"mode", "lexical"}};
  auto with_timeout = [&ask](int ms) {
    json body = ask;
    body["timeout_ms"] = ms;
    return body;
  };
  const std::vector<std::pair<json, httplib::Headers>> cases = {
      {ask, {}},                                 // the server's default: 200 ms
      {ask, {{"X-Request-Timeout-Ms", "300"}}},  // the header
      {with_timeout(250), {}}};                  // the body
  for (const auto& [body, headers] : cases) {
    const auto start = std::chrono::steady_clock::now();
    Reply r = Post("/v1/collections/docs/query", body, headers);
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["degraded_reason"], "llm_timeout") << r.raw;
    EXPECT_LT(took, std::chrono::milliseconds(1000));
  }
  // A deadline long enough lets the LLM answer.
  Reply slow = Post("/v1/collections/docs/query", with_timeout(5000));
  EXPECT_EQ(slow.body["degraded"], false) << slow.raw;
  EXPECT_EQ(slow.body["answer"], "late [1]");
  // Bad deadlines are the client's mistake.
  EXPECT_EQ(Post("/v1/collections/docs/query", ask, {{"X-Request-Timeout-Ms", "soon"}}).status, 400);
  EXPECT_EQ(Post("/v1/collections/docs/query", with_timeout(0)).status, 400);
}

TEST_F(ServerTest, AdmissionControlRefusesQueriesBeyondItsLimitsAtOnceWithRetryAfter) {
  generate::testing::ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    res.set_content(generate::testing::CompletionJson("slow [1]"), "application/json");
  });
  auto chat = DrillClient(peer.base_url());
  ASSERT_NE(chat, nullptr);
  ServerOptions options;
  options.threads = 8;
  options.admission = {.max_in_flight = 1, .max_queue = 1, .max_wait = std::chrono::milliseconds(5'000)};
  Start(options, nullptr, chat.get());
  CreateDocs();
  // Six at once: one runs, one waits, four are refused at once.
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<std::pair<int, std::string>> outcomes;  // status, Retry-After
  std::vector<std::chrono::steady_clock::duration> refused_after;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", port_);
      client.set_read_timeout(10, 0);
      const auto start = std::chrono::steady_clock::now();
      auto res = client.Post("/v1/collections/docs/query",
                             R"({"query": "capital of France", "mode": "lexical"})", "application/json");
      std::lock_guard lock(mu);
      ASSERT_TRUE(res);
      outcomes.emplace_back(res->status, res->get_header_value("Retry-After"));
      if (res->status == 503) {
        refused_after.push_back(std::chrono::steady_clock::now() - start);
        EXPECT_THAT(res->body, HasSubstr("overloaded"));
      }
    });
  }
  for (auto& t : threads) t.join();
  int ok = 0, refused = 0;
  for (const auto& [status, retry_after] : outcomes) {
    if (status == 200) ++ok;
    if (status == 503) {
      ++refused;
      EXPECT_EQ(retry_after, "1");
    }
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(refused, 4);
  for (const auto& d : refused_after) EXPECT_LT(d, std::chrono::milliseconds(500));
  EXPECT_EQ(SeriesValue(Send("GET", "/metrics").raw, "rag_admission_rejected_total"), 4);
  // Other routes are not queries: they still answer.
  EXPECT_EQ(Send("GET", "/v1/collections").status, 200);
}

TEST_F(ServerTest, RequestsBeyondTheWorkerQueueGetA503AtOnce) {
  generate::testing::ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    res.set_content(generate::testing::CompletionJson("slow [1]"), "application/json");
  });
  auto chat = DrillClient(peer.base_url());
  ASSERT_NE(chat, nullptr);
  ServerOptions options;
  options.threads = 1;
  options.max_queued_requests = 1;
  options.admission = {.max_in_flight = 0};  // no query limit: only the transport's queue
  Start(options, nullptr, chat.get());
  CreateDocs();
  std::thread busy([&] {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(10, 0);
    auto res = client.Post("/v1/collections/docs/query",
                           R"({"query": "capital of France", "mode": "lexical"})", "application/json");
    EXPECT_TRUE(res && res->status == 200);
  });
  while (peer.requests() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the worker is busy
  std::thread queued([&] {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(10, 0);
    auto res = client.Get("/healthz");
    EXPECT_TRUE(res && res->status == 200);  // waits for the worker, then answers
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = std::chrono::steady_clock::now();
  httplib::Client client("127.0.0.1", port_);
  auto res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503) << res->body;
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  EXPECT_THAT(res->body, HasSubstr("overloaded"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(400));
  busy.join();
  queued.join();
}

TEST_F(ServerTest, AnApiKeysRateLimitAnswers429WithRetryAfter) {
  ServerOptions options;
  ApiKey limited{"limited", Access::kRead, {"*"}};
  limited.rate_per_s = 0.5;
  limited.burst = 2;
  options.api_keys = {limited, {"free", Access::kRead, {"*"}}};
  Start(options);
  const httplib::Headers key = {{"Authorization", "Bearer limited"}};
  EXPECT_EQ(Send("GET", "/v1/collections", "", key).status, 200);
  EXPECT_EQ(Send("GET", "/v1/collections", "", key).status, 200);
  Reply over = Send("GET", "/v1/collections", "", key);
  EXPECT_EQ(over.status, 429) << over.raw;
  EXPECT_EQ(over.body["error"]["code"], "resource_exhausted");
  EXPECT_THAT(over.body["error"]["message"].get<std::string>(), HasSubstr("rate limit"));
  EXPECT_EQ(Header(over.headers, "Retry-After"), "2");
  // Another key has its own budget; open routes have none.
  EXPECT_EQ(Send("GET", "/v1/collections", "", {{"Authorization", "Bearer free"}}).status, 200);
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
}

// ---- Fallback retrieval (docs/reliability.md) ----

class FallbackDrillTest : public ServerTest {
 protected:
  static ServerOptions Options() {
    ServerOptions options;
    options.fallback = {.capacity = 100,
                        .refresh = std::chrono::milliseconds(50),
                        .search_timeout = std::chrono::milliseconds(100),
                        .breaker = {.fail_max = 3, .reset_timeout = std::chrono::milliseconds(400)}};
    return options;
  }
  Reply Ask(const std::string& question) {
    return Post("/v1/collections/docs/query", {{"query", question}, {"mode", "lexical"}, {"k", 3}});
  }
  // Asks about France until the refresher has cached the hit.
  void WarmTheCache() {
    ASSERT_EQ(Ask("capital of France").status, 200);
    for (int i = 0; i < 200; ++i) {
      if (Send("GET", "/v1/admin/fallback").body["cached"].value("docs", 0) > 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "the hot cache was not refreshed";
  }
};

TEST_F(FallbackDrillTest, ASlowStoreSearchOpensItsBreakerAndTheHotCacheAnswers) {
  std::atomic<int> delay_ms{0};
  std::atomic<bool> broken{false};
  search_fault_ = [&]() -> Status {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
    return broken ? absl::InternalError("segment read failed") : absl::OkStatus();
  };
  Start(Options());
  CreateDocs();
  WarmTheCache();
  // Slow searches still answer (their hits are good) but count: three open the breaker.
  delay_ms = 150;
  for (int i = 0; i < 3; ++i) {
    Reply r = Ask("capital of France");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["degraded_reason"], "no_llm") << i;  // the primary answered
  }
  EXPECT_EQ(SeriesValue(Send("GET", "/metrics").raw, "rag_circuit_breaker_state{dependency=\"search\"}"), 1);
  // Open: the hot cache answers at once, and says so.
  auto start = std::chrono::steady_clock::now();
  Reply cached = Ask("capital of France");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  ASSERT_EQ(cached.status, 200) << cached.raw;
  EXPECT_EQ(cached.body["degraded"], true);
  EXPECT_EQ(cached.body["degraded_reason"], "fallback_index");
  EXPECT_THAT(cached.body["degraded_detail"].get<std::string>(), HasSubstr("circuit breaker is open"));
  ASSERT_GE(cached.body["hits"].size(), 1u);
  EXPECT_EQ(cached.body["hits"][0]["id"], "paris#0");
  EXPECT_THAT(cached.body["answer"].get<std::string>(), HasSubstr("[1]"));
  // Nothing relevant cached: a knowledge-limited answer, not an error.
  Reply nothing = Ask("submarine");
  ASSERT_EQ(nothing.status, 200);
  EXPECT_EQ(nothing.body["hits"].size(), 0u);
  EXPECT_THAT(nothing.body["answer"].get<std::string>(), HasSubstr("limited cache"));
  EXPECT_GE(SeriesValue(Send("GET", "/metrics").raw, "rag_fallback_queries_total{reason=\"breaker_open\"}"),
            2);
  // Recovery: after the reset timeout a fast search closes the breaker.
  delay_ms = 0;
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  EXPECT_EQ(Ask("capital of France").body["degraded_reason"], "no_llm");
  EXPECT_EQ(SeriesValue(Send("GET", "/metrics").raw, "rag_circuit_breaker_state{dependency=\"search\"}"), 0);
  // A store that fails outright: the cache answers that very query.
  broken = true;
  Reply failed = Ask("capital of France");
  ASSERT_EQ(failed.status, 200) << failed.raw;
  EXPECT_EQ(failed.body["degraded_reason"], "fallback_index");
  EXPECT_THAT(failed.body["degraded_detail"].get<std::string>(), HasSubstr("segment read failed"));
  // A client mistake is still the client's: 400, not a fallback.
  EXPECT_EQ(Post("/v1/collections/docs/query", {{"query", "x"}, {"mode", "sideways"}}).status, 400);
}

TEST_F(FallbackDrillTest, AnOperatorTurnsFallbackOnAndTheCacheSurvivesARestart) {
  Start(Options());
  CreateDocs();
  WarmTheCache();
  EXPECT_EQ(Put("/v1/admin/fallback", {{"enabled", "yes"}}).status, 400);
  Reply on = Put("/v1/admin/fallback", {{"enabled", true}});
  ASSERT_EQ(on.status, 200) << on.raw;
  Reply r = Ask("capital of France");
  EXPECT_EQ(r.body["degraded_reason"], "fallback_index");
  EXPECT_THAT(r.body["degraded_detail"].get<std::string>(), HasSubstr("fallback mode is on"));
  EXPECT_EQ(Send("GET", "/v1/admin/fallback").body["enabled"], true);
  // A restart keeps the counts (DATA/hot_cache.json): switched on again, the cache has Paris.
  client_.reset();
  server_.reset();
  Start(Options());
  ASSERT_EQ(Put("/v1/admin/fallback", {{"enabled", true}}).status, 200);
  Reply after = Ask("capital of France");
  EXPECT_EQ(after.body["degraded_reason"], "fallback_index");
  ASSERT_GE(after.body["hits"].size(), 1u) << after.raw;
  EXPECT_EQ(after.body["hits"][0]["id"], "paris#0");
  ASSERT_EQ(Put("/v1/admin/fallback", {{"enabled", false}}).status, 200);
  EXPECT_EQ(Ask("capital of France").body["degraded_reason"], "no_llm");
}

TEST_F(ServerTest, AFullDiskIsA507AndWritesResumeOnceSpaceReturns) {
  db_.reset();
  fault_env_ = std::make_unique<store::FaultInjectionEnv>(*store::Env::Default());
  auto db = store::Database::Open(*fault_env_, dir_.path() + "/data");
  ASSERT_TRUE(db.ok()) << db.status();
  db_ = std::move(*db);
  Start();
  CreateDocs();
  const json one = {{"vectors", {{{"id", "new"}, {"version", 1}, {"vector", {0, 0, 0, 1}}}}}};
  fault_env_->SetDiskFull(true);
  Reply full = Post("/v1/collections/docs/vectors", one);
  EXPECT_EQ(full.status, 507) << full.raw;
  EXPECT_EQ(full.body["error"]["code"], "insufficient_storage");
  EXPECT_THAT(full.body["error"]["message"].get<std::string>(), HasSubstr("No space left on device"));
  EXPECT_EQ(Post("/v1/collections/docs/query", {{"query", "capital of France"}, {"mode", "lexical"}}).status,
            200);
  EXPECT_EQ(Send("GET", "/v1/collections/docs/vectors/new").status, 404);  // nothing half-written
  fault_env_->SetDiskFull(false);
  Reply later = Post("/v1/collections/docs/vectors", one);
  EXPECT_EQ(later.status, 200) << later.raw;
  EXPECT_EQ(Send("GET", "/v1/collections/docs/vectors/new").status, 200);
  EXPECT_EQ(Send("GET", "/v1/collections/docs/stats").body["vector_count"], 4);
}

}  // namespace
}  // namespace ragline::server
