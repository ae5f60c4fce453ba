// Clock: the time source of breakers and token buckets, injectable so tests
// drive time by hand (ManualClock) instead of sleeping.
//
// Thread safety: Clock::Real() is safe from any thread; a ManualClock may be
// read from any thread and advanced from any thread.
#pragma once

#include <atomic>
#include <chrono>

namespace ragline::resilience {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // The process's steady clock.
  static const Clock& Real();
};

// A clock that moves only when told (tests).
class ManualClock final : public Clock {
 public:
  TimePoint Now() const override { return TimePoint(std::chrono::nanoseconds(now_ns_.load())); }
  void Advance(std::chrono::nanoseconds d) { now_ns_ += d.count(); }

 private:
  std::atomic<int64_t> now_ns_{1'000'000'000};
};

}  // namespace ragline::resilience
