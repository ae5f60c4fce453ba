#include "server/http_error.h"

#include <cctype>

namespace ragline::server {

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

int HttpStatusFor(const Status& status) {
  if (IsDiskFull(status)) return 507;
  return IsLimitExceeded(status) ? 413 : HttpStatusFor(status.code());
}

std::string ErrorCodeName(const Status& status) {
  if (IsDiskFull(status)) return "insufficient_storage";
  return IsLimitExceeded(status) ? "payload_too_large" : ErrorCodeName(status.code());
}

std::string ErrorCodeName(absl::StatusCode code) {
  std::string name = absl::StatusCodeToString(code);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

namespace {

// OpenAI's error.type for a ragline error code.
std::string_view OpenAiErrorType(std::string_view code) {
  if (code == "unauthenticated") return "authentication_error";
  if (code == "permission_denied") return "permission_error";
  if (code == "resource_exhausted") return "rate_limit_error";
  for (std::string_view server_side : {"internal", "unknown", "data_loss", "unavailable", "deadline_exceeded",
                                       "cancelled", "insufficient_storage", "unimplemented"}) {
    if (code == server_side) return "server_error";
  }
  return "invalid_request_error";
}

}  // namespace

nlohmann::json ErrorBody(std::string_view code, std::string_view message) {
  return {{"error",
           {{"code", std::string(code)},
            {"message", std::string(message)},
            {"type", std::string(OpenAiErrorType(code))},
            {"param", nullptr}}}};
}

nlohmann::json ErrorBody(const Status& status) {
  return ErrorBody(ErrorCodeName(status), std::string(status.message()));
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ragline::server
