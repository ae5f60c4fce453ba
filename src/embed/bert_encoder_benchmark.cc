// BertEncoder throughput on all-MiniLM-L6-v2 (models/all-MiniLM-L6-v2; run
// scripts/fetch_model.sh first). Threads = computing threads: 1 runs without
// a pool, 2 uses a one-worker ThreadPool plus the calling thread.
// Reports tokens/s (and items = sequences/s).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <vector>

#include "embed/bert_encoder.h"

namespace ragline::embed {
namespace {

const BertEncoder& Encoder() {
  static const BertEncoder* encoder = [] {
    const auto dir = std::filesystem::path(RAGLINE_SOURCE_DIR) / "models" / "all-MiniLM-L6-v2";
    auto loaded = BertEncoder::Load(dir);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s (run scripts/fetch_model.sh)\n",
                   std::string(loaded.status().message()).c_str());
      std::abort();
    }
    return loaded->release();
  }();
  return *encoder;
}

// `count` sequences of random in-vocabulary ids, [CLS] ... [SEP], lengths
// uniform in [min_len, max_len].
std::vector<std::vector<int32_t>> MakeBatch(size_t count, size_t min_len, size_t max_len) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<size_t> len(min_len, max_len);
  std::uniform_int_distribution<int32_t> id(1000, 29000);
  std::vector<std::vector<int32_t>> batch(count);
  for (auto& seq : batch) {
    seq.resize(len(rng));
    for (auto& t : seq) t = id(rng);
    seq.front() = 101;
    seq.back() = 102;
  }
  return batch;
}

void BM_Encode(benchmark::State& state, size_t count, size_t min_len, size_t max_len) {
  const BertEncoder& encoder = Encoder();
  const auto batch = MakeBatch(count, min_len, max_len);
  const size_t threads = static_cast<size_t>(state.range(0));
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads - 1) : nullptr;
  size_t tokens = 0;
  for (const auto& seq : batch) tokens += seq.size();
  for (auto _ : state) {
    auto out = encoder.Encode(batch, pool.get());
    if (!out.ok()) state.SkipWithError("Encode failed");
    benchmark::DoNotOptimize(out);
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens * state.iterations()), benchmark::Counter::kIsRate);
  // MiniLM: ~21.2 MFLOP per token in the dense layers, plus attention.
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(tokens * state.iterations()) * 21.2e-3,
                                                 benchmark::Counter::kIsRate);
  state.SetItemsProcessed(static_cast<int64_t>(batch.size() * state.iterations()));
}

BENCHMARK_CAPTURE(BM_Encode, 1x16, 1, 16, 16)->Arg(1)->Arg(2)->Arg(3)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, 4x16, 4, 12, 20)->Arg(1)->Arg(2)->Arg(3)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, 32x64, 32, 56, 72)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, 128xMixed, 128, 8, 256)
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ragline::embed
