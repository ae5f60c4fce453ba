// SseParser: incremental parser for a server-sent events stream
// (text/event-stream, WHATWG HTML §9.2), the framing OpenAI-compatible servers
// use for `"stream": true` chat completions.
//
// Feed() takes the body in whatever pieces the transport delivers: a piece may
// end inside a line, inside a CRLF pair, or inside a multi-byte character.
// Lines end at LF, CR or CRLF. A line starting with ':' is a comment; a
// "field: value" line sets a field (one optional space after the colon is
// dropped); an empty line dispatches the event. Only `data` is kept (several
// data lines join with '\n'); `event`, `id` and `retry` are ignored, since the
// chat-completions protocol does not use them.
//
// Thread safety: none; one parser per stream.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace ragline::generate {

class SseParser {
 public:
  // Called with each event's data; returns false to stop parsing.
  using EventHandler = std::function<bool(std::string_view data)>;

  explicit SseParser(EventHandler on_event) : on_event_(std::move(on_event)) {}

  // Parses the next piece of the stream. Returns false once the handler has
  // returned false (later calls do nothing and return false).
  bool Feed(std::string_view bytes);

  // End of stream: dispatches an event whose data lines were not followed by
  // the blank line the format asks for (a lenient reading of a cut-off last
  // event). Returns false if the handler stopped.
  bool Finish();

  // Bytes received so far (for error messages).
  size_t bytes_fed() const { return bytes_fed_; }

 private:
  bool ProcessLine(std::string_view line);
  bool Dispatch();

  EventHandler on_event_;
  std::string line_;        // the current, unterminated line
  std::string data_;        // data of the event being assembled
  bool has_data_ = false;   // a data line was seen (data may be empty)
  bool after_cr_ = false;   // the last byte was CR: a following LF is part of it
  bool stopped_ = false;
  size_t bytes_fed_ = 0;
};

}  // namespace ragline::generate
