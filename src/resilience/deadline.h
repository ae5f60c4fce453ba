// Deadline: the point in time by which a request's work must be done
// (docs/reliability.md). A request's deadline flows through its stages
// (embed -> search -> generate); each asks Remaining() and caps its own
// timeouts with it, and stops once Expired().
//
// Thread safety: a value type; const methods read the steady clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <string_view>

#include "core/status.h"
#include "core/strings.h"

namespace ragline::resilience {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // No deadline: Remaining() is effectively unbounded.
  static Deadline Never() { return Deadline(Clock::time_point::max()); }
  static Deadline After(std::chrono::milliseconds d) { return Deadline(Clock::now() + d); }
  static Deadline At(Clock::time_point t) { return Deadline(t); }

  bool is_never() const { return at_ == Clock::time_point::max(); }
  Clock::time_point at() const { return at_; }
  bool Expired() const { return !is_never() && Clock::now() >= at_; }

  // Time left, never negative; a very large value for Never().
  std::chrono::milliseconds Remaining() const {
    if (is_never()) return std::chrono::milliseconds::max();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - Clock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }
  // min(d, Remaining()): a stage's own timeout, cut to what the request has left.
  std::chrono::milliseconds Cap(std::chrono::milliseconds d) const { return std::min(d, Remaining()); }
  // The earlier of the two.
  Deadline Min(const Deadline& other) const { return Deadline(std::min(at_, other.at_)); }

  // DeadlineExceeded naming `stage` once expired; OK before.
  Status Check(std::string_view stage) const {
    if (!Expired()) return absl::OkStatus();
    return absl::DeadlineExceededError(StrCat("the request's deadline passed before ", stage));
  }

 private:
  explicit Deadline(Clock::time_point at) : at_(at) {}
  Clock::time_point at_;
};

}  // namespace ragline::resilience
