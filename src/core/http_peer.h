#pragma once

// Small helpers shared by ragline's HTTP clients (embed/remote_embedder,
// generate/chat_client): splitting a configured base URL for cpp-httplib, and
// reading a peer's error answer.

#include <string>
#include <string_view>

#include "core/status.h"

namespace ragline {

struct BaseUrl {
  std::string scheme_host_port;  // "http://host:port", what httplib::Client takes
  std::string path;              // "/prefix" without a trailing '/', or ""
};

// Splits "http://host:port/prefix/" into {"http://host:port", "/prefix"}.
// Only http and https are accepted. `what` names the setting in errors
// ("chat base_url").
Result<BaseUrl> SplitBaseUrl(std::string_view url, std::string_view what);

// The peer's own words for a failed request: OpenAI-style servers put them in
// {"error": {"message": ...}}, others send {"error": "..."}, {"message": ...}
// or plain text (cut to 300 bytes).
std::string PeerErrorMessage(const std::string& body);

// A path segment, percent-encoded ("a#1" -> "a%231").
std::string UrlSegment(const std::string& segment);

}  // namespace ragline
