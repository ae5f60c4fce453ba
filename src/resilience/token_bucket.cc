#include "resilience/token_bucket.h"

#include <algorithm>
#include <thread>

#include "core/strings.h"

namespace ragline::resilience {

TokenBucket::TokenBucket(double rate, double burst, const Clock* clock)
    : rate_(rate),
      burst_(std::max(1.0, burst)),
      clock_(clock != nullptr ? *clock : Clock::Real()),
      tokens_(burst_),
      updated_(clock_.Now()) {}

void TokenBucket::RefillLocked() {
  const auto now = clock_.Now();
  const double seconds = std::chrono::duration<double>(now - updated_).count();
  tokens_ = std::min(burst_, tokens_ + seconds * rate_);
  updated_ = now;
}

std::chrono::nanoseconds TokenBucket::TryTake(double n) {
  std::lock_guard lock(mu_);
  RefillLocked();
  if (tokens_ >= n) {
    tokens_ -= n;
    return std::chrono::nanoseconds(0);
  }
  const double wait_s = (n - tokens_) / rate_;
  return std::max(std::chrono::nanoseconds(1), std::chrono::nanoseconds(static_cast<int64_t>(wait_s * 1e9)));
}

Status TokenBucket::Take(double n, const Deadline& deadline) {
  for (;;) {
    const auto wait = TryTake(n);
    if (wait.count() == 0) return absl::OkStatus();
    if (!deadline.is_never() && std::chrono::steady_clock::now() + wait > deadline.at()) {
      return absl::DeadlineExceededError(
          StrCat("rate limit of ", rate_, "/s: the next ", n, " token(s) come after the deadline"));
    }
    std::this_thread::sleep_for(wait);
  }
}

}  // namespace ragline::resilience
