#include "resilience/retry.h"

#include <algorithm>
#include <random>

#include "core/json_fields.h"

namespace ragline::resilience {

using nlohmann::json;

std::chrono::milliseconds RetryPolicy::Backoff(int attempt) const {
  double ms = static_cast<double>(initial_backoff.count());
  for (int i = 1; i < attempt && ms < static_cast<double>(max_backoff.count()); ++i) ms *= 2;
  ms = std::min(ms, static_cast<double>(max_backoff.count()));
  thread_local std::minstd_rand random(std::random_device{}());
  const double take = std::uniform_real_distribution<double>(0.0, std::clamp(jitter, 0.0, 1.0))(random);
  return std::chrono::milliseconds(static_cast<int64_t>(ms * (1.0 - take)));
}

Result<RetryPolicy> RetryPolicy::FromJson(const json& j, std::string_view where) {
  const std::string at(where);
  if (!j.is_object()) return absl::InvalidArgumentError(StrCat(at, " must be an object"));
  RETURN_IF_ERROR(RefuseUnknownFields(j, {"max_attempts", "initial_backoff_ms", "max_backoff_ms"}, at));
  RetryPolicy p;
  if (auto v = j.find("max_attempts"); v != j.end()) {
    const auto n = JsonUnsigned(*v);
    if (!n || *n == 0 || *n > 100)
      return absl::InvalidArgumentError(StrCat(at, ".max_attempts must be an integer in [1, 100]"));
    p.max_attempts = static_cast<int>(*n);
  }
  for (auto [key, field] :
       {std::pair{"initial_backoff_ms", &p.initial_backoff}, std::pair{"max_backoff_ms", &p.max_backoff}}) {
    if (auto v = j.find(key); v != j.end()) {
      const auto n = JsonUnsigned(*v);
      if (!n || *n > 600'000)
        return absl::InvalidArgumentError(StrCat(at, ".", key, " must be an integer in [0, 600000]"));
      *field = std::chrono::milliseconds(*n);
    }
  }
  if (p.max_backoff < p.initial_backoff) {
    return absl::InvalidArgumentError(StrCat(at, ".max_backoff_ms must not be below initial_backoff_ms"));
  }
  return p;
}

json RetryPolicy::ToJson() const {
  return {{"max_attempts", max_attempts},
          {"initial_backoff_ms", initial_backoff.count()},
          {"max_backoff_ms", max_backoff.count()}};
}

bool IsTransient(const Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace ragline::resilience
