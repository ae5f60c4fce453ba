#include "generate/llm_config.h"

#include <chrono>
#include <cstdlib>

namespace ragline::generate {
namespace {

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

}  // namespace

void LlmConfig::MergeEnvironment() {
  if (const char* v = Env("RAGLINE_LLM_URL")) url = v;
  if (const char* v = Env("RAGLINE_LLM_MODEL")) model = v;
  if (const char* v = Env("RAGLINE_LLM_API_KEY")) {
    api_key = v;
  } else if (const char* o = Env("OPENAI_API_KEY"); o != nullptr && api_key.empty()) {
    api_key = o;
  }
}

Result<std::unique_ptr<ChatClient>> MakeChatClient(const LlmConfig& llm) {
  if (llm.url.empty()) return std::unique_ptr<ChatClient>();
  ChatClientOptions options;
  options.base_url = llm.url;
  options.model = llm.model;
  options.api_key = llm.api_key;
  options.timeout = std::chrono::milliseconds(llm.timeout_ms);
  options.max_tokens = llm.max_tokens;
  options.breaker = llm.breaker;
  options.retry = llm.retry;
  return ChatClient::Create(options);
}

}  // namespace ragline::generate
