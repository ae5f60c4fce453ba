// Int8 GEMM for the reduced-precision (Precision::kInt8) dense layers of the
// BERT encoder: Y (m × n) = X (m × k) · Wᵀ + bias, with W in PyTorch Linear
// layout (n × k, row-major) and X, Y, bias in fp32.
//
// Quantisation scheme (identical on every code path, so results do not depend
// on the CPU):
//   - W: symmetric per output row, 7-bit: q = round(w / s), s = max|w| / 63,
//     q in [-63, 63]. Seven bits, not eight, because AVX2's vpmaddubsw adds two
//     u8 × s8 products into a saturating s16: 2 · 255 · 63 = 32130 fits,
//     2 · 255 · 127 does not.
//   - X: asymmetric per row, 8-bit: q = clamp(round(x / s) + z, 0, 255) over
//     the row's range widened to include 0. Asymmetric, because the inputs of
//     the FFN output layer are GELU outputs (≥ -0.17, long positive tail): a
//     symmetric scale would waste almost one bit there. The zero point costs
//     nothing extra: Σ (qx - z) qw = Σ qx qw - z · Σ qw, with Σ qw precomputed.
//   - Σ qx qw accumulates exactly in int32 (|·| ≤ 255 · 63 · k, fine for any
//     k < 130,000); Y = s_x · s_w · (acc - z · Σ qw) + bias in fp32.
//
// Accuracy (int8_gemm_test.cc, MiniLM-like data: W ~ N(0, 0.05)): relative
// Frobenius error vs fp32 sgemm ≈ 0.026 for LayerNorm-like X with outlier
// dimensions (activation rounding dominates: the outliers set the row scale),
// ≈ 0.017 for GELU-output X (weight rounding dominates); the test bounds it at
// 0.035. Measured alternatives on the same data (LayerNorm / GELU input):
// u7 activations + s8 weights 0.045 / 0.014; symmetric s8 activations + s7
// weights 0.029 / 0.020; s8 × s8 via vpmaddwd on s16 0.026 / 0.014.
//
// Kernels: AVX2 (vpmaddubsw + vpmaddwd + vpaddd, 4 × 16 register tiles),
// AVX-512 VNNI on zmm (vpdpbusd, 12 × 32 tiles: one 64-byte weight group is
// one register; Cascade Lake, Ice Lake, Sapphire Rapids, Zen 4), the same on
// ymm (kept for comparison; half the zmm kernel's speed on a Xeon of family 6
// model 167) and a scalar reference, chosen once at first use. RAGLINE_SIMD=scalar|avx2 in the
// environment caps the level, as for the distance kernels. All SIMD paths are
// bit-identical to the scalar reference.
//
// Threading: Int8Linear is single-threaded and starts no threads. Rows are
// independent: the caller parallelises by calling it on disjoint row ranges
// (x + begin * k, y + begin * n) from different threads, each with its own
// Int8Scratch (see Int8LinearParallel).
//
// Thread safety: QuantizedMatrix is immutable after Quantize() and may be
// shared by any number of threads. An Int8Scratch must not be used by two
// calls at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/thread_pool.h"

namespace ragline::embed {

// W (n × k), quantised once at load time and packed for the kernels.
class QuantizedMatrix {
 public:
  // Output columns per packed panel; also the column width of a kernel tile.
  static constexpr size_t kPanelCols = 16;
  // Consecutive k values one 32-bit lane of a kernel accumulator sums.
  static constexpr size_t kGroup = 4;
  // Largest |q| of a quantised weight (7 bits, see the file comment).
  static constexpr int kMaxWeight = 63;

  QuantizedMatrix() = default;

  // Quantises `w`: rows × cols fp32, row-major, in PyTorch Linear layout
  // (rows = output features n, cols = input features k). `w` is not retained.
  static QuantizedMatrix Quantize(const float* w, size_t rows, size_t cols);

  size_t rows() const { return rows_; }  // n
  size_t cols() const { return cols_; }  // k
  // cols() rounded up to a multiple of kGroup; the packed k extent.
  size_t padded_cols() const { return padded_cols_; }
  size_t num_panels() const { return (rows_ + kPanelCols - 1) / kPanelCols; }

  // Quantised weight (row, col) and the dequantisation scale of `row`.
  int8_t value(size_t row, size_t col) const;
  float scale(size_t row) const { return scales_[row]; }
  // Σ_col value(row, col).
  int32_t row_sum(size_t row) const { return row_sums_[row]; }

  // Packed layout, for the kernels: panel p holds rows [16p, 16p + 16) (zero
  // beyond rows()); within a panel, group g (cols [4g, 4g + 4)) is 64 bytes:
  // rows 16p..16p+7 then 16p+8..16p+15, 4 consecutive-col bytes per row.
  // Scales and row sums are padded with zeros to num_panels() · 16 entries.
  const int8_t* panel(size_t p) const { return packed_.data() + p * panel_bytes(); }
  size_t panel_bytes() const { return padded_cols_ * kPanelCols; }
  const float* scales() const { return scales_.data(); }
  const int32_t* row_sums() const { return row_sums_.data(); }

 private:
  size_t rows_ = 0;
  size_t cols_ = 0;
  size_t padded_cols_ = 0;
  std::vector<int8_t> packed_;
  std::vector<float> scales_;
  std::vector<int32_t> row_sums_;
};

// Reusable buffers for Int8Linear (quantised activations); grows to the
// largest m × k seen. One per thread.
struct Int8Scratch {
  std::vector<uint8_t> activations;  // m × w.padded_cols()
  std::vector<float> scales;         // m
  std::vector<int32_t> zero_points;  // m
};

// y (m × n, row-major) = x (m × k, row-major) · wᵀ + bias, where n = w.rows(),
// k = w.cols(). `bias` is n floats or null (no bias). `x` and `y` must not
// overlap. Inputs must be finite. m may be 0. Single-threaded.
void Int8Linear(const float* x, size_t m, const QuantizedMatrix& w, const float* bias, float* y,
                Int8Scratch& scratch);

// Int8Linear over `pool` (or on the calling thread when pool is null): rows
// are split into blocks of at least `min_rows_per_task`, each with its own
// scratch. Blocks only when the whole call is done.
void Int8LinearParallel(const float* x, size_t m, const QuantizedMatrix& w, const float* bias,
                        float* y, ThreadPool* pool, size_t min_rows_per_task = 64);

// The kernel Int8Linear runs on this CPU: "scalar", "avx2" or "avx512vnni".
std::string_view ActiveInt8KernelName();

}  // namespace ragline::embed
