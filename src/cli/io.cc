#include "cli/io.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/strings.h"

namespace ragline::cli {

int Fail(const Status& st) {
  std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
  return kExitError;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return kExitError;
}

void PrintJson(const nlohmann::json& j) {
  std::string line = j.dump();
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

namespace {

constexpr char kModelName[] = "all-MiniLM-L6-v2";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

bool HoldsModel(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(std::filesystem::path(dir) / "config.json", ec);
}

// The model's absence, with where ragline looked and how to get it.
Status ModelNotFound(const Status& st, const std::string& flag) {
  if (!absl::IsNotFound(st)) return st;
  std::string looked;
  for (const std::string& dir : flag.empty() ? ModelSearchPath() : std::vector<std::string>{flag}) {
    absl::StrAppend(&looked, looked.empty() ? "" : ", ", dir);
  }
  return absl::NotFoundError(
      StrCat("no usable embedding model (", std::string(st.message()), "; looked in ", looked,
             "). Fetch it with scripts/fetch_model.sh [DIR] (an installed ragline has the script in "
             "share/ragline/scripts), then pass --model DIR or set RAGLINE_MODEL_DIR"));
}

}  // namespace

std::vector<std::string> ModelSearchPath() {
  if (const std::string env = Env("RAGLINE_MODEL_DIR"); !env.empty()) return {env};
  std::vector<std::string> dirs = {StrCat("models/", kModelName)};
  const std::string xdg = Env("XDG_DATA_HOME");
  const std::string home = Env("HOME");
  if (!xdg.empty()) {
    dirs.push_back(StrCat(xdg, "/ragline/models/", kModelName));
  } else if (!home.empty()) {
    dirs.push_back(StrCat(home, "/.local/share/ragline/models/", kModelName));
  }
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path bin = exe.parent_path();
    dirs.push_back((bin.parent_path() / "share/ragline/models" / kModelName).lexically_normal().string());
    dirs.push_back((bin.parent_path().parent_path() / "models" / kModelName).lexically_normal().string());
  }
  return dirs;
}

std::string DefaultModelDir() {
  const std::vector<std::string> dirs = ModelSearchPath();
  for (const std::string& dir : dirs) {
    if (HoldsModel(dir)) return dir;
  }
  return dirs.front();
}

Result<std::unique_ptr<embed::LocalEmbedder>> OpenModel(const std::string& flag,
                                                        const embed::LocalEmbedderOptions& options,
                                                        ThreadPool* pool) {
  auto opened = embed::LocalEmbedder::Open(flag.empty() ? DefaultModelDir() : flag, options, pool);
  if (!opened.ok()) return ModelNotFound(opened.status(), flag);
  return opened;
}

Result<embed::WordPieceTokenizer> OpenModelTokenizer(const std::string& flag) {
  auto loaded = embed::WordPieceTokenizer::Load(flag.empty() ? DefaultModelDir() : flag);
  if (!loaded.ok()) return ModelNotFound(loaded.status(), flag);
  return loaded;
}

Result<std::unique_ptr<embed::RemoteEmbedder>> OpenRemoteEmbedder(const std::string& url,
                                                                  const std::string& model,
                                                                  size_t max_batch, size_t dim) {
  embed::RemoteEmbedderOptions options;
  options.dim = dim;
  options.base_url = url;
  options.model = model;
  for (const char* var : {"RAGLINE_EMBED_API_KEY", "OPENAI_API_KEY"}) {
    if (const char* key = std::getenv(var); key != nullptr && *key != '\0') {
      options.api_key = key;
      break;
    }
  }
  options.max_batch = max_batch;
  return embed::RemoteEmbedder::Create(options);
}

Result<embed::LocalEmbedderOptions> EncoderOptions(const std::string& precision) {
  auto parsed = embed::ParsePrecision(precision);
  if (!parsed.ok()) return absl::InvalidArgumentError(StrCat("--", std::string(parsed.status().message())));
  embed::LocalEmbedderOptions options;
  options.precision = *parsed;
  return options;
}

Result<int> OpenInput(const std::string& file) {
  if (file.empty() || file == "-") return 0;
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(StrCat("cannot open ", file, ": ", std::strerror(errno)));
  return fd;
}

Status PumpLines(int fd, int idle_ms, const std::function<Status(std::string& line, size_t line_no)>& on_line,
                 const std::function<bool()>& full, const std::function<Status()>& flush) {
  LineReader reader(fd);
  std::string line;
  size_t line_no = 0;
  for (;;) {
    switch (reader.NextLine(&line, idle_ms)) {
      case LineReader::Outcome::kIdle:
        RETURN_IF_ERROR(flush());
        continue;
      case LineReader::Outcome::kError:
        return absl::DataLossError(StrCat("reading input: ", std::strerror(errno)));
      case LineReader::Outcome::kEof:
        return flush();
      case LineReader::Outcome::kLine:
        break;
    }
    if (Status st = on_line(line, ++line_no); !st.ok()) {
      RETURN_IF_ERROR(flush());  // keep everything before the bad line
      return st;
    }
    if (full()) RETURN_IF_ERROR(flush());
  }
}

std::string Duration(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

Progress::Progress(std::string label, size_t total, std::string unit, std::string second_unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      second_unit_(std::move(second_unit)),
      tty_(::isatty(2) == 1),
      start_(Clock::now()),
      total_(total),
      last_draw_(start_) {
  if (!tty_) return;
  ticker_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!finished_) {
      cv_.wait_for(lock, std::chrono::seconds(1));
      if (!finished_ && Clock::now() - last_draw_ >= std::chrono::milliseconds(900)) DrawLocked(false);
    }
  });
}

Progress::~Progress() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    if (open_line_) std::fputc('\n', stderr);
    open_line_ = false;
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

double Progress::elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

void Progress::set_total(size_t total) {
  std::lock_guard<std::mutex> lock(mu_);
  total_ = total;
}

void Progress::Update(size_t done, std::string_view extra, size_t second) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ = done;
  second_ = second;
  extra_ = std::string(extra);
  const auto since = Clock::now() - last_draw_;
  if (since >= (tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000))) DrawLocked(false);
}

void Progress::Finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    if (drawn_ || !tty_) DrawLocked(true);  // a command that never drew stays quiet on a terminal
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

void Progress::DrawLocked(bool final) {
  last_draw_ = Clock::now();
  drawn_ = true;
  const double seconds = std::chrono::duration<double>(last_draw_ - start_).count();
  const size_t counted = second_unit_.empty() ? done_ : second_;
  const double rate = seconds > 0 ? static_cast<double>(counted) / seconds : 0;
  std::string line = StrCat(label_, ": ", done_);
  if (total_ > 0) line += StrCat("/", total_);
  line += StrCat(" ", unit_);
  if (!second_unit_.empty()) line += StrCat("  ", second_, " ", second_unit_);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", rate);
  line += StrCat("  ", buf, " ", second_unit_.empty() ? unit_ : second_unit_, "/s  ", Duration(seconds));
  if (!extra_.empty()) line += StrCat("  ", extra_);
  if (total_ > 0 && !final) {
    const double frac = static_cast<double>(std::min(done_, total_)) / static_cast<double>(total_);
    line += frac > 0 ? StrCat("  ETA ", Duration(seconds * (1 - frac) / frac)) : std::string("  ETA ?");
  }
  open_line_ = tty_ && !final;
  // On a terminal: back to the line's start, and clear what a longer line left.
  std::fprintf(stderr, "%s%s%s%s", tty_ ? "\r" : "", line.c_str(), tty_ ? "\x1b[K" : "", open_line_ ? "" : "\n");
  std::fflush(stderr);
}

store::DatabaseOptions CliDatabaseOptions(bool read_only) {
  store::DatabaseOptions options;
  options.read_only = read_only;
  options.on_open = [](const store::Collection& c) {
    const std::string& name = c.config().name;
    for (const auto& q : c.quarantined()) {
      std::fprintf(stderr,
                   "note: collection %s is degraded: %s is quarantined (%s); see `ragline check %s`\n",
                   name.c_str(), q.file.c_str(), q.reason.c_str(), name.c_str());
    }
    const auto& r = c.recovery_report();
    if (r.tail_cut) {
      std::fprintf(stderr, "note: collection %s: the WAL's torn tail was cut (%s, %llu bytes dropped)\n",
                   name.c_str(), r.reason.c_str(), static_cast<unsigned long long>(r.bytes_dropped));
    }
  };
  return options;
}

namespace {
std::atomic<bool> g_stop_signal{false};
extern "C" void OnStopSignal(int) { g_stop_signal.store(true); }
}  // namespace

SignalStopper::SignalStopper(std::stop_source source) {
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, nullptr, &old_int_);
  if (old_int_.sa_handler != SIG_IGN) sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, &old_term_);
  thread_ = std::thread([this, source]() mutable {
    while (!done_) {
      if (g_stop_signal) {
        source.request_stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
}

SignalStopper::~SignalStopper() {
  done_ = true;
  thread_.join();
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

}  // namespace ragline::cli
