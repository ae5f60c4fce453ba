// The encoder's GEMM kernels against single-threaded OpenBLAS on the
// all-MiniLM-L6-v2 dense-layer shapes (k × n), m (tokens) in {16, 256, 2048}:
//   BM_Fp32Gemm/k/n/m          dispatched fp32 kernel, weights packed once (label: which one)
//   BM_Fp32GemmAt_*/k/n/m      a pinned fp32 kernel (skipped where the CPU lacks it)
//   BM_Int8Linear/k/n/m        dispatched int8 kernel, with bias (label: which one)
//   BM_Int8LinearAt_*/k/n/m    a pinned int8 kernel
//   BM_SgemmOpenBlas/k/n/m     cblas_sgemm as the encoder called it before its own
//                              kernels (B = Wᵀ, packed by OpenBLAS on every call;
//                              label: OpenBLAS's core name; OPENBLAS_CORETYPE=Prescott
//                              shows the generic kernels it picks on CPUs it does not know)
// The GFLOPS counter counts 2·m·n·k per call for all of them (the int8 time
// includes quantising X and dequantising Y), so they are directly comparable.
#include <cblas.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "embed/fp32_gemm.h"
#include "embed/fp32_gemm_internal.h"
#include "embed/int8_gemm.h"
#include "embed/int8_gemm_internal.h"

extern "C" char* openblas_get_corename(void);

namespace ragline::embed {
namespace {

// Y (m × n) = X (m × k) · Wᵀ + bias, W in PyTorch Linear layout (n × k).
struct Problem {
  size_t m, k, n;
  std::vector<float> x, w, bias, y;
};

Problem MakeProblem(const benchmark::State& state) {
  Problem p;
  p.k = static_cast<size_t>(state.range(0));
  p.n = static_cast<size_t>(state.range(1));
  p.m = static_cast<size_t>(state.range(2));
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  p.x.resize(p.m * p.k);
  for (float& v : p.x) v = normal(rng);
  p.w.resize(p.n * p.k);
  for (float& v : p.w) v = 0.05f * normal(rng);
  p.bias.resize(p.n);
  for (float& v : p.bias) v = 0.1f * normal(rng);
  p.y.resize(p.m * p.n);
  return p;
}

void SetCounters(benchmark::State& state, const Problem& p) {
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * static_cast<double>(p.m * p.n * p.k),
                                                benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

void RunFp32(benchmark::State& state, internal::Fp32Kernel kernel) {
  if (!internal::CpuSupports(kernel)) {
    state.SkipWithError("CPU lacks this kernel");
    return;
  }
  Problem p = MakeProblem(state);
  const PackedMatrix w = PackedMatrix::Pack(p.w.data(), p.k, p.n, 1, p.k);
  for (auto _ : state) {
    internal::Fp32GemmAt(kernel, p.x.data(), p.k, p.m, w, 1.0f, p.y.data(), p.n, 0, p.n);
    benchmark::DoNotOptimize(p.y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, p);
  state.SetLabel(std::string(internal::Fp32KernelName(kernel)));
}

void RunInt8(benchmark::State& state, internal::Int8Kernel kernel) {
  if (!internal::CpuSupports(kernel)) {
    state.SkipWithError("CPU lacks this kernel");
    return;
  }
  Problem p = MakeProblem(state);
  const QuantizedMatrix w = QuantizedMatrix::Quantize(p.w.data(), p.n, p.k);
  Int8Scratch scratch;
  for (auto _ : state) {
    internal::Int8LinearAt(kernel, p.x.data(), p.m, w, p.bias.data(), p.y.data(), scratch);
    benchmark::DoNotOptimize(p.y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, p);
  state.SetLabel(std::string(internal::Int8KernelName(kernel)));
}

void BM_Fp32Gemm(benchmark::State& state) { RunFp32(state, internal::ActiveFp32Kernel()); }
void BM_Fp32GemmAt_Scalar(benchmark::State& state) { RunFp32(state, internal::Fp32Kernel::kScalar); }
void BM_Fp32GemmAt_Avx2(benchmark::State& state) { RunFp32(state, internal::Fp32Kernel::kAvx2); }
void BM_Fp32GemmAt_Avx512(benchmark::State& state) { RunFp32(state, internal::Fp32Kernel::kAvx512); }
void BM_Int8Linear(benchmark::State& state) { RunInt8(state, internal::ActiveInt8Kernel()); }
void BM_Int8LinearAt_Avx2(benchmark::State& state) { RunInt8(state, internal::Int8Kernel::kAvx2); }
void BM_Int8LinearAt_Avx512Vnni(benchmark::State& state) { RunInt8(state, internal::Int8Kernel::kAvx512Vnni); }
void BM_Int8LinearAt_Avx512VnniZmm(benchmark::State& state) {
  RunInt8(state, internal::Int8Kernel::kAvx512VnniZmm);
}

void BM_SgemmOpenBlas(benchmark::State& state) {
  openblas_set_num_threads(1);
  Problem p = MakeProblem(state);
  std::vector<float> wt(p.k * p.n);  // Wᵀ, k × n: the layout the encoder kept for OpenBLAS
  for (size_t o = 0; o < p.n; ++o)
    for (size_t i = 0; i < p.k; ++i) wt[i * p.n + o] = p.w[o * p.k + i];
  const int m = static_cast<int>(p.m), n = static_cast<int>(p.n), k = static_cast<int>(p.k);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, p.x.data(), k, wt.data(), n, 0.0f,
                p.y.data(), n);
    benchmark::DoNotOptimize(p.y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, p);
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
BENCHMARK(BM_Int8Linear)->Apply(EncoderShapes);
BENCHMARK(BM_SgemmOpenBlas)->Apply(EncoderShapes);
BENCHMARK(BM_Fp32GemmAt_Scalar)->Apply(EncoderShapes);
BENCHMARK(BM_Fp32GemmAt_Avx2)->Apply(EncoderShapes);
BENCHMARK(BM_Fp32GemmAt_Avx512)->Apply(EncoderShapes);
BENCHMARK(BM_Int8LinearAt_Avx2)->Apply(EncoderShapes);
BENCHMARK(BM_Int8LinearAt_Avx512Vnni)->Apply(EncoderShapes);
BENCHMARK(BM_Int8LinearAt_Avx512VnniZmm)->Apply(EncoderShapes);

}  // namespace
}  // namespace ragline::embed
