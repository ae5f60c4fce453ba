// TokenBucket: `rate` tokens per second, holding at most `burst`; a call
// takes tokens or learns how long until they are there. Throttles bulk loads
// (`ragline reindex --rate`) and per-API-key request rates (429 with
// Retry-After).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <mutex>

#include "core/status.h"
#include "resilience/clock.h"
#include "resilience/deadline.h"

namespace ragline::resilience {

class TokenBucket {
 public:
  // rate > 0 tokens per second, burst >= 1 tokens (the bucket starts full).
  // `clock` (borrowed; null = the real clock) must outlive the bucket.
  TokenBucket(double rate, double burst, const Clock* clock = nullptr);

  // Takes `n` tokens (n <= burst) when they are there: returns 0. Otherwise
  // takes nothing and returns how long until they would be.
  std::chrono::nanoseconds TryTake(double n = 1);

  // Waits for `n` tokens (n <= burst) and takes them; DeadlineExceeded,
  // taking nothing, when they would come after `deadline`. Sleeps on the real
  // clock.
  Status Take(double n, const Deadline& deadline);

  double rate() const { return rate_; }
  double burst() const { return burst_; }

 private:
  void RefillLocked();

  const double rate_, burst_;
  const Clock& clock_;
  std::mutex mu_;
  double tokens_;             // GUARDED_BY(mu_)
  Clock::TimePoint updated_;  // GUARDED_BY(mu_)
};

}  // namespace ragline::resilience
