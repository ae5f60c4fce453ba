// Shared input/output helpers of the `ragline` subcommands: error reporting,
// JSON lines on stdout, and a line reader that notices idle input.
//
// Thread safety: none needed; the CLI runs on one thread.
#pragma once

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "embed/local_embedder.h"
#include "embed/remote_embedder.h"
#include "nlohmann/json.hpp"
#include "store/database.h"

namespace ragline::cli {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;  // a malformed command line (unknown flag, missing command)

// Prints "error: <message>" to stderr; returns kExitError.
int Fail(const Status& st);
int Fail(const std::string& message);

// Writes one JSON line to stdout and flushes, so pipes see it at once.
void PrintJson(const nlohmann::json& j);

// DatabaseOptions for a command: collections opened degraded (quarantined
// segments) or with a cut WAL tail say so on stderr ("note: ...", pointing
// at `ragline check`), whatever the command does next.
store::DatabaseOptions CliDatabaseOptions(bool read_only);

// Reads lines from a file descriptor. NextLine reports when no full line is
// buffered and the input is idle for `idle_ms`, so callers can flush a partial
// batch while a producer pauses (streams, pipes from slow writers).
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  enum class Outcome { kLine, kIdle, kEof, kError };

  Outcome NextLine(std::string* line, int idle_ms) {
    for (;;) {
      size_t nl = buffer_.find('\n', scan_from_);
      if (nl != std::string::npos) {
        line->assign(buffer_, 0, nl);
        buffer_.erase(0, nl + 1);
        scan_from_ = 0;
        return Outcome::kLine;
      }
      scan_from_ = buffer_.size();
      if (eof_) {
        if (buffer_.empty()) return Outcome::kEof;
        line->swap(buffer_);
        buffer_.clear();
        scan_from_ = 0;
        return Outcome::kLine;
      }
      if (idle_ms >= 0) {
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, idle_ms);
        if (r == 0) return Outcome::kIdle;
      }
      char chunk[1 << 16];
      ssize_t n = ::read(fd_, chunk, sizeof(chunk));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Outcome::kError;
      }
      if (n == 0) {
        eof_ = true;
      } else {
        buffer_.append(chunk, static_cast<size_t>(n));
      }
    }
  }

 private:
  int fd_;
  std::string buffer_;
  size_t scan_from_ = 0;
  bool eof_ = false;
};

// The batch loop of the streaming commands (upsert, embed, ingest --jsonl):
// reads `fd` to its end, handing each line and its 1-based number to
// `on_line`, which adds it to the caller's batch. `flush` writes the batch; it
// runs when `full()` says so after a line, when the input idles `idle_ms` (a
// paused producer still gets its lines acknowledged), and at the end. A non-OK
// status from `on_line` (a bad line, which it must not have batched) stops the
// loop after flushing the lines before it and is returned; a flush or read
// error is returned at once.
Status PumpLines(int fd, int idle_ms, const std::function<Status(std::string& line, size_t line_no)>& on_line,
                 const std::function<bool()>& full, const std::function<Status()>& flush);

// Encoder options from a command's --precision flag ("auto" | "fp32" | "int8"); the
// error names the flag.
Result<embed::LocalEmbedderOptions> EncoderOptions(const std::string& precision);

// Where the embedding model is looked for when --model is not given, in
// order: $RAGLINE_MODEL_DIR alone when it is set; else
// models/all-MiniLM-L6-v2 under the working directory,
// $XDG_DATA_HOME/ragline/models/all-MiniLM-L6-v2 (~/.local/share when
// unset), and beside the binary: ../share/ragline/models/... (an installed
// ragline, cmake --install) and ../../models/... (a build tree, build/dev).
std::vector<std::string> ModelSearchPath();
// The first directory of ModelSearchPath() that holds a model
// (config.json), else the first one.
std::string DefaultModelDir();  // used when --model is ""
// --model's help: where the model is found without it.
inline constexpr char kModelHelp[] =
    "embedding model directory (default: $RAGLINE_MODEL_DIR, else the first that exists of "
    "./models/all-MiniLM-L6-v2, ~/.local/share/ragline/models/all-MiniLM-L6-v2 and the same beside the "
    "ragline binary; scripts/fetch_model.sh fetches it)";
// Opens the model at `flag` (a --model value; "" = DefaultModelDir()). A
// model that is not there says where ragline looked and how to get it.
Result<std::unique_ptr<embed::LocalEmbedder>> OpenModel(const std::string& flag,
                                                        const embed::LocalEmbedderOptions& options,
                                                        ThreadPool* pool);
// Loads only the tokenizer of the same model.
Result<embed::WordPieceTokenizer> OpenModelTokenizer(const std::string& flag);

// An OpenAI-compatible embeddings server at `url` (e.g. http://host:8080/v1,
// or another `ragline serve`) asked for `model`, `max_batch` texts per
// request; the key comes from $RAGLINE_EMBED_API_KEY or $OPENAI_API_KEY.
// With dim 0, Create() asks it once for the width (it must answer now);
// otherwise it need not be up yet.
Result<std::unique_ptr<embed::RemoteEmbedder>> OpenRemoteEmbedder(const std::string& url,
                                                                  const std::string& model,
                                                                  size_t max_batch, size_t dim = 0);

// Opens --file or stdin; returns the fd (caller closes unless it is 0).
Result<int> OpenInput(const std::string& file);

// Stops `source` when SIGINT or SIGTERM arrives, until destroyed. A handler
// (not a blocked mask + sigwait): libraries such as OpenBLAS start threads
// before main, which would otherwise take the signal and die of it. An
// inherited "ignore" for SIGINT (background jobs) is respected.
class SignalStopper {
 public:
  explicit SignalStopper(std::stop_source source);
  ~SignalStopper();

 private:
  struct sigaction old_int_ {
  }, old_term_{};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// "m:ss", or "h:mm:ss" from an hour, rounded to the second.
std::string Duration(double seconds);

// Progress of a long command on stderr: "LABEL: done/total UNIT  [N
// SECOND_UNIT]  rate  elapsed  ETA". On a terminal a `\r`-updated line,
// redrawn at least once a second (the clock moves while a long batch runs);
// otherwise a line at most every 5 s and one at the end. total 0 = unknown
// (no ETA). With `second_unit` ("chunks") Update's `second` counts it and
// the rate is of it; `extra` is appended ("pass 2").
//
// Thread safety: Update and Finish may be called from any one thread at a
// time; the ticker thread only redraws.
class Progress {
 public:
  Progress(std::string label, size_t total, std::string unit = "docs", std::string second_unit = "");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void set_total(size_t total);
  void Update(size_t done, std::string_view extra = {}, size_t second = 0);
  // Draws the final line (a terminal line left open ends) and stops the ticker.
  void Finish();
  // Seconds since the start.
  double elapsed() const;

 private:
  using Clock = std::chrono::steady_clock;
  void DrawLocked(bool final);  // mu_ held

  const std::string label_, unit_, second_unit_;
  const bool tty_;
  const Clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t total_ = 0, done_ = 0, second_ = 0;  // GUARDED_BY(mu_)
  std::string extra_;                         // GUARDED_BY(mu_)
  bool open_line_ = false, finished_ = false, drawn_ = false;
  Clock::time_point last_draw_;
  std::thread ticker_;
};

}  // namespace ragline::cli
