// Status and Result<T>: how every ragline module reports expected failures.
//
// We use abseil's Status/StatusOr (Debian's libabsl-dev) and add the two
// propagation macros abseil keeps internal. Expected failures (bad input, a
// missing file, a corrupt record) are values; CHECK/assert is for bugs only.
//
// Thread safety: Status and Result are values; copies are independent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"

namespace ragline {

using Status = absl::Status;
template <typename T>
using Result = absl::StatusOr<T>;

// The status of a Status or a Result<T> (generic code over both).
inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

// A request, document or input over a configured limit (the HTTP API answers
// 413). ResourceExhausted with a marker payload, so the code stays canonical;
// the message names the limit ("... the limit max_document_chunks is 4096").
inline constexpr char kLimitExceededPayload[] = "ragline/limit_exceeded";
inline Status LimitExceededError(std::string_view message) {
  Status st = absl::ResourceExhaustedError(absl::string_view(message.data(), message.size()));
  st.SetPayload(kLimitExceededPayload, absl::Cord("1"));
  return st;
}
inline bool IsLimitExceeded(const Status& st) {
  return absl::IsResourceExhausted(st) && st.GetPayload(kLimitExceededPayload).has_value();
}

// The disk (or quota) is full: ENOSPC/EDQUOT from the OS, marked so the HTTP
// API answers 507 "insufficient_storage" rather than 429 (the canonical code
// stays ResourceExhausted).
inline constexpr char kDiskFullPayload[] = "ragline/disk_full";
inline Status MarkDiskFull(Status st) {
  st.SetPayload(kDiskFullPayload, absl::Cord("1"));
  return st;
}
inline bool IsDiskFull(const Status& st) { return st.GetPayload(kDiskFullPayload).has_value(); }

// A Retry-After (whole seconds, at least 1) for an overload or an open
// breaker; server/ sends it as the Retry-After header with the 429/503.
inline constexpr char kRetryAfterPayload[] = "ragline/retry_after_s";
inline Status WithRetryAfter(Status st, int64_t seconds) {
  st.SetPayload(kRetryAfterPayload, absl::Cord(std::to_string(seconds < 1 ? 1 : seconds)));
  return st;
}
inline std::optional<int64_t> RetryAfterSeconds(const Status& st) {
  auto payload = st.GetPayload(kRetryAfterPayload);
  if (!payload.has_value()) return std::nullopt;
  return std::stoll(std::string(*payload));
}

}  // namespace ragline

#define RAGLINE_CONCAT_INNER_(a, b) a##b
#define RAGLINE_CONCAT_(a, b) RAGLINE_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function unless it is OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status ragline_status_ = (expr);           \
    if (!ragline_status_.ok()) return ragline_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` assigns the value of a Result or
// returns its error from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(RAGLINE_CONCAT_(ragline_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(result, lhs, expr)      \
  auto result = (expr);                                \
  if (!result.ok()) return std::move(result).status(); \
  lhs = std::move(result).value()
