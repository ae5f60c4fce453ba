#include "server/chat_routes.h"

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "core/json_fields.h"
#include "core/strings.h"
#include "server/http_error.h"
#include "server/routes.h"

namespace ragline::server {
namespace {

using nlohmann::json;

// The text of a message's "content": a string, or an array of
// {"type": "text", "text"} parts (joined by newlines); null is "".
Result<std::string> ContentText(const json& content, const std::string& where) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) {
    return absl::InvalidArgumentError(StrCat("\"", where, "\" must be a string or an array of text parts"));
  }
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string at = StrCat(where, "[", i, "]");
    if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") ||
        !part["text"].is_string()) {
      return absl::InvalidArgumentError(
          StrCat("\"", at, "\": only {\"type\": \"text\", \"text\": ...} parts are supported"));
    }
    if (!text.empty()) text += "\n";
    text += part["text"].get<std::string>();
  }
  return text;
}

// One parsed chat completion request.
struct ChatRequest {
  std::string model;
  json query;  // the query route's body: {"query", "k", "mode", "filter", "stream", "timeout_ms"}
  bool stream = false;
  bool include_usage = false;
};

Result<ChatRequest> ParseChatRequest(const json& body) {
  RETURN_IF_ERROR(RefuseUnknownFields(
      body,
      {// OpenAI's, used
       "model", "messages", "stream", "stream_options",
       // OpenAI's, accepted and not used (the server's LLM settings apply)
       "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "user",
       "presence_penalty", "frequency_penalty", "logit_bias", "metadata", "store", "service_tier",
       "reasoning_effort", "prompt_cache_key", "safety_identifier", "verbosity", "parallel_tool_calls",
       // OpenAI's, refused unless harmless
       "n", "tools", "tool_choice", "functions", "function_call", "logprobs", "top_logprobs",
       "response_format", "modalities", "audio", "prediction", "web_search_options",
       // ragline's extensions (the query route's)
       "k", "mode", "filter", "timeout_ms"},
      ""));
  ChatRequest out;
  auto model = body.find("model");
  if (model == body.end() || !model->is_string() || model->get<std::string>().empty()) {
    return absl::InvalidArgumentError("\"model\" (a collection or alias; GET /v1/models lists them) is required");
  }
  out.model = model->get<std::string>();

  auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array() || messages->empty()) {
    return absl::InvalidArgumentError("\"messages\" (a non-empty array of {\"role\", \"content\"}) is required");
  }
  std::string question;
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    const std::string at = StrCat("messages[", i, "]");
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      return absl::InvalidArgumentError(StrCat("\"", at, "\" must be an object with a string \"role\""));
    }
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool") {
      return absl::InvalidArgumentError(StrCat("\"", at, ".role\" must be system, developer, user, assistant or tool"));
    }
    ASSIGN_OR_RETURN(std::string text, ContentText(m.value("content", json()), StrCat(at, ".content")));
    if (role == "user") question = std::move(text);
  }
  if (question.find_first_not_of(" \t\r\n") == std::string::npos) {
    return absl::InvalidArgumentError("\"messages\" must end with a user message with text (the question)");
  }

  ASSIGN_OR_RETURN(out.stream, OptionalFlag(body, "stream"));
  if (auto so = body.find("stream_options"); so != body.end() && !so->is_null()) {
    if (!out.stream) return absl::InvalidArgumentError("\"stream_options\" needs \"stream\": true");
    RETURN_IF_ERROR(RefuseUnknownFields(*so, {"include_usage", "include_obfuscation"}, "\"stream_options\""));
    if (so->contains("include_usage") && !(*so)["include_usage"].is_boolean()) {
      return absl::InvalidArgumentError("\"stream_options.include_usage\" must be true or false");
    }
    out.include_usage = so->value("include_usage", false);
  }
  if (auto n = body.find("n"); n != body.end() && !n->is_null() && JsonUnsigned(*n) != 1u) {
    return absl::InvalidArgumentError("\"n\": ragline gives one answer per request; only n = 1 is supported");
  }
  for (const char* tools : {"tools", "functions"}) {
    if (auto t = body.find(tools); t != body.end() && !t->is_null() && !(t->is_array() && t->empty())) {
      return absl::InvalidArgumentError(StrCat("\"", tools, "\": tool calls are not supported"));
    }
  }
  ASSIGN_OR_RETURN(const bool logprobs, OptionalFlag(body, "logprobs"));
  if (logprobs) return absl::InvalidArgumentError("\"logprobs\" are not supported");
  if (auto f = body.find("response_format"); f != body.end() && !f->is_null() &&
                                             !(f->is_object() && f->value("type", json()) == "text")) {
    return absl::InvalidArgumentError("\"response_format\": only {\"type\": \"text\"} is supported");
  }
  for (const char* unsupported : {"audio", "prediction", "web_search_options"}) {
    if (auto u = body.find(unsupported); u != body.end() && !u->is_null()) {
      return absl::InvalidArgumentError(StrCat("\"", unsupported, "\" is not supported"));
    }
  }

  out.query = {{"query", question}, {"stream", out.stream}};
  for (const char* ext : {"k", "mode", "filter", "timeout_ms"}) {
    if (auto v = body.find(ext); v != body.end()) out.query[ext] = *v;
  }
  return out;
}

// The query route's fields, as chat completion extensions.
json Extensions(const json& query_reply) {
  json out = json::object();
  for (const char* key : {"citations", "hits", "degraded", "degraded_reason", "degraded_detail"}) {
    if (query_reply.contains(key)) out[key] = query_reply[key];
  }
  return out;
}

json UsageJson(const generate::Answer& answer) {
  return {{"prompt_tokens", answer.usage.prompt_tokens},
          {"completion_tokens", answer.usage.completion_tokens},
          {"total_tokens", answer.usage.total_tokens}};
}

std::string FinishReason(const generate::Answer& answer) {
  return answer.finish_reason == "length" ? "length" : "stop";
}

class ChatRoutes {
 public:
  ChatRoutes(Server& server, ChatBackend backend) : server_(server), backend_(std::move(backend)) {}

  void Register() {
    server_.AddRoute({"POST", "/v1/chat/completions", Access::kRead, -1,
                      [this](RouteRequest& r) { return Complete(r); }});
    server_.AddRoute({"GET", "/v1/models", Access::kRead, -1, [this](RouteRequest&) { return Models(); }});
  }

 private:
  Result<json> Models() const {
    json data = json::array();
    if (const embed::Embedder* e = server_.deps().embedder; e != nullptr) {
      data.push_back({{"id", e->model_id()}, {"object", "model"}, {"created", started_}, {"owned_by", "ragline"}});
    }
    ASSIGN_OR_RETURN(std::vector<std::string> names, backend_.models());
    for (const std::string& name : names) {
      data.push_back({{"id", name}, {"object", "model"}, {"created", started_}, {"owned_by", "ragline"}});
    }
    return json{{"object", "list"}, {"data", std::move(data)}};
  }

  Result<json> Complete(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    ASSIGN_OR_RETURN(ChatRequest chat, ParseChatRequest(body));
    if (const embed::Embedder* e = server_.deps().embedder; e != nullptr && chat.model == e->model_id()) {
      return absl::InvalidArgumentError(StrCat("\"model\": '", chat.model,
                                               "' is the embedding model; chat with a collection or alias "
                                               "(GET /v1/models lists them)"));
    }
    RETURN_IF_ERROR(server_.AuthorizeCollection(r, Access::kRead, chat.model));
    ASSIGN_OR_RETURN(query::QueryRequest request, query::QueryRequest::FromJson(chat.query));
    ASSIGN_OR_RETURN(auto slot, AdmitQuery(server_, r, request));
    const query::QueryInstruments ins = QueryInstrumentsFor(server_, r);
    json extra = json::object();
    auto hits = backend_.retrieve(r, chat.model, request, chat.query, ins, &extra);
    if (absl::IsNotFound(hits.status())) {
      return absl::NotFoundError(StrCat("model '", chat.model,
                                        "' is not a collection or alias here (GET /v1/models lists them): ",
                                        std::string(hits.status().message())));
    }
    if (!hits.ok()) return hits.status();
    auto retrieved = std::make_shared<const query::RetrievedHits>(std::move(*hits));
    const json head = {{"id", StrCat("chatcmpl-", r.request_id)},
                       {"created", static_cast<int64_t>(std::time(nullptr))},
                       {"model", chat.model}};
    if (!chat.stream) {
      generate::Answer answer = Answer(request, *retrieved, extra, nullptr, ins);
      json out = head;
      out["object"] = "chat.completion";
      out["choices"] = json::array({{{"index", 0},
                                     {"message", {{"role", "assistant"}, {"content", answer.text}, {"refusal", nullptr}}},
                                     {"logprobs", nullptr},
                                     {"finish_reason", FinishReason(answer)}}});
      out["usage"] = UsageJson(answer);
      out.update(Extensions(ReplyFields(*retrieved, answer, extra)));
      return out;
    }
    Stream(r, head, chat.include_usage, std::move(retrieved), std::move(request), std::move(extra), ins,
           std::move(slot));
    return json();
  }

  // The answer as the query route gives it: a fallback's fixed answer when
  // it set one, else the LLM's or the extractive one.
  generate::Answer Answer(const query::QueryRequest& request, const query::RetrievedHits& retrieved,
                          const json& extra, const generate::DeltaCallback* on_delta,
                          const query::QueryInstruments& ins) const {
    if (auto fixed = extra.find("answer"); fixed != extra.end() && fixed->is_string()) {
      generate::Answer answer;
      answer.text = fixed->get<std::string>();
      answer.degraded = true;
      if (on_delta != nullptr) (void)(*on_delta)(answer.text);
      return answer;
    }
    return query::RunAnswer(request, retrieved, server_.deps().chat, server_.options().answer, on_delta, ins);
  }

  static json ReplyFields(const query::RetrievedHits& retrieved, const generate::Answer& answer, const json& extra) {
    json fields = query::QueryResponseJson(retrieved, &answer);
    fields.update(extra);
    return fields;
  }

  void Stream(RouteRequest& r, json head, bool include_usage, std::shared_ptr<const query::RetrievedHits> retrieved,
              query::QueryRequest request, json extra, query::QueryInstruments ins,
              resilience::AdmissionController::Ticket slot) {
    head["object"] = "chat.completion.chunk";
    r.response.SetHeader("Cache-Control", "no-cache");
    r.response.SetHeader("X-Accel-Buffering", "no");
    auto held = std::make_shared<resilience::AdmissionController::Ticket>(std::move(slot));
    r.response.SetStream("text/event-stream", [this, head = std::move(head), include_usage, retrieved,
                                               request = std::move(request), extra = std::move(extra), ins,
                                               held](DataSink& sink) {
      auto send = [&sink](const json& data) {
        return sink.IsWritable() && sink.Write(StrCat("data: ", DumpJson(data), "\n\n"));
      };
      auto chunk = [&head](json delta, json finish_reason) {
        json c = head;
        c["choices"] = json::array(
            {{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", finish_reason}}});
        return c;
      };
      if (!send(chunk({{"role", "assistant"}, {"content", ""}}, nullptr))) return;
      generate::DeltaCallback on_delta = [&](std::string_view text) {
        return send(chunk({{"content", std::string(text)}}, nullptr));
      };
      generate::Answer answer = Answer(request, *retrieved, extra, &on_delta, ins);
      if (answer.llm_status.code() == absl::StatusCode::kCancelled && !answer.degraded) return;  // client gone
      json last = chunk(json::object(), FinishReason(answer));
      last.update(Extensions(ReplyFields(*retrieved, answer, extra)));
      if (!send(last)) return;
      if (include_usage) {
        json usage = head;
        usage["choices"] = json::array();
        usage["usage"] = UsageJson(answer);
        if (!send(usage)) return;
      }
      if (sink.IsWritable() && sink.Write("data: [DONE]\n\n")) sink.Done();
    });
    r.MarkResponded();
  }

  Server& server_;
  const ChatBackend backend_;
  const int64_t started_ = static_cast<int64_t>(std::time(nullptr));
};

}  // namespace

void RegisterChatRoutes(Server& server, ChatBackend backend) {
  auto routes = std::make_shared<ChatRoutes>(server, std::move(backend));
  routes->Register();
  server.KeepAlive(routes);
}

}  // namespace ragline::server
