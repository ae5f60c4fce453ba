#include "resilience/admission.h"

#include <algorithm>

#include "core/strings.h"

namespace ragline::resilience {

Result<AdmissionController::Ticket> AdmissionController::Admit(const Deadline& deadline) {
  std::unique_lock lock(mu_);
  const bool unlimited = options_.max_in_flight == 0;
  if (unlimited || (in_flight_ < options_.max_in_flight && waiting_.empty())) {
    ++in_flight_;
    ++admitted_;
    return Ticket(this);
  }
  if (waiting_.size() >= options_.max_queue) {
    ++rejected_;
    return WithRetryAfter(
        absl::UnavailableError(StrCat("overloaded: ", in_flight_, " queries are running and ",
                                      waiting_.size(), " waiting (the limits); retry later")),
        1);
  }
  const uint64_t me = next_waiter_++;
  waiting_.push_back(me);
  const auto until = std::min(deadline.at(), std::chrono::steady_clock::now() + options_.max_wait);
  const bool admitted = cv_.wait_until(
      lock, until, [&] { return in_flight_ < options_.max_in_flight && waiting_.front() == me; });
  waiting_.erase(std::find(waiting_.begin(), waiting_.end(), me));
  if (!admitted) {
    ++rejected_;
    cv_.notify_all();  // the next in line may be at the front now
    return WithRetryAfter(
        absl::UnavailableError(
            StrCat("overloaded: no query slot came free within ",
                   std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_wait).count(),
                   " ms (or the request's deadline); retry later")),
        1);
  }
  ++in_flight_;
  ++admitted_;
  cv_.notify_all();
  return Ticket(this);
}

void AdmissionController::Release() {
  {
    std::lock_guard lock(mu_);
    --in_flight_;
  }
  cv_.notify_all();
}

AdmissionController::Counts AdmissionController::counts() const {
  std::lock_guard lock(mu_);
  return {in_flight_, waiting_.size(), admitted_, rejected_};
}

}  // namespace ragline::resilience
