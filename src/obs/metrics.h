// Prometheus metrics: counters, gauges and histograms with labels, exposed in
// the Prometheus text exposition format 0.0.4 (what GET /metrics serves).
//
//   MetricsRegistry registry;
//   CounterFamily& requests = registry.Counter(
//       "rag_http_requests_total", "HTTP requests served.", {"route", "method", "code"});
//   requests.WithLabels({"/v1/query", "POST", "200"}).Increment();
//   Histogram& latency = registry.Histogram("rag_vectorstore_query_time_seconds",
//       "Vector store query time.", {}).WithLabels({});   // cache this reference
//   latency.Observe(0.0031);
//   std::string body = registry.ExposeText();
//
// Model: a registry owns families (one per metric name); a family owns one
// child per distinct tuple of label values. Families and children are created
// on first use and live as long as the registry, so the references returned by
// Counter()/Gauge()/Histogram() and WithLabels() stay valid for the registry's
// lifetime and callers on hot paths should look a child up once and keep it.
//
// Misuse is a bug, not an expected failure (metric names are constants in the
// code): an invalid metric or label name, a reserved label (`__*`, `le` on a
// histogram), re-registering a name with another type, label set or buckets,
// or WithLabels() with the wrong number of values aborts with a message naming
// the problem. The Validate* functions check the same rules without aborting.
// Label values may be any string; bytes that are not valid UTF-8 are replaced
// by U+FFFD. Never put unbounded user input (raw paths, ids) in a label value:
// every distinct value is a new series held until the registry dies.
//
// Thread safety: everything is safe to call from any thread. Counter, Gauge
// and Histogram updates are lock-free relaxed atomics (a double add is a CAS
// loop). WithLabels() takes the family's mutex for a map lookup; registering a
// family takes the registry's mutex. ExposeText() takes the registry mutex and
// then each family mutex in turn (lock order: registry before family), and
// reads children with relaxed loads, so a scrape that races with updates sees
// each value at some recent point; a histogram's `_count` always equals its
// `+Inf` bucket, while `_sum` may include an observation the buckets don't yet.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ragline::obs {

// Content-Type of ExposeText()'s output.
inline constexpr std::string_view kPrometheusTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*. (Colons are for recording rules;
// instrumented code should not use them.)
Status ValidateMetricName(std::string_view name);
// Label names: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved).
Status ValidateLabelName(std::string_view name);
// Histogram bucket upper bounds: finite and strictly increasing (the +Inf
// bucket is implicit). An empty list is valid (only +Inf).
Status ValidateBuckets(std::span<const double> upper_bounds);

// 0.5 ms .. 10 s in seconds: 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
// 0.1, 0.25, 0.5, 1, 2.5, 5, 10.
std::vector<double> DefaultLatencyBuckets();
// `count` bounds start, start*factor, ...; requires start > 0, factor > 1.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// Formats a sample value or `le` bound as Prometheus' Go clients do
// (strconv.FormatFloat(v, 'g', -1, 64)): "1", "0.005", "1e+06", "+Inf", "NaN".
std::string FormatPrometheusValue(double value);

// A monotonically increasing value. Increments that are negative or NaN are
// bugs: they assert in debug builds and are ignored otherwise.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds 1 (a single relaxed fetch_add).
  void Increment() { whole_.fetch_add(1, std::memory_order_relaxed); }
  // Adds `amount` >= 0.
  void Increment(double amount);
  double Value() const;

 private:
  std::atomic<uint64_t> whole_{0};     // unit increments: exact and cheap
  std::atomic<double> fractional_{0};  // Increment(double)
};

// A value that goes up and down.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Increment(double amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void Decrement(double amount = 1) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into buckets by upper bound (`le`, inclusive) and keeps
// their sum. Bounds are fixed at family registration.
class Histogram {
 public:
  struct Snapshot {
    std::vector<double> upper_bounds;          // finite bounds, ascending; +Inf implicit
    std::vector<uint64_t> cumulative_counts;   // one per bound, then one for +Inf
    uint64_t count = 0;                        // == cumulative_counts.back()
    double sum = 0;
  };

  // `upper_bounds` must outlive the histogram (the family owns them).
  explicit Histogram(std::span<const double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Records one observation (e.g. seconds). NaN lands in the +Inf bucket and
  // makes the sum NaN, as in Prometheus' Go client.
  void Observe(double value);
  Snapshot Read() const;

 private:
  std::span<const double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; size bounds+1
  std::atomic<double> sum_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };
std::string_view MetricTypeName(MetricType type);  // "counter", "gauge", "histogram"

namespace metrics_internal {

// Orders stored label-value tuples against looked-up ones without copying.
struct LabelValuesLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
      return std::string_view(x) < std::string_view(y);
    });
  }
};

// The parts of a family that don't depend on the child type.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends this family's HELP, TYPE and sample lines (nothing if it has no children).
  virtual void AppendText(std::string* out) const = 0;

 protected:
  // Aborts unless values.size() == label_names().size().
  void CheckArity(size_t num_values) const;

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

}  // namespace metrics_internal

// All children of one metric name. Obtained from MetricsRegistry.
template <typename Child>
class Family : public metrics_internal::FamilyBase {
 public:
  // Returns the child for these label values (one per label name, in order),
  // creating it at zero on first use. The reference stays valid for the
  // registry's lifetime. Aborts on the wrong number of values.
  Child& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  Child& WithLabels(std::span<const std::string_view> values);
  Child& WithLabels(const std::vector<std::string>& values);

  // Empty unless this is a histogram family.
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

  void AppendText(std::string* out) const override;

  // Registry-internal; use MetricsRegistry::Counter() and friends.
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::vector<double> upper_bounds);

 private:
  Child& Insert(std::vector<std::string> values);  // requires mu_ held

  const std::vector<double> upper_bounds_;
  mutable std::mutex mu_;
  // GUARDED_BY(mu_); children are never removed, so their addresses are stable.
  std::map<std::vector<std::string>, std::unique_ptr<Child>, metrics_internal::LabelValuesLess> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registers (or returns the already registered) family `name`. Calling
  // again with the same name, type, label names (and buckets) returns the
  // same family; anything else is a bug and aborts. A family without labels
  // has its single child from the start, so it is exposed as 0 before first use.
  CounterFamily& Counter(std::string_view name, std::string_view help, std::vector<std::string> label_names);
  GaugeFamily& Gauge(std::string_view name, std::string_view help, std::vector<std::string> label_names);
  HistogramFamily& Histogram(std::string_view name, std::string_view help, std::vector<std::string> label_names,
                             std::vector<double> upper_bounds = DefaultLatencyBuckets());

  // Every family with at least one child, sorted by metric name, children
  // sorted by label values: "# HELP", "# TYPE" and sample lines, each ending
  // in '\n'. Histograms emit cumulative `_bucket{le=...}` lines ending with
  // le="+Inf", then `_sum` and `_count`.
  std::string ExposeText() const;

 private:
  template <typename Child>
  Family<Child>& Register(std::string_view name, std::string_view help, MetricType type,
                          std::vector<std::string> label_names, std::vector<double> upper_bounds);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<metrics_internal::FamilyBase>, std::less<>> families_;  // GUARDED_BY(mu_)
};

// A process-wide registry for a binary's main() to hand to components.
// Library code takes a MetricsRegistry& instead of calling this.
MetricsRegistry& DefaultMetricsRegistry();

}  // namespace ragline::obs
