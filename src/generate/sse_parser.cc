#include "generate/sse_parser.h"

namespace ragline::generate {

bool SseParser::Feed(std::string_view bytes) {
  if (stopped_) return false;
  bytes_fed_ += bytes.size();
  size_t begin = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c != '\n' && c != '\r') {
      after_cr_ = false;
      continue;
    }
    bool lf_after_cr = c == '\n' && after_cr_;
    after_cr_ = c == '\r';
    if (lf_after_cr) {  // second half of a CRLF split across pieces or not
      begin = i + 1;
      continue;
    }
    line_.append(bytes.substr(begin, i - begin));
    begin = i + 1;
    bool keep_going = ProcessLine(line_);
    line_.clear();
    if (!keep_going) {
      stopped_ = true;
      return false;
    }
  }
  line_.append(bytes.substr(begin));
  return true;
}

bool SseParser::Finish() {
  if (stopped_) return false;
  if (!line_.empty()) {
    bool keep_going = ProcessLine(line_);
    line_.clear();
    if (!keep_going) {
      stopped_ = true;
      return false;
    }
  }
  if (has_data_ && !Dispatch()) {
    stopped_ = true;
    return false;
  }
  return true;
}

bool SseParser::ProcessLine(std::string_view line) {
  if (line.empty()) return has_data_ ? Dispatch() : true;
  if (line.front() == ':') return true;  // comment (keep-alive)
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  }
  return true;
}

bool SseParser::Dispatch() {
  bool keep_going = on_event_(data_);
  data_.clear();
  has_data_ = false;
  return keep_going;
}

}  // namespace ragline::generate
