#include "obs/log.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ragline::obs {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::system_clock;

// 2024-05-01T12:34:56.789Z
system_clock::time_point FixedTime() { return system_clock::time_point(milliseconds(1714566896789)); }

// Collects a Logger's output through a tmpfile().
class CapturedLog {
 public:
  explicit CapturedLog(LogLevel min_level = LogLevel::kDebug)
      : file_(std::tmpfile()), logger_(LogDestination::File(file_), min_level) {
    logger_.SetClockForTesting(FixedTime);
  }
  ~CapturedLog() { std::fclose(file_); }
  Logger& logger() { return logger_; }
  std::string Text() {
    std::rewind(file_);
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), file_)) > 0) text.append(buf, n);
    std::fseek(file_, 0, SEEK_END);
    return text;
  }
  std::vector<std::string> Lines() {
    std::vector<std::string> lines;
    std::istringstream in(Text());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

 private:
  FILE* file_;
  Logger logger_;
};

TEST(LoggerTest, WritesOneJsonObjectPerLineWithFieldsInAFixedOrder) {
  CapturedLog log;
  log.logger()
      .Info("query served")
      .Field("k", 10)
      .DurationMs(3.25)
      .Stage("search")
      .RequestId("req-1")
      .ErrorCode("none");
  log.logger().Warn("plain");
  EXPECT_EQ(
      log.Text(),
      "{\"ts\":\"2024-05-01T12:34:56.789Z\",\"level\":\"info\",\"msg\":\"query served\","
      "\"request_id\":\"req-1\",\"stage\":\"search\",\"duration_ms\":3.25,\"error_code\":\"none\",\"k\":10}\n"
      "{\"ts\":\"2024-05-01T12:34:56.789Z\",\"level\":\"warn\",\"msg\":\"plain\"}\n");
}

TEST(LoggerTest, DurationsAreLoggedToTheMicrosecond) {
  CapturedLog log;
  log.logger().Info("a").DurationMs(0.18830999999999998);
  log.logger().Info("b").DurationMs(1234.56789);
  const auto lines = log.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("\"duration_ms\":0.188}"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"duration_ms\":1234.568}"), std::string::npos) << lines[1];
}

TEST(LoggerTest, ExtraFieldsKeepTheirTypes) {
  CapturedLog log;
  const std::string owned = "owned";
  log.logger()
      .Debug("types")
      .Field("s", "text")
      .Field("owned", owned)
      .Field("neg", -7)
      .Field("big", uint64_t{18446744073709551615u})
      .Field("ratio", 0.5)
      .Field("f", 1.5f)
      .Field("yes", true)
      .Field("nan", std::nan(""))
      .Field("inf", std::numeric_limits<double>::infinity());
  json j = json::parse(log.Lines().at(0));
  EXPECT_EQ(j["level"], "debug");
  EXPECT_EQ(j["s"], "text");
  EXPECT_EQ(j["owned"], "owned");
  EXPECT_EQ(j["neg"], -7);
  EXPECT_EQ(j["big"].get<uint64_t>(), 18446744073709551615u);
  EXPECT_EQ(j["ratio"], 0.5);
  EXPECT_EQ(j["f"], 1.5);
  EXPECT_EQ(j["yes"], true);
  EXPECT_TRUE(j["nan"].is_null());
  EXPECT_TRUE(j["inf"].is_null());
}

TEST(LoggerTest, EscapesQuotesBackslashesControlCharactersAndKeepsUtf8) {
  CapturedLog log;
  std::string nasty = "quote \" backslash \\ newline \n cr \r tab \t nul ";
  nasty.push_back('\0');
  nasty += " bell \x07 del \x7f h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80 \xE2\x80\xA8";
  log.logger().Error(nasty).Field(nasty, nasty).RequestId(nasty);
  std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 1u);  // the newline inside was escaped
  json j = json::parse(lines[0]);
  EXPECT_EQ(j["msg"], nasty);
  EXPECT_EQ(j[nasty], nasty);
  EXPECT_EQ(j["request_id"], nasty);
  EXPECT_THAT(lines[0], HasSubstr("\\u0000"));
  EXPECT_THAT(lines[0], HasSubstr("\\u0007"));
}

TEST(LoggerTest, ReplacesInvalidUtf8WithReplacementCharacterInsteadOfFailing) {
  CapturedLog log;
  log.logger().Info("bad \xFF\xFE bytes").Field("v", "truncated \xE2\x9C");
  json j = json::parse(log.Lines().at(0));
  EXPECT_EQ(j["msg"], "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
  EXPECT_EQ(j["v"].get<std::string>().substr(0, 10), "truncated ");
  EXPECT_THAT(j["v"].get<std::string>(), HasSubstr("\xEF\xBF\xBD"));
}

TEST(LoggerTest, ExtraFieldsNamedLikeBuiltInOnesAreRenamedSoKeysStayUnique) {
  CapturedLog log;
  log.logger().Info("hello").Field("msg", "shadow").Field("ts", 1).Field("error_code", "x");
  const std::string line = log.Lines().at(0);
  EXPECT_THAT(line, HasSubstr("\"_msg\":\"shadow\""));
  EXPECT_THAT(line, HasSubstr("\"_ts\":1"));
  EXPECT_THAT(line, HasSubstr("\"_error_code\":\"x\""));
  EXPECT_EQ(json::parse(line)["msg"], "hello");
}

TEST(LoggerTest, ErrorStatusSetsErrorCodeAndMessage) {
  CapturedLog log;
  log.logger().Warn("llm failed").Error(absl::UnavailableError("connection refused"));
  log.logger().Info("fine").Error(absl::OkStatus());
  std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 2u);
  json failed = json::parse(lines[0]);
  EXPECT_EQ(failed["error_code"], "UNAVAILABLE");
  EXPECT_EQ(failed["error"], "connection refused");
  EXPECT_FALSE(json::parse(lines[1]).contains("error_code"));
}

TEST(LoggerTest, LevelsBelowTheThresholdWriteNothing) {
  CapturedLog log(LogLevel::kWarn);
  log.logger().Debug("no");
  log.logger().Info("no").Field("k", 1);
  log.logger().Warn("yes");
  log.logger().Error("yes");
  EXPECT_FALSE(log.logger().Info("x").enabled());
  log.logger().SetMinLevel(LogLevel::kDebug);
  log.logger().Debug("yes");
  std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& line : lines) EXPECT_EQ(json::parse(line)["msg"], "yes");
}

TEST(LoggerTest, ParsesLevelNames) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("INFO"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_FALSE(ParseLogLevel("loud").ok());
  EXPECT_EQ(LogLevelName(LogLevel::kWarn), "warn");
}

TEST(LoggerTest, FormatsTimestampsAsRfc3339UtcWithMilliseconds) {
  EXPECT_EQ(FormatRfc3339Millis(FixedTime()), "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(FormatRfc3339Millis(system_clock::time_point(milliseconds(0))), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(system_clock::time_point(milliseconds(-1))), "1969-12-31T23:59:59.999Z");
  // The real clock gives the same shape.
  EXPECT_THAT(FormatRfc3339Millis(system_clock::now()),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"));
}

void WriteConcurrently(Logger& logger, int threads, int per_thread) {
  std::vector<std::thread> workers;
  const std::string padding(300, 'x');  // long lines make torn writes likelier
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        logger.Info("concurrent")
            .Field("thread", t)
            .Field("i", i)
            .Field("padding", padding)
            .RequestId("req-" + std::to_string(t));
      }
    });
  }
  for (auto& w : workers) w.join();
}

void ExpectWholeLines(const std::vector<std::string>& lines, int threads, int per_thread) {
  ASSERT_EQ(lines.size(), static_cast<size_t>(threads * per_thread));
  std::set<std::pair<int, int>> seen;
  for (const auto& line : lines) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << "not one JSON object: " << line;
    EXPECT_EQ(j["request_id"], "req-" + std::to_string(j["thread"].get<int>()));
    seen.emplace(j["thread"].get<int>(), j["i"].get<int>());
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(threads * per_thread));
}

TEST(LoggerTest, ConcurrentWritersToAFileNeverInterleaveLines) {
  CapturedLog log;
  WriteConcurrently(log.logger(), 4, 2000);
  ExpectWholeLines(log.Lines(), 4, 2000);
}

TEST(LoggerTest, ConcurrentWritersToAnFdNeverInterleaveLines) {
  std::string path = ::testing::TempDir() + "/ragline_log_fd_test.jsonl";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  ASSERT_GE(fd, 0);
  {
    Logger logger(LogDestination::Fd(fd));
    WriteConcurrently(logger, 4, 2000);
    EXPECT_EQ(logger.write_errors(), 0u);
  }
  ::close(fd);
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ExpectWholeLines(lines, 4, 2000);
}

TEST(LoggerTest, CountsLinesThatCouldNotBeWritten) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[1]);
  Logger logger(LogDestination::Fd(fds[1]));  // closed: write fails with EBADF
  logger.Info("lost");
  EXPECT_EQ(logger.write_errors(), 1u);
  ::close(fds[0]);
}

}  // namespace
}  // namespace ragline::obs
