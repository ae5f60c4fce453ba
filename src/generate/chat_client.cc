#include "generate/chat_client.h"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "core/http_peer.h"
#include "core/strings.h"
#include "generate/sse_parser.h"

namespace ragline::generate {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxErrorBody = 64 * 1024;            // kept of a non-200 answer
constexpr size_t kMaxResponseBody = 16 * 1024 * 1024;  // of a whole completion

std::string Excerpt(std::string_view text, size_t limit = 200) {
  if (text.size() <= limit) return std::string(text);
  return StrCat(text.substr(0, limit), "...");
}

Status HttpError(const std::string& where, int http_status, const std::string& body) {
  std::string message = StrCat(where, ": HTTP ", http_status, ": ", PeerErrorMessage(body));
  if (http_status == 429 || http_status >= 500) return absl::UnavailableError(message);
  return absl::FailedPreconditionError(message);
}

std::string RequestBody(const ChatClientOptions& options, std::span<const ChatMessage> messages,
                        bool stream) {
  json request = {{"model", options.model}};
  json& list = request["messages"] = json::array();
  for (const ChatMessage& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
  if (options.max_tokens > 0) request["max_tokens"] = options.max_tokens;
  if (options.temperature) request["temperature"] = *options.temperature;
  if (stream) request["stream"] = true;
  // Invalid UTF-8 in passages must not make the request unsendable.
  return request.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Reads "usage" when present and well-formed; a server may omit it.
void ReadUsage(const json& doc, ChatUsage* usage) {
  if (!doc.contains("usage") || !doc["usage"].is_object()) return;
  const json& u = doc["usage"];
  auto get = [&](const char* key, int64_t* out) {
    if (u.contains(key) && u[key].is_number_integer()) *out = u[key].get<int64_t>();
  };
  get("prompt_tokens", &usage->prompt_tokens);
  get("completion_tokens", &usage->completion_tokens);
  get("total_tokens", &usage->total_tokens);
}

void ReadModel(const json& doc, std::string* model) {
  if (doc.contains("model") && doc["model"].is_string()) *model = doc["model"].get<std::string>();
}

// Parses a whole (non-streamed) chat completion.
Result<ChatResponse> ParseCompletion(const std::string& where, const std::string& body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::DataLossError(StrCat(where, ": answer is not JSON: '", Excerpt(body), "'"));
  }
  if (doc.contains("error")) {  // some servers answer 200 with an error object
    return absl::UnavailableError(StrCat(where, ": server error: ", PeerErrorMessage(body)));
  }
  if (!doc.contains("choices") || !doc["choices"].is_array() || doc["choices"].empty() ||
      !doc["choices"][0].is_object()) {
    return absl::DataLossError(StrCat(where, ": answer has no choices"));
  }
  const json& choice = doc["choices"][0];
  if (!choice.contains("message") || !choice["message"].is_object() ||
      !choice["message"].contains("content") || !choice["message"]["content"].is_string()) {
    return absl::DataLossError(StrCat(where, ": choices[0].message.content is not a string"));
  }
  ChatResponse response;
  response.content = choice["message"]["content"].get<std::string>();
  if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
    response.finish_reason = choice["finish_reason"].get<std::string>();
  }
  ReadModel(doc, &response.model);
  ReadUsage(doc, &response.usage);
  return response;
}

// What one POST did; the body went to the sink (200) or error_body (other).
struct PostOutcome {
  bool ok = false;
  httplib::Error error = httplib::Error::Success;
  int http_status = 0;
  std::string content_type;
  std::string error_body;
  bool deadline_passed = false;
  bool sink_stopped = false;
};

using BodySink = std::function<bool(std::string_view)>;

// Fills *out as the exchange goes, so that the sink can look at the headers.
void Post(const ChatClientOptions& options, const std::string& scheme_host_port, const std::string& path,
          std::string body, bool stream, const BodySink& sink, PostOutcome* out_ptr) {
  PostOutcome& out = *out_ptr;
  const Clock::time_point deadline = Clock::now() + options.timeout;
  httplib::Client client(scheme_host_port);
  client.set_connection_timeout(std::min(options.connect_timeout, options.timeout));
  // A silent server is cut after `timeout` of silence; data that keeps
  // trickling is cut by the deadline check below.
  client.set_read_timeout(options.timeout);
  client.set_write_timeout(options.timeout);

  httplib::Request request;
  request.method = "POST";
  request.path = path;
  request.body = std::move(body);
  request.set_header("Content-Type", "application/json");
  request.set_header("Accept", stream ? "text/event-stream" : "application/json");
  if (!options.api_key.empty()) {
    request.set_header("Authorization", StrCat("Bearer ", options.api_key));
  }
  request.response_handler = [&](const httplib::Response& response) {
    out.http_status = response.status;
    out.content_type = response.get_header_value("Content-Type");
    return true;
  };
  request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    if (Clock::now() > deadline) {
      out.deadline_passed = true;
      return false;
    }
    if (out.http_status != 200) {
      if (out.error_body.size() < kMaxErrorBody) out.error_body.append(data, size);
      return true;
    }
    if (!sink(std::string_view(data, size))) {
      out.sink_stopped = true;
      return false;
    }
    return true;
  };
  httplib::Response response;
  out.ok = client.send(request, response, out.error);
  if (!out.ok && Clock::now() >= deadline) out.deadline_passed = true;
  if (out.http_status == 0) out.http_status = response.status;
}

// The transport-level error of a failed Post (not the sink's own errors).
Status TransportError(const std::string& where, const ChatClientOptions& options, const PostOutcome& out,
                      bool body_started) {
  if (out.deadline_passed) {
    return absl::DeadlineExceededError(
        StrCat(where, ": no complete answer within ", options.timeout.count(), " ms"));
  }
  if (out.error == httplib::Error::Connection || out.error == httplib::Error::ConnectionTimeout) {
    return absl::UnavailableError(StrCat(where, ": cannot connect: ", httplib::to_string(out.error)));
  }
  return absl::UnavailableError(StrCat(where, ": ", httplib::to_string(out.error),
                                       body_started ? " (connection lost mid-answer)" : ""));
}

bool IsEventStream(const std::string& content_type) {
  return content_type.find("text/event-stream") != std::string::npos;
}

}  // namespace

Result<std::unique_ptr<ChatClient>> ChatClient::Create(ChatClientOptions options) {
  if (options.model.empty()) return absl::InvalidArgumentError("chat client: model must be set");
  if (options.timeout.count() <= 0 || options.connect_timeout.count() <= 0) {
    return absl::InvalidArgumentError("chat client: timeouts must be positive");
  }
  if (options.max_tokens < 0) {
    return absl::InvalidArgumentError("chat client: max_tokens must be >= 0");
  }
  ASSIGN_OR_RETURN(BaseUrl url, SplitBaseUrl(options.base_url, "chat base_url"));
  return std::unique_ptr<ChatClient>(
      new ChatClient(std::move(options), std::move(url.scheme_host_port), url.path + "/chat/completions"));
}

ChatClient::ChatClient(ChatClientOptions options, std::string scheme_host_port, std::string path)
    : options_(std::move(options)),
      scheme_host_port_(std::move(scheme_host_port)),
      path_(std::move(path)),
      url_(scheme_host_port_ + path_),
      breaker_(std::make_unique<resilience::CircuitBreaker>("llm", options_.breaker)) {}

Result<ChatResponse> ChatClient::Guarded(
    const resilience::Deadline& deadline, const std::function<bool()>& retryable,
    const std::function<Result<ChatResponse>(const ChatClientOptions&)>& once) const {
  if (deadline.Expired()) {
    return absl::DeadlineExceededError(
        StrCat("chat server ", url_, ": the request's deadline passed before the LLM was asked"));
  }
  RETURN_IF_ERROR(breaker_->Allow());
  Result<ChatResponse> result = resilience::Retry(
      options_.retry, deadline,
      [&](int) -> Result<ChatResponse> {
        ChatClientOptions attempt = options_;
        attempt.timeout = deadline.Cap(options_.timeout);
        if (attempt.timeout.count() <= 0) {
          return absl::DeadlineExceededError(
              StrCat("chat server ", url_, ": the request's deadline passed before the LLM was asked"));
        }
        return once(attempt);
      },
      [&](const Status& st) { return resilience::IsTransient(st) && !deadline.Expired() && retryable(); });
  breaker_->Record(result.status());
  return result;
}

Result<ChatResponse> ChatClient::Complete(std::span<const ChatMessage> messages,
                                          const resilience::Deadline& deadline) const {
  return Guarded(
      deadline, [] { return true; },
      [&](const ChatClientOptions& options) { return CompleteOnce(messages, options); });
}

Result<ChatResponse> ChatClient::Stream(std::span<const ChatMessage> messages, const DeltaCallback& on_delta,
                                        const resilience::Deadline& deadline) const {
  bool delivered = false;  // once text went out, a retry would repeat it
  const DeltaCallback tracked = [&](std::string_view delta) {
    delivered = true;
    return on_delta(delta);
  };
  return Guarded(
      deadline, [&] { return !delivered; },
      [&](const ChatClientOptions& options) { return StreamOnce(messages, tracked, options); });
}

Result<ChatResponse> ChatClient::CompleteOnce(std::span<const ChatMessage> messages,
                                              const ChatClientOptions& options) const {
  const std::string where = StrCat("chat server ", url_);
  std::string body;
  bool too_big = false;
  PostOutcome out;
  Post(
      options, scheme_host_port_, path_, RequestBody(options, messages, /*stream=*/false),
      /*stream=*/false,
      [&](std::string_view piece) {
        if (body.size() + piece.size() > kMaxResponseBody) {
          too_big = true;
          return false;
        }
        body.append(piece);
        return true;
      },
      &out);
  if (too_big) {
    return absl::DataLossError(StrCat(where, ": answer larger than ", kMaxResponseBody, " bytes"));
  }
  if (!out.ok) return TransportError(where, options, out, !body.empty());
  if (out.http_status != 200) return HttpError(where, out.http_status, out.error_body);
  return ParseCompletion(where, body);
}

Result<ChatResponse> ChatClient::StreamOnce(std::span<const ChatMessage> messages,
                                            const DeltaCallback& on_delta,
                                            const ChatClientOptions& options) const {
  const std::string where = StrCat("chat server ", url_);
  ChatResponse response;
  Status stream_error;  // set by the event handler when it stops the stream
  bool done = false;
  bool cancelled = false;
  size_t events = 0;

  auto deliver = [&](const std::string& text) {
    if (text.empty()) return true;
    response.content.append(text);
    if (!on_delta(text)) {
      cancelled = true;
      return false;
    }
    return true;
  };

  SseParser parser([&](std::string_view data) {
    ++events;
    if (done) return true;  // anything after [DONE] is ignored
    if (data == "[DONE]") {
      done = true;
      return true;
    }
    json chunk = json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (chunk.is_discarded() || !chunk.is_object()) {
      stream_error = absl::DataLossError(
          StrCat(where, ": stream event ", events, " is not JSON: '", Excerpt(data), "'"));
      return false;
    }
    if (chunk.contains("error")) {
      stream_error =
          absl::UnavailableError(StrCat(where, ": error event in stream: ", PeerErrorMessage(chunk.dump())));
      return false;
    }
    ReadModel(chunk, &response.model);
    ReadUsage(chunk, &response.usage);
    if (!chunk.contains("choices")) return true;
    const json& choices = chunk["choices"];
    if (!choices.is_array()) {
      stream_error = absl::DataLossError(StrCat(where, ": stream event ", events, ": choices is not a list"));
      return false;
    }
    if (choices.empty()) return true;  // e.g. the usage-only last chunk
    const json& choice = choices[0];
    if (!choice.is_object() || (choice.contains("delta") && !choice["delta"].is_object())) {
      stream_error = absl::DataLossError(
          StrCat(where, ": stream event ", events, ": choices[0].delta is not an object"));
      return false;
    }
    if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
      response.finish_reason = choice["finish_reason"].get<std::string>();
    }
    if (!choice.contains("delta")) return true;
    const json& delta = choice["delta"];
    if (!delta.contains("content") || delta["content"].is_null()) return true;  // role only
    if (!delta["content"].is_string()) {
      stream_error =
          absl::DataLossError(StrCat(where, ": stream event ", events, ": delta.content is not a string"));
      return false;
    }
    return deliver(delta["content"].get<std::string>());
  });

  // A server that ignores "stream" answers with one JSON completion.
  std::string plain_body;
  bool is_plain_json = false;
  bool content_type_known = false;
  bool too_big = false;
  PostOutcome out;
  Post(
      options, scheme_host_port_, path_, RequestBody(options, messages, /*stream=*/true),
      /*stream=*/true,
      [&](std::string_view piece) {
        if (!content_type_known) {
          content_type_known = true;
          is_plain_json = out.content_type.find("application/json") != std::string::npos &&
                          !IsEventStream(out.content_type);
        }
        if (is_plain_json) {
          if (plain_body.size() + piece.size() > kMaxResponseBody) {
            too_big = true;
            return false;
          }
          plain_body.append(piece);
          return true;
        }
        return parser.Feed(piece);
      },
      &out);
  if (cancelled) return absl::CancelledError(StrCat(where, ": stream cancelled by the caller"));
  if (!stream_error.ok()) return stream_error;
  if (too_big) {
    return absl::DataLossError(StrCat(where, ": answer larger than ", kMaxResponseBody, " bytes"));
  }
  if (!out.ok) {
    return TransportError(where, options, out, parser.bytes_fed() > 0 || !plain_body.empty());
  }
  if (out.http_status != 200) return HttpError(where, out.http_status, out.error_body);
  if (is_plain_json) {
    ASSIGN_OR_RETURN(ChatResponse whole, ParseCompletion(where, plain_body));
    if (!whole.content.empty() && !on_delta(whole.content)) {
      return absl::CancelledError(StrCat(where, ": stream cancelled by the caller"));
    }
    return whole;
  }
  parser.Finish();
  if (cancelled) return absl::CancelledError(StrCat(where, ": stream cancelled by the caller"));
  if (!stream_error.ok()) return stream_error;
  if (!done) {
    return absl::DataLossError(StrCat(where, ": stream ended without data: [DONE] after ", events,
                                      " events, ", parser.bytes_fed(), " bytes"));
  }
  return response;
}

}  // namespace ragline::generate
