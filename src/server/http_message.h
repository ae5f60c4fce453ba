// HttpRequest / HttpResponse: one HTTP/1.1 exchange as the server's routes
// see it, independent of the transport that parsed it (http_transport.h).
//
// A request arrives complete: headers and the whole body (the transport has
// read every byte of it, so nothing of one request is ever parsed as the
// next). A request the transport refused before it was complete (malformed,
// headers or body over a limit) arrives with `rejected_status` set; the
// connection closes after its reply.
//
// A response is a status, headers and either a body or a stream: a function
// that writes the body in chunks through a DataSink (server-sent events).
//
// Thread safety: plain values, used by one thread at a time (the worker that
// handles the request). `cancelled` may be called from that thread at any time.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ragline::server {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ..., or any token ("TRACE", "FOO")
  std::string target;  // the request-target as sent ("/v1/x?y=1")
  std::string path;    // the target's path, still percent-encoded
  int version = 11;    // 10 = HTTP/1.0, 11 = HTTP/1.1
  HeaderList headers;  // as sent, in order
  HeaderList params;   // the query string's parameters, percent-decoded
  std::string body;
  std::chrono::steady_clock::time_point received;  // when its header was read

  // Non-zero: the transport refused the request (400 malformed, 413 body
  // over the limit, 414 request line too long, 431 headers too large); its
  // body was not read and the connection closes after the reply.
  int rejected_status = 0;
  std::string rejected_reason;  // what was wrong, for the client

  // True once the client has gone away (closed its end) or the server is
  // shutting down past its grace period: long handlers (ingest) check it
  // between units of work and stop. Null = never cancelled.
  std::function<bool()> cancelled;

  // The first value of header `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
  // The first value of query parameter `name`, or "".
  std::string Param(std::string_view name) const;
  bool IsCancelled() const { return cancelled && cancelled(); }
};

// Where a streamed response body goes. Write returns false once the client
// is gone (or the write timed out); Done ends the body.
class DataSink {
 public:
  virtual ~DataSink() = default;
  virtual bool Write(std::string_view data) = 0;
  virtual bool IsWritable() const = 0;
  virtual void Done() = 0;
};

struct HttpResponse {
  int status = 200;
  HeaderList headers;
  std::string body;
  // Non-null: the body is written by this function (chunked), after the
  // handler returns, on the same worker thread.
  std::function<void(DataSink&)> stream;

  // For the server's log line and metrics only; never sent.
  struct Log {
    std::string request_id;
    std::string route = "unmatched";  // the route template that matched
    std::string error_code;
    std::string error_message;  // the full message (paths included)
  } log;

  // Replaces header `name` (case-insensitive) or adds it.
  void SetHeader(std::string_view name, std::string value);
  std::string Header(std::string_view name) const;
  void SetContent(std::string content, std::string content_type);
  void SetStream(std::string content_type, std::function<void(DataSink&)> writer);
};

// "a%2Fb+c" -> "a/b+c" ("a/b c" with plus_is_space, as in query strings).
// Invalid escapes are kept as they are.
std::string PercentDecode(std::string_view s, bool plus_is_space = false);

}  // namespace ragline::server
