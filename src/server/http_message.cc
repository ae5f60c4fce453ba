#include "server/http_message.h"

#include <cctype>

namespace ragline::server {
namespace {

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string FirstValue(const HeaderList& list, std::string_view name, bool case_insensitive) {
  for (const auto& [k, v] : list) {
    if (case_insensitive ? EqualsIgnoringCase(k, name) : k == name) return v;
  }
  return {};
}

}  // namespace

std::string HttpRequest::Header(std::string_view name) const { return FirstValue(headers, name, true); }
std::string HttpRequest::Param(std::string_view name) const { return FirstValue(params, name, false); }

void HttpResponse::SetHeader(std::string_view name, std::string value) {
  for (auto& [k, v] : headers) {
    if (EqualsIgnoringCase(k, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::string(name), std::move(value));
}

std::string HttpResponse::Header(std::string_view name) const { return FirstValue(headers, name, true); }

void HttpResponse::SetContent(std::string content, std::string content_type) {
  body = std::move(content);
  SetHeader("Content-Type", std::move(content_type));
}

void HttpResponse::SetStream(std::string content_type, std::function<void(DataSink&)> writer) {
  body.clear();
  stream = std::move(writer);
  SetHeader("Content-Type", std::move(content_type));
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

}  // namespace ragline::server
