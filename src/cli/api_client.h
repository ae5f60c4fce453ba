// The CLI's side of ragline's HTTP API: `ragline query --server` and
// `ragline ingest --server`. JSON in and out; a non-2xx reply becomes an error
// carrying the server's own message.
#pragma once

#include <httplib.h>

#include <memory>
#include <string>

#include "core/http_peer.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace ragline::cli {

struct ApiReply {
  int status = 0;
  nlohmann::json body;
};

class ApiClient {
 public:
  // `base_url`: http://HOST:PORT. `api_key`: empty = $RAGLINE_API_KEY, if set.
  static Result<std::unique_ptr<ApiClient>> Create(const std::string& base_url, std::string api_key);

  // POST (body given) or GET/DELETE (body null). Errors: Unavailable when the
  // server cannot be reached, else the HTTP status mapped back to a code with
  // "server answered N: message".
  Result<ApiReply> Call(const std::string& method, const std::string& path, const nlohmann::json* body = nullptr);

  const std::string& url() const { return url_; }

 private:
  ApiClient(std::string url, std::string api_key);

  std::string url_;
  httplib::Headers headers_;
  httplib::Client client_;
};

}  // namespace ragline::cli
