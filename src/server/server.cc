#include "server/server.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <regex>

#include "core/json_depth.h"
#include "core/strings.h"
#include "obs/rag_metrics.h"
#include "server/http_error.h"

namespace ragline::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' && c != '-')
      return false;
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

std::string DefaultErrorCode(int status) {
  switch (status) {
    case 400:
      return "invalid_argument";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 431:
      return "request_header_fields_too_large";
    case 503:
      return "unavailable";
    case 504:
      return "deadline_exceeded";
    default:
      return status >= 500 ? "internal" : "invalid_argument";
  }
}

// "GET, HEAD, POST": the methods of the routes whose template matched.
std::string AllowHeader(std::vector<std::string> methods) {
  if (std::find(methods.begin(), methods.end(), "GET") != methods.end()) methods.push_back("HEAD");
  std::sort(methods.begin(), methods.end());
  methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
  std::string out;
  for (const auto& m : methods) out += StrCat(out.empty() ? "" : ", ", m);
  return out;
}

}  // namespace

std::string RouteRequest::PathParam(size_t i) const {
  return i < path_params_.size() ? PercentDecode(path_params_[i]) : std::string();
}

Result<json> RouteRequest::JsonBody() const {
  if (http.body.empty()) return absl::InvalidArgumentError("request body is empty; expected a JSON object");
  if (MaxJsonNestingDepth(http.body) > kMaxJsonDepth) {
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

Server::Server(ServerDeps deps, ServerOptions options)
    : deps_(std::move(deps)),
      options_(std::move(options)),
      authorizer_(options_.api_keys),
      admission_(options_.admission) {
  obs::MetricsRegistry& m = *deps_.metrics;
  requests_total_ =
      &m.Counter("rag_http_requests_total", "HTTP requests served, by route template, method and status.",
                 {"route", "method", "code"});
  request_duration_ =
      &m.Histogram("rag_http_request_duration_seconds",
                   "HTTP request latency (until the last byte is written), in seconds.", {"route", "method"});
  pipeline_latency_ = &obs::PipelineLatency(m);
  vectorstore_time_ = &obs::VectorstoreQueryTime(m);
  // Expose the query stages from the start so dashboards see zeros, not gaps.
  for (const char* stage : {"embed", "retrieve", "generate"}) pipeline_latency_->WithLabels({stage});
  breaker_state_ =
      &m.Gauge("rag_circuit_breaker_state",
               "Circuit breaker state per dependency: 0 closed, 1 open, 2 half-open.", {"dependency"});
  breaker_transitions_ =
      &m.Counter("rag_circuit_breaker_transitions_total",
                 "Circuit breaker transitions per dependency, by the state entered.", {"dependency", "to"});
  admission_rejected_ = &m.Counter("rag_admission_rejected_total",
                                   "Queries refused by admission control (503 with Retry-After).", {})
                             .WithLabels({});
  if (deps_.chat != nullptr) WatchBreaker(deps_.chat->breaker());

  if (!deps_.data_dir.empty()) {
    std::error_code ec;
    const fs::path given(deps_.data_dir);
    for (const fs::path& form : {given, fs::absolute(given, ec), fs::weakly_canonical(given, ec)}) {
      std::string text = form.lexically_normal().string();
      while (text.size() > 1 && text.back() == '/') text.pop_back();
      if (!text.empty() && text != "." &&
          std::find(data_dir_forms_.begin(), data_dir_forms_.end(), text) == data_dir_forms_.end()) {
        data_dir_forms_.push_back(text);
      }
    }
    // Longest first, so "/srv/data" is not replaced inside "/srv/data2" before its own form.
    std::sort(data_dir_forms_.begin(), data_dir_forms_.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  }

  HttpTransportOptions transport;
  transport.worker_threads = options_.threads;
  transport.max_body_bytes = options_.max_body_bytes;
  transport.max_header_bytes = options_.max_header_bytes;
  transport.max_header_fields = options_.max_header_fields;
  transport.shutdown_grace = options_.shutdown_grace;
  transport.max_queued_requests = options_.max_queued_requests;
  transport_ = std::make_unique<HttpTransport>(
      transport, [this](HttpRequest& req, HttpResponse& res) { Handle(req, res); },
      [this](const HttpRequest& req, const HttpResponse& res) { LogAndCount(req, res); });
}

Server::~Server() {
  Stop();
  if (background_.joinable()) background_.join();
  transport_.reset();  // before the routes and the state they capture
}

obs::Histogram& Server::stage_latency(std::string_view stage) {
  return pipeline_latency_->WithLabels({stage});
}

void Server::AddRoute(RouteSpec spec) {
  std::regex pattern(TemplateToRegex(spec.path_template));
  const size_t params =
      static_cast<size_t>(std::count(spec.path_template.begin(), spec.path_template.end(), '{'));
  routes_.push_back(Route{std::move(spec), std::move(pattern), params});
}

std::string Server::ClientMessage(std::string message) const {
  for (const std::string& dir : data_dir_forms_) {
    for (size_t at = message.find(dir); at != std::string::npos; at = message.find(dir, at)) {
      const size_t end = at + dir.size();
      if (end < message.size() && message[end] == '/') {
        message.erase(at, dir.size() + 1);  // "DIR/collections/x" -> "collections/x"
      } else {
        message.replace(at, dir.size(), "the data directory");
        at += 18;
      }
    }
  }
  return message;
}

void Server::WriteError(HttpResponse& res, int http_status, std::string_view code,
                        std::string message) const {
  res.status = http_status;
  res.stream = nullptr;
  res.SetContent(DumpJson(ErrorBody(code, ClientMessage(message))), "application/json");
  res.log.error_code = std::string(code);
  res.log.error_message = std::move(message);
}

void Server::WriteError(HttpResponse& res, const Status& status) const {
  WriteError(res, HttpStatusFor(status), ErrorCodeName(status), std::string(status.message()));
  if (status.code() == absl::StatusCode::kUnauthenticated) res.SetHeader("WWW-Authenticate", "Bearer");
  if (auto seconds = RetryAfterSeconds(status)) res.SetHeader("Retry-After", std::to_string(*seconds));
}

Result<resilience::Deadline> Server::QueryDeadline(
    const RouteRequest& r, std::optional<std::chrono::milliseconds> body_timeout) const {
  if (body_timeout) return resilience::Deadline::After(*body_timeout);
  const std::string header = r.http.Header("X-Request-Timeout-Ms");
  if (header.empty()) return resilience::Deadline::After(options_.request_timeout);
  uint64_t ms = 0;
  const bool digits = header.size() <= 7 && header.find_first_not_of("0123456789") == std::string::npos;
  if (digits) ms = std::stoull(header);
  if (!digits || ms == 0 || ms > 3'600'000) {
    return absl::InvalidArgumentError(
        "X-Request-Timeout-Ms must be an integer in [1, 3600000] (milliseconds)");
  }
  return resilience::Deadline::After(std::chrono::milliseconds(ms));
}

Result<resilience::AdmissionController::Ticket> Server::AdmitQuery(const resilience::Deadline& deadline) {
  auto ticket = admission_.Admit(deadline);
  if (!ticket.ok()) admission_rejected_->Increment();
  return ticket;
}

void Server::WatchBreaker(resilience::CircuitBreaker& breaker) {
  obs::Gauge& state = breaker_state_->WithLabels({breaker.dependency()});
  state.Set(static_cast<double>(breaker.state()));
  breaker.SetListener([this, &state](const resilience::CircuitBreaker& b, resilience::BreakerState,
                                     resilience::BreakerState to) {
    state.Set(static_cast<double>(to));
    breaker_transitions_->WithLabels({b.dependency(), std::string(resilience::BreakerStateName(to))})
        .Increment();
    deps_.logger
        ->Log(to == resilience::BreakerState::kOpen ? obs::LogLevel::kError : obs::LogLevel::kInfo,
              "circuit breaker")
        .Field("dependency", b.dependency())
        .Field("state", std::string(resilience::BreakerStateName(to)));
  });
  breakers_.push_back(&breaker);
}

json Server::BreakersJson() const {
  json out = json::object();
  for (const resilience::CircuitBreaker* b : breakers_) {
    out[b->dependency()] = b->ToJson();
  }
  return out;
}

void Server::Handle(HttpRequest& req, HttpResponse& res) {
  const std::string given = req.Header("X-Request-Id");
  res.log.request_id = ValidRequestId(given) ? given : NewRequestId();
  res.SetHeader("X-Request-Id", res.log.request_id);
  if (req.rejected_status == 503) {  // the transport's overload answer
    WriteError(res, 503, "unavailable", req.rejected_reason);
    return res.SetHeader("Retry-After", "1");
  }
  if (req.rejected_status != 0) {
    return WriteError(res, req.rejected_status, DefaultErrorCode(req.rejected_status), req.rejected_reason);
  }
  if (req.path.empty() || req.path[0] != '/') {
    return WriteError(res, 400, "invalid_argument",
                      StrCat("request target must be a path starting with '/'"));
  }
  const std::string& method = req.method == "HEAD" ? std::string("GET") : req.method;
  // The most specific templates that match own the path: ".../vectors/search"
  // is the search resource (405 for GET), not a vector named "search" (that
  // one is ".../vectors/%73earch": templates match the path as sent).
  size_t fewest_params = SIZE_MAX;
  for (const Route& route : routes_) {
    if (std::regex_match(req.path, route.pattern)) fewest_params = std::min(fewest_params, route.params);
  }
  std::vector<std::string> allowed;
  for (const Route& route : routes_) {
    std::smatch m;
    if (route.params != fewest_params || !std::regex_match(req.path, m, route.pattern)) continue;
    if (route.spec.method != method) {
      allowed.push_back(route.spec.method);
      continue;
    }
    std::vector<std::string> params;
    for (size_t i = 1; i < m.size(); ++i) params.push_back(m[i].str());
    try {
      Dispatch(route.spec, req, res, std::move(params));
    } catch (const std::exception& e) {
      WriteError(res, absl::InternalError(StrCat("internal error: ", e.what())));
    }
    return;
  }
  if (allowed.empty())
    return WriteError(res, 404, "not_found", StrCat("no route for ", req.method, " ", req.path));
  const std::string allow = AllowHeader(std::move(allowed));
  WriteError(res, 405, "method_not_allowed",
             StrCat(req.method, " is not allowed on ", req.path, " (allowed: ", allow, ")"));
  res.SetHeader("Allow", allow);
}

std::string AuthorizationOf(const HttpRequest& req) {
  std::string authorization = req.Header("Authorization");
  if (authorization.empty()) {
    if (std::string key = req.Header("Api-Key"); !key.empty()) authorization = StrCat("Bearer ", key);
  }
  return authorization;
}

void Server::Dispatch(const RouteSpec& spec, const HttpRequest& req, HttpResponse& res,
                      std::vector<std::string> params) {
  res.log.route = spec.path_template;
  RouteRequest request(req, res, std::move(params));
  const std::string collection = spec.collection_param >= 0 ? request.PathParam(spec.collection_param) : "";
  if (Status st = authorizer_.Check(AuthorizationOf(req), spec.access, collection); !st.ok()) {
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
  res.SetContent(DumpJson(*out), "application/json");
}

void Server::LogAndCount(const HttpRequest& req, const HttpResponse& res) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - req.received).count();
  const std::string& route = res.log.route;
  const std::string code = std::to_string(res.status);
  // Methods a client invents share one label value.
  static constexpr std::string_view kKnownMethods[] = {"GET",    "HEAD",  "POST",   "PUT",
                                                       "DELETE", "PATCH", "OPTIONS"};
  const std::string method =
      std::find(std::begin(kKnownMethods), std::end(kKnownMethods), req.method) != std::end(kKnownMethods)
          ? req.method
          : std::string("other");
  requests_total_->WithLabels({route, method, code}).Increment();
  request_duration_->WithLabels({route, method}).Observe(seconds);
  // Not ready, overloaded or out of time (503, 504) is a state the server
  // expects and says so: a warning; other 5xx are errors.
  const obs::LogLevel level = res.status == 503 || res.status == 504 ? obs::LogLevel::kWarn
                              : res.status >= 500                    ? obs::LogLevel::kError
                                                                     : obs::LogLevel::kInfo;
  auto event = deps_.logger->Log(level, "request");
  event.RequestId(res.log.request_id).DurationMs(seconds * 1e3);
  if (res.status >= 400) {
    event.ErrorCode(res.log.error_code.empty() ? DefaultErrorCode(res.status) : res.log.error_code);
    if (!res.log.error_message.empty()) event.Field("error", res.log.error_message);
  }
  event.Field("route", route).Field("method", req.method).Field("status", res.status).Field("path", req.path);
}

Result<int> Server::Bind(const std::string& host, int port) { return transport_->Bind(host, port); }

Status Server::Run() { return transport_->Run(); }

void Server::Stop() { transport_->Stop(); }

Result<int> Server::StartInBackground(const std::string& host, int port) {
  ASSIGN_OR_RETURN(int bound_port, Bind(host, port));
  background_ = std::thread([this] { (void)transport_->Run(); });
  while (!transport_->running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return bound_port;
}

}  // namespace ragline::server
