#include "obs/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ragline::obs {
namespace {

using ::testing::HasSubstr;

TEST(MetricsRegistryTest, ExposesCountersAndGaugesSortedByNameAndLabels) {
  MetricsRegistry registry;
  auto& requests = registry.Counter("rag_http_requests_total", "HTTP requests served.", {"route", "code"});
  auto& inflight = registry.Gauge("rag_http_inflight_requests", "Requests being served.", {});
  requests.WithLabels({"/v1/query", "200"}).Increment();
  requests.WithLabels({"/v1/collections", "404"}).Increment(2);
  requests.WithLabels({"/v1/query", "200"}).Increment();
  inflight.WithLabels({}).Set(3);
  inflight.WithLabels({}).Decrement();

  EXPECT_EQ(registry.ExposeText(),
            "# HELP rag_http_inflight_requests Requests being served.\n"
            "# TYPE rag_http_inflight_requests gauge\n"
            "rag_http_inflight_requests 2\n"
            "# HELP rag_http_requests_total HTTP requests served.\n"
            "# TYPE rag_http_requests_total counter\n"
            "rag_http_requests_total{route=\"/v1/collections\",code=\"404\"} 2\n"
            "rag_http_requests_total{route=\"/v1/query\",code=\"200\"} 2\n");
}

TEST(MetricsRegistryTest, UnlabelledFamiliesAreExposedAsZeroBeforeFirstUseButLabelledOnesAreNot) {
  MetricsRegistry registry;
  registry.Counter("rag_wal_fsyncs_total", "WAL fsyncs.", {});
  registry.Counter("rag_errors_total", "Errors.", {"code"});
  EXPECT_EQ(registry.ExposeText(),
            "# HELP rag_wal_fsyncs_total WAL fsyncs.\n"
            "# TYPE rag_wal_fsyncs_total counter\n"
            "rag_wal_fsyncs_total 0\n");
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeAndEndWithInfSumAndCount) {
  MetricsRegistry registry;
  auto& latency = registry.Histogram("rag_pipeline_latency_seconds", "Stage latency.", {"stage"}, {0.005, 0.1, 1});
  Histogram& embed = latency.WithLabels({"embed"});
  for (double v : {0.001, 0.005, 0.05, 0.5, 0.75, 3.0}) embed.Observe(v);
  latency.WithLabels({"chunk"}).Observe(0.0001);

  EXPECT_EQ(registry.ExposeText(),
            "# HELP rag_pipeline_latency_seconds Stage latency.\n"
            "# TYPE rag_pipeline_latency_seconds histogram\n"
            "rag_pipeline_latency_seconds_bucket{stage=\"chunk\",le=\"0.005\"} 1\n"
            "rag_pipeline_latency_seconds_bucket{stage=\"chunk\",le=\"0.1\"} 1\n"
            "rag_pipeline_latency_seconds_bucket{stage=\"chunk\",le=\"1\"} 1\n"
            "rag_pipeline_latency_seconds_bucket{stage=\"chunk\",le=\"+Inf\"} 1\n"
            "rag_pipeline_latency_seconds_sum{stage=\"chunk\"} 0.0001\n"
            "rag_pipeline_latency_seconds_count{stage=\"chunk\"} 1\n"
            "rag_pipeline_latency_seconds_bucket{stage=\"embed\",le=\"0.005\"} 2\n"
            "rag_pipeline_latency_seconds_bucket{stage=\"embed\",le=\"0.1\"} 3\n"
            "rag_pipeline_latency_seconds_bucket{stage=\"embed\",le=\"1\"} 5\n"
            "rag_pipeline_latency_seconds_bucket{stage=\"embed\",le=\"+Inf\"} 6\n"
            "rag_pipeline_latency_seconds_sum{stage=\"embed\"} 4.306\n"
            "rag_pipeline_latency_seconds_count{stage=\"embed\"} 6\n");
}

TEST(MetricsRegistryTest, UnlabelledHistogramHasOnlyTheLeLabel) {
  MetricsRegistry registry;
  registry.Histogram("rag_q_seconds", "Q.", {}, {0.5}).WithLabels({}).Observe(0.25);
  EXPECT_EQ(registry.ExposeText(),
            "# HELP rag_q_seconds Q.\n"
            "# TYPE rag_q_seconds histogram\n"
            "rag_q_seconds_bucket{le=\"0.5\"} 1\n"
            "rag_q_seconds_bucket{le=\"+Inf\"} 1\n"
            "rag_q_seconds_sum 0.25\n"
            "rag_q_seconds_count 1\n");
}

TEST(MetricsRegistryTest, EscapesBackslashQuoteAndNewlineInLabelValuesAndHelp) {
  MetricsRegistry registry;
  registry.Counter("rag_odd_total", "Help with \\ and\nnewline \"quoted\".", {"v"})
      .WithLabels({"a\\b\"c\nd\te"})
      .Increment();
  EXPECT_EQ(registry.ExposeText(),
            "# HELP rag_odd_total Help with \\\\ and\\nnewline \"quoted\".\n"
            "# TYPE rag_odd_total counter\n"
            "rag_odd_total{v=\"a\\\\b\\\"c\\nd\te\"} 1\n");
}

TEST(MetricsRegistryTest, ReplacesInvalidUtf8InLabelValuesWithReplacementCharacter) {
  MetricsRegistry registry;
  auto& family = registry.Counter("rag_bytes_total", "B.", {"v"});
  Counter& a = family.WithLabels({"ok\xFF"});
  Counter& b = family.WithLabels({"ok\xEF\xBF\xBD"});  // the same value once sanitised
  EXPECT_EQ(&a, &b);
  a.Increment();
  EXPECT_THAT(registry.ExposeText(), HasSubstr("rag_bytes_total{v=\"ok\xEF\xBF\xBD\"} 1\n"));
  family.WithLabels({"h\xC3\xA9llo \xE2\x9C\x93"}).Increment();  // valid UTF-8 is kept
  EXPECT_THAT(registry.ExposeText(), HasSubstr("{v=\"h\xC3\xA9llo \xE2\x9C\x93\"} 1\n"));
}

TEST(MetricsRegistryTest, WithLabelsReturnsTheSameStableChildForEqualValues) {
  MetricsRegistry registry;
  auto& family = registry.Gauge("rag_segments", "Segments.", {"collection"});
  Gauge& first = family.WithLabels({"kb"});
  for (int i = 0; i < 100; ++i) family.WithLabels({std::to_string(i)});  // grow the map
  EXPECT_EQ(&first, &family.WithLabels(std::vector<std::string>{"kb"}));
}

TEST(MetricsRegistryTest, RegisteringTheSameFamilyTwiceReturnsIt) {
  MetricsRegistry registry;
  auto& a = registry.Counter("rag_x_total", "X.", {"k"});
  auto& b = registry.Counter("rag_x_total", "X again.", {"k"});
  EXPECT_EQ(&a, &b);
  auto& h = registry.Histogram("rag_h_seconds", "H.", {});
  EXPECT_EQ(&h, &registry.Histogram("rag_h_seconds", "H.", {}));
}

TEST(MetricValidationTest, AcceptsPrometheusNamesAndRejectsOthers) {
  for (const char* ok : {"a", "_x", "rag_http_requests_total", "job:rate5m", "A9_:z"}) {
    EXPECT_TRUE(ValidateMetricName(ok).ok()) << ok;
  }
  for (const char* bad : {"", "9lives", "rag-latency", "rag latency", "r\xC3\xA9sum\xC3\xA9", "a.b"}) {
    EXPECT_FALSE(ValidateMetricName(bad).ok()) << bad;
  }
  for (const char* ok : {"route", "_private", "Code9"}) EXPECT_TRUE(ValidateLabelName(ok).ok()) << ok;
  for (const char* bad : {"", "1st", "has:colon", "__name__", "__reserved", "a-b"}) {
    EXPECT_FALSE(ValidateLabelName(bad).ok()) << bad;
  }
  EXPECT_THAT(std::string(ValidateMetricName("rag-x").message()), HasSubstr("invalid metric name 'rag-x'"));
}

TEST(MetricValidationTest, BucketsMustBeFiniteAndStrictlyIncreasing) {
  EXPECT_TRUE(ValidateBuckets(std::vector<double>{}).ok());
  EXPECT_TRUE(ValidateBuckets(DefaultLatencyBuckets()).ok());
  EXPECT_FALSE(ValidateBuckets(std::vector<double>{1, 1}).ok());
  EXPECT_FALSE(ValidateBuckets(std::vector<double>{2, 1}).ok());
  EXPECT_FALSE(ValidateBuckets(std::vector<double>{1, std::numeric_limits<double>::infinity()}).ok());
  EXPECT_FALSE(ValidateBuckets(std::vector<double>{std::nan("")}).ok());
}

TEST(MetricsRegistryDeathTest, MisuseAbortsWithAMessageNamingTheProblem) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MetricsRegistry registry;
  EXPECT_DEATH(registry.Counter("rag-bad", "x", {}), "invalid metric name 'rag-bad'");
  EXPECT_DEATH(registry.Counter("rag_ok_total", "x", {"bad-label"}), "invalid label name 'bad-label'");
  EXPECT_DEATH(registry.Histogram("rag_h_seconds", "x", {"le"}), "'le' is reserved");
  EXPECT_DEATH(registry.Gauge("rag_g", "x", {"a", "a"}), "appears twice");
  EXPECT_DEATH(registry.Histogram("rag_h_seconds", "x", {}, {1, 0.5}), "strictly increasing");
  registry.Counter("rag_c_total", "x", {"a"});
  EXPECT_DEATH(registry.Gauge("rag_c_total", "x", {"a"}), "already registered as a counter");
  EXPECT_DEATH(registry.Counter("rag_c_total", "x", {"b"}), "other label names");
  EXPECT_DEATH(registry.Counter("rag_c_total", "x", {"a"}).WithLabels({"1", "2"}), "has 1 label\\(s\\) but");
  registry.Histogram("rag_q_seconds", "x", {});
  EXPECT_DEATH(registry.Counter("rag_q_seconds_count", "x", {}), "collides with a series of histogram");
  EXPECT_DEATH(registry.Histogram("rag_q_seconds", "x", {}, {1}), "other buckets");
}

TEST(MetricsTest, FormatsValuesAsPrometheusGoClientsDo) {
  EXPECT_EQ(FormatPrometheusValue(0), "0");
  EXPECT_EQ(FormatPrometheusValue(1), "1");
  EXPECT_EQ(FormatPrometheusValue(-2.5), "-2.5");
  EXPECT_EQ(FormatPrometheusValue(0.0005), "0.0005");
  EXPECT_EQ(FormatPrometheusValue(0.00005), "5e-05");
  EXPECT_EQ(FormatPrometheusValue(123456), "123456");
  EXPECT_EQ(FormatPrometheusValue(1e6), "1e+06");
  EXPECT_EQ(FormatPrometheusValue(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatPrometheusValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatPrometheusValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatPrometheusValue(std::nan("")), "NaN");
}

TEST(MetricsTest, DefaultLatencyBucketsSpanHalfAMillisecondToTenSeconds) {
  std::vector<double> b = DefaultLatencyBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(b.front(), 0.0005);
  EXPECT_EQ(b.back(), 10);
  EXPECT_THAT(ExponentialBuckets(1024, 4, 3), ::testing::ElementsAre(1024, 4096, 16384));
}

TEST(MetricsTest, ConcurrentUpdatesFromFourThreadsSumExactly) {
  MetricsRegistry registry;
  auto& counters = registry.Counter("rag_c_total", "C.", {"kind"});
  auto& gauge = registry.Gauge("rag_g", "G.", {}).WithLabels({});
  auto& histogram = registry.Histogram("rag_h_seconds", "H.", {}, {0.5, 1.5}).WithLabels({});
  constexpr int kThreads = 4, kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Mix cached children with lookups racing to create new ones.
        counters.WithLabels({"unit"}).Increment();
        counters.WithLabels({"half"}).Increment(0.5);
        if (i % 1000 == 0) counters.WithLabels({std::to_string(t * kPerThread + i)}).Increment();
        gauge.Increment(2);
        gauge.Decrement(1);
        histogram.Observe(i % 2 == 0 ? 1.0 : 2.0);  // exact in binary: the sum is exact too
        if (i % 5000 == 0) registry.ExposeText();  // scrapes while updating
      }
    });
  }
  for (auto& th : threads) th.join();
  constexpr double kTotal = double{kThreads} * kPerThread;
  EXPECT_EQ(counters.WithLabels({"unit"}).Value(), kTotal);
  EXPECT_EQ(counters.WithLabels({"half"}).Value(), kTotal / 2);
  EXPECT_EQ(gauge.Value(), kTotal);
  Histogram::Snapshot s = histogram.Read();
  EXPECT_EQ(s.count, uint64_t{kThreads} * kPerThread);
  const uint64_t n = uint64_t{kThreads} * kPerThread;
  EXPECT_THAT(s.cumulative_counts, ::testing::ElementsAre(0u, n / 2, n));
  EXPECT_EQ(s.sum, kTotal / 2 * 1.0 + kTotal / 2 * 2.0);
}

TEST(MetricsTest, HistogramSumAndCountMatchTheObservations) {
  std::vector<double> bounds = {0.001, 0.01};
  Histogram timed(bounds);
  double expected_sum = 0;
  for (int i = 0; i < 1000; ++i) {
    double v = i * 0.00002;
    timed.Observe(v);
    expected_sum += v;
  }
  Histogram::Snapshot s = timed.Read();
  EXPECT_EQ(s.count, 1000u);
  EXPECT_EQ(s.cumulative_counts.back(), s.count);
  EXPECT_NEAR(s.sum, expected_sum, 1e-9);
  EXPECT_EQ(s.cumulative_counts[0], 51u);  // 0, 0.00002, ..., 0.001 (le is inclusive)
  EXPECT_EQ(s.cumulative_counts[1], 501u);
  for (size_t i = 1; i < s.cumulative_counts.size(); ++i) {
    EXPECT_LE(s.cumulative_counts[i - 1], s.cumulative_counts[i]);
  }
}

TEST(MetricsTest, CounterIgnoresNegativeIncrementsInReleaseBuilds) {
#ifdef NDEBUG
  Counter c;
  c.Increment(-1);
  c.Increment(std::nan(""));
  c.Increment(0.25);
  EXPECT_EQ(c.Value(), 0.25);
#else
  GTEST_SKIP() << "debug builds assert on negative increments";
#endif
}

// ---- promtool: the real Prometheus tooling judges the exposition.

struct CommandResult {
  int exit_code;
  std::string output;
};

// Files unique to this process and test: ctest runs each test in its own
// process, in parallel, all sharing TempDir().
std::string UniqueTempPath(const std::string& suffix) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  return ::testing::TempDir() + "/ragline_" + std::to_string(::getpid()) + "_" +
         (test != nullptr ? test->name() : "none") + suffix;
}

CommandResult RunShell(const std::string& command) {
  std::string out_path = UniqueTempPath("_promtool_output.txt");
  int status = std::system((command + " >" + out_path + " 2>&1").c_str());
  std::ifstream in(out_path);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

CommandResult PromtoolCheckMetrics(const std::string& exposition) {
  std::string path = UniqueTempPath(".prom");
  std::ofstream(path, std::ios::binary) << exposition;
  return RunShell("promtool check metrics <" + path);
}

class PromtoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RunShell("command -v promtool").exit_code != 0) {
      FAIL() << "promtool not found on PATH: install the Debian package 'prometheus' (scripts/install-deps.sh)";
    }
  }
};

TEST_F(PromtoolTest, AcceptsAnExpositionWithEveryMetricTypeAndEscapedLabels) {
  MetricsRegistry registry;
  auto& requests = registry.Counter("rag_http_requests_total", "HTTP requests served, by route.",
                                    {"route", "method", "code"});
  requests.WithLabels({"/v1/collections/{name}/query", "POST", "200"}).Increment();
  requests.WithLabels({"/v1/query", "GET", "404"}).Increment(3);
  registry.Counter("rag_ingested_bytes_total", "Document bytes ingested.", {}).WithLabels({}).Increment(12345);
  registry.Counter("rag_odd_label_values_total", "Help with a backslash \\ and a\nnewline.", {"value"})
      .WithLabels({"quote \" backslash \\ newline \n tab \t unicode \xC3\xA9\xE2\x9C\x93 invalid \xFF"})
      .Increment();
  registry.Gauge("rag_index_memory_bytes", "Index memory.", {"collection", "index"})
      .WithLabels({"kb", "hnsw"})
      .Set(1.5e9);
  registry.Gauge("rag_temperature_celsius", "A negative gauge.", {}).WithLabels({}).Set(-3.25);
  auto& stage = registry.Histogram("rag_pipeline_latency_seconds", "Pipeline stage latency.", {"stage"});
  for (const char* s : {"extract", "chunk", "embed", "upsert"}) {
    for (double v : {0.0001, 0.0007, 0.003, 0.2, 4.0, 60.0}) stage.WithLabels({s}).Observe(v);
  }
  registry.Histogram("rag_vectorstore_query_time_seconds", "Vector store query time.", {})
      .WithLabels({})
      .Observe(0.0042);
  registry.Histogram("rag_http_response_size_bytes", "Response sizes.", {"route"}, ExponentialBuckets(256, 4, 6))
      .WithLabels({"/v1/query"})
      .Observe(5000);
  registry.Histogram("rag_idle_wait_seconds", "Never observed; only the +Inf bucket.", {}, {});

  const std::string text = registry.ExposeText();
  CommandResult result = PromtoolCheckMetrics(text);
  EXPECT_EQ(result.exit_code, 0) << result.output << "\n--- exposition:\n" << text;
  EXPECT_EQ(result.output, "") << "promtool lint findings:\n" << result.output;
}

TEST_F(PromtoolTest, RejectsWhatItShouldSoTheCheckAboveMeansSomething) {
  // A counter without _total and a unit that is not a base unit: promtool's lint must flag both.
  MetricsRegistry registry;
  registry.Counter("rag_requests", "Badly named.", {}).WithLabels({}).Increment();
  registry.Gauge("rag_latency_milliseconds", "Badly named.", {}).WithLabels({}).Set(1);
  CommandResult result = PromtoolCheckMetrics(registry.ExposeText());
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("rag_requests counter metrics should have \"_total\" suffix"));
  EXPECT_THAT(result.output, HasSubstr("use base unit \"seconds\""));
  // And a syntactically broken exposition is a parse error.
  EXPECT_NE(PromtoolCheckMetrics("rag_x_total{a=\"unterminated} 1\n").exit_code, 0);
}

}  // namespace
}  // namespace ragline::obs
