// Every route of a node (server/routes.h, document_routes.h,
// shard_routes.h), in process through Server::Serve: what the HTTP
// transport hands over after parsing, minus the socket. The input is a
// request as text:
//
//   METHOD /path?query
//   Header-Name: value          (optional, until an empty line)
//
//   body
//
// The node serves a collection "docs" (the real model from
// scripts/fetch_model.sh, for text queries and documents), a collection
// "vec" (dim 4, vectors) and an alias "kb" -> docs. No request may get a
// 500: bad input is the client's error (4xx), never the server's. Every
// 500 inputs the node is built anew, so state does not pile up.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "embed/local_embedder.h"
#include "fuzz_check.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "server/document_routes.h"
#include "server/embeddings_routes.h"
#include "server/routes.h"
#include "server/server.h"
#include "server/shard_routes.h"
#include "store/database.h"

namespace {

namespace fs = std::filesystem;
using namespace ragline;

// Discards a streamed reply (server-sent events).
class NullSink : public server::DataSink {
 public:
  bool Write(std::string_view) override { return true; }
  bool IsWritable() const override { return true; }
  void Done() override {}
};

embed::LocalEmbedder& Embedder() {
  static embed::LocalEmbedder* embedder = [] {
    auto e =
        embed::LocalEmbedder::Open(std::string(RAGLINE_SOURCE_DIR) + "/models/all-MiniLM-L6-v2", {}, nullptr);
    FUZZ_CHECK(e.ok(), "%s (run scripts/fetch_model.sh first)", e.status().ToString().c_str());
    return e->release();
  }();
  return *embedder;
}

class Node {
 public:
  Node()
      : dir_((fs::temp_directory_path() / ("ragline_fuzz_routes_" + std::to_string(::getpid()))).string()) {
    fs::remove_all(dir_);
    log_ = std::fopen("/dev/null", "w");
    logger_ = std::make_unique<obs::Logger>(obs::LogDestination::File(log_));
    auto db = store::Database::Open(*store::Env::Default(), dir_,
                                    {.read_only = false, .threads = 1, .salvage = false, .on_open = {}});
    FUZZ_CHECK(db.ok(), "%s", db.status().ToString().c_str());
    db_ = std::move(*db);
    server::ServerOptions options;
    options.threads = 2;
    options.fallback.refresh = std::chrono::hours(1);
    server::ServerDeps deps{db_.get(), &Embedder(), nullptr, &metrics_, logger_.get(), dir_};
    server_ = std::make_unique<server::Server>(deps, options);
    server::RegisterCoreRoutes(*server_);
    server::RegisterShardRoutes(*server_);
    pipeline::IngestOptions ingest;
    ingest.limits.max_document_bytes = 4096;  // bounds the model's work per input
    server::RegisterDocumentRoutes(*server_, Embedder(), ingest);
    server::RegisterEmbeddingsRoutes(*server_, Embedder());
    for (const char* setup : {
             "POST /v1/collections\n\n{\"name\": \"docs\", \"dim\": 384}",
             "POST /v1/collections\n\n{\"name\": \"vec\", \"dim\": 4, \"index\": \"flat\"}",
             "PUT /v1/aliases/kb\n\n{\"collection\": \"docs\"}",
             "POST /v1/collections/vec/vectors\n\n{\"vectors\": [{\"id\": \"a\", \"version\": 1, \"vector\": "
             "[1, 0, 0, "
             "0], \"payload\": {\"text\": \"alpha\", \"n\": 1}}, {\"id\": \"b\", \"vector\": [0, 1, 0, 0]}]}",
             "POST /v1/collections/docs/documents\n\n{\"documents\": [{\"id\": \"d1\", \"text\": \"Ragline "
             "answers questions with citations.\", \"metadata\": {\"lang\": \"en\"}}]}",
         }) {
      const int status = Serve(setup);
      FUZZ_CHECK(status < 300, "setup request got %d: %s", status, setup);
    }
  }
  ~Node() {
    server_.reset();
    db_.reset();
    std::fclose(log_);
    fs::remove_all(dir_);
  }

  // Serves `text` (the format above); returns the reply's status.
  int Serve(std::string_view text) {
    server::HttpRequest req;
    std::string_view line = NextLine(text);
    const size_t space = line.find(' ');
    if (space == std::string_view::npos) return 0;
    req.method = std::string(line.substr(0, space));
    req.target = std::string(line.substr(space + 1));
    const size_t query = req.target.find('?');
    req.path = req.target.substr(0, query);
    if (query != std::string::npos) {
      std::string_view rest = std::string_view(req.target).substr(query + 1);
      while (!rest.empty()) {
        const std::string_view pair = rest.substr(0, rest.find('&'));
        rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
        const size_t eq = pair.find('=');
        req.params.emplace_back(
            server::PercentDecode(pair.substr(0, eq), true),
            eq == std::string_view::npos ? "" : server::PercentDecode(pair.substr(eq + 1), true));
      }
    }
    while (!text.empty()) {
      line = NextLine(text);
      if (line.empty()) break;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      req.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    req.body = std::string(text);
    req.received = std::chrono::steady_clock::now();
    server::HttpResponse res;
    server_->Serve(req, res);
    if (res.stream) {
      NullSink sink;
      res.stream(sink);
    }
    FUZZ_CHECK(res.status != 500, "%s %s: 500 %s", req.method.c_str(), req.target.c_str(), res.body.c_str());
    return res.status;
  }

 private:
  static std::string_view NextLine(std::string_view& text) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    return line;
  }

  std::string dir_;
  FILE* log_;
  obs::MetricsRegistry metrics_;
  std::unique_ptr<obs::Logger> logger_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<server::Server> server_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<Node> node;
  static size_t served = 0;
  if (node == nullptr || ++served % 500 == 0) {
    node.reset();
    node = std::make_unique<Node>();
  }
  node->Serve(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
