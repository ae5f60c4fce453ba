#include "obs/stage_timer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace ragline::obs {
namespace {

using json = nlohmann::json;

std::string ReadAll(FILE* f) {
  std::rewind(f);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  return text;
}

TEST(StageTimerTest, ObservesTheElapsedSecondsAndLogsTheStageOnDestruction) {
  MetricsRegistry registry;
  Histogram& latency = registry.Histogram("rag_pipeline_latency_seconds", "x", {"stage"}).WithLabels({"embed"});
  FILE* f = std::tmpfile();
  Logger logger(LogDestination::File(f), LogLevel::kDebug);
  {
    StageTimer timer(&latency, &logger, "embed", "req-7");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Histogram::Snapshot s = latency.Read();
  EXPECT_EQ(s.count, 1u);
  EXPECT_GE(s.sum, 0.020);
  EXPECT_LT(s.sum, 5.0);
  json j = json::parse(ReadAll(f));
  EXPECT_EQ(j["level"], "debug");
  EXPECT_EQ(j["msg"], "stage finished");
  EXPECT_EQ(j["stage"], "embed");
  EXPECT_EQ(j["request_id"], "req-7");
  EXPECT_NEAR(j["duration_ms"].get<double>(), s.sum * 1000, 1e-3);  // logged to the microsecond
  EXPECT_FALSE(j.contains("error_code"));
  std::fclose(f);
}

TEST(StageTimerTest, AFailedStageLogsAtWarnWithTheErrorCode) {
  FILE* f = std::tmpfile();
  Logger logger(LogDestination::File(f), LogLevel::kInfo);  // debug lines are off, warn is not
  {
    StageTimer timer(nullptr, &logger, "generate");
    timer.SetError(absl::DeadlineExceededError("llm took too long"));
  }
  json j = json::parse(ReadAll(f));
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "stage failed");
  EXPECT_EQ(j["error_code"], "DEADLINE_EXCEEDED");
  EXPECT_EQ(j["error"], "llm took too long");
  EXPECT_FALSE(j.contains("request_id"));
  std::fclose(f);
}

TEST(StageTimerTest, StopReportsOnceAndFreezesTheElapsedTime) {
  std::vector<double> bounds = {1};
  Histogram h(bounds);
  StageTimer timer(&h, nullptr, "search");
  const double first = timer.Stop();
  EXPECT_EQ(timer.Stop(), first);
  EXPECT_EQ(timer.ElapsedSeconds(), first);
  EXPECT_EQ(h.Read().count, 1u);
}

}  // namespace
}  // namespace ragline::obs
