// Test support: an in-process OpenAI-compatible chat-completions server
// (cpp-httplib) that tests script, answering POST /v1/chat/completions whole
// or as server-sent events written in chosen pieces (each piece one HTTP
// chunk, so the client sees the body split exactly there).
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace ragline::generate::testing {

using nlohmann::json;

// A non-streamed chat completion body.
inline std::string CompletionJson(const std::string& content,
                                  const std::string& finish_reason = "stop") {
  json body = {{"id", "chatcmpl-1"},
               {"object", "chat.completion"},
               {"created", 1700000000},
               {"model", "peer-model"},
               {"choices",
                {{{"index", 0},
                  {"message", {{"role", "assistant"}, {"content", content}}},
                  {"finish_reason", finish_reason}}}},
               {"usage", {{"prompt_tokens", 42}, {"completion_tokens", 7}, {"total_tokens", 49}}}};
  return body.dump();
}

inline std::string ChunkEvent(const json& delta, const json& finish_reason = nullptr,
                              const std::string& eol = "\n") {
  json chunk = {{"id", "chatcmpl-1"},
                {"object", "chat.completion.chunk"},
                {"created", 1700000000},
                {"model", "peer-model"},
                {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish_reason}}}}};
  return "data: " + chunk.dump() + eol + eol;
}

// The SSE body a real server sends for `deltas`: a role-only first chunk, one
// chunk per delta, a finish chunk with an empty delta, then [DONE] unless
// `done` is false. A comment line opens the stream, as keep-alives do.
inline std::string SseBody(const std::vector<std::string>& deltas, bool done = true,
                           const std::string& eol = "\n") {
  std::string body = ": keep-alive" + eol + eol;
  body += ChunkEvent({{"role", "assistant"}, {"content", ""}}, nullptr, eol);
  for (const std::string& d : deltas) body += ChunkEvent({{"content", d}}, nullptr, eol);
  body += ChunkEvent(json::object(), "stop", eol);
  if (done) body += "data: [DONE]" + eol + eol;
  return body;
}

// `text` cut into pieces of `size` bytes (the last may be shorter).
inline std::vector<std::string> SplitEvery(const std::string& text, size_t size) {
  std::vector<std::string> pieces;
  for (size_t i = 0; i < text.size(); i += size) pieces.push_back(text.substr(i, size));
  return pieces;
}

// Answers with `pieces` as separate HTTP chunks, `gap` apart; with `cut` the
// connection is dropped after the last piece instead of ending the body.
inline void StreamPieces(httplib::Response& res, std::vector<std::string> pieces,
                         std::chrono::milliseconds gap = std::chrono::milliseconds(0),
                         bool cut = false,
                         const std::string& content_type = "text/event-stream") {
  res.set_chunked_content_provider(
      content_type, [pieces = std::move(pieces), gap, cut](size_t, httplib::DataSink& sink) {
        for (const std::string& piece : pieces) {
          if (gap.count() > 0) std::this_thread::sleep_for(gap);
          if (!sink.is_writable() || !sink.write(piece.data(), piece.size())) return false;
        }
        if (cut) return false;
        sink.done();
        return true;
      });
}

class ChatPeer {
 public:
  // Fills the answer for one request; the default answers "Paris is the
  // capital of France [1]." whole or streamed word by word.
  using Behaviour = std::function<void(const json& request, httplib::Response& res)>;

  ChatPeer() {
    server_.Post("/v1/chat/completions",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   ++requests_;
                   json request = json::parse(req.body, nullptr, false);
                   Behaviour behaviour;
                   {
                     std::lock_guard lock(mu_);
                     last_request_ = request;
                     last_authorization_ = req.get_header_value("Authorization");
                     last_accept_ = req.get_header_value("Accept");
                     behaviour = behaviour_;
                   }
                   if (behaviour) return behaviour(request, res);
                   if (request.value("stream", false)) {
                     StreamPieces(res, {SseBody({"Paris is ", "the capital ", "of France [1]."})});
                   } else {
                     res.set_content(CompletionJson("Paris is the capital of France [1]."),
                                     "application/json");
                   }
                 });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ChatPeer() {
    server_.stop();
    thread_.join();
  }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  void set_behaviour(Behaviour b) {
    std::lock_guard lock(mu_);
    behaviour_ = std::move(b);
  }
  int requests() const { return requests_; }
  json last_request() {
    std::lock_guard lock(mu_);
    return last_request_;
  }
  std::string last_authorization() {
    std::lock_guard lock(mu_);
    return last_authorization_;
  }
  std::string last_accept() {
    std::lock_guard lock(mu_);
    return last_accept_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  Behaviour behaviour_;
  json last_request_;
  std::string last_authorization_;
  std::string last_accept_;
};

}  // namespace ragline::generate::testing
