// The one place where ragline errors become HTTP statuses (STYLE.md: only
// server/ maps errors to HTTP codes), and the JSON error body every 4xx/5xx
// carries, in OpenAI's shape (so that OpenAI clients read it too):
//
//   {"error": {"code": "invalid_argument", "message": "vector has 3 dimensions, ...",
//              "type": "invalid_request_error", "param": null}}
//
// type: "authentication_error" (401), "permission_error" (403),
// "rate_limit_error" (429), "server_error" (5xx), else "invalid_request_error".
//
// Mapping (absl code -> HTTP status, error.code):
//   InvalidArgument, OutOfRange -> 400     NotFound -> 404
//   Unauthenticated -> 401                 PermissionDenied -> 403
//   AlreadyExists, FailedPrecondition, Aborted -> 409
//   ResourceExhausted -> 429; a LimitExceededError (core/status.h) -> 413 "payload_too_large";
//   a full disk (IsDiskFull, core/status.h) -> 507 "insufficient_storage"
//   Unimplemented -> 501   Unavailable, Cancelled -> 503   DeadlineExceeded -> 504
//   DataLoss, Internal, Unknown -> 500
// error.code is the lower-case canonical name ("not_found").
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "nlohmann/json.hpp"

namespace ragline::server {

// The HTTP status for a non-OK status (200 for OK).
int HttpStatusFor(absl::StatusCode code);
int HttpStatusFor(const Status& status);  // 413 for a LimitExceededError, 507 for a full disk

// "invalid_argument", "not_found", ... ("ok" for OK).
std::string ErrorCodeName(absl::StatusCode code);
std::string ErrorCodeName(const Status& status);  // "payload_too_large" for a LimitExceededError

// {"error": {"code": code, "message": message, "type": ..., "param": null}}
nlohmann::json ErrorBody(std::string_view code, std::string_view message);
nlohmann::json ErrorBody(const Status& status);

// Serialises JSON for a response: invalid UTF-8 in strings becomes U+FFFD
// rather than throwing.
std::string DumpJson(const nlohmann::json& j);

}  // namespace ragline::server
