// ChatClient: a client for OpenAI-compatible chat-completions servers
// (OpenAI, llama.cpp server, llama-cpp-python, vLLM, Ollama):
// POST {base_url}/chat/completions, whole answers or streamed as server-sent
// events.
//
// Every answer is validated before use. Errors name the server URL and are
// mapped so the caller (answer.h) can fall back:
//   connection refused / reset, 429, 5xx, an error event in the stream
//                                         -> Unavailable
//   the total deadline (options.timeout) passed
//                                         -> DeadlineExceeded
//   other non-200 answers (401, 404, 400) -> FailedPrecondition, with the
//                                            server's own error message
//   a body that is not a chat completion, a malformed stream event, a stream
//   that ends without `data: [DONE]`      -> DataLoss
//   the delta callback returned false     -> Cancelled
//   the circuit breaker is open           -> Unavailable (with Retry-After)
//
// Resilience (docs/reliability.md): every call goes through the client's
// circuit breaker (dependency "llm"; a dead LLM costs one fast refusal, not
// a timeout per request) and retries transient failures (Unavailable, a
// timed-out attempt) with jittered back-off, a stream only while no delta
// has been delivered. Each attempt's timeout is capped by the caller's
// deadline; no attempt starts once it has passed.
//
// The API key comes from the caller; reading RAGLINE_LLM_API_KEY /
// OPENAI_API_KEY from the environment is the CLI's and server's job.
//
// Thread safety: Complete() and Stream() may be called concurrently; each call
// uses its own connection. The delta callback runs on the calling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "resilience/circuit_breaker.h"
#include "resilience/deadline.h"
#include "resilience/retry.h"

namespace ragline::generate {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct ChatUsage {  // token counts as the server reports them; 0 when absent
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
};

struct ChatResponse {
  std::string content;        // the assistant's text (a stream's deltas joined)
  std::string finish_reason;  // "stop", "length", ...; empty when not reported
  std::string model;          // the model the server says answered; may be empty
  ChatUsage usage;
};

struct ChatClientOptions {
  // Scheme, host, port and path prefix, e.g. "http://127.0.0.1:8080/v1" or
  // "https://api.openai.com/v1"; requests go to base_url + "/chat/completions".
  std::string base_url;
  std::string model;    // sent as "model"
  std::string api_key;  // sent as "Authorization: Bearer <key>" when not empty
  // Total deadline for one call: connecting, sending and the whole answer
  // (every streamed delta included).
  std::chrono::milliseconds timeout{60'000};
  // Deadline for the TCP (and TLS) connection alone; capped by `timeout`.
  std::chrono::milliseconds connect_timeout{3'000};
  int max_tokens = 512;                     // 0 = leave it to the server
  std::optional<double> temperature = 0.2;  // nullopt = leave it to the server
  resilience::BreakerOptions breaker;       // dependency "llm"
  // Attempts per call (2: one retry). A chat completion has no side effect,
  // so a retry is safe; it costs the LLM a second prompt.
  resilience::RetryPolicy retry{.max_attempts = 2};
};

// Receives each non-empty piece of streamed text, in order; returns false to
// stop the stream (Stream() then returns Cancelled).
using DeltaCallback = std::function<bool(std::string_view delta)>;

class ChatClient {
 public:
  // Validates the options: base_url must be http:// or https:// with a host,
  // model must be set, timeouts positive. Sends nothing.
  static Result<std::unique_ptr<ChatClient>> Create(ChatClientOptions options);

  // One non-streaming completion of `messages`.
  Result<ChatResponse> Complete(std::span<const ChatMessage> messages,
                                const resilience::Deadline& deadline = resilience::Deadline::Never()) const;

  // A streaming completion: `on_delta` gets the text as it arrives; the
  // result holds the joined text, finish_reason and (if the server sends a
  // usage chunk) usage. A server that ignores "stream" and answers with one
  // JSON completion is accepted: its content arrives as a single delta. On an
  // error, the deltas already delivered stay delivered.
  Result<ChatResponse> Stream(std::span<const ChatMessage> messages, const DeltaCallback& on_delta,
                              const resilience::Deadline& deadline = resilience::Deadline::Never()) const;

  // base_url + "/chat/completions", as used in error messages.
  const std::string& url() const { return url_; }
  const ChatClientOptions& options() const { return options_; }
  // The LLM's breaker (shared by every call; thread-safe).
  resilience::CircuitBreaker& breaker() const { return *breaker_; }

 private:
  ChatClient(ChatClientOptions options, std::string scheme_host_port, std::string path);
  // Breaker, retries and the deadline around `once` (one attempt with the
  // given options: the timeout cut to the deadline). `retryable` may veto a retry.
  Result<ChatResponse> Guarded(
      const resilience::Deadline& deadline, const std::function<bool()>& retryable,
      const std::function<Result<ChatResponse>(const ChatClientOptions&)>& once) const;
  Result<ChatResponse> CompleteOnce(std::span<const ChatMessage> messages,
                                    const ChatClientOptions& options) const;
  Result<ChatResponse> StreamOnce(std::span<const ChatMessage> messages, const DeltaCallback& on_delta,
                                  const ChatClientOptions& options) const;

  ChatClientOptions options_;
  std::string scheme_host_port_;  // "http://host:port"
  std::string path_;              // ".../chat/completions"
  std::string url_;
  std::unique_ptr<resilience::CircuitBreaker> breaker_;
};

}  // namespace ragline::generate
