#include "obs/log.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/strings.h"

namespace ragline::obs {
namespace {

// A JSON string literal for `s`; invalid UTF-8 becomes U+FFFD instead of
// nlohmann's default exception.
std::string JsonString(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

constexpr std::array<std::string_view, 7> kReservedKeys = {"ts",    "level",       "msg",       "request_id",
                                                           "stage", "duration_ms", "error_code"};

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

Result<LogLevel> ParseLogLevel(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warn" || lower == "warning") return LogLevel::kWarn;
  if (lower == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(
      StrCat("unknown log level '", name, "' (want debug, info, warn or error)"));
}

std::string FormatRfc3339Millis(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms_since_epoch = duration_cast<milliseconds>(t.time_since_epoch()).count();
  // Floor division so instants before 1970 still get a 0..999 millisecond part.
  int64_t secs = ms_since_epoch / 1000;
  int64_t millis = ms_since_epoch % 1000;
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return buf;
}

// ---- LogEvent

LogEvent::LogEvent(Logger* logger, LogLevel level, std::string_view msg) : logger_(logger), level_(level) {
  if (logger_ == nullptr) return;
  const auto now = logger_->clock_ ? logger_->clock_() : std::chrono::system_clock::now();
  head_ = StrCat("{\"ts\":\"", FormatRfc3339Millis(now), "\",\"level\":\"", LogLevelName(level_),
                 "\",\"msg\":", JsonString(msg));
}

LogEvent::~LogEvent() {
  if (logger_ == nullptr) return;
  std::string line = std::move(head_);
  if (request_id_) line += StrCat(",\"request_id\":", *request_id_);
  if (stage_) line += StrCat(",\"stage\":", *stage_);
  if (duration_ms_) line += StrCat(",\"duration_ms\":", *duration_ms_);
  if (error_code_) line += StrCat(",\"error_code\":", *error_code_);
  line += extras_;
  line += "}\n";
  logger_->WriteLine(line);
}

LogEvent& LogEvent::RequestId(std::string_view id) {
  if (enabled()) request_id_ = JsonString(id);
  return *this;
}

LogEvent& LogEvent::Stage(std::string_view stage) {
  if (enabled()) stage_ = JsonString(stage);
  return *this;
}

LogEvent& LogEvent::DurationMs(double milliseconds) {
  // Microseconds are plenty: 0.188 reads better than 0.18830999999999998.
  if (enabled()) duration_ms_ = JsonNumber(std::round(milliseconds * 1000) / 1000);
  return *this;
}

LogEvent& LogEvent::ErrorCode(std::string_view code) {
  if (enabled()) error_code_ = JsonString(code);
  return *this;
}

LogEvent& LogEvent::Error(const Status& status) {
  if (!enabled() || status.ok()) return *this;
  const std::string code = absl::StatusCodeToString(status.code());
  ErrorCode(code);
  return Field("error", std::string_view(status.message().data(), status.message().size()));
}

void LogEvent::AppendKey(std::string_view key) {
  extras_ += ',';
  for (std::string_view reserved : kReservedKeys) {
    if (key == reserved) {
      extras_ += JsonString(StrCat("_", key));
      extras_ += ':';
      return;
    }
  }
  extras_ += JsonString(key);
  extras_ += ':';
}

LogEvent& LogEvent::Field(std::string_view key, std::string_view value) {
  if (!enabled()) return *this;
  AppendKey(key);
  extras_ += JsonString(value);
  return *this;
}

LogEvent& LogEvent::Field(std::string_view key, bool value) {
  if (!enabled()) return *this;
  AppendKey(key);
  extras_ += value ? "true" : "false";
  return *this;
}

LogEvent& LogEvent::Field(std::string_view key, double value) {
  if (!enabled()) return *this;
  AppendKey(key);
  extras_ += JsonNumber(value);
  return *this;
}

LogEvent& LogEvent::IntField(std::string_view key, int64_t value) {
  if (!enabled()) return *this;
  AppendKey(key);
  extras_ += StrCat(value);
  return *this;
}

LogEvent& LogEvent::UintField(std::string_view key, uint64_t value) {
  if (!enabled()) return *this;
  AppendKey(key);
  extras_ += StrCat(value);
  return *this;
}

// ---- Logger

Logger::Logger(LogDestination destination, LogLevel min_level)
    : destination_(destination), min_level_(min_level) {}

LogEvent Logger::Log(LogLevel level, std::string_view msg) {
  return LogEvent(Enabled(level) ? this : nullptr, level, msg);
}

void Logger::WriteLine(std::string_view line) {
  std::lock_guard lock(write_mu_);
  bool ok = true;
  if (destination_.file != nullptr) {
    ok = std::fwrite(line.data(), 1, line.size(), destination_.file) == line.size();
    ok = std::fflush(destination_.file) == 0 && ok;
  } else {
    size_t written = 0;
    while (written < line.size()) {
      ssize_t n = ::write(destination_.fd, line.data() + written, line.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        ok = false;
        break;
      }
      written += static_cast<size_t>(n);
    }
  }
  if (!ok) write_errors_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace ragline::obs
