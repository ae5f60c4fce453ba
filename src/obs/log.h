// Structured logs: one JSON object per line (JSON Lines), written whole.
//
//   Logger logger;                                   // stderr, info and above
//   logger.Info("query served").RequestId(id).Stage("search").DurationMs(3.2).Field("k", 10);
//   logger.Warn("llm failed").RequestId(id).Error(status);   // error_code + error
//
// Every line starts with "ts" (RFC 3339 UTC with milliseconds, taken when the
// event is created), "level" and "msg"; then "request_id", "stage",
// "duration_ms" and "error_code" when set, in that order; then extra fields in
// the order they were added. Strings are escaped by nlohmann::json: control
// characters become \uXXXX or \n-style escapes, valid UTF-8 is kept as is and
// invalid bytes become U+FFFD, so every line parses as JSON whatever the
// input. Non-finite numbers are written as null. An extra field whose key is
// one of the names above is written with a leading underscore ("_msg") so a
// line never has duplicate keys.
//
// Ownership: a Logger does not own its FILE* or fd. A LogEvent borrows its
// Logger and must not outlive it; it writes its line when destroyed (at the
// end of the full expression in the chained form above).
//
// Thread safety: Logger's methods may be called from any thread; lines from
// concurrent events never interleave (one mutex-guarded write per line, a
// fflush after each for a FILE*). SetClockForTesting must be called before
// the logger is shared. A LogEvent belongs to the thread that built it.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ragline::obs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug", "info", "warn", "error".
std::string_view LogLevelName(LogLevel level);
// Parses the names above (case-insensitive; "warning" is accepted too).
Result<LogLevel> ParseLogLevel(std::string_view name);

// Formats `t` as RFC 3339 UTC with milliseconds: "2024-05-01T12:34:56.789Z".
std::string FormatRfc3339Millis(std::chrono::system_clock::time_point t);

// Where a Logger writes. Not owned.
struct LogDestination {
  static LogDestination Stderr() { return File(stderr); }
  static LogDestination File(FILE* file) { return {file, -1}; }
  static LogDestination Fd(int fd) { return {nullptr, fd}; }

  FILE* file = nullptr;  // used when non-null
  int fd = -1;           // else this, with write(2)
};

class Logger;

// One log line under construction; see the file comment. Setters return
// *this for chaining and do nothing when the event's level is below the
// logger's threshold.
class LogEvent {
 public:
  LogEvent(const LogEvent&) = delete;
  LogEvent& operator=(const LogEvent&) = delete;
  ~LogEvent();

  bool enabled() const { return logger_ != nullptr; }

  LogEvent& RequestId(std::string_view id);
  LogEvent& Stage(std::string_view stage);
  LogEvent& DurationMs(double milliseconds);
  LogEvent& ErrorCode(std::string_view code);
  // For a non-OK status: error_code = its canonical code name
  // ("UNAVAILABLE", ...) and an "error" field with its message. OK: no-op.
  LogEvent& Error(const Status& status);

  LogEvent& Field(std::string_view key, std::string_view value);
  LogEvent& Field(std::string_view key, const char* value) { return Field(key, std::string_view(value)); }
  LogEvent& Field(std::string_view key, const std::string& value) { return Field(key, std::string_view(value)); }
  LogEvent& Field(std::string_view key, bool value);
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  LogEvent& Field(std::string_view key, T value) {
    if constexpr (std::is_signed_v<T>) {
      return IntField(key, static_cast<int64_t>(value));
    } else {
      return UintField(key, static_cast<uint64_t>(value));
    }
  }
  LogEvent& Field(std::string_view key, double value);
  LogEvent& Field(std::string_view key, float value) { return Field(key, static_cast<double>(value)); }

 private:
  friend class Logger;
  // logger == nullptr: a disabled event.
  LogEvent(Logger* logger, LogLevel level, std::string_view msg);
  LogEvent& IntField(std::string_view key, int64_t value);
  LogEvent& UintField(std::string_view key, uint64_t value);
  void AppendKey(std::string_view key);  // ',"key":' with reserved keys renamed

  Logger* logger_;
  LogLevel level_;
  std::string head_;  // {"ts":...,"level":...,"msg":...
  std::optional<std::string> request_id_, stage_, error_code_;  // JSON-encoded values
  std::optional<std::string> duration_ms_;
  std::string extras_;  // ,"key":value...
};

class Logger {
 public:
  explicit Logger(LogDestination destination = LogDestination::Stderr(), LogLevel min_level = LogLevel::kInfo);
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  LogEvent Log(LogLevel level, std::string_view msg);
  LogEvent Debug(std::string_view msg) { return Log(LogLevel::kDebug, msg); }
  LogEvent Info(std::string_view msg) { return Log(LogLevel::kInfo, msg); }
  LogEvent Warn(std::string_view msg) { return Log(LogLevel::kWarn, msg); }
  LogEvent Error(std::string_view msg) { return Log(LogLevel::kError, msg); }

  bool Enabled(LogLevel level) const { return level >= min_level_.load(std::memory_order_relaxed); }
  void SetMinLevel(LogLevel level) { min_level_.store(level, std::memory_order_relaxed); }
  LogLevel min_level() const { return min_level_.load(std::memory_order_relaxed); }

  // Lines that could not be written completely (a full disk, a closed pipe).
  uint64_t write_errors() const { return write_errors_.load(std::memory_order_relaxed); }

  // Replaces the wall clock used for "ts". Not thread-safe; call before use.
  void SetClockForTesting(std::function<std::chrono::system_clock::time_point()> clock) { clock_ = std::move(clock); }

  // Writes `line` (which must end in '\n') as one unit. Used by LogEvent.
  void WriteLine(std::string_view line);

 private:
  friend class LogEvent;

  const LogDestination destination_;
  std::atomic<LogLevel> min_level_;
  std::atomic<uint64_t> write_errors_{0};
  std::function<std::chrono::system_clock::time_point()> clock_;
  std::mutex write_mu_;  // serialises WriteLine; guards the destination's file position
};

}  // namespace ragline::obs
