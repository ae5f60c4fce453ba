#include "index/distance.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "core/simd_cap.h"
#include "index/distance_internal.h"

namespace ragline::index {
namespace {

// ---- AVX2 + FMA -----------------------------------------------------------

__attribute__((target("avx2,fma"))) float HorizontalSum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 shuf = _mm_movehdup_ps(lo);
  __m128 sums = _mm_add_ps(lo, shuf);
  shuf = _mm_movehl_ps(shuf, sums);
  sums = _mm_add_ss(sums, shuf);
  return _mm_cvtss_f32(sums);
}

// Mask with the first `count` (0..7) 32-bit lanes set, for the tail.
__attribute__((target("avx2,fma"))) __m256i TailMask256(size_t count) {
  alignas(32) static const int32_t kTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                 0,  0,  0,  0,  0,  0,  0,  0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTable + 8 - count));
}

__attribute__((target("avx2,fma"))) float L2SqrAvx2(const float* a, const float* b, size_t dim) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps();
  __m256 acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
    __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
    acc2 = _mm256_fmadd_ps(d2, d2, acc2);
    acc3 = _mm256_fmadd_ps(d3, d3, acc3);
  }
  for (; i + 8 <= dim; i += 8) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    acc0 = _mm256_fmadd_ps(d, d, acc0);
  }
  if (i < dim) {
    __m256i mask = TailMask256(dim - i);
    __m256 d = _mm256_sub_ps(_mm256_maskload_ps(a + i, mask), _mm256_maskload_ps(b + i, mask));
    acc1 = _mm256_fmadd_ps(d, d, acc1);
  }
  return HorizontalSum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, size_t dim) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps();
  __m256 acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= dim; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  }
  if (i < dim) {
    __m256i mask = TailMask256(dim - i);
    acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, mask), _mm256_maskload_ps(b + i, mask), acc1);
  }
  return HorizontalSum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}

// ---- AVX-512F -------------------------------------------------------------

// Not _mm512_reduce_add_ps: gcc 12's version trips -Wuninitialized.
__attribute__((target("avx512f"))) float HorizontalSum512(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float sum = 0.0f;
  for (float x : lanes) sum += x;
  return sum;
}

__attribute__((target("avx512f"))) float L2SqrAvx512(const float* a, const float* b, size_t dim) {
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps();
  __m512 acc3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
    __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
    acc0 = _mm512_fmadd_ps(d0, d0, acc0);
    acc1 = _mm512_fmadd_ps(d1, d1, acc1);
    acc2 = _mm512_fmadd_ps(d2, d2, acc2);
    acc3 = _mm512_fmadd_ps(d3, d3, acc3);
  }
  for (; i + 16 <= dim; i += 16) {
    __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    acc0 = _mm512_fmadd_ps(d, d, acc0);
  }
  if (i < dim) {
    __mmask16 mask = static_cast<__mmask16>((1u << (dim - i)) - 1u);
    __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i));
    acc1 = _mm512_fmadd_ps(d, d, acc1);
  }
  return HorizontalSum512(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

__attribute__((target("avx512f"))) float DotAvx512(const float* a, const float* b, size_t dim) {
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps();
  __m512 acc3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
  }
  for (; i + 16 <= dim; i += 16) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
  }
  if (i < dim) {
    __mmask16 mask = static_cast<__mmask16>((1u << (dim - i)) - 1u);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i),
                           acc1);
  }
  return HorizontalSum512(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

// ---- Dispatch -------------------------------------------------------------

using KernelFn = float (*)(const float*, const float*, size_t);

struct Dispatch {
  SimdLevel level;
  KernelFn l2;
  KernelFn dot;
};

SimdLevel DetectLevel() {
  __builtin_cpu_init();
  SimdLevel best = SimdLevel::kScalar;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = SimdLevel::kAvx2;
  if (__builtin_cpu_supports("avx512f")) best = SimdLevel::kAvx512;
  switch (SimdCapFromEnv()) {
    case SimdCap::kScalar:
      return SimdLevel::kScalar;
    case SimdCap::kAvx2:
      return std::min(best, SimdLevel::kAvx2);
    case SimdCap::kNone:
      break;
  }
  return best;
}

const Dispatch& GetDispatch() {
  static const Dispatch dispatch = [] {
    switch (DetectLevel()) {
      case SimdLevel::kAvx512:
        return Dispatch{SimdLevel::kAvx512, &L2SqrAvx512, &DotAvx512};
      case SimdLevel::kAvx2:
        return Dispatch{SimdLevel::kAvx2, &L2SqrAvx2, &DotAvx2};
      case SimdLevel::kScalar:
        break;
    }
    return Dispatch{SimdLevel::kScalar, &L2SqrScalar, &DotScalar};
  }();
  return dispatch;
}

}  // namespace

namespace internal {
// Direct entry points for tests and benchmarks that compare every level.
float L2SqrAt(SimdLevel level, const float* a, const float* b, size_t dim) {
  switch (level) {
    case SimdLevel::kAvx512:
      return L2SqrAvx512(a, b, dim);
    case SimdLevel::kAvx2:
      return L2SqrAvx2(a, b, dim);
    case SimdLevel::kScalar:
      break;
  }
  return L2SqrScalar(a, b, dim);
}
float DotAt(SimdLevel level, const float* a, const float* b, size_t dim) {
  switch (level) {
    case SimdLevel::kAvx512:
      return DotAvx512(a, b, dim);
    case SimdLevel::kAvx2:
      return DotAvx2(a, b, dim);
    case SimdLevel::kScalar:
      break;
  }
  return DotScalar(a, b, dim);
}
bool CpuSupports(SimdLevel level) {
  __builtin_cpu_init();
  switch (level) {
    case SimdLevel::kAvx512:
      return __builtin_cpu_supports("avx512f");
    case SimdLevel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SimdLevel::kScalar:
      return true;
  }
  return false;
}
}  // namespace internal

SimdLevel ActiveSimdLevel() { return GetDispatch().level; }

std::string_view SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

float L2Sqr(const float* a, const float* b, size_t dim) { return GetDispatch().l2(a, b, dim); }

float Dot(const float* a, const float* b, size_t dim) { return GetDispatch().dot(a, b, dim); }

float Distance(Metric metric, const float* a, const float* b, size_t dim) {
  return metric == Metric::kL2 ? L2Sqr(a, b, dim) : -Dot(a, b, dim);
}

float L2SqrScalar(const float* a, const float* b, size_t dim) {
  float sum = 0.0f;
  for (size_t i = 0; i < dim; ++i) {
    float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

float DotScalar(const float* a, const float* b, size_t dim) {
  float sum = 0.0f;
  for (size_t i = 0; i < dim; ++i) sum += a[i] * b[i];
  return sum;
}

float NormalizeL2(float* v, size_t dim) {
  float norm = std::sqrt(Dot(v, v, dim));
  if (norm > 0.0f) {
    float inv = 1.0f / norm;
    for (size_t i = 0; i < dim; ++i) v[i] *= inv;
  }
  return norm;
}

}  // namespace ragline::index
