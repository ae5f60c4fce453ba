#include "cli/api_client.h"

#include <cstdlib>

#include "core/http_peer.h"
#include "core/strings.h"

namespace ragline::cli {

using nlohmann::json;

namespace {

// Why no reply came, in words (httplib's own names are "Connection", "Read").
std::string Unreachable(const std::string& url, httplib::Error error) {
  std::string why;
  switch (error) {
    case httplib::Error::Connection:
      why = "connection refused or failed (is `ragline serve` running there?)";
      break;
    case httplib::Error::ConnectionTimeout:
      why = "no connection within 5 s";
      break;
    case httplib::Error::Read:
      why = "the connection closed or timed out before a reply";
      break;
    case httplib::Error::Write:
      why = "the connection closed while sending the request";
      break;
    default:
      why = httplib::to_string(error);
  }
  return StrCat("cannot reach ", url, ": ", why);
}

}  // namespace

Result<std::unique_ptr<ApiClient>> ApiClient::Create(const std::string& base_url, std::string api_key) {
  ASSIGN_OR_RETURN(BaseUrl url, SplitBaseUrl(base_url, "--server"));
  if (!url.path.empty()) {
    return absl::InvalidArgumentError(
        StrCat("--server '", base_url, "': give http://HOST:PORT without a path"));
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
  } else if (method == "PUT") {
    res = client_.Put(path.c_str(), headers_, body != nullptr ? body->dump() : "{}", "application/json");
  } else if (method == "DELETE") {
    res = client_.Delete(path.c_str(), headers_);
  } else {
    res = client_.Get(path.c_str(), headers_);
  }
  if (!res) return absl::UnavailableError(Unreachable(url_, res.error()));
  ApiReply reply{res->status, json::parse(res->body, nullptr, false)};
  if (res->status >= 200 && res->status < 300) {
    if (reply.body.is_discarded()) return absl::DataLossError(StrCat(url_, path, ": malformed JSON reply"));
    return reply;
  }
  return ErrorOf(res->status, res->body);
}

Status ApiClient::ErrorOf(int status, const std::string& body) {
  const std::string message = StrCat("server answered ", status, ": ", PeerErrorMessage(body));
  switch (status) {
    case 400:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 409:
      return absl::AlreadyExistsError(message);
    default:
      return absl::UnavailableError(message);
  }
}

Status ApiClient::PostLines(const std::string& path, const json& body, const char* accept,
                           const std::function<void(std::string_view line)>& on_line) {
  httplib::Request request;
  request.method = "POST";
  request.path = path;
  request.headers = headers_;
  request.body = body.dump();
  request.set_header("Content-Type", "application/json");
  request.set_header("Accept", accept);
  int status = 0;
  std::string pending, error_body;
  request.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    return true;
  };
  request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    if (status < 200 || status >= 300) {
      error_body.append(data, size);
      return true;
    }
    pending.append(data, size);
    size_t start = 0;
    for (size_t nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
      std::string_view line(pending.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      on_line(line);
      start = nl + 1;
    }
    pending.erase(0, start);
    return true;
  };
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  if (!client_.send(request, response, error)) {
    return absl::UnavailableError(Unreachable(url_, error));
  }
  if (status < 200 || status >= 300) return ErrorOf(status, error_body.empty() ? response.body : error_body);
  return absl::OkStatus();
}

Status ApiClient::PostStreaming(const std::string& path, const json& body,
                                const std::function<void(const json& line)>& on_line) {
  return PostLines(path, body, "application/x-ndjson", [&](std::string_view text) {
    json line = json::parse(text, nullptr, false);
    if (!line.is_discarded()) on_line(line);
  });
}

Status ApiClient::PostEvents(const std::string& path, const json& body,
                             const std::function<void(const std::string& event, const json& data)>& on_event) {
  std::string event, data;
  return PostLines(path, body, "text/event-stream", [&](std::string_view line) {
    if (line.empty()) {  // an event ends
      if (!data.empty()) {
        json parsed = json::parse(data, nullptr, false);
        if (!parsed.is_discarded()) on_event(event.empty() ? "message" : event, parsed);
      }
      event.clear();
      data.clear();
    } else if (line.rfind("event:", 0) == 0) {
      std::string_view name = line.substr(6);
      while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
      event = std::string(name);
    } else if (line.rfind("data:", 0) == 0) {
      if (!data.empty()) data += "\n";
      std::string_view value = line.substr(5);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      data += value;
    }
  });
}

}  // namespace ragline::cli
