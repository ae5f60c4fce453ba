// RAGLINE_SIMD: the one environment knob every SIMD kernel family (distance,
// HNSW, the encoder's fp32 and int8 GEMMs) reads to lower its level, for
// tests, benchmarks and working around a CPU. It can only lower: forcing a
// level the CPU lacks would be an illegal instruction.
//
// Thread safety: reads the environment; call once and cache the result.
#pragma once

#include <cstdlib>
#include <cstring>

namespace ragline {

enum class SimdCap {
  kNone,    // unset (or "avx512" / an unknown value): the CPU's best
  kAvx2,    // RAGLINE_SIMD=avx2: nothing wider than AVX2
  kScalar,  // RAGLINE_SIMD=scalar: the portable kernels
};

inline SimdCap SimdCapFromEnv() {
  const char* env = std::getenv("RAGLINE_SIMD");
  if (env == nullptr) return SimdCap::kNone;
  if (std::strcmp(env, "scalar") == 0) return SimdCap::kScalar;
  if (std::strcmp(env, "avx2") == 0) return SimdCap::kAvx2;
  return SimdCap::kNone;
}

}  // namespace ragline
