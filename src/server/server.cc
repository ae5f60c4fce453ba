#include "server/server.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <regex>

#include "core/strings.h"
#include "obs/rag_metrics.h"
#include "server/http_error.h"

namespace ragline::server {
namespace {

using nlohmann::json;

// What the log line and metrics need about the request this thread serves.
// cpp-httplib runs the pre-routing handler, the route handler and the logger
// of one request on one worker thread, one request at a time.
struct RequestState {
  bool active = false;
  std::chrono::steady_clock::time_point start;
  std::string request_id;
  std::string route;
  std::string error_code;
  std::string error_message;
};
thread_local RequestState tls_request;

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  }
  return true;
}

std::string NewRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = rng();
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) id[i] = kHex[v & 0xF];
  return id;
}

// "/v1/collections/{name}/query" -> "/v1/collections/([^/]+)/query";
// a final "{id...}" matches the rest of the path.
std::string TemplateToRegex(const std::string& t) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '{') {
      const size_t close = t.find('}', i);
      const bool rest = close >= 3 && t.compare(close - 3, 3, "...") == 0;
      out += rest ? "(.+)" : "([^/]+)";
      i = close;
    } else if (std::string_view(".()[]*+?^$|\\").find(t[i]) != std::string_view::npos) {
      out += '\\';
      out += t[i];
    } else {
      out += t[i];
    }
  }
  return out;
}

// The deepest nesting of arrays/objects in `text` (strings skipped). A scan
// before parsing: the filter parser and JSON serialisation recurse, so a
// client's 100k-deep document must be refused, not allowed to overflow a
// worker's stack.
size_t MaxNestingDepth(std::string_view text) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

std::string DefaultErrorCode(int status) {
  switch (status) {
    case 400: return "invalid_argument";
    case 401: return "unauthenticated";
    case 403: return "permission_denied";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    default: return status >= 500 ? "internal" : "invalid_argument";
  }
}

}  // namespace

std::string RouteRequest::PathParam(size_t i) const {
  return i + 1 < http.matches.size() ? http.matches[i + 1].str() : std::string();
}

Result<json> RouteRequest::JsonBody() const {
  if (http.body.empty()) return absl::InvalidArgumentError("request body is empty; expected a JSON object");
  if (MaxNestingDepth(http.body) > kMaxJsonDepth) {
    return absl::InvalidArgumentError(StrCat("JSON nested deeper than ", kMaxJsonDepth, " levels"));
  }
  json j;
  try {
    j = json::parse(http.body);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e400
    return absl::InvalidArgumentError(StrCat("malformed JSON: ", e.what()));
  }
  if (!j.is_object()) return absl::InvalidArgumentError("request body must be a JSON object");
  return j;
}

void WriteError(httplib::Response& res, const Status& status) {
  res.status = HttpStatusFor(status.code());
  res.set_content(DumpJson(ErrorBody(status)), "application/json");
  tls_request.error_code = ErrorCodeName(status.code());
  tls_request.error_message = std::string(status.message());
  if (status.code() == absl::StatusCode::kUnauthenticated) res.set_header("WWW-Authenticate", "Bearer");
}

Server::Server(ServerDeps deps, ServerOptions options)
    : deps_(std::move(deps)), options_(std::move(options)), authorizer_(options_.api_keys) {
  obs::MetricsRegistry& m = *deps_.metrics;
  requests_total_ = &m.Counter("rag_http_requests_total", "HTTP requests served, by route template, method and status.",
                               {"route", "method", "code"});
  request_duration_ = &m.Histogram("rag_http_request_duration_seconds",
                                   "HTTP request latency (until the last byte is written), in seconds.",
                                   {"route", "method"});
  pipeline_latency_ = &obs::PipelineLatency(m);
  vectorstore_time_ = &obs::VectorstoreQueryTime(m);
  // Expose the query stages from the start so dashboards see zeros, not gaps.
  for (const char* stage : {"embed", "retrieve", "generate"}) pipeline_latency_->WithLabels({stage});

  const size_t threads = options_.threads;
  http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_.set_payload_max_length(options_.max_body_bytes);
  // Without it a reply's last small write waits for the client's delayed ACK:
  // a flat ~40 ms on every keep-alive request (bench/run_query.sh showed it).
  http_.set_tcp_nodelay(true);
  http_.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    tls_request = RequestState();
    tls_request.active = true;
    tls_request.start = std::chrono::steady_clock::now();
    const std::string given = req.get_header_value("X-Request-Id");
    tls_request.request_id = ValidRequestId(given) ? given : NewRequestId();
    tls_request.route = "unmatched";
    res.set_header("X-Request-Id", tls_request.request_id);
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors raised by cpp-httplib itself (no route, body too large, bad
  // request line) get the same JSON body as ours.
  http_.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                   httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string code = DefaultErrorCode(res.status);
    std::string message;
    if (res.status == 404) {
      message = StrCat("no route for ", req.method, " ", req.path);
    } else if (res.status == 413) {
      message = "request body is larger than the server's limit (max_body_bytes)";
    } else {
      message = StrCat("HTTP ", res.status);
    }
    if (tls_request.error_code.empty()) {
      tls_request.error_code = code;
      tls_request.error_message = message;
    }
    res.set_content(DumpJson(ErrorBody(code, message)), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    WriteError(res, absl::InternalError(StrCat("internal error: ", what)));
  });
  http_.set_logger([this](const httplib::Request& req, const httplib::Response& res) { LogAndCount(req, res); });
}

Server::~Server() {
  Stop();
  if (background_.joinable()) background_.join();
}

obs::Histogram& Server::stage_latency(std::string_view stage) { return pipeline_latency_->WithLabels({stage}); }

void Server::AddRoute(RouteSpec spec) {
  const std::string pattern = TemplateToRegex(spec.path_template);
  auto shared = std::make_shared<RouteSpec>(std::move(spec));
  httplib::Server::Handler handler = [this, shared](const httplib::Request& req, httplib::Response& res) {
    Dispatch(*shared, req, res);
  };
  const std::string& method = shared->method;
  if (method == "GET") {
    http_.Get(pattern, handler);
  } else if (method == "POST") {
    http_.Post(pattern, handler);
  } else if (method == "PUT") {
    http_.Put(pattern, handler);
  } else if (method == "DELETE") {
    http_.Delete(pattern, handler);
  } else if (method == "PATCH") {
    http_.Patch(pattern, handler);
  }
}

void Server::Dispatch(const RouteSpec& spec, const httplib::Request& req, httplib::Response& res) {
  tls_request.route = spec.path_template;
  RouteRequest request(req, res, tls_request.request_id);
  const std::string collection = spec.collection_param >= 0 ? request.PathParam(spec.collection_param) : "";
  if (Status st = authorizer_.Check(req.get_header_value("Authorization"), spec.access, collection); !st.ok()) {
    WriteError(res, st);
    return;
  }
  Result<json> out = absl::InternalError("handler did not run");
  try {
    out = spec.handler(request);
  } catch (const json::exception& e) {
    // A wrong JSON type that a handler's validation missed is still the
    // client's mistake.
    out = absl::InvalidArgumentError(StrCat("invalid request: ", e.what()));
  } catch (const std::exception& e) {
    out = absl::InternalError(StrCat("internal error: ", e.what()));
  }
  if (!out.ok()) {
    WriteError(res, out.status());
    return;
  }
  if (request.responded()) return;
  res.status = request.success_status();
  res.set_content(DumpJson(*out), "application/json");
}

void Server::LogAndCount(const httplib::Request& req, const httplib::Response& res) {
  RequestState state = std::move(tls_request);
  tls_request = RequestState();
  const double seconds =
      state.active ? std::chrono::duration<double>(std::chrono::steady_clock::now() - state.start).count() : 0.0;
  const std::string route = state.route.empty() ? "unmatched" : state.route;
  const std::string code = std::to_string(res.status);
  requests_total_->WithLabels({route, req.method, code}).Increment();
  request_duration_->WithLabels({route, req.method}).Observe(seconds);
  const obs::LogLevel level = res.status >= 500 ? obs::LogLevel::kError : obs::LogLevel::kInfo;
  auto event = deps_.logger->Log(level, "request");
  event.RequestId(state.request_id).DurationMs(seconds * 1e3);
  if (res.status >= 400) {
    event.ErrorCode(state.error_code.empty() ? DefaultErrorCode(res.status) : state.error_code);
    if (!state.error_message.empty()) event.Field("error", state.error_message);
  }
  event.Field("route", route).Field("method", req.method).Field("status", res.status).Field("path", req.path);
}

Result<int> Server::Bind(const std::string& host, int port) {
  int bound_port = port;
  if (port == 0) {
    bound_port = http_.bind_to_any_port(host);
    if (bound_port < 0) return absl::UnavailableError(StrCat("cannot listen on ", host, ": no free port"));
  } else if (!http_.bind_to_port(host, port)) {
    return absl::UnavailableError(StrCat("cannot listen on ", host, ":", port, " (in use, or not an address of this host)"));
  }
  bound_ = true;
  return bound_port;
}

Status Server::Run() {
  if (!bound_) return absl::FailedPreconditionError("Server::Run before Bind");
  if (!http_.listen_after_bind()) return absl::InternalError("the HTTP listener stopped with an error");
  return absl::OkStatus();
}

void Server::Stop() {
  if (bound_) http_.stop();
}

Result<int> Server::StartInBackground(const std::string& host, int port) {
  ASSIGN_OR_RETURN(int bound_port, Bind(host, port));
  background_ = std::thread([this] { (void)http_.listen_after_bind(); });
  while (!http_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return bound_port;
}

}  // namespace ragline::server
