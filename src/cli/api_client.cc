#include "cli/api_client.h"

#include <cstdlib>

#include "core/http_peer.h"
#include "core/strings.h"

namespace ragline::cli {

using nlohmann::json;

Result<std::unique_ptr<ApiClient>> ApiClient::Create(const std::string& base_url, std::string api_key) {
  ASSIGN_OR_RETURN(BaseUrl url, SplitBaseUrl(base_url, "--server"));
  if (!url.path.empty()) {
    return absl::InvalidArgumentError(StrCat("--server '", base_url, "': give http://HOST:PORT without a path"));
  }
  if (api_key.empty()) {
    if (const char* env = std::getenv("RAGLINE_API_KEY")) api_key = env;
  }
  return std::unique_ptr<ApiClient>(new ApiClient(url.scheme_host_port, std::move(api_key)));
}

ApiClient::ApiClient(std::string url, std::string api_key) : url_(std::move(url)), client_(url_) {
  client_.set_connection_timeout(5, 0);
  client_.set_read_timeout(600, 0);
  client_.set_write_timeout(600, 0);
  if (!api_key.empty()) headers_.emplace("Authorization", "Bearer " + api_key);
}

Result<ApiReply> ApiClient::Call(const std::string& method, const std::string& path, const json* body) {
  httplib::Result res(nullptr, httplib::Error::Unknown);
  if (method == "POST") {
    res = client_.Post(path.c_str(), headers_, body != nullptr ? body->dump() : "{}", "application/json");
  } else if (method == "DELETE") {
    res = client_.Delete(path.c_str(), headers_);
  } else {
    res = client_.Get(path.c_str(), headers_);
  }
  if (!res) return absl::UnavailableError(StrCat("cannot reach ", url_, ": ", httplib::to_string(res.error())));
  ApiReply reply{res->status, json::parse(res->body, nullptr, false)};
  if (res->status >= 200 && res->status < 300) {
    if (reply.body.is_discarded()) return absl::DataLossError(StrCat(url_, path, ": malformed JSON reply"));
    return reply;
  }
  const std::string message = StrCat("server answered ", res->status, ": ", PeerErrorMessage(res->body));
  switch (res->status) {
    case 400: return absl::InvalidArgumentError(message);
    case 401: return absl::UnauthenticatedError(message);
    case 403: return absl::PermissionDeniedError(message);
    case 404: return absl::NotFoundError(message);
    case 409: return absl::AlreadyExistsError(message);
    default: return absl::UnavailableError(message);
  }
}

}  // namespace ragline::cli
