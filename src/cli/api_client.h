// The CLI's side of ragline's HTTP API: `ragline query --server` and
// `ragline ingest --server`. JSON in and out; a non-2xx reply becomes an error
// carrying the server's own message.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
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

  // POST or PUT (body given) or GET/DELETE (body null). Errors: Unavailable when the
  // server cannot be reached, else the HTTP status mapped back to a code with
  // "server answered N: message".
  Result<ApiReply> Call(const std::string& method, const std::string& path,
                        const nlohmann::json* body = nullptr);

  // POSTs `body` and hands each line of a streamed NDJSON reply to
  // `on_line` as it arrives. A non-2xx reply is an error as for Call.
  Status PostStreaming(const std::string& path, const nlohmann::json& body,
                       const std::function<void(const nlohmann::json& line)>& on_line);
  // POSTs `body` and hands each server-sent event (its name, "message" when
  // unnamed, and its data parsed as JSON) to `on_event` as it arrives.
  Status PostEvents(const std::string& path, const nlohmann::json& body,
                    const std::function<void(const std::string& event, const nlohmann::json& data)>& on_event);
  const std::string& url() const { return url_; }
  // How long a reply may take to arrive (default 600 s) or a request to be sent.
  void set_timeout(std::chrono::milliseconds timeout) {
    client_.set_read_timeout(timeout);
    client_.set_write_timeout(timeout);
  }

 private:
  // Each line of the reply ("\r\n" or "\n" stripped) as it arrives.
  Status PostLines(const std::string& path, const nlohmann::json& body, const char* accept,
                   const std::function<void(std::string_view line)>& on_line);
  ApiClient(std::string url, std::string api_key);
  // A non-2xx reply as a Status: "server answered N: message".
  static Status ErrorOf(int status, const std::string& body);

  std::string url_;
  httplib::Headers headers_;
  httplib::Client client_;
};

}  // namespace ragline::cli
