// Hot-path costs of instrumentation: what a request pays per update.
//   BM_CounterIncrementCached     Increment() on a child looked up once (the intended use)
//   BM_CounterIncrementByDouble   Increment(double): a CAS loop on an atomic double
//   BM_CounterWithLabelsLookup    WithLabels() + Increment() each time (a mutex + map lookup)
//   BM_HistogramObserve           Observe() on a cached child with the default latency buckets
//   BM_ExposeText                 one scrape of 20 families x 10 children
// Run with --benchmark_filter and ->Threads to see contention (all threads share one child).
#include <benchmark/benchmark.h>

#include <string>

#include "obs/metrics.h"

namespace ragline::obs {
namespace {

MetricsRegistry& SharedRegistry() {
  static MetricsRegistry* registry = new MetricsRegistry();
  return *registry;
}

void BM_CounterIncrementCached(benchmark::State& state) {
  Counter& c = SharedRegistry().Counter("rag_bench_total", "b", {"route"}).WithLabels({"/v1/query"});
  for (auto _ : state) c.Increment();
  benchmark::DoNotOptimize(c.Value());
}
BENCHMARK(BM_CounterIncrementCached)->Threads(1)->Threads(4);

void BM_CounterIncrementByDouble(benchmark::State& state) {
  Counter& c = SharedRegistry().Counter("rag_bench_seconds_total", "b", {}).WithLabels({});
  for (auto _ : state) c.Increment(0.001);
  benchmark::DoNotOptimize(c.Value());
}
BENCHMARK(BM_CounterIncrementByDouble)->Threads(1)->Threads(4);

void BM_CounterWithLabelsLookup(benchmark::State& state) {
  CounterFamily& family = SharedRegistry().Counter("rag_bench_lookup_total", "b", {"route", "method", "code"});
  for (auto _ : state) family.WithLabels({"/v1/query", "POST", "200"}).Increment();
}
BENCHMARK(BM_CounterWithLabelsLookup)->Threads(1)->Threads(4);

void BM_HistogramObserve(benchmark::State& state) {
  Histogram& h = SharedRegistry().Histogram("rag_bench_latency_seconds", "b", {}).WithLabels({});
  double v = 0.0001;
  for (auto _ : state) {
    h.Observe(v);
    v = v < 20 ? v * 1.7 : 0.0001;  // walk across all buckets
  }
}
BENCHMARK(BM_HistogramObserve)->Threads(1)->Threads(4);

void BM_ExposeText(benchmark::State& state) {
  MetricsRegistry registry;
  for (int f = 0; f < 20; ++f) {
    auto& family = registry.Histogram("rag_bench_h" + std::to_string(f) + "_seconds", "b", {"stage"});
    for (int c = 0; c < 10; ++c) family.WithLabels({"stage" + std::to_string(c)}).Observe(0.01 * c);
  }
  size_t bytes = 0;
  for (auto _ : state) bytes = registry.ExposeText().size();
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_ExposeText);

}  // namespace
}  // namespace ragline::obs
