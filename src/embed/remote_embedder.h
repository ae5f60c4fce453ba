// RemoteEmbedder: an Embedder backed by an OpenAI-compatible embeddings
// server (POST {base_url}/embeddings with {"model", "input": [...]}), for
// users who serve embeddings elsewhere (OpenAI, vLLM, llama.cpp server, TEI,
// or another ragline).
//
// Inputs are sent in requests of at most max_batch texts; the response's
// `data[i].index` puts rows back in input order whatever order the server
// answers in. Connection failures, timeouts, 429 and 5xx are retried with
// jittered exponential back-off (`retry`, resilience/retry.h); any other
// non-200 answer fails at once with the status and the server's error
// message. Every request goes through the embedder's circuit breaker
// (dependency "embedder"): after `breaker.fail_max` failed requests in a row
// the server is not asked for `breaker.reset_timeout`, and Embed() fails at
// once with Unavailable.
// Every response is checked: one finite vector per input, all of dim().
//
// Thread safety: Embed() may be called concurrently (one HTTP client per call).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "embed/embedder.h"
#include "resilience/circuit_breaker.h"
#include "resilience/retry.h"

namespace ragline::embed {

struct RemoteEmbedderOptions {
  // Scheme, host, port and path prefix, e.g. "http://127.0.0.1:8080/v1" or
  // "https://api.openai.com/v1"; requests go to base_url + "/embeddings".
  std::string base_url;
  std::string model;    // sent as "model" and reported as model_id()
  std::string api_key;  // sent as "Authorization: Bearer <key>" when not empty
  // Expected output width; 0 = learn it with one probe request in Create().
  size_t dim = 0;
  size_t max_batch = 256;                     // texts per request
  std::chrono::milliseconds timeout{30'000};  // per request (connect, read, write)
  resilience::RetryPolicy retry{.max_attempts = 3, .initial_backoff = std::chrono::milliseconds(200)};
  resilience::BreakerOptions breaker;
};

class RemoteEmbedder final : public Embedder {
 public:
  // Validates options (base_url must be http:// or https://, model set,
  // max_batch > 0); with dim == 0 it asks the server once to learn the width.
  static Result<std::unique_ptr<RemoteEmbedder>> Create(RemoteEmbedderOptions options);

  size_t dim() const override { return options_.dim; }
  const std::string& model_id() const override { return options_.model; }
  Result<Matrix> Embed(std::span<const std::string> texts) override;
  // The embeddings server's breaker (thread-safe).
  resilience::CircuitBreaker& breaker() const { return *breaker_; }

 private:
  RemoteEmbedder(RemoteEmbedderOptions options, std::string scheme_host_port, std::string path);
  // One request for texts[begin, end) into rows [begin, end) of *out.
  Status EmbedBatch(std::span<const std::string> texts, size_t begin, size_t end, Matrix* out) const;

  RemoteEmbedderOptions options_;
  std::string scheme_host_port_;  // "http://host:port"
  std::string path_;              // ".../embeddings"
  std::unique_ptr<resilience::CircuitBreaker> breaker_;
};

}  // namespace ragline::embed
