#include "embed/fp32_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "core/simd_cap.h"
#include "embed/fp32_gemm_internal.h"

namespace ragline::embed {
namespace {

constexpr size_t kPanelCols = PackedMatrix::kPanelCols;
// A is copied in blocks of at most kBlockRows × kBlockDepth floats (96 KiB,
// in L2 while every panel of B runs over it); the kBlockDepth × 32 slice of B
// a tile reads (32 KiB) stays in L1 across the block's row strips.
// kBlockRows is a multiple of every kernel's strip height (12, 6, 2).
constexpr size_t kBlockRows = 96;
constexpr size_t kBlockDepth = 256;

// One register tile: up to kRows × (kPanels · 16) outputs.
struct TileArgs {
  const float* a;       // packed strip: depth × kRows floats, k-major
  const float* b;       // first panel of the tile, at the block's first k
  size_t panel_stride;  // floats from one panel to the next (k · 16)
  size_t depth;         // k values in this block
  float* c;             // first output of the tile
  size_t ldc;
  size_t cols;  // valid output columns, 1..kPanels · 16
  float alpha;
  bool accumulate;  // add to C (a later k block) rather than overwrite it
};
using TileFn = void (*)(const TileArgs&);

// ---- Portable kernel: 2 rows × 16 columns in 4-float vectors (SSE2 on x86-64) --

constexpr size_t kPortableRows = 2;
typedef float Float4 __attribute__((vector_size(16)));

template <int kRows>
void TilePortable(const TileArgs& t) {
  Float4 acc[kRows][4] = {};
  for (size_t kk = 0; kk < t.depth; ++kk) {
    Float4 b[4];
    std::memcpy(b, t.b + kk * kPanelCols, sizeof(b));
    for (int r = 0; r < kRows; ++r) {
      const float av = t.a[kk * kPortableRows + r];
      for (int v = 0; v < 4; ++v) acc[r][v] += av * b[v];
    }
  }
  for (int r = 0; r < kRows; ++r) {
    float out[kPanelCols];
    std::memcpy(out, acc[r], sizeof(out));
    float* c = t.c + r * t.ldc;
    for (size_t j = 0; j < t.cols; ++j) c[j] = (t.accumulate ? c[j] : 0.0f) + t.alpha * out[j];
  }
}

// ---- AVX2 + FMA kernel: 6 rows × 16 columns (12 ymm accumulators) -------------

constexpr size_t kAvx2Rows = 6;

__attribute__((target("avx2,fma"), always_inline)) inline void StoreRowAvx2(const TileArgs& t, size_t r,
                                                                           __m256 lo, __m256 hi) {
  float* c = t.c + r * t.ldc;
  const __m256 alpha = _mm256_set1_ps(t.alpha);
  if (t.cols == kPanelCols) {
    if (t.accumulate) {
      lo = _mm256_fmadd_ps(alpha, lo, _mm256_loadu_ps(c));
      hi = _mm256_fmadd_ps(alpha, hi, _mm256_loadu_ps(c + 8));
    } else {
      lo = _mm256_mul_ps(alpha, lo);
      hi = _mm256_mul_ps(alpha, hi);
    }
    _mm256_storeu_ps(c, lo);
    _mm256_storeu_ps(c + 8, hi);
    return;
  }
  alignas(32) float spill[kPanelCols];
  _mm256_store_ps(spill, lo);
  _mm256_store_ps(spill + 8, hi);
  for (size_t j = 0; j < t.cols; ++j) c[j] = (t.accumulate ? c[j] : 0.0f) + t.alpha * spill[j];
}

// Accumulators are named variables, not an array, so that they stay in
// registers (an indexed array gets spilled); hence the macros.
#define RAGLINE_F32_AVX2_ROW(R)                                \
  if constexpr (kRows > R) {                                   \
    const __m256 av = _mm256_broadcast_ss(a + R);              \
    acc##R##_0 = _mm256_fmadd_ps(av, b0, acc##R##_0);          \
    acc##R##_1 = _mm256_fmadd_ps(av, b1, acc##R##_1);          \
  }
#define RAGLINE_F32_AVX2_STORE(R) \
  if constexpr (kRows > R) StoreRowAvx2(t, R, acc##R##_0, acc##R##_1);

template <int kRows>
__attribute__((target("avx2,fma"))) void TileAvx2(const TileArgs& t) {
  static_assert(kRows >= 1 && kRows <= static_cast<int>(kAvx2Rows));
  __m256 acc0_0 = _mm256_setzero_ps(), acc0_1 = acc0_0, acc1_0 = acc0_0, acc1_1 = acc0_0;
  __m256 acc2_0 = acc0_0, acc2_1 = acc0_0, acc3_0 = acc0_0, acc3_1 = acc0_0;
  __m256 acc4_0 = acc0_0, acc4_1 = acc0_0, acc5_0 = acc0_0, acc5_1 = acc0_0;
  const float* a = t.a;
  const float* b = t.b;
  for (size_t kk = 0; kk < t.depth; ++kk, a += kAvx2Rows, b += kPanelCols) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    RAGLINE_F32_AVX2_ROW(0)
    RAGLINE_F32_AVX2_ROW(1)
    RAGLINE_F32_AVX2_ROW(2)
    RAGLINE_F32_AVX2_ROW(3)
    RAGLINE_F32_AVX2_ROW(4)
    RAGLINE_F32_AVX2_ROW(5)
  }
  RAGLINE_F32_AVX2_STORE(0)
  RAGLINE_F32_AVX2_STORE(1)
  RAGLINE_F32_AVX2_STORE(2)
  RAGLINE_F32_AVX2_STORE(3)
  RAGLINE_F32_AVX2_STORE(4)
  RAGLINE_F32_AVX2_STORE(5)
}

#undef RAGLINE_F32_AVX2_STORE
#undef RAGLINE_F32_AVX2_ROW

// ---- AVX-512 kernel: 12 rows × 32 columns (24 zmm accumulators) ----------------

constexpr size_t kAvx512Rows = 12;

__attribute__((target("avx512f"), always_inline)) inline void StoreHalfAvx512(const TileArgs& t, float* c,
                                                                            __mmask16 mask, __m512 v) {
  v = _mm512_mul_ps(_mm512_set1_ps(t.alpha), v);
  if (t.accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, c));
  _mm512_mask_storeu_ps(c, mask, v);
}

#define RAGLINE_F32_AVX512_ROW(R)                                            \
  if constexpr (kRows > R) {                                                 \
    const __m512 av = _mm512_set1_ps(a[R]);                                  \
    acc##R##_0 = _mm512_fmadd_ps(av, b0, acc##R##_0);                        \
    if constexpr (kPanels == 2) acc##R##_1 = _mm512_fmadd_ps(av, b1, acc##R##_1); \
  }
#define RAGLINE_F32_AVX512_STORE(R)                                        \
  if constexpr (kRows > R) {                                               \
    StoreHalfAvx512(t, t.c + R * t.ldc, mask0, acc##R##_0);                \
    if (kPanels == 2 && mask1 != 0) StoreHalfAvx512(t, t.c + R * t.ldc + kPanelCols, mask1, acc##R##_1); \
  }

template <int kRows, int kPanels>
__attribute__((target("avx512f"))) void TileAvx512(const TileArgs& t) {
  static_assert(kRows >= 1 && kRows <= static_cast<int>(kAvx512Rows) && (kPanels == 1 || kPanels == 2));
  __m512 acc0_0 = _mm512_setzero_ps(), acc0_1 = acc0_0, acc1_0 = acc0_0, acc1_1 = acc0_0;
  __m512 acc2_0 = acc0_0, acc2_1 = acc0_0, acc3_0 = acc0_0, acc3_1 = acc0_0;
  __m512 acc4_0 = acc0_0, acc4_1 = acc0_0, acc5_0 = acc0_0, acc5_1 = acc0_0;
  __m512 acc6_0 = acc0_0, acc6_1 = acc0_0, acc7_0 = acc0_0, acc7_1 = acc0_0;
  __m512 acc8_0 = acc0_0, acc8_1 = acc0_0, acc9_0 = acc0_0, acc9_1 = acc0_0;
  __m512 acc10_0 = acc0_0, acc10_1 = acc0_0, acc11_0 = acc0_0, acc11_1 = acc0_0;
  const float* a = t.a;
  const float* b = t.b;
  const size_t second = kPanels == 2 ? t.panel_stride : 0;
  for (size_t kk = 0; kk < t.depth; ++kk, a += kAvx512Rows, b += kPanelCols) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = kPanels == 2 ? _mm512_load_ps(b + second) : b0;
    RAGLINE_F32_AVX512_ROW(0)
    RAGLINE_F32_AVX512_ROW(1)
    RAGLINE_F32_AVX512_ROW(2)
    RAGLINE_F32_AVX512_ROW(3)
    RAGLINE_F32_AVX512_ROW(4)
    RAGLINE_F32_AVX512_ROW(5)
    RAGLINE_F32_AVX512_ROW(6)
    RAGLINE_F32_AVX512_ROW(7)
    RAGLINE_F32_AVX512_ROW(8)
    RAGLINE_F32_AVX512_ROW(9)
    RAGLINE_F32_AVX512_ROW(10)
    RAGLINE_F32_AVX512_ROW(11)
  }
  const size_t cols0 = std::min(t.cols, kPanelCols);
  const size_t cols1 = t.cols - cols0;
  const __mmask16 mask0 = static_cast<__mmask16>((1u << cols0) - 1);
  const __mmask16 mask1 = static_cast<__mmask16>((1u << cols1) - 1);
  RAGLINE_F32_AVX512_STORE(0)
  RAGLINE_F32_AVX512_STORE(1)
  RAGLINE_F32_AVX512_STORE(2)
  RAGLINE_F32_AVX512_STORE(3)
  RAGLINE_F32_AVX512_STORE(4)
  RAGLINE_F32_AVX512_STORE(5)
  RAGLINE_F32_AVX512_STORE(6)
  RAGLINE_F32_AVX512_STORE(7)
  RAGLINE_F32_AVX512_STORE(8)
  RAGLINE_F32_AVX512_STORE(9)
  RAGLINE_F32_AVX512_STORE(10)
  RAGLINE_F32_AVX512_STORE(11)
}

#undef RAGLINE_F32_AVX512_STORE
#undef RAGLINE_F32_AVX512_ROW

// ---- Driver -----------------------------------------------------------------

// A kernel: its strip height, how many panels one tile spans, and its tiles
// by [panels - 1][rows].
struct Kernel {
  size_t rows;
  size_t max_panels;
  std::array<std::array<TileFn, kAvx512Rows + 1>, 2> tiles;
};

template <size_t... R>
constexpr std::array<TileFn, kAvx512Rows + 1> PortableTiles(std::index_sequence<R...>) {
  return {nullptr, &TilePortable<R + 1>...};
}
template <size_t... R>
constexpr std::array<TileFn, kAvx512Rows + 1> Avx2Tiles(std::index_sequence<R...>) {
  return {nullptr, &TileAvx2<R + 1>...};
}
template <int kPanels, size_t... R>
constexpr std::array<TileFn, kAvx512Rows + 1> Avx512Tiles(std::index_sequence<R...>) {
  return {nullptr, &TileAvx512<R + 1, kPanels>...};
}

constexpr Kernel kPortable = {kPortableRows, 1, {PortableTiles(std::make_index_sequence<kPortableRows>()), {}}};
constexpr Kernel kAvx2 = {kAvx2Rows, 1, {Avx2Tiles(std::make_index_sequence<kAvx2Rows>()), {}}};
constexpr Kernel kAvx512 = {kAvx512Rows,
                            2,
                            {Avx512Tiles<1>(std::make_index_sequence<kAvx512Rows>()),
                             Avx512Tiles<2>(std::make_index_sequence<kAvx512Rows>())}};

// Copies rows × depth of A into strips of `strip` rows, k-major, the rows
// past `rows` of the last strip zero. Writes run contiguously; the strip's
// rows are read as `strip` sequential streams.
void PackA(const float* a, size_t lda, size_t rows, size_t depth, size_t strip, float* out) {
  static constexpr float kZeros[kBlockDepth] = {};
  const float* src[kAvx512Rows];
  for (size_t s = 0; s < rows; s += strip) {
    for (size_t r = 0; r < strip; ++r) src[r] = s + r < rows ? a + (s + r) * lda : kZeros;
    float* dst = out + s * depth;
    for (size_t kk = 0; kk < depth; ++kk, dst += strip) {
      for (size_t r = 0; r < strip; ++r) dst[r] = src[r][kk];
    }
  }
}

void Run(const Kernel& kernel, const float* a, size_t lda, size_t m, const PackedMatrix& b, float alpha,
         float* c, size_t ldc, size_t col_begin, size_t col_end) {
  const size_t k = b.rows();
  if (m == 0 || col_end <= col_begin) return;
  if (k == 0) {  // an empty sum
    for (size_t i = 0; i < m; ++i) std::fill(c + i * ldc + col_begin, c + i * ldc + col_end, 0.0f);
    return;
  }
  const size_t k_blocks = (k + kBlockDepth - 1) / kBlockDepth;
  const size_t depth_step = (k + k_blocks - 1) / k_blocks;  // equal blocks: 384 is 2 × 192, not 256 + 128
  thread_local std::vector<float, CacheAlignedAllocator<float>> packed_a;
  if (packed_a.size() < kBlockRows * depth_step) packed_a.resize(kBlockRows * kBlockDepth);

  const size_t panel_begin = col_begin / kPanelCols;
  const size_t panel_end = (col_end + kPanelCols - 1) / kPanelCols;
  const size_t panel_stride = k * kPanelCols;
  TileArgs t{};
  t.panel_stride = panel_stride;
  t.ldc = ldc;
  t.alpha = alpha;
  for (size_t k0 = 0; k0 < k; k0 += depth_step) {
    t.depth = std::min(depth_step, k - k0);
    t.accumulate = k0 > 0;
    for (size_t i0 = 0; i0 < m; i0 += kBlockRows) {
      const size_t block_rows = std::min(kBlockRows, m - i0);
      PackA(a + i0 * lda + k0, lda, block_rows, t.depth, kernel.rows, packed_a.data());
      for (size_t p = panel_begin; p < panel_end; p += kernel.max_panels) {
        const size_t panels = std::min(kernel.max_panels, panel_end - p);
        const auto& tiles = kernel.tiles[panels - 1];
        t.b = b.panel(p) + k0 * kPanelCols;
        t.cols = std::min(panels * kPanelCols, col_end - p * kPanelCols);
        for (size_t i = 0; i < block_rows; i += kernel.rows) {
          t.a = packed_a.data() + i * t.depth;
          t.c = c + (i0 + i) * ldc + p * kPanelCols;
          tiles[std::min(kernel.rows, block_rows - i)](t);
        }
      }
    }
  }
}

internal::Fp32Kernel DetectKernel() {
  using internal::Fp32Kernel;
  const Fp32Kernel best = internal::BestFp32Kernel();
  switch (SimdCapFromEnv()) {
    case SimdCap::kScalar:
      return Fp32Kernel::kScalar;
    case SimdCap::kAvx2:
      return best == Fp32Kernel::kAvx512 ? Fp32Kernel::kAvx2 : best;
    case SimdCap::kNone:
      break;
  }
  return best;
}

}  // namespace

// ---- PackedMatrix -------------------------------------------------------------

PackedMatrix PackedMatrix::Pack(const float* b, size_t k, size_t n, size_t row_stride, size_t col_stride) {
  PackedMatrix packed;
  packed.Repack(b, k, n, row_stride, col_stride);
  return packed;
}

void PackedMatrix::Repack(const float* b, size_t k, size_t n, size_t row_stride, size_t col_stride) {
  rows_ = k;
  cols_ = n;
  data_.resize(num_panels() * k * kPanelCols);
  for (size_t p = 0; p < num_panels(); ++p) {
    float* dst = data_.data() + p * k * kPanelCols;
    const size_t j0 = p * kPanelCols;
    const size_t width = std::min(kPanelCols, n - j0);
    for (size_t i = 0; i < k; ++i) {
      const float* src = b + i * row_stride + j0 * col_stride;
      for (size_t j = 0; j < width; ++j) dst[i * kPanelCols + j] = src[j * col_stride];
      for (size_t j = width; j < kPanelCols; ++j) dst[i * kPanelCols + j] = 0.0f;
    }
  }
}

// ---- Entry points -------------------------------------------------------------

namespace internal {

std::string_view Fp32KernelName(Fp32Kernel kernel) {
  switch (kernel) {
    case Fp32Kernel::kScalar:
      return "scalar";
    case Fp32Kernel::kAvx2:
      return "avx2";
    case Fp32Kernel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

bool CpuSupports(Fp32Kernel kernel) {
  __builtin_cpu_init();
  switch (kernel) {
    case Fp32Kernel::kScalar:
      return true;
    case Fp32Kernel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Fp32Kernel::kAvx512:
      return __builtin_cpu_supports("avx512f");
  }
  return false;
}

Fp32Kernel BestFp32Kernel() {
  if (CpuSupports(Fp32Kernel::kAvx512)) return Fp32Kernel::kAvx512;
  if (CpuSupports(Fp32Kernel::kAvx2)) return Fp32Kernel::kAvx2;
  return Fp32Kernel::kScalar;
}

Fp32Kernel ActiveFp32Kernel() {
  static const Fp32Kernel kernel = DetectKernel();
  return kernel;
}

void Fp32GemmAt(Fp32Kernel kernel, const float* a, size_t lda, size_t m, const PackedMatrix& b, float alpha,
                float* c, size_t ldc, size_t col_begin, size_t col_end) {
  switch (kernel) {
    case Fp32Kernel::kAvx512:
      return Run(kAvx512, a, lda, m, b, alpha, c, ldc, col_begin, col_end);
    case Fp32Kernel::kAvx2:
      return Run(kAvx2, a, lda, m, b, alpha, c, ldc, col_begin, col_end);
    case Fp32Kernel::kScalar:
      break;
  }
  Run(kPortable, a, lda, m, b, alpha, c, ldc, col_begin, col_end);
}

}  // namespace internal

void Fp32Gemm(const float* a, size_t lda, size_t m, const PackedMatrix& b, float alpha, float* c, size_t ldc,
              size_t col_begin, size_t col_end) {
  internal::Fp32GemmAt(internal::ActiveFp32Kernel(), a, lda, m, b, alpha, c, ldc, col_begin, col_end);
}

std::string_view ActiveFp32KernelName() { return internal::Fp32KernelName(internal::ActiveFp32Kernel()); }

}  // namespace ragline::embed
