// CircuitBreaker: stops calling a dependency that keeps failing, so a dead
// LLM, embedder or shard costs one fast refusal instead of a timeout per
// request (docs/reliability.md).
//
//   closed    --fail_max consecutive failures-->  open
//   open      --reset_timeout elapsed-->           half-open (the next Allow is a trial call)
//   half-open --the trial succeeds-->              closed
//   half-open --the trial fails-->                 open again, for another reset_timeout
//
// While open (and while a half-open trial is out) Allow() refuses with
// Unavailable naming the dependency; the status carries a Retry-After
// (core/status.h) of the time left until the next trial. What counts as a
// failure is the caller's choice; CountsAsFailure() is the usual one.
//
// Every transition is counted and reported to the listener (metrics: see
// server/, rag_circuit_breaker_state{dependency}).
//
// Thread safety: every method may be called from any thread. The listener
// runs under no lock of the breaker's, on the thread whose call caused the
// transition; set it before the breaker is shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"
#include "nlohmann/json.hpp"
#include "resilience/clock.h"

namespace ragline::resilience {

enum class BreakerState { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
// "closed", "open", "half_open"
std::string_view BreakerStateName(BreakerState state);

struct BreakerOptions {
  int fail_max = 5;                                 // consecutive failures that open it
  std::chrono::milliseconds reset_timeout{30'000};  // open this long before a trial call

  // {"fail_max": 5, "reset_timeout_ms": 30000}; absent keys keep their
  // defaults. InvalidArgument names the key (`where` prefixes it).
  static Result<BreakerOptions> FromJson(const nlohmann::json& j, std::string_view where);
  nlohmann::json ToJson() const;
};

// A dependency's failure, as a breaker counts it: anything but OK and the
// caller's own doing (Cancelled, InvalidArgument, NotFound).
bool CountsAsFailure(const Status& status);

class CircuitBreaker {
 public:
  using Listener = std::function<void(const CircuitBreaker& breaker, BreakerState from, BreakerState to)>;

  // `clock` (borrowed; null = the real clock) must outlive the breaker.
  CircuitBreaker(std::string dependency, BreakerOptions options, const Clock* clock = nullptr);
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // OK: call the dependency, then report the outcome with Record(). While
  // open, or while a half-open trial is out: Unavailable with Retry-After.
  Status Allow();
  // The outcome of a call Allow() let through.
  void Record(const Status& outcome) { outcome.ok() || !CountsAsFailure(outcome) ? Succeeded() : Failed(); }
  void Succeeded();
  void Failed();

  // The state now (an open breaker whose reset_timeout passed reads half-open).
  BreakerState state() const;
  const std::string& dependency() const { return dependency_; }
  const BreakerOptions& options() const { return options_; }
  uint64_t transitions() const;
  // {"state": "open", "consecutive_failures": 5, "retry_after_ms": 12000}
  nlohmann::json ToJson() const;

  void SetListener(Listener listener) { listener_ = std::move(listener); }

  // Allow, call `f` (returning Status or Result<T>), Record: the usual wrapper.
  template <class F>
  auto Call(F&& f) -> decltype(f()) {
    if (Status allowed = Allow(); !allowed.ok()) return allowed;
    auto result = f();
    Record(StatusOf(result));
    return result;
  }

 private:
  // Moves to `to` under mu_; the caller reports (from, to) after unlocking.
  BreakerState MoveLocked(BreakerState to);
  void Report(BreakerState from, BreakerState to) const;
  BreakerState StateLocked() const;

  const std::string dependency_;
  const BreakerOptions options_;
  const Clock& clock_;
  Listener listener_;
  mutable std::mutex mu_;
  BreakerState state_ = BreakerState::kClosed;  // GUARDED_BY(mu_); kOpen may have timed out (StateLocked)
  int failures_ = 0;                            // GUARDED_BY(mu_): consecutive
  bool trial_out_ = false;                      // GUARDED_BY(mu_): a half-open trial call is running
  Clock::TimePoint opened_at_{};                // GUARDED_BY(mu_)
  uint64_t transitions_ = 0;                    // GUARDED_BY(mu_)
};

}  // namespace ragline::resilience
