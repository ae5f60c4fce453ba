// AdmissionController: at most `max_in_flight` queries run at once and at
// most `max_queue` wait for a slot; a query beyond that, or one that would
// wait past its deadline or `max_wait`, is refused at once with Unavailable
// and a Retry-After (core/status.h) - never an unbounded queue. Waiting is
// first come, first served.
//
// Thread safety: every method may be called from any thread. A Ticket
// releases its slot when destroyed, on any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>

#include "core/status.h"
#include "nlohmann/json.hpp"
#include "resilience/deadline.h"

namespace ragline::resilience {

struct AdmissionOptions {
  size_t max_in_flight = 4;                   // queries running at once (0 = no limit)
  size_t max_queue = 16;                      // queries waiting for a slot
  std::chrono::milliseconds max_wait{2'000};  // the longest a query waits in the queue
};

class AdmissionController {
 public:
  explicit AdmissionController(AdmissionOptions options) : options_(options) {}

  // Holds one slot; move-only.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Ticket& operator=(Ticket&& other) noexcept {
      if (this != &other) {
        Release();
        owner_ = std::exchange(other.owner_, nullptr);
      }
      return *this;
    }
    ~Ticket() { Release(); }

   private:
    friend class AdmissionController;
    explicit Ticket(AdmissionController* owner) : owner_(owner) {}
    void Release() {
      if (owner_ != nullptr) std::exchange(owner_, nullptr)->Release();
    }
    AdmissionController* owner_ = nullptr;
  };

  // A slot now, or after waiting in the queue; Unavailable with Retry-After
  // when the queue is full or the wait would pass min(deadline, max_wait).
  Result<Ticket> Admit(const Deadline& deadline);

  struct Counts {
    size_t in_flight = 0, queued = 0;
    uint64_t admitted = 0, rejected = 0;
  };
  Counts counts() const;
  const AdmissionOptions& options() const { return options_; }

 private:
  void Release();

  const AdmissionOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;                  // GUARDED_BY(mu_)
  std::deque<uint64_t> waiting_;          // GUARDED_BY(mu_): tickets in arrival order
  uint64_t next_waiter_ = 0;              // GUARDED_BY(mu_)
  uint64_t admitted_ = 0, rejected_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace ragline::resilience
