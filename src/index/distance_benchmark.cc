// Micro benchmarks of the distance kernels: BM_L2Sqr/384 runs the dispatched
// kernel; the *_Scalar/_Avx2/_Avx512 variants pin a level (skipped when the
// CPU lacks it).
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "index/distance.h"
#include "index/distance_internal.h"

namespace ragline::index {
namespace {

std::vector<float> RandomFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

template <float (*Fn)(const float*, const float*, size_t)>
void BM_Dispatched(benchmark::State& state) {
  const size_t dim = static_cast<size_t>(state.range(0));
  auto a = RandomFloats(dim, 1), b = RandomFloats(dim, 2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(Fn(a.data(), b.data(), dim));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * int64_t(dim) * 8);
  state.SetLabel(std::string(SimdLevelName(ActiveSimdLevel())));
}

void BM_L2Sqr(benchmark::State& state) { BM_Dispatched<&L2Sqr>(state); }
void BM_Dot(benchmark::State& state) { BM_Dispatched<&Dot>(state); }

template <bool kL2>
void BM_AtLevel(benchmark::State& state, SimdLevel level) {
  if (!internal::CpuSupports(level)) {
    state.SkipWithError("CPU lacks this SIMD level");
    return;
  }
  const size_t dim = static_cast<size_t>(state.range(0));
  auto a = RandomFloats(dim, 1), b = RandomFloats(dim, 2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(kL2 ? internal::L2SqrAt(level, a.data(), b.data(), dim)
                                 : internal::DotAt(level, a.data(), b.data(), dim));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_L2Sqr_Scalar(benchmark::State& s) { BM_AtLevel<true>(s, SimdLevel::kScalar); }
void BM_L2Sqr_Avx2(benchmark::State& s) { BM_AtLevel<true>(s, SimdLevel::kAvx2); }
void BM_L2Sqr_Avx512(benchmark::State& s) { BM_AtLevel<true>(s, SimdLevel::kAvx512); }
void BM_Dot_Scalar(benchmark::State& s) { BM_AtLevel<false>(s, SimdLevel::kScalar); }
void BM_Dot_Avx2(benchmark::State& s) { BM_AtLevel<false>(s, SimdLevel::kAvx2); }
void BM_Dot_Avx512(benchmark::State& s) { BM_AtLevel<false>(s, SimdLevel::kAvx512); }

#define RAGLINE_DIMS Arg(128)->Arg(384)->Arg(768)->Arg(1000)
BENCHMARK(BM_L2Sqr)->RAGLINE_DIMS;
BENCHMARK(BM_Dot)->RAGLINE_DIMS;
BENCHMARK(BM_L2Sqr_Scalar)->RAGLINE_DIMS;
BENCHMARK(BM_L2Sqr_Avx2)->RAGLINE_DIMS;
BENCHMARK(BM_L2Sqr_Avx512)->RAGLINE_DIMS;
BENCHMARK(BM_Dot_Scalar)->RAGLINE_DIMS;
BENCHMARK(BM_Dot_Avx2)->RAGLINE_DIMS;
BENCHMARK(BM_Dot_Avx512)->RAGLINE_DIMS;

}  // namespace
}  // namespace ragline::index
