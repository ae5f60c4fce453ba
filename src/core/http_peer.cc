#include "core/http_peer.h"

#include <cctype>

#include <nlohmann/json.hpp>

#include "core/strings.h"

namespace ragline {

Result<BaseUrl> SplitBaseUrl(std::string_view url, std::string_view what) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return absl::InvalidArgumentError(StrCat(what, " '", url, "' has no scheme (want http:// or https://)"));
  }
  const std::string_view scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return absl::InvalidArgumentError(StrCat(what, " '", url, "': scheme must be http or https"));
  }
  const size_t host_begin = scheme_end + 3;
  const size_t path_begin = url.find('/', host_begin);
  const std::string_view host = url.substr(host_begin, path_begin == std::string_view::npos
                                                           ? std::string_view::npos
                                                           : path_begin - host_begin);
  if (host.empty()) return absl::InvalidArgumentError(StrCat(what, " '", url, "' has no host"));
  std::string_view path = path_begin == std::string_view::npos ? std::string_view() : url.substr(path_begin);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return BaseUrl{StrCat(scheme, "://", host), std::string(path)};
}

std::string PeerErrorMessage(const std::string& body) {
  using nlohmann::json;
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object() && doc.contains("error")) {
    const json& error = doc["error"];
    if (error.is_object() && error.contains("message") && error["message"].is_string()) {
      return error["message"].get<std::string>();
    }
    if (error.is_string()) return error.get<std::string>();
  }
  if (doc.is_object() && doc.contains("message") && doc["message"].is_string()) {
    return doc["message"].get<std::string>();
  }
  return body.size() > 300 ? body.substr(0, 300) + "..." : body;
}

std::string UrlSegment(const std::string& segment) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

}  // namespace ragline
