#include "resilience/circuit_breaker.h"

#include "core/json_fields.h"
#include "core/strings.h"

namespace ragline::resilience {

using nlohmann::json;

std::string_view BreakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

Result<BreakerOptions> BreakerOptions::FromJson(const json& j, std::string_view where) {
  const std::string at(where);
  if (!j.is_object()) return absl::InvalidArgumentError(StrCat(at, " must be an object"));
  RETURN_IF_ERROR(RefuseUnknownFields(j, {"fail_max", "reset_timeout_ms"}, at));
  BreakerOptions o;
  if (auto v = j.find("fail_max"); v != j.end()) {
    const auto n = JsonUnsigned(*v);
    if (!n || *n == 0 || *n > 1000)
      return absl::InvalidArgumentError(StrCat(at, ".fail_max must be an integer in [1, 1000]"));
    o.fail_max = static_cast<int>(*n);
  }
  if (auto v = j.find("reset_timeout_ms"); v != j.end()) {
    const auto n = JsonUnsigned(*v);
    if (!n || *n == 0 || *n > 3'600'000)
      return absl::InvalidArgumentError(StrCat(at, ".reset_timeout_ms must be an integer in [1, 3600000]"));
    o.reset_timeout = std::chrono::milliseconds(*n);
  }
  return o;
}

json BreakerOptions::ToJson() const {
  return {{"fail_max", fail_max}, {"reset_timeout_ms", reset_timeout.count()}};
}

bool CountsAsFailure(const Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
      return false;
    default:
      return true;
  }
}

CircuitBreaker::CircuitBreaker(std::string dependency, BreakerOptions options, const Clock* clock)
    : dependency_(std::move(dependency)),
      options_(options),
      clock_(clock != nullptr ? *clock : Clock::Real()) {}

BreakerState CircuitBreaker::StateLocked() const {
  if (state_ == BreakerState::kOpen && clock_.Now() - opened_at_ >= options_.reset_timeout) {
    return BreakerState::kHalfOpen;
  }
  return state_;
}

BreakerState CircuitBreaker::MoveLocked(BreakerState to) {
  const BreakerState from = state_;
  state_ = to;
  if (to == BreakerState::kOpen) opened_at_ = clock_.Now();
  if (from != to) ++transitions_;
  return from;
}

void CircuitBreaker::Report(BreakerState from, BreakerState to) const {
  if (from != to && listener_) listener_(*this, from, to);
}

Status CircuitBreaker::Allow() {
  BreakerState from, to;
  {
    std::lock_guard lock(mu_);
    const BreakerState now = StateLocked();
    if (now == BreakerState::kClosed) return absl::OkStatus();
    if (now == BreakerState::kHalfOpen && !trial_out_) {
      trial_out_ = true;
      from = MoveLocked(BreakerState::kHalfOpen);
      to = BreakerState::kHalfOpen;
    } else {
      // Open, or a trial is out: refuse, and say when to come back.
      const auto left = now == BreakerState::kOpen
                            ? options_.reset_timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                           clock_.Now() - opened_at_)
                            : std::chrono::milliseconds(1000);
      const auto seconds = std::max<int64_t>(1, (left.count() + 999) / 1000);
      return WithRetryAfter(
          absl::UnavailableError(StrCat(dependency_, " is unavailable: its circuit breaker is open after ",
                                        failures_, " failures in a row; next try in ", seconds, " s")),
          seconds);
    }
  }
  Report(from, to);
  return absl::OkStatus();
}

void CircuitBreaker::Succeeded() {
  BreakerState from;
  {
    std::lock_guard lock(mu_);
    failures_ = 0;
    trial_out_ = false;
    if (state_ == BreakerState::kClosed) return;
    from = MoveLocked(BreakerState::kClosed);
  }
  Report(from, BreakerState::kClosed);
}

void CircuitBreaker::Failed() {
  BreakerState from;
  {
    std::lock_guard lock(mu_);
    ++failures_;
    const bool trial = state_ == BreakerState::kHalfOpen;
    trial_out_ = false;
    if (!trial && (state_ != BreakerState::kClosed || failures_ < options_.fail_max)) return;
    from = MoveLocked(BreakerState::kOpen);  // a failed trial re-opens for another reset_timeout
  }
  Report(from, BreakerState::kOpen);
}

BreakerState CircuitBreaker::state() const {
  std::lock_guard lock(mu_);
  return StateLocked();
}

uint64_t CircuitBreaker::transitions() const {
  std::lock_guard lock(mu_);
  return transitions_;
}

json CircuitBreaker::ToJson() const {
  std::lock_guard lock(mu_);
  const BreakerState now = StateLocked();
  json out = {{"state", BreakerStateName(now)}, {"consecutive_failures", failures_}};
  if (now == BreakerState::kOpen) {
    out["retry_after_ms"] = (options_.reset_timeout -
                             std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - opened_at_))
                                .count();
  }
  return out;
}

}  // namespace ragline::resilience
