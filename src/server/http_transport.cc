#include "server/http_transport.h"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/strings.h"
#include "core/thread_pool.h"

namespace ragline::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::chrono::seconds kLingerTime{2};  // reading what a refused client still sends
constexpr size_t kLingerMaxBytes = 1u << 20;

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

HeaderList ParseQuery(std::string_view query) {
  HeaderList out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    out.emplace_back(PercentDecode(part.substr(0, eq), true),
                     eq == std::string_view::npos ? std::string() : PercentDecode(part.substr(eq + 1), true));
  }
  return out;
}

std::string Str(beast::string_view s) { return std::string(s.data(), s.size()); }

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == beast::http::make_error_code(http::error::bad_method).category();
}

}  // namespace

// ---------------------------------------------------------------- transport state

class Connection;

struct HttpTransport::Impl {
  Impl(HttpTransportOptions o, HttpHandler h, HttpDone d)
      : options(std::move(o)), handler(std::move(h)), done(std::move(d)), acceptor(net::make_strand(ioc)) {}

  void Accept();

  const HttpTransportOptions options;
  const HttpHandler handler;
  const HttpDone done;

  std::mutex mu;
  std::condition_variable cv;
  std::map<Connection*, std::weak_ptr<Connection>> connections;  // GUARDED_BY(mu)
  size_t busy = 0;                    // GUARDED_BY(mu): requests handed to a worker, not yet written
  size_t queued = 0;                  // GUARDED_BY(mu): handed to a worker, not yet started
  bool stop_requested = false;        // GUARDED_BY(mu)
  std::atomic<bool> stopping{false};  // no new requests; connections close after their reply
  std::atomic<bool> abandon{false};   // past the grace period: every request reads as cancelled
  std::atomic<bool> running{false};
  bool bound = false;

  // Declared after `connections`: destroying the context destroys the
  // connections its pending handlers hold, which unregister themselves.
  net::io_context ioc;
  tcp::acceptor acceptor;
  std::unique_ptr<ThreadPool> workers;  // run the handlers
};

// One TCP connection: read a request (async, io thread), hand it to a worker,
// which writes the reply through the io thread and waits for each write.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpTransport::Impl& t, tcp::socket socket) : t_(t), stream_(std::move(socket)) {}
  ~Connection() {
    std::lock_guard lock(t_.mu);
    t_.connections.erase(this);
  }

  void Start() {
    {
      std::lock_guard lock(t_.mu);
      t_.connections[this] = weak_from_this();
    }
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // On Stop: a connection waiting for (or reading) a request closes now; one
  // whose request is being handled closes after its reply.
  void CloseIfIdle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::kReading) self->Close();
    });
  }

 private:
  enum class State { kReading, kBusy, kClosing, kClosed };

  class Sink;

  void ReadHeader() {
    if (t_.stopping) return Close();
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(t_.options.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(t_.options.max_body_bytes);
    stream_.expires_after(t_.options.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    if (static_cast<size_t>(std::distance(req.begin(), req.end())) > t_.options.max_header_fields) {
      return Reject(431, StrCat("more than ", t_.options.max_header_fields, " header fields"));
    }
    if (IEquals(Str(req[http::field::expect]), "100-continue") && !parser_->is_done()) {
      continue_.emplace(http::status::continue_, req.version());
      stream_.expires_after(t_.options.write_timeout);
      http::async_write(stream_, *continue_, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return OnBody({});
    stream_.expires_after(t_.options.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    http::request<http::string_body> message = parser_->release();
    HttpRequest request = Describe(message);
    request.body = std::move(message.body());
    Dispatch(std::move(request), /*keep_alive=*/message.keep_alive());
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      // The parser takes the request line whole: no target yet means the
      // request line itself is too long.
      if (parser_->get().target().empty()) {
        return Reject(414, StrCat("the request line is longer than ", t_.options.max_header_bytes, " bytes"));
      }
      return Reject(431,
                    StrCat("the request headers are larger than ", t_.options.max_header_bytes, " bytes"));
    }
    if (ec == http::error::body_limit) {
      return Reject(413, StrCat("request body is larger than the server's limit (max_body_bytes = ",
                                t_.options.max_body_bytes, ")"));
    }
    // A client that closed between requests, timed out or was closed by Stop.
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || !IsHttpParseError(ec)) {
      return Close();
    }
    Reject(400, StrCat("malformed HTTP request: ", ec.message()));
  }

  // The request-line and headers of `message` (what the parser has so far).
  template <class Message>
  HttpRequest Describe(const Message& message) const {
    HttpRequest request;
    request.method = Str(message.method_string());
    request.target = Str(message.target());
    request.version = message.version() == 10 ? 10 : 11;
    const std::string_view target = request.target;
    const size_t q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request.params = ParseQuery(target.substr(q + 1));
    for (const auto& field : message) {
      request.headers.emplace_back(Str(field.name_string()), Str(field.value()));
    }
    request.received = std::chrono::steady_clock::now();
    return request;
  }

  void Reject(int status, std::string reason) {
    HttpRequest request = Describe(parser_->get());
    request.rejected_status = status;
    request.rejected_reason = std::move(reason);
    Dispatch(std::move(request), /*keep_alive=*/false);
  }

  // Hands the request to a worker. Runs on the connection's strand.
  void Dispatch(HttpRequest request, bool keep_alive) {
    state_ = State::kBusy;
    stream_.expires_never();
    bool overloaded;
    {
      std::lock_guard lock(t_.mu);
      ++t_.busy;
      overloaded = t_.options.max_queued_requests > 0 && t_.queued >= t_.options.max_queued_requests;
      if (!overloaded) ++t_.queued;
    }
    if (overloaded && request.rejected_status == 0) {
      // Answered here, on the io thread (the handler only writes an error):
      // waiting for a worker is what overload must not do.
      request.rejected_status = 503;
      request.rejected_reason = StrCat("server overloaded: ", t_.options.max_queued_requests,
                                       " requests are waiting for a worker; retry later");
    }
    if (overloaded) return Handle(std::move(request), keep_alive, /*dequeued=*/false);
    t_.workers->Submit([self = shared_from_this(), request = std::move(request), keep_alive]() mutable {
      self->Handle(std::move(request), keep_alive, /*dequeued=*/true);
    });
  }

  // On a worker: run the handler, then write the reply. The connection does
  // nothing else meanwhile (no read is pending), so the worker may start the
  // write itself; its completion runs on the io thread.
  void Handle(HttpRequest request, bool keep_alive, bool dequeued) {
    if (dequeued) {
      std::lock_guard lock(t_.mu);
      --t_.queued;
    }
    request.cancelled = [this] { return t_.abandon.load() || PeerClosed(); };
    HttpResponse response;
    t_.handler(request, response);
    keep_alive = keep_alive && request.rejected_status == 0 && !t_.stopping;
    if (!response.stream) return WriteAsync(std::move(request), std::move(response), keep_alive);
    // Streamed: this worker writes chunk by chunk (the writer blocks between
    // chunks, e.g. on an LLM's tokens) and waits for each write.
    const bool written = WriteStream(request, response, keep_alive);
    Finish(request, response, written && keep_alive);
  }

  // A whole reply, written asynchronously (started here, on the worker: the
  // bytes go out without waiting for the io thread); logged and counted once
  // its last byte is out.
  void WriteAsync(HttpRequest request, HttpResponse response, bool keep_alive) {
    struct Exchange {
      HttpRequest request;
      HttpResponse response;
      http::response<http::string_body> message;
    };
    auto ex = std::make_shared<Exchange>(Exchange{std::move(request), std::move(response), {}});
    http::response<http::string_body>& m = ex->message;
    m.version(ex->request.version);
    FillHeader(m, ex->response, keep_alive);
    m.body() = std::move(ex->response.body);
    m.prepare_payload();
    if (ex->request.method == "HEAD") m.body().clear();  // Content-Length stays: the GET's
    stream_.expires_after(t_.options.write_timeout);
    http::async_write(stream_, ex->message,
                      [self = shared_from_this(), ex, keep_alive](beast::error_code ec, size_t) {
                        self->Finish(ex->request, ex->response, !ec && keep_alive);
                      });
  }

  // After a reply: log it, then read the next request or close.
  void Finish(const HttpRequest& request, const HttpResponse& response, bool next) {
    t_.done(request, response);
    {
      std::lock_guard lock(t_.mu);
      --t_.busy;
    }
    t_.cv.notify_all();
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), next] {
      if (next) {
        self->ReadHeader();
      } else {
        self->LingerAndClose();
      }
    });
  }

  // Runs `initiate(handler)` on the strand and waits for the handler.
  template <class Initiate>
  beast::error_code OnStrand(Initiate initiate) {
    std::promise<beast::error_code> result;
    net::post(stream_.get_executor(), [&] {
      stream_.expires_after(t_.options.write_timeout);
      initiate([&result](beast::error_code ec, size_t) { result.set_value(ec); });
    });
    return result.get_future().get();
  }

  template <class Body>
  void FillHeader(http::response<Body>& m, const HttpResponse& response, bool keep_alive) const {
    m.result(static_cast<unsigned>(response.status));
    for (const auto& [name, value] : response.headers) m.insert(name, value);
    m.keep_alive(keep_alive);
  }

  // Writes a streamed reply (HttpResponse::stream) from this worker; true
  // if all of it was written. Clears keep_alive when the connection cannot
  // carry another request.
  bool WriteStream(const HttpRequest& request, const HttpResponse& response, bool& keep_alive);

  // The client closed its end (or reset the connection) while its request
  // was handled. Nothing else reads the socket meanwhile.
  bool PeerClosed() {
    char c;
    const ssize_t n = ::recv(stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    return false;  // bytes of a pipelined request
  }

  // Half-close, then read and drop what the client still sends for a
  // moment, so it reads our reply before the socket closes (a close with
  // unread data would reset the connection and could lose the reply).
  void LingerAndClose() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosing;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    stream_.expires_after(kLingerTime);
    Drain();
  }

  void Drain() {
    stream_.async_read_some(net::buffer(drain_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kLingerMaxBytes) return self->Close();
      self->Drain();
    });
  }

  void Close() {
    state_ = State::kClosed;
    beast::error_code ec;
    stream_.socket().close(ec);
  }

  HttpTransport::Impl& t_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  State state_ = State::kReading;  // used on the strand (and by the worker while kBusy)
  std::array<char, 4096> drain_;
  size_t drained_ = 0;
};

// Writes a streamed body: each Write is one chunk, written and waited for.
class Connection::Sink : public DataSink {
 public:
  Sink(Connection& c, bool chunked) : c_(c), chunked_(chunked) {}

  bool Write(std::string_view data) override {
    if (!ok_ || done_) return false;
    if (data.empty()) return true;
    const net::const_buffer buffer(data.data(), data.size());
    beast::error_code ec =
        chunked_
            ? c_.OnStrand([&](auto handler) {
                net::async_write(c_.stream_, http::make_chunk(buffer), std::move(handler));
              })
            : c_.OnStrand([&](auto handler) { net::async_write(c_.stream_, buffer, std::move(handler)); });
    ok_ = !ec;
    return ok_;
  }
  bool IsWritable() const override { return ok_ && !done_ && !c_.PeerClosed(); }
  void Done() override {
    if (done_ || !ok_) return;
    done_ = true;
    if (!chunked_) return;
    ok_ = !c_.OnStrand(
        [&](auto handler) { net::async_write(c_.stream_, http::make_chunk_last(), std::move(handler)); });
  }

  bool done() const { return done_; }
  bool ok() const { return ok_; }

 private:
  Connection& c_;
  const bool chunked_;
  bool ok_ = true;
  bool done_ = false;
};

bool Connection::WriteStream(const HttpRequest& request, const HttpResponse& response, bool& keep_alive) {
  const int version = request.version;
  // Streamed: chunked for HTTP/1.1; an HTTP/1.0 body ends with the connection.
  const bool chunked = version == 11;
  if (!chunked) keep_alive = false;
  http::response<http::empty_body> head{http::status::ok, static_cast<unsigned>(version)};
  FillHeader(head, response, keep_alive);
  head.chunked(chunked);
  http::response_serializer<http::empty_body> serializer{head};
  if (OnStrand([&](auto handler) { http::async_write_header(stream_, serializer, std::move(handler)); })) {
    return false;
  }
  Sink sink(*this, chunked);
  response.stream(sink);
  if (!sink.done()) {  // the writer stopped early (its client went away): the body is incomplete
    keep_alive = false;
    return false;
  }
  return sink.ok();
}

void HttpTransport::Impl::Accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec && !stopping) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // else small replies wait for a delayed ACK (~40 ms)
      std::make_shared<Connection>(*this, std::move(socket))->Start();
    }
    if (stopping) return;
    if (ec) {  // out of descriptors, say: try again shortly rather than spin
      auto timer =
          std::make_shared<net::steady_timer>(acceptor.get_executor(), std::chrono::milliseconds(50));
      timer->async_wait([this, timer](beast::error_code) { Accept(); });
      return;
    }
    Accept();
  });
}

// ---------------------------------------------------------------- HttpTransport

HttpTransport::HttpTransport(HttpTransportOptions options, HttpHandler handler, HttpDone done)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(done))) {
  impl_->workers = std::make_unique<ThreadPool>(std::max<size_t>(1, impl_->options.worker_threads));
}

HttpTransport::~HttpTransport() {
  Stop();
  impl_->workers.reset();  // no tasks left once Run returned; joins the threads
}

Result<int> HttpTransport::Bind(const std::string& host, int port) {
  beast::error_code ec;
  const auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return absl::InvalidArgumentError(StrCat("cannot listen on '", host, "': not an IP address"));
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  tcp::acceptor& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    a.close(ignored);
    return absl::UnavailableError(StrCat("cannot listen on ", host, ":", port, ": ", ec.message()));
  }
  impl_->bound = true;
  return static_cast<int>(a.local_endpoint().port());
}

Status HttpTransport::Run() {
  Impl& t = *impl_;
  if (!t.bound) return absl::FailedPreconditionError("HttpTransport::Run before Bind");
  auto work = net::make_work_guard(t.ioc);
  t.running = true;
  net::post(t.acceptor.get_executor(), [&t] { t.Accept(); });
  std::vector<std::thread> io_threads;
  for (size_t i = 0; i < std::max<size_t>(1, t.options.io_threads); ++i)
    io_threads.emplace_back([&t] { t.ioc.run(); });

  std::unique_lock lock(t.mu);
  t.cv.wait(lock, [&t] { return t.stop_requested; });
  // Drain: stop accepting, close idle connections, let in-flight requests finish.
  t.stopping = true;
  std::vector<std::shared_ptr<Connection>> open;
  for (const auto& [raw, weak] : t.connections) {
    if (auto c = weak.lock()) open.push_back(std::move(c));
  }
  lock.unlock();
  net::post(t.acceptor.get_executor(), [&t] {
    beast::error_code ignored;
    t.acceptor.close(ignored);
  });
  for (const auto& c : open) c->CloseIfIdle();
  open.clear();
  lock.lock();
  if (!t.cv.wait_for(lock, t.options.shutdown_grace, [&t] { return t.busy == 0; })) {
    t.abandon = true;  // handlers see cancelled() and return early
    t.cv.wait(lock, [&t] { return t.busy == 0; });
  }
  lock.unlock();
  work.reset();
  t.ioc.stop();
  for (auto& th : io_threads) th.join();
  t.running = false;
  return absl::OkStatus();
}

void HttpTransport::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop_requested = true;
  }
  impl_->cv.notify_all();
}

bool HttpTransport::running() const { return impl_->running; }

}  // namespace ragline::server
