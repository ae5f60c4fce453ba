// Server: ragline's HTTP/JSON API on cpp-httplib (docs/server.md).
//
// The server owns the HTTP listener, the route table, API-key checks, body
// limits, per-request logs and the HTTP metrics. Routes are added with
// AddRoute(); routes.h registers the core API (collections, aliases,
// vectors, query, health, metrics). Other modules' routes (the documents
// routes of pipeline/) are added the same way, before Bind().
//
// Per request: a request id (the client's X-Request-Id when it is 1-128
// characters of [A-Za-z0-9._:-], else a random one) is echoed in X-Request-Id;
// the API key is checked against the route's access; the handler runs; one
// JSON log line (request_id, route, method, status, duration_ms, error_code)
// is written and rag_http_requests_total{route,method,code} and
// rag_http_request_duration_seconds{route,method} are updated, with the
// route template (never the raw path) as the label. Requests that match no
// route (404, and bodies over the limit: 413) are labelled route="unmatched".
// Every error response carries {"error": {"code", "message"}} (http_error.h).
//
// Ownership: borrows everything in ServerDeps; they must outlive the server.
//
// Thread safety: AddRoute and Bind before Run; Run blocks on the calling
// thread while a pool of `threads` workers serves requests concurrently;
// Stop may be called from any thread (e.g. a signal-waiting thread).
// Handlers run concurrently and must be thread-safe. Handlers that use a
// Collection* hold catalog_mutex() shared; dropping a collection holds it
// exclusively, so no handler sees a collection destroyed under it.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "embed/embedder.h"
#include "generate/answer.h"
#include "generate/chat_client.h"
#include "nlohmann/json.hpp"
#include "obs/log.h"
#include "obs/metrics.h"
#include "server/auth.h"
#include "store/database.h"

namespace ragline::server {

struct ServerDeps {
  store::Database* db = nullptr;                 // required
  embed::Embedder* embedder = nullptr;           // null: no model; dense/hybrid text queries -> 503
  const generate::ChatClient* chat = nullptr;    // null: extractive answers (degraded)
  obs::MetricsRegistry* metrics = nullptr;       // required
  obs::Logger* logger = nullptr;                 // required
  std::string data_dir;                          // reported by /readyz
};

struct ServerOptions {
  size_t threads = 8;                  // HTTP worker threads
  size_t max_body_bytes = 32u << 20;   // larger bodies get 413
  std::vector<ApiKey> api_keys;        // empty: no authentication
  generate::AnswerOptions answer;
};

// Request bodies nested deeper than this are refused (400) before parsing.
inline constexpr size_t kMaxJsonDepth = 64;

// One request as a route handler sees it.
class RouteRequest {
 public:
  RouteRequest(const httplib::Request& http, httplib::Response& response, const std::string& request_id)
      : http(http), response(response), request_id(request_id) {}

  const httplib::Request& http;
  httplib::Response& response;
  const std::string& request_id;

  // The i-th {param} of the route template (0-based), URL-decoded.
  std::string PathParam(size_t i) const;
  // The body parsed as a JSON object; InvalidArgument ("malformed JSON: ...",
  // "request body must be a JSON object", nesting deeper than kMaxJsonDepth)
  // otherwise.
  Result<nlohmann::json> JsonBody() const;

  // The handler wrote the response itself (a stream, non-JSON content): the
  // JSON it returns is ignored.
  void MarkResponded() { responded_ = true; }
  bool responded() const { return responded_; }
  // Status for a successful JSON reply (default 200).
  void SetSuccessStatus(int status) { success_status_ = status; }
  int success_status() const { return success_status_; }

 private:
  bool responded_ = false;
  int success_status_ = 200;
};

// Returns the JSON reply body, or an error (mapped by http_error.h).
using RouteHandler = std::function<Result<nlohmann::json>(RouteRequest&)>;

struct RouteSpec {
  std::string method;         // "GET", "POST", "PUT", "DELETE"
  std::string path_template;  // "/v1/collections/{name}/query"; {x} = one path segment,
                              // {x...} as the last segment = the rest of the path
  Access access = Access::kRead;
  // Index of the {param} naming the collection the route acts on (for key
  // scopes); -1: the route names no collection.
  int collection_param = -1;
  RouteHandler handler;
};

class Server {
 public:
  Server(ServerDeps deps, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Adds a route; call before Run. Routes match in the order added.
  void AddRoute(RouteSpec spec);

  // Binds and listens on host:port (0 = any free port); returns the port.
  Result<int> Bind(const std::string& host, int port);
  // Serves until Stop(). Call after Bind.
  Status Run();
  // Stops accepting and returns Run once in-flight requests finish. Idempotent.
  void Stop();

  // Bind + Run on a background thread (tests); returns once serving.
  Result<int> StartInBackground(const std::string& host, int port);

  // Keeps `object` (state that route handlers capture) alive as long as the server.
  void KeepAlive(std::shared_ptr<void> object) { kept_alive_.push_back(std::move(object)); }

  const ServerDeps& deps() const { return deps_; }
  const ServerOptions& options() const { return options_; }
  std::shared_mutex& catalog_mutex() { return catalog_mu_; }
  obs::Histogram& stage_latency(std::string_view stage);
  obs::HistogramFamily& vectorstore_query_time() { return *vectorstore_time_; }

 private:
  void Dispatch(const RouteSpec& spec, const httplib::Request& req, httplib::Response& res);
  void LogAndCount(const httplib::Request& req, const httplib::Response& res);

  ServerDeps deps_;
  ServerOptions options_;
  Authorizer authorizer_;
  httplib::Server http_;
  std::shared_mutex catalog_mu_;
  obs::CounterFamily* requests_total_;
  obs::HistogramFamily* request_duration_;
  obs::HistogramFamily* pipeline_latency_;
  obs::HistogramFamily* vectorstore_time_;
  std::vector<std::shared_ptr<void>> kept_alive_;
  std::thread background_;
  std::atomic<bool> bound_{false};
};

// Writes `status` as the JSON error reply (and records its code for the log).
void WriteError(httplib::Response& res, const Status& status);

}  // namespace ragline::server
