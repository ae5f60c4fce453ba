// Retry: one call repeated with jittered exponential back-off, for idempotent
// calls only (the remote embedder, the chat client before its first delta,
// the router's reads), bounded by the attempts allowed and by the request's
// deadline: no attempt starts whose back-off would end past it.
//
//   back-off before attempt n+1 = min(max_backoff, initial_backoff * 2^(n-1)),
//   minus a random share of up to `jitter` of it (so many clients retrying
//   together spread out).
//
// Thread safety: RetryPolicy is a value; Retry() is re-entrant (its random
// source is per thread).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "core/status.h"
#include "core/strings.h"
#include "nlohmann/json.hpp"
#include "resilience/deadline.h"

namespace ragline::resilience {

struct RetryPolicy {
  int max_attempts = 3;  // 1 = no retry
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{2'000};
  double jitter = 0.5;  // share of each back-off taken away at random, in [0, 1]

  // The back-off before attempt `attempt` + 1 (attempt >= 1), jitter applied.
  std::chrono::milliseconds Backoff(int attempt) const;

  // {"max_attempts", "initial_backoff_ms", "max_backoff_ms"}; absent keys
  // keep their defaults. InvalidArgument names the key.
  static Result<RetryPolicy> FromJson(const nlohmann::json& j, std::string_view where);
  nlohmann::json ToJson() const;
};

// A transient failure worth another attempt: Unavailable (refused, reset,
// 429, 5xx) or a single attempt's DeadlineExceeded. The request's own
// deadline is checked separately.
bool IsTransient(const Status& status);

// Calls `attempt_fn(attempt)` (attempt = 1, 2, ...; returning Status or
// Result<T>) until it succeeds, fails with an error `retryable` refuses,
// max_attempts are spent or the deadline leaves no room for the next
// back-off. The last error is returned with " (after N attempts)" when more
// than one was made. `sleep` is for tests.
template <class F>
auto Retry(const RetryPolicy& policy, const Deadline& deadline, F&& attempt_fn,
           const std::function<bool(const Status&)>& retryable = IsTransient,
           const std::function<void(std::chrono::milliseconds)>& sleep = nullptr) -> decltype(attempt_fn(1)) {
  for (int attempt = 1;; ++attempt) {
    auto result = attempt_fn(attempt);
    const Status status = StatusOf(result);
    if (status.ok() || !retryable(status) || attempt >= policy.max_attempts) {
      if (status.ok() || attempt == 1) return result;
      return Status(status.code(), StrCat(std::string(status.message()), " (after ", attempt, " attempts)"));
    }
    const auto pause = policy.Backoff(attempt);
    if (deadline.Remaining() <= pause) {
      return Status(status.code(), StrCat(std::string(status.message()), " (after ", attempt,
                                          " attempts; the request's deadline leaves no time for another)"));
    }
    if (sleep) {
      sleep(pause);
    } else {
      std::this_thread::sleep_for(pause);
    }
  }
}

}  // namespace ragline::resilience
