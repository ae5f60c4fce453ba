// HttpTransport: HTTP/1.1 over TCP on Boost.Beast (Debian's libboost1.81-dev).
//
// It owns the listening socket, the connections and the threads: `io_threads`
// run the sockets (accept, read, write; all asynchronous, so an idle or slow
// client holds no thread), `worker_threads` run the handlers, one request at
// a time per connection (a slow handler never delays reading, accepting or
// other connections' writes). The application (server.h) sees complete
// requests only.
//
// What it guarantees (issue #13):
//   - Every request is read whole before it is handled, whatever its method:
//     Beast's parser frames the body by Content-Length or chunked encoding
//     for any method and refuses ambiguous framing (both, or a bad length),
//     so no bytes of one request are ever parsed as the next (no request
//     smuggling). A request that is not read whole is answered and its
//     connection closed.
//   - Limits with answers: headers over max_header_bytes -> 431 (414 when
//     the request line alone is too long), more than max_header_fields
//     fields -> 431, a body over max_body_bytes -> 413 (from Content-Length,
//     before reading it; "Expect: 100-continue" is honoured), malformed
//     requests -> 400. Such connections close after the reply (lingering a
//     little so the client reads it).
//   - Overload: a request that finds max_queued_requests others waiting for a
//     worker is answered at once with 503 and Retry-After (its handler sees
//     rejected_status 503), so the queue in front of the workers is bounded.
//   - Timeouts: header_timeout for the next request's headers (idle
//     keep-alive included), body_timeout for its body, write_timeout per
//     write. A client that stalls loses its connection, not a thread.
//   - Cancellation: HttpRequest::cancelled reports a client that closed its
//     end while its request was handled, and every request once a Stop has
//     passed its grace period.
//   - Stop: no new connections; idle ones close; in-flight requests finish
//     and get their reply (Connection: close) for up to `shutdown_grace`,
//     then they are cancelled and Run waits for their handlers to return.
//
// Thread safety: Bind, then Run on one thread; Stop from any thread, any
// time (before Run too: Run then returns at once). The handler and `done`
// run on worker threads, concurrently for different connections.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "server/http_message.h"

namespace ragline::server {

struct HttpTransportOptions {
  size_t worker_threads = 8;  // requests handled at once
  size_t io_threads = 1;
  size_t max_body_bytes = 32u << 20;
  size_t max_header_bytes = 32u << 10;  // request line + header fields
  size_t max_header_fields = 100;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{120'000};
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds shutdown_grace{10'000};
  size_t max_queued_requests = 64;  // waiting for a worker; 0 = no bound
};

// Fills `response` for `request` (also for rejected ones). Runs on a worker thread.
using HttpHandler = std::function<void(HttpRequest& request, HttpResponse& response)>;
// Called after the response's last byte was written (or the write failed),
// on a worker thread: logs and metrics.
using HttpDone = std::function<void(const HttpRequest& request, const HttpResponse& response)>;

class HttpTransport {
 public:
  HttpTransport(HttpTransportOptions options, HttpHandler handler, HttpDone done);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Listens on host:port (0 = any free port); returns the port.
  Result<int> Bind(const std::string& host, int port);
  // Serves until Stop, then drains (see above) and returns.
  Status Run();
  // Asks Run to stop. Idempotent, non-blocking.
  void Stop();
  // True from the start of Run until it returns.
  bool running() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragline::server
