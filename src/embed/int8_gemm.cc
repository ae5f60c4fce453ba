#include "embed/int8_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>

#include "core/simd_cap.h"
#include "embed/int8_gemm_internal.h"

namespace ragline::embed {
namespace {

constexpr size_t kPanelCols = QuantizedMatrix::kPanelCols;
constexpr size_t kGroup = QuantizedMatrix::kGroup;
constexpr size_t kGroupBytes = kPanelCols * kGroup;  // one k-group of a panel
constexpr size_t kTileRows = 4;      // AVX2 tiles: 4 rows × 16 outputs
constexpr size_t kZmmTileRows = 12;  // AVX-512 VNNI tiles: 12 rows × 32 outputs

// ---- Activation quantisation ------------------------------------------------

struct RowQuant {
  float scale;
  float inv_scale;
  int32_t zero_point;
};

// Shared by every kernel so that all of them quantise identically.
RowQuant RowQuantParams(float lo, float hi) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  const float range = hi - lo;
  // All-zero (or denormal-range) rows: q = 0 everywhere, so Y = bias.
  if (!(range > 1e-30f)) return {1.0f, 0.0f, 0};
  const float inv_scale = 255.0f / range;
  const int32_t zero_point = std::clamp(static_cast<int32_t>(std::lrintf(-lo * inv_scale)), 0, 255);
  return {range / 255.0f, inv_scale, zero_point};
}

// lrintf rounds to nearest even, as vcvtps2dq does under the default MXCSR.
inline uint8_t QuantizeValue(float x, const RowQuant& rq) {
  const int32_t v = static_cast<int32_t>(std::lrintf(x * rq.inv_scale)) + rq.zero_point;
  return static_cast<uint8_t>(std::clamp(v, 0, 255));
}

RowQuant QuantizeRowScalar(const float* x, size_t k, uint8_t* q) {
  float lo = 0.0f, hi = 0.0f;
  for (size_t c = 0; c < k; ++c) {
    lo = std::min(lo, x[c]);
    hi = std::max(hi, x[c]);
  }
  const RowQuant rq = RowQuantParams(lo, hi);
  for (size_t c = 0; c < k; ++c) q[c] = QuantizeValue(x[c], rq);
  return rq;
}

// round(x * inv) + zp for 8 floats, capped at 255 (the packus that follows
// clamps at 0).
__attribute__((target("avx2"), always_inline)) inline __m256i Quantize8Avx2(const float* x, __m256 inv,
                                                                            __m256i zp, __m256i max_q) {
  const __m256i v = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), inv)), zp);
  return _mm256_min_epi32(v, max_q);
}

__attribute__((target("avx2"))) RowQuant QuantizeRowAvx2(const float* x, size_t k, uint8_t* q) {
  __m256 vlo = _mm256_setzero_ps();
  __m256 vhi = _mm256_setzero_ps();
  size_t c = 0;
  for (; c + 8 <= k; c += 8) {
    const __m256 v = _mm256_loadu_ps(x + c);
    vlo = _mm256_min_ps(vlo, v);
    vhi = _mm256_max_ps(vhi, v);
  }
  alignas(32) float lanes_lo[8], lanes_hi[8];
  _mm256_store_ps(lanes_lo, vlo);
  _mm256_store_ps(lanes_hi, vhi);
  float lo = 0.0f, hi = 0.0f;
  for (int i = 0; i < 8; ++i) {
    lo = std::min(lo, lanes_lo[i]);
    hi = std::max(hi, lanes_hi[i]);
  }
  for (size_t t = c; t < k; ++t) {
    lo = std::min(lo, x[t]);
    hi = std::max(hi, x[t]);
  }
  const RowQuant rq = RowQuantParams(lo, hi);

  const __m256 inv = _mm256_set1_ps(rq.inv_scale);
  const __m256i zp = _mm256_set1_epi32(rq.zero_point);
  const __m256i max_q = _mm256_set1_epi32(255);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  c = 0;
  for (; c + 32 <= k; c += 32) {
    const __m256i a = _mm256_packus_epi32(Quantize8Avx2(x + c, inv, zp, max_q),
                                          Quantize8Avx2(x + c + 8, inv, zp, max_q));
    const __m256i b = _mm256_packus_epi32(Quantize8Avx2(x + c + 16, inv, zp, max_q),
                                          Quantize8Avx2(x + c + 24, inv, zp, max_q));
    // packus works per 128-bit lane: reorder the 4-byte chunks back to x's order.
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(a, b), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + c), bytes);
  }
  for (; c < k; ++c) q[c] = QuantizeValue(x[c], rq);
  return rq;
}

// ---- Tiles ------------------------------------------------------------------

// One register tile: rows × 16 outputs (AVX2), or rows × 16 · panels (zmm).
struct TileArgs {
  const uint8_t* x;              // quantised activations of the first row
  size_t ldx;                    // bytes between activation rows
  const float* x_scales;         // per row
  const int32_t* x_zero_points;  // per row
  const int8_t* panel;           // packed weights, QuantizedMatrix::panel(p)
  size_t groups;                 // padded_cols / 4
  const int32_t* row_sums;       // 16 entries, at the panel's first output
  const float* w_scales;         // 16 entries
  const float* bias;             // cols entries or null
  float* y;                      // first output of the tile
  size_t ldy;
  size_t cols;         // valid outputs of the tile: 1..16, or 1..32 for two panels
  size_t panel_bytes;  // from one panel to the next (zmm tiles)
};

// Dequantises the 8 int32 sums `acc` of row `r`, columns [8h, 8h + 8) and
// stores them. Same float operations, in the same order, as the reference.
__attribute__((target("avx2"))) inline void StoreOutputs(const TileArgs& a, size_t r, size_t h,
                                                         __m256i acc, float* spill) {
  const __m256i row_sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.row_sums + 8 * h));
  const __m256i corrected =
      _mm256_sub_epi32(acc, _mm256_mullo_epi32(_mm256_set1_epi32(a.x_zero_points[r]), row_sums));
  const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(a.x_scales[r]), _mm256_loadu_ps(a.w_scales + 8 * h));
  __m256 out = _mm256_mul_ps(_mm256_cvtepi32_ps(corrected), scale);
  if (a.cols == kPanelCols) {
    if (a.bias != nullptr) out = _mm256_add_ps(out, _mm256_loadu_ps(a.bias + 8 * h));
    _mm256_storeu_ps(a.y + r * a.ldy + 8 * h, out);
  } else {
    _mm256_storeu_ps(spill + 8 * h, out);  // bias added by the caller, per valid column
  }
}

__attribute__((target("avx2"))) inline void FinishTailRow(const TileArgs& a, size_t r, const float* spill) {
  float* y = a.y + r * a.ldy;
  for (size_t c = 0; c < a.cols; ++c) {
    float out = spill[c];
    if (a.bias != nullptr) out += a.bias[c];
    y[c] = out;
  }
}

// u8 × s8 products of 4 consecutive k, summed into each int32 lane of acc.
// No saturation: pairs are ≤ 2 · 255 · 63 < 2^15.
__attribute__((target("avx2"), always_inline)) inline __m256i DotAccAvx2(__m256i acc, __m256i x,
                                                                         __m256i w) {
  const __m256i pairs = _mm256_maddubs_epi16(x, w);
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

__attribute__((target("avx2,avx512f,avx512vl,avx512vnni"), always_inline)) inline __m256i DotAccVnni(
    __m256i acc, __m256i x, __m256i w) {
  return _mm256_dpbusd_epi32(acc, x, w);
}

// The tile body, shared by the AVX2 and VNNI kernels (DOT_ACC picks the
// instruction). Function templates can't take a target attribute as a
// parameter, hence the macro. Accumulators are named variables, not an
// array, so that they stay in registers (an indexed array gets spilled).
#define RAGLINE_INT8_TILE_ROW(R, DOT_ACC)                                                               \
  if constexpr (kRows > R) {                                                                    \
    int32_t four;                                                                               \
    std::memcpy(&four, x + R * a.ldx, sizeof(four));                                            \
    const __m256i xb = _mm256_set1_epi32(four);                                                 \
    acc##R##0 = DOT_ACC(acc##R##0, xb, w0);                                                     \
    acc##R##1 = DOT_ACC(acc##R##1, xb, w1);                                                     \
  }
#define RAGLINE_INT8_TILE_STORE(R)                                                              \
  if constexpr (kRows > R) {                                                                    \
    StoreOutputs(a, R, 0, acc##R##0, spill);                                                    \
    StoreOutputs(a, R, 1, acc##R##1, spill);                                                    \
    if (a.cols != kPanelCols) FinishTailRow(a, R, spill);                                       \
  }
#define RAGLINE_INT8_TILE_BODY(DOT_ACC)                                                         \
  static_assert(kRows >= 1 && kRows <= 4);                                                      \
  __m256i acc00 = _mm256_setzero_si256(), acc01 = acc00, acc10 = acc00, acc11 = acc00;          \
  __m256i acc20 = acc00, acc21 = acc00, acc30 = acc00, acc31 = acc00;                           \
  const int8_t* w = a.panel;                                                                    \
  const uint8_t* x = a.x;                                                                       \
  for (size_t g = 0; g < a.groups; ++g, w += kGroupBytes, x += kGroup) {                        \
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));                \
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32));           \
    RAGLINE_INT8_TILE_ROW(0, DOT_ACC)                                                                  \
    RAGLINE_INT8_TILE_ROW(1, DOT_ACC)                                                                  \
    RAGLINE_INT8_TILE_ROW(2, DOT_ACC)                                                                  \
    RAGLINE_INT8_TILE_ROW(3, DOT_ACC)                                                                  \
  }                                                                                             \
  alignas(32) float spill[kPanelCols];                                                          \
  RAGLINE_INT8_TILE_STORE(0)                                                                    \
  RAGLINE_INT8_TILE_STORE(1)                                                                    \
  RAGLINE_INT8_TILE_STORE(2)                                                                    \
  RAGLINE_INT8_TILE_STORE(3)

template <int kRows>
__attribute__((target("avx2"))) void TileAvx2(const TileArgs& a) {
  RAGLINE_INT8_TILE_BODY(DotAccAvx2)
}

template <int kRows>
__attribute__((target("avx2,avx512f,avx512vl,avx512vnni"))) void TileVnni(const TileArgs& a) {
  RAGLINE_INT8_TILE_BODY(DotAccVnni)
}

#undef RAGLINE_INT8_TILE_BODY
#undef RAGLINE_INT8_TILE_STORE
#undef RAGLINE_INT8_TILE_ROW

// AVX-512 VNNI on zmm: a 64-byte group of a panel is one register (lanes in
// output order), so a tile is up to 12 rows × 2 panels of 16 outputs, one
// vpdpbusd per row and panel per 4 k. Dequantised exactly as StoreOutputs.
__attribute__((target("avx512f,avx512vnni"), always_inline)) inline void StoreOutputsZmm(
    const TileArgs& a, size_t r, size_t panel, __m512i acc) {
  const size_t j0 = panel * kPanelCols;
  const size_t valid = std::min(kPanelCols, a.cols - std::min(a.cols, j0));
  if (valid == 0) return;
  const __mmask16 mask = static_cast<__mmask16>((1u << valid) - 1);
  const __m512i row_sums = _mm512_loadu_si512(a.row_sums + j0);
  const __m512i corrected = _mm512_sub_epi32(acc, _mm512_mullo_epi32(_mm512_set1_epi32(a.x_zero_points[r]), row_sums));
  const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(a.x_scales[r]), _mm512_loadu_ps(a.w_scales + j0));
  // maskz: the unmasked form trips GCC 12's -Wmaybe-uninitialized on its undefined source.
  __m512 out = _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, corrected), scale);
  if (a.bias != nullptr) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask, a.bias + j0));
  _mm512_mask_storeu_ps(a.y + r * a.ldy + j0, mask, out);
}

#define RAGLINE_INT8_ZMM_ROW(R)                                                     \
  if constexpr (kRows > R) {                                                        \
    int32_t four;                                                                   \
    std::memcpy(&four, x + R * a.ldx, sizeof(four));                                \
    const __m512i xb = _mm512_set1_epi32(four);                                     \
    acc##R##_0 = _mm512_dpbusd_epi32(acc##R##_0, xb, w0);                           \
    if constexpr (kPanels == 2) acc##R##_1 = _mm512_dpbusd_epi32(acc##R##_1, xb, w1); \
  }
#define RAGLINE_INT8_ZMM_STORE(R)                          \
  if constexpr (kRows > R) {                               \
    StoreOutputsZmm(a, R, 0, acc##R##_0);                  \
    if constexpr (kPanels == 2) StoreOutputsZmm(a, R, 1, acc##R##_1); \
  }

template <int kRows, int kPanels>
__attribute__((target("avx512f,avx512vnni"))) void TileVnniZmm(const TileArgs& a) {
  static_assert(kRows >= 1 && kRows <= static_cast<int>(kZmmTileRows) && (kPanels == 1 || kPanels == 2));
  __m512i acc0_0 = _mm512_setzero_si512(), acc0_1 = acc0_0, acc1_0 = acc0_0, acc1_1 = acc0_0;
  __m512i acc2_0 = acc0_0, acc2_1 = acc0_0, acc3_0 = acc0_0, acc3_1 = acc0_0;
  __m512i acc4_0 = acc0_0, acc4_1 = acc0_0, acc5_0 = acc0_0, acc5_1 = acc0_0;
  __m512i acc6_0 = acc0_0, acc6_1 = acc0_0, acc7_0 = acc0_0, acc7_1 = acc0_0;
  __m512i acc8_0 = acc0_0, acc8_1 = acc0_0, acc9_0 = acc0_0, acc9_1 = acc0_0;
  __m512i acc10_0 = acc0_0, acc10_1 = acc0_0, acc11_0 = acc0_0, acc11_1 = acc0_0;
  const int8_t* w = a.panel;
  const size_t second = kPanels == 2 ? a.panel_bytes : 0;
  const uint8_t* x = a.x;
  for (size_t g = 0; g < a.groups; ++g, w += kGroupBytes, x += kGroup) {
    const __m512i w0 = _mm512_loadu_si512(w);
    const __m512i w1 = kPanels == 2 ? _mm512_loadu_si512(w + second) : w0;
    RAGLINE_INT8_ZMM_ROW(0)
    RAGLINE_INT8_ZMM_ROW(1)
    RAGLINE_INT8_ZMM_ROW(2)
    RAGLINE_INT8_ZMM_ROW(3)
    RAGLINE_INT8_ZMM_ROW(4)
    RAGLINE_INT8_ZMM_ROW(5)
    RAGLINE_INT8_ZMM_ROW(6)
    RAGLINE_INT8_ZMM_ROW(7)
    RAGLINE_INT8_ZMM_ROW(8)
    RAGLINE_INT8_ZMM_ROW(9)
    RAGLINE_INT8_ZMM_ROW(10)
    RAGLINE_INT8_ZMM_ROW(11)
  }
  RAGLINE_INT8_ZMM_STORE(0)
  RAGLINE_INT8_ZMM_STORE(1)
  RAGLINE_INT8_ZMM_STORE(2)
  RAGLINE_INT8_ZMM_STORE(3)
  RAGLINE_INT8_ZMM_STORE(4)
  RAGLINE_INT8_ZMM_STORE(5)
  RAGLINE_INT8_ZMM_STORE(6)
  RAGLINE_INT8_ZMM_STORE(7)
  RAGLINE_INT8_ZMM_STORE(8)
  RAGLINE_INT8_ZMM_STORE(9)
  RAGLINE_INT8_ZMM_STORE(10)
  RAGLINE_INT8_ZMM_STORE(11)
}

#undef RAGLINE_INT8_ZMM_STORE
#undef RAGLINE_INT8_ZMM_ROW

using TileFn = void (*)(const TileArgs&);
using QuantizeRowFn = RowQuant (*)(const float*, size_t, uint8_t*);

struct KernelFns {
  QuantizeRowFn quantize_row;
  size_t rows;    // rows of a full tile
  size_t panels;  // panels a tile spans (1 or 2)
  std::array<std::array<TileFn, kZmmTileRows + 1>, 2> tiles;  // by [panels - 1][rows]; [.][0] unused
};

template <int kPanels, size_t... R>
constexpr std::array<TileFn, kZmmTileRows + 1> ZmmTiles(std::index_sequence<R...>) {
  return {nullptr, &TileVnniZmm<static_cast<int>(R) + 1, kPanels>...};
}

constexpr KernelFns kAvx2Fns = {
    &QuantizeRowAvx2, kTileRows, 1, {{{nullptr, &TileAvx2<1>, &TileAvx2<2>, &TileAvx2<3>, &TileAvx2<4>}, {}}}};
constexpr KernelFns kVnniFns = {
    &QuantizeRowAvx2, kTileRows, 1, {{{nullptr, &TileVnni<1>, &TileVnni<2>, &TileVnni<3>, &TileVnni<4>}, {}}}};
constexpr KernelFns kVnniZmmFns = {&QuantizeRowAvx2,
                                   kZmmTileRows,
                                   2,
                                   {ZmmTiles<1>(std::make_index_sequence<kZmmTileRows>()),
                                    ZmmTiles<2>(std::make_index_sequence<kZmmTileRows>())}};

void QuantizeActivations(QuantizeRowFn quantize_row, const float* x, size_t m, size_t k,
                         size_t padded_k, Int8Scratch& scratch) {
  if (scratch.activations.size() < m * padded_k) scratch.activations.resize(m * padded_k);
  if (scratch.scales.size() < m) {
    scratch.scales.resize(m);
    scratch.zero_points.resize(m);
  }
  for (size_t i = 0; i < m; ++i) {
    uint8_t* q = scratch.activations.data() + i * padded_k;
    const RowQuant rq = quantize_row(x + i * k, k, q);
    // Padding meets zero weights; any value would do, zero keeps it defined.
    std::fill(q + k, q + padded_k, uint8_t{0});
    scratch.scales[i] = rq.scale;
    scratch.zero_points[i] = rq.zero_point;
  }
}

// Loops over tiles: a block of rows whose activations stay in L2, then each
// weight panel (in L1 while the block's tiles run over it).
void RunTiles(const KernelFns& fns, const float* x, size_t m, const QuantizedMatrix& w, const float* bias,
              float* y, Int8Scratch& scratch) {
  const size_t k = w.cols();
  const size_t n = w.rows();
  const size_t padded_k = w.padded_cols();
  QuantizeActivations(fns.quantize_row, x, m, k, padded_k, scratch);

  constexpr size_t kBlockBytes = 128 * 1024;
  const size_t block_rows = std::max(fns.rows, kBlockBytes / padded_k / fns.rows * fns.rows);
  TileArgs a{};
  a.ldx = padded_k;
  a.groups = padded_k / kGroup;
  a.ldy = n;
  a.panel_bytes = w.panel_bytes();
  for (size_t i0 = 0; i0 < m; i0 += block_rows) {
    const size_t i1 = std::min(m, i0 + block_rows);
    for (size_t p = 0; p < w.num_panels(); p += fns.panels) {
      const size_t panels = std::min(fns.panels, w.num_panels() - p);
      const size_t j0 = p * kPanelCols;
      a.panel = w.panel(p);
      a.row_sums = w.row_sums() + j0;
      a.w_scales = w.scales() + j0;
      a.bias = bias != nullptr ? bias + j0 : nullptr;
      a.cols = std::min(panels * kPanelCols, n - j0);
      for (size_t i = i0; i < i1; i += fns.rows) {
        const size_t rows = std::min(fns.rows, i1 - i);
        a.x = scratch.activations.data() + i * padded_k;
        a.x_scales = scratch.scales.data() + i;
        a.x_zero_points = scratch.zero_points.data() + i;
        a.y = y + i * n + j0;
        fns.tiles[panels - 1][rows](a);
      }
    }
  }
}

// The plain reference: one dot product per output, same quantisation and
// dequantisation as the tiles.
void Int8LinearScalar(const float* x, size_t m, const QuantizedMatrix& w, const float* bias, float* y,
                      Int8Scratch& scratch) {
  const size_t k = w.cols();
  const size_t n = w.rows();
  QuantizeActivations(&QuantizeRowScalar, x, m, k, w.padded_cols(), scratch);
  for (size_t i = 0; i < m; ++i) {
    const uint8_t* q = scratch.activations.data() + i * w.padded_cols();
    for (size_t j = 0; j < n; ++j) {
      int32_t acc = 0;
      for (size_t c = 0; c < k; ++c) acc += int32_t{q[c]} * int32_t{w.value(j, c)};
      const int32_t corrected = acc - scratch.zero_points[i] * w.row_sum(j);
      const float scale = scratch.scales[i] * w.scale(j);
      float out = static_cast<float>(corrected) * scale;
      if (bias != nullptr) out += bias[j];
      y[i * n + j] = out;
    }
  }
}

internal::Int8Kernel DetectKernel() {
  using internal::Int8Kernel;
  Int8Kernel best = Int8Kernel::kScalar;
  if (internal::CpuSupports(Int8Kernel::kAvx2)) best = Int8Kernel::kAvx2;
  if (internal::CpuSupports(Int8Kernel::kAvx512VnniZmm)) best = Int8Kernel::kAvx512VnniZmm;
  switch (SimdCapFromEnv()) {
    case SimdCap::kScalar:
      return Int8Kernel::kScalar;
    case SimdCap::kAvx2:
      return best == Int8Kernel::kScalar ? best : Int8Kernel::kAvx2;
    case SimdCap::kNone:
      break;
  }
  return best;
}

}  // namespace

// ---- QuantizedMatrix --------------------------------------------------------

QuantizedMatrix QuantizedMatrix::Quantize(const float* w, size_t rows, size_t cols) {
  QuantizedMatrix q;
  q.rows_ = rows;
  q.cols_ = cols;
  q.padded_cols_ = (cols + kGroup - 1) / kGroup * kGroup;
  const size_t padded_rows = q.num_panels() * kPanelCols;
  q.packed_.assign(q.num_panels() * q.panel_bytes(), 0);
  q.scales_.assign(padded_rows, 0.0f);
  q.row_sums_.assign(padded_rows, 0);
  for (size_t row = 0; row < rows; ++row) {
    const float* wr = w + row * cols;
    float max_abs = 0.0f;
    for (size_t c = 0; c < cols; ++c) max_abs = std::max(max_abs, std::fabs(wr[c]));
    if (max_abs == 0.0f) continue;  // scale 0, all q 0: the row contributes nothing
    const float scale = max_abs / kMaxWeight;
    const size_t p = row / kPanelCols;
    const size_t in_panel = row % kPanelCols;
    int8_t* base = q.packed_.data() + p * q.panel_bytes() + (in_panel / 8) * 32 + (in_panel % 8) * kGroup;
    int32_t sum = 0;
    for (size_t c = 0; c < cols; ++c) {
      const long v = std::clamp(std::lround(wr[c] / scale), -long{kMaxWeight}, long{kMaxWeight});
      base[(c / kGroup) * kGroupBytes + c % kGroup] = static_cast<int8_t>(v);
      sum += static_cast<int32_t>(v);
    }
    q.scales_[row] = scale;
    q.row_sums_[row] = sum;
  }
  return q;
}

int8_t QuantizedMatrix::value(size_t row, size_t col) const {
  const size_t in_panel = row % kPanelCols;
  return panel(row / kPanelCols)[(col / kGroup) * kGroupBytes + (in_panel / 8) * 32 +
                                 (in_panel % 8) * kGroup + col % kGroup];
}

// ---- Entry points -----------------------------------------------------------

namespace internal {

std::string_view Int8KernelName(Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::kScalar:
      return "scalar";
    case Int8Kernel::kAvx2:
      return "avx2";
    case Int8Kernel::kAvx512Vnni:
      return "avx512vnni_ymm";
    case Int8Kernel::kAvx512VnniZmm:
      return "avx512vnni";
  }
  return "unknown";
}

bool CpuSupports(Int8Kernel kernel) {
  __builtin_cpu_init();
  switch (kernel) {
    case Int8Kernel::kScalar:
      return true;
    case Int8Kernel::kAvx2:
      return __builtin_cpu_supports("avx2");
    case Int8Kernel::kAvx512Vnni:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    case Int8Kernel::kAvx512VnniZmm:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

Int8Kernel ActiveInt8Kernel() {
  static const Int8Kernel kernel = DetectKernel();
  return kernel;
}

void QuantizeActivationRow(const float* x, size_t k, uint8_t* q, float* scale, int32_t* zero_point) {
  const RowQuant rq = QuantizeRowScalar(x, k, q);
  *scale = rq.scale;
  *zero_point = rq.zero_point;
}

void Int8LinearAt(Int8Kernel kernel, const float* x, size_t m, const QuantizedMatrix& w,
                  const float* bias, float* y, Int8Scratch& scratch) {
  if (m == 0 || w.rows() == 0) return;
  switch (kernel) {
    case Int8Kernel::kAvx512VnniZmm:
      return RunTiles(kVnniZmmFns, x, m, w, bias, y, scratch);
    case Int8Kernel::kAvx512Vnni:
      return RunTiles(kVnniFns, x, m, w, bias, y, scratch);
    case Int8Kernel::kAvx2:
      return RunTiles(kAvx2Fns, x, m, w, bias, y, scratch);
    case Int8Kernel::kScalar:
      break;
  }
  Int8LinearScalar(x, m, w, bias, y, scratch);
}

}  // namespace internal

void Int8Linear(const float* x, size_t m, const QuantizedMatrix& w, const float* bias, float* y,
                Int8Scratch& scratch) {
  internal::Int8LinearAt(internal::ActiveInt8Kernel(), x, m, w, bias, y, scratch);
}

void Int8LinearParallel(const float* x, size_t m, const QuantizedMatrix& w, const float* bias,
                        float* y, ThreadPool* pool, size_t min_rows_per_task) {
  const size_t block = std::max<size_t>(1, min_rows_per_task);
  const size_t num_blocks = (m + block - 1) / block;
  auto run = [&](size_t begin_block, size_t end_block) {
    Int8Scratch scratch;
    const size_t begin = begin_block * block;
    const size_t end = std::min(m, end_block * block);
    Int8Linear(x + begin * w.cols(), end - begin, w, bias, y + begin * w.rows(), scratch);
  };
  if (pool == nullptr || num_blocks <= 1) {
    run(0, num_blocks);
    return;
  }
  pool->ParallelFor(num_blocks, run);
}

std::string_view ActiveInt8KernelName() { return internal::Int8KernelName(internal::ActiveInt8Kernel()); }

}  // namespace ragline::embed
