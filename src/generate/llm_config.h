// LlmConfig: which OpenAI-compatible chat server answers questions, as the
// server's config file ("llm"), the RAGLINE_LLM_* environment and flags give
// it; shared by `ragline serve` and `ragline query --data`.
//
// Thread safety: plain values; MergeEnvironment reads the process environment.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "generate/chat_client.h"

namespace ragline::generate {

struct LlmConfig {
  std::string url;  // OpenAI-compatible base URL ("http://host:port/v1"); empty = no LLM
  std::string model;
  std::string api_key;
  int64_t timeout_ms = 60'000;
  int max_tokens = 512;
  resilience::BreakerOptions breaker;                // "breaker": {"fail_max", "reset_timeout_ms"}
  resilience::RetryPolicy retry{.max_attempts = 2};  // "retry": {"max_attempts", ...}

  // Overlays RAGLINE_LLM_URL, RAGLINE_LLM_MODEL and RAGLINE_LLM_API_KEY
  // (else OPENAI_API_KEY, when no key is set yet), those set and non-empty.
  void MergeEnvironment();
};

// The chat client for `llm`; null (extractive answers) when it has no URL.
// InvalidArgument for a URL the client cannot use.
Result<std::unique_ptr<ChatClient>> MakeChatClient(const LlmConfig& llm);

}  // namespace ragline::generate
