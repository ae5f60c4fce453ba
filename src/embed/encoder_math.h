// Elementwise kernels of the BERT encoder: exp for softmax, erf for the exact
// GELU, bias/activation/residual/LayerNorm epilogues that run on rows a GEMM
// has just written (while they are still in cache).
//
// ExpApprox and ErfApprox are branch-free polynomial/rational forms that the
// compiler vectorises (std::exp / std::erf calls do not):
//   ExpApprox: Cephes expf (range reduction by ln 2, degree-6 polynomial),
//              relative error < 2e-7 (about 2 ulp) on [-87, 88].
//   ErfApprox: the rational approximation Eigen and XLA use for float erf
//              (odd degree-13 / even degree-8 on x clamped to [-4, 4]),
//              absolute error < 5e-7 (4.2e-7 measured).
// The vector forms in encoder_math.cc compute the same formulas (with FMA
// where the CPU has it, so results differ from the scalar ones by an ulp).
// encoder_math_test measures both against std:: over dense ranges.
//
// Internal to src/embed. Thread safety: pure functions.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace ragline::embed::internal {

inline float ExpApprox(float x) {
  x = std::min(x, 88.3762626647949f);
  x = std::max(x, -87.3365447504019f);
  // n = round(x / ln 2) via the 1.5 * 2^23 trick (|x / ln 2| < 2^22).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  // r = x - n ln 2, with ln 2 split in two for accuracy.
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(e);
}

inline float ErfApprox(float x) {
  x = std::min(x, 4.0f);
  x = std::max(x, -4.0f);
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * x;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return p / q;
}

// GELU as BERT defines it (hidden_act "gelu"): 0.5 x (1 + erf(x / sqrt 2)).
inline float GeluApprox(float x) { return 0.5f * x * (1.0f + ErfApprox(x * 0.70710678118654752f)); }

// Row kernels (encoder_math.cc): 8-wide GCC vector code, cloned for
// x86-64-v3 (AVX2 + FMA) and baseline x86-64 with runtime dispatch; the
// tails and the scalar reference use the inline functions above.

// row[i] = GELU(row[i] + bias[i]).
void BiasGelu(float* row, const float* bias, size_t n);

// row[i] += bias[i].
void AddBias(float* row, const float* bias, size_t n);

// residual = LayerNorm(x + bias + residual) * gamma + beta, in place on
// residual (biased variance, eps inside the square root, as torch does).
void BiasResidualLayerNorm(const float* x, const float* bias, const float* gamma, const float* beta,
                           float eps, float* residual, size_t n);

// In-place softmax of one row: row[i] = exp(row[i] - max) / sum.
void SoftmaxRow(float* row, size_t n);

}  // namespace ragline::embed::internal
