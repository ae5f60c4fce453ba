// Server: ragline's HTTP/JSON API (docs/server.md) over HttpTransport
// (http_transport.h: Boost.Beast, which owns sockets, parsing, limits,
// timeouts and threads).
//
// The server owns the route table, API-key checks, per-request logs and the
// HTTP metrics. Routes are added with AddRoute(); routes.h registers the
// core API (collections, aliases, vectors, query, health, metrics). Other
// modules' routes (the documents routes) are added the same way, before Bind().
//
// Per request: a request id (the client's X-Request-Id when it is 1-128
// characters of [A-Za-z0-9._:-], else a random one) is echoed in X-Request-Id;
// the route is found among the most specific templates that match the path
// (no route for the path: 404; the path exists but not for this method: 405
// with Allow); the API key is checked against the
// route's access; the handler runs; one JSON log line (request_id, route,
// method, status, duration_ms, error_code) is written and
// rag_http_requests_total{route,method,code} and
// rag_http_request_duration_seconds{route,method} are updated, with the
// route template (never the raw path) as the label. Requests that match no
// route (404, 405, and those the transport refused: 400/413/414/431) are
// labelled route="unmatched". Every error response carries {"error":
// {"code", "message"}} (http_error.h); messages name collections and files
// relative to the data directory, never the server's absolute paths (those
// go to the log).
//
// Ownership: borrows everything in ServerDeps; they must outlive the server.
//
// Thread safety: AddRoute and Bind before Run; Run blocks on the calling
// thread while `threads` workers serve requests concurrently; Stop may be
// called from any thread (e.g. a signal-waiting thread) and makes Run drain
// and return (http_transport.h: in-flight requests get shutdown_grace, then
// they are cancelled). Handlers run concurrently and must be thread-safe.
// Handlers that use a Collection* hold catalog_mutex() shared; dropping a
// collection holds it exclusively, so no handler sees a collection
// destroyed under it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
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
#include "resilience/admission.h"
#include "resilience/circuit_breaker.h"
#include "resilience/deadline.h"
#include "server/auth.h"
#include "server/http_message.h"
#include "server/http_transport.h"
#include "store/database.h"

namespace ragline::server {

// Told of catalog changes made through the API, around each: an index node
// keeps a Kafka reader per collection (pipeline::IndexNode). Hold(name)
// comes before a collection or alias named `name` is created, dropped or
// changed, Release(name) after it (done or refused); Created(c) between them
// for a new collection (an error there fails the request, the collection
// is dropped again). Called from request threads.
class CatalogObserver {
 public:
  virtual ~CatalogObserver() = default;
  virtual void Hold(const std::string& name) = 0;
  virtual Status Created(store::Collection& collection) = 0;
  virtual void Release(const std::string& name) = 0;
};

struct ServerDeps {
  store::Database* db = nullptr;               // required
  embed::Embedder* embedder = nullptr;         // null: no model; dense/hybrid text queries -> 503
  const generate::ChatClient* chat = nullptr;  // null: extractive answers (degraded)
  obs::MetricsRegistry* metrics = nullptr;     // required
  obs::Logger* logger = nullptr;               // required
  std::string data_dir;  // never shown to clients (error messages are made relative to it)
  CatalogObserver* catalog_observer = nullptr;  // optional
  // Tests only (fault drills): runs before every primary search of a query;
  // a non-OK status is taken as the store's failure.
  std::function<Status()> search_fault = nullptr;
};

// Fallback retrieval (fallback.h, docs/reliability.md).
struct FallbackOptions {
  bool enabled = false;                             // answer every query from the hot cache (operator switch)
  size_t capacity = 10'000;                         // records kept per collection
  std::chrono::milliseconds refresh{10'000};        // how often the cache is rebuilt and its counts saved
  std::chrono::milliseconds search_timeout{1'000};  // a slower store search counts as a breaker failure
  resilience::BreakerOptions breaker;               // dependency "search"
};

struct ServerOptions {
  size_t threads = 8;                                // HTTP worker threads (requests handled at once)
  size_t max_body_bytes = 32u << 20;                 // larger bodies get 413
  size_t max_header_bytes = 32u << 10;               // larger request heads get 431 (414: the request line)
  size_t max_header_fields = 100;                    // more header fields get 431
  std::chrono::milliseconds shutdown_grace{10'000};  // Stop: in-flight requests get this long
  // Requests waiting for a free worker thread beyond this get a fast 503
  // with Retry-After (0 = no bound).
  size_t max_queued_requests = 64;
  // A query's deadline when the client gives none (X-Request-Timeout-Ms or
  // "timeout_ms"); docs/reliability.md.
  std::chrono::milliseconds request_timeout{60'000};
  // Queries (query and vector search routes) running at once and waiting.
  resilience::AdmissionOptions admission;
  FallbackOptions fallback;
  std::vector<ApiKey> api_keys;  // empty: no authentication
  generate::AnswerOptions answer;
};

// Request bodies nested deeper than this are refused (400) before parsing.
inline constexpr size_t kMaxJsonDepth = 64;

// One request as a route handler sees it.
class RouteRequest {
 public:
  RouteRequest(const HttpRequest& http, HttpResponse& response, std::vector<std::string> path_params)
      : http(http),
        response(response),
        request_id(response.log.request_id),
        path_params_(std::move(path_params)) {}

  const HttpRequest& http;
  HttpResponse& response;
  const std::string& request_id;

  // The i-th {param} of the route template (0-based), percent-decoded.
  std::string PathParam(size_t i) const;
  // The body parsed as a JSON object; InvalidArgument ("malformed JSON: ...",
  // "request body must be a JSON object", nesting deeper than kMaxJsonDepth)
  // otherwise.
  Result<nlohmann::json> JsonBody() const;
  // True once the client went away or the server stops past its grace
  // period: long handlers check it between units of work.
  bool Cancelled() const { return http.IsCancelled(); }

  // The handler wrote the response itself (a stream, non-JSON content): the
  // JSON it returns is ignored.
  void MarkResponded() { responded_ = true; }
  bool responded() const { return responded_; }
  // Status for a successful JSON reply (default 200).
  void SetSuccessStatus(int status) { success_status_ = status; }
  int success_status() const { return success_status_; }

 private:
  std::vector<std::string> path_params_;
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

// The request's "Authorization" header, or, without one, its "Api-Key"
// header (Pinecone's clients send the key so) as "Bearer KEY".
std::string AuthorizationOf(const HttpRequest& req);

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
  // Makes Run stop accepting, drain and return. Idempotent, non-blocking.
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

  // A query's deadline: the body's "timeout_ms" (`body_timeout`), else the
  // X-Request-Timeout-Ms header, else options().request_timeout.
  // InvalidArgument for a malformed header.
  Result<resilience::Deadline> QueryDeadline(const RouteRequest& r,
                                             std::optional<std::chrono::milliseconds> body_timeout) const;
  // A query slot (admission control): held by the ticket; Unavailable with
  // Retry-After when the server is at its limits.
  Result<resilience::AdmissionController::Ticket> AdmitQuery(const resilience::Deadline& deadline);
  // Reports `breaker` as rag_circuit_breaker_state{dependency} and in
  // /readyz; call before Run. The breaker must outlive the server.
  void WatchBreaker(resilience::CircuitBreaker& breaker);
  // {dependency: {"state", ...}} of the watched breakers.
  nlohmann::json BreakersJson() const;

  // Serves one request in process, as the transport does for each request
  // it reads (the fuzz targets, fuzz/): a streamed reply's writer is left
  // in res.stream for the caller to run.
  void Serve(HttpRequest& req, HttpResponse& res) { Handle(req, res); }

  // For a route whose collection is named in its body (the OpenAI and
  // Pinecone routes): OK when the request's API key grants `access` on
  // `collection` (PermissionDenied otherwise).
  Status AuthorizeCollection(const RouteRequest& r, Access access, std::string_view collection) const {
    return authorizer_.CheckCollection(AuthorizationOf(r.http), access, collection);
  }

  // `message` as a client may see it: the data directory's absolute paths
  // made relative to it (error replies go through this already).
  std::string ClientMessage(std::string message) const;

 private:
  struct Route {
    RouteSpec spec;
    std::regex pattern;  // over the percent-encoded path
    size_t params;       // {x} in the template: fewer = more specific
  };
  void Handle(HttpRequest& req, HttpResponse& res);
  void Dispatch(const RouteSpec& spec, const HttpRequest& req, HttpResponse& res,
                std::vector<std::string> params);
  void LogAndCount(const HttpRequest& req, const HttpResponse& res);
  // Writes `status` as the JSON error reply; the client's message has the
  // data directory's paths made relative, the log keeps the full one.
  void WriteError(HttpResponse& res, const Status& status) const;
  void WriteError(HttpResponse& res, int http_status, std::string_view code, std::string message) const;

  ServerDeps deps_;
  ServerOptions options_;
  Authorizer authorizer_;
  std::vector<std::string> data_dir_forms_;  // the data dir as given, absolute and canonical
  std::vector<Route> routes_;                // fixed once Run starts
  std::unique_ptr<HttpTransport> transport_;
  std::shared_mutex catalog_mu_;
  obs::CounterFamily* requests_total_;
  obs::HistogramFamily* request_duration_;
  obs::HistogramFamily* pipeline_latency_;
  obs::HistogramFamily* vectorstore_time_;
  obs::GaugeFamily* breaker_state_;
  obs::CounterFamily* breaker_transitions_;
  obs::Counter* admission_rejected_;
  resilience::AdmissionController admission_;
  std::vector<resilience::CircuitBreaker*> breakers_;  // fixed once Run starts
  std::vector<std::shared_ptr<void>> kept_alive_;
  std::thread background_;
};

}  // namespace ragline::server
