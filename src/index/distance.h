// Distance kernels over float32 vectors, with runtime SIMD dispatch.
//
// The best implementation the CPU supports (AVX-512F, AVX2+FMA, scalar) is
// chosen once, on first use; RAGLINE_SIMD=scalar|avx2|avx512 in the
// environment forces a lower level (for tests and benchmarks). Shipped builds
// never use a global -march flag: the SIMD versions are compiled with
// per-function target attributes.
//
// Thread safety: all functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "index/vector_index.h"

namespace ragline::index {

enum class SimdLevel { kScalar, kAvx2, kAvx512 };

SimdLevel ActiveSimdLevel();
std::string_view SimdLevelName(SimdLevel level);

float L2Sqr(const float* a, const float* b, size_t dim);
float Dot(const float* a, const float* b, size_t dim);
// Metric distance: L2Sqr for kL2, -Dot for kInnerProduct.
float Distance(Metric metric, const float* a, const float* b, size_t dim);

// Plain loops used as the reference in tests.
float L2SqrScalar(const float* a, const float* b, size_t dim);
float DotScalar(const float* a, const float* b, size_t dim);

// Normalises v (dim floats) to unit L2 norm in place; returns the original
// norm. A zero vector is left unchanged.
float NormalizeL2(float* v, size_t dim);

}  // namespace ragline::index
