#include "embed/encoder_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// 32-byte vectors passed between always-inlined helpers never cross an ABI
// boundary; the note about their calling convention is noise here.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace ragline::embed::internal {
namespace {

// GCC vector extensions: 8 floats; baseline x86-64 splits them into two SSE
// registers, the AVX2 clone uses one YMM register.
typedef float V8 __attribute__((vector_size(32)));
typedef int32_t V8i __attribute__((vector_size(32)));
constexpr size_t kLanes = 8;

#if defined(__clang__)
// Clang (the fuzz build only, fuzz/) refuses 32-byte vectors passed between
// baseline helpers and an AVX2 clone: it gets the baseline kernels alone.
#define RAGLINE_KERNEL
#else
#define RAGLINE_KERNEL __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#define RAGLINE_INLINE [[gnu::always_inline]] inline

RAGLINE_INLINE V8 Load(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
RAGLINE_INLINE void Store(float* p, V8 v) { std::memcpy(p, &v, sizeof(v)); }
RAGLINE_INLINE V8 Splat(float f) { return V8{} + f; }
RAGLINE_INLINE V8 Min(V8 a, V8 b) { return a < b ? a : b; }
RAGLINE_INLINE V8 Max(V8 a, V8 b) { return a > b ? a : b; }
RAGLINE_INLINE float HorizontalSum(V8 v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}
RAGLINE_INLINE float HorizontalMax(V8 v) {
  float m = v[0];
  for (size_t i = 1; i < kLanes; ++i) m = std::max(m, v[i]);
  return m;
}

// ExpApprox, 8 lanes at a time.
RAGLINE_INLINE V8 Exp(V8 x) {
  x = Min(x, Splat(88.3762626647949f));
  x = Max(x, Splat(-87.3365447504019f));
  const V8 n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const V8 r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  V8 p = Splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const V8i e = (__builtin_convertvector(n, V8i) + 127) << 23;
  // memcpy, not std::bit_cast: GCC 12's UBSan flags __builtin_bit_cast on
  // vector types as a null load.
  V8 scale;
  std::memcpy(&scale, &e, sizeof(scale));
  return p * scale;
}

// GeluApprox, 8 lanes at a time.
RAGLINE_INLINE V8 Gelu(V8 v) {
  V8 x = v * 0.70710678118654752f;
  x = Min(x, Splat(4.0f));
  x = Max(x, Splat(-4.0f));
  const V8 x2 = x * x;
  V8 p = Splat(-2.72614225801306e-10f);
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * x;
  V8 q = Splat(-1.45660718464996e-05f);
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return 0.5f * v * (1.0f + p / q);
}

}  // namespace

RAGLINE_KERNEL void BiasGelu(float* row, const float* bias, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) Store(row + i, Gelu(Load(row + i) + Load(bias + i)));
  for (; i < n; ++i) row[i] = GeluApprox(row[i] + bias[i]);
}

RAGLINE_KERNEL void AddBias(float* row, const float* bias, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) Store(row + i, Load(row + i) + Load(bias + i));
  for (; i < n; ++i) row[i] += bias[i];
}

RAGLINE_KERNEL void BiasResidualLayerNorm(const float* x, const float* bias, const float* gamma,
                                          const float* beta, float eps, float* residual, size_t n) {
  V8 vsum = {};
  float sum = 0.0f;
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const V8 v = Load(residual + i) + Load(x + i) + Load(bias + i);
    Store(residual + i, v);
    vsum += v;
  }
  for (; i < n; ++i) sum += residual[i] += x[i] + bias[i];
  const float mean = (HorizontalSum(vsum) + sum) / static_cast<float>(n);
  V8 vvar = {};
  float var = 0.0f;
  for (i = 0; i + kLanes <= n; i += kLanes) {
    const V8 d = Load(residual + i) - mean;
    vvar += d * d;
  }
  for (; i < n; ++i) var += (residual[i] - mean) * (residual[i] - mean);
  const float inv_std = 1.0f / std::sqrt((HorizontalSum(vvar) + var) / static_cast<float>(n) + eps);
  for (i = 0; i + kLanes <= n; i += kLanes) {
    Store(residual + i, (Load(residual + i) - mean) * inv_std * Load(gamma + i) + Load(beta + i));
  }
  for (; i < n; ++i) residual[i] = (residual[i] - mean) * inv_std * gamma[i] + beta[i];
}

RAGLINE_KERNEL void SoftmaxRow(float* row, size_t n) {
  float max = row[0];
  size_t i = 0;
  if (n >= kLanes) {
    V8 vmax = Load(row);
    for (i = kLanes; i + kLanes <= n; i += kLanes) vmax = Max(vmax, Load(row + i));
    max = HorizontalMax(vmax);
  }
  for (; i < n; ++i) max = std::max(max, row[i]);
  V8 vsum = {};
  float sum = 0.0f;
  for (i = 0; i + kLanes <= n; i += kLanes) {
    const V8 e = Exp(Load(row + i) - max);
    Store(row + i, e);
    vsum += e;
  }
  for (; i < n; ++i) sum += row[i] = ExpApprox(row[i] - max);
  const float inv = 1.0f / (HorizontalSum(vsum) + sum);
  for (i = 0; i + kLanes <= n; i += kLanes) Store(row + i, Load(row + i) * inv);
  for (; i < n; ++i) row[i] *= inv;
}

}  // namespace ragline::embed::internal
