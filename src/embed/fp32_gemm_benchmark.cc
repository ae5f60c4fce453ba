// Fp32Gemm (weights packed once) against single-threaded cblas_sgemm as the
// encoder called it before (OpenBLAS, B = Wᵀ non-transposed, packed by
// OpenBLAS on every call) on the all-MiniLM-L6-v2 dense-layer shapes.
//   BM_Fp32Gemm/k/n/m       dispatched kernel (label: which one)
//   BM_Fp32GemmAt_*/k/n/m   a pinned kernel (skipped where the CPU lacks it)
//   BM_SgemmOpenBlas/k/n/m  cblas_sgemm (label: OpenBLAS's core name;
//                           OPENBLAS_CORETYPE=Prescott shows its generic kernels)
#include <cblas.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "embed/fp32_gemm.h"
#include "embed/fp32_gemm_internal.h"

extern "C" char* openblas_get_corename(void);

namespace ragline::embed {
namespace {

struct Shape {
  size_t m, k, n;
  std::vector<float> x, wt, y;  // wt: k × n (Wᵀ), row-major
};

Shape MakeShape(const benchmark::State& state) {
  Shape s;
  s.k = static_cast<size_t>(state.range(0));
  s.n = static_cast<size_t>(state.range(1));
  s.m = static_cast<size_t>(state.range(2));
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  s.x.resize(s.m * s.k);
  for (float& v : s.x) v = normal(rng);
  s.wt.resize(s.k * s.n);
  for (float& v : s.wt) v = 0.05f * normal(rng);
  s.y.resize(s.m * s.n);
  return s;
}

void Count(benchmark::State& state, const Shape& s) {
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * static_cast<double>(s.m * s.n * s.k),
                                                benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

void RunFp32(benchmark::State& state, internal::Fp32Kernel kernel) {
  if (!internal::CpuSupports(kernel)) {
    state.SkipWithError("CPU lacks this kernel");
    return;
  }
  Shape s = MakeShape(state);
  const PackedMatrix b = PackedMatrix::Pack(s.wt.data(), s.k, s.n, s.n, 1);
  for (auto _ : state) {
    internal::Fp32GemmAt(kernel, s.x.data(), s.k, s.m, b, 1.0f, s.y.data(), s.n, 0, s.n);
    benchmark::DoNotOptimize(s.y.data());
    benchmark::ClobberMemory();
  }
  Count(state, s);
  state.SetLabel(std::string(internal::Fp32KernelName(kernel)));
}

void BM_Fp32Gemm(benchmark::State& state) { RunFp32(state, internal::ActiveFp32Kernel()); }
void BM_Fp32GemmAt_Scalar(benchmark::State& state) { RunFp32(state, internal::Fp32Kernel::kScalar); }
void BM_Fp32GemmAt_Avx2(benchmark::State& state) { RunFp32(state, internal::Fp32Kernel::kAvx2); }
void BM_Fp32GemmAt_Avx512(benchmark::State& state) { RunFp32(state, internal::Fp32Kernel::kAvx512); }

void BM_SgemmOpenBlas(benchmark::State& state) {
  openblas_set_num_threads(1);
  Shape s = MakeShape(state);
  const int m = static_cast<int>(s.m), n = static_cast<int>(s.n), k = static_cast<int>(s.k);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, s.x.data(), k, s.wt.data(), n, 0.0f,
                s.y.data(), n);
    benchmark::DoNotOptimize(s.y.data());
    benchmark::ClobberMemory();
  }
  Count(state, s);
  state.SetLabel(openblas_get_corename());
}

void EncoderShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"k", "n", "m"});
  for (auto [k, n] : {std::pair{384, 1152}, {384, 384}, {384, 1536}, {1536, 384}}) {
    for (int m : {16, 256, 2048}) b->Args({k, n, m});
  }
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_Fp32Gemm)->Apply(EncoderShapes);
BENCHMARK(BM_SgemmOpenBlas)->Apply(EncoderShapes);
BENCHMARK(BM_Fp32GemmAt_Scalar)->Apply(EncoderShapes);
BENCHMARK(BM_Fp32GemmAt_Avx2)->Apply(EncoderShapes);
BENCHMARK(BM_Fp32GemmAt_Avx512)->Apply(EncoderShapes);

}  // namespace
}  // namespace ragline::embed
