// Fp32 GEMM for the BERT encoder: C = alpha · A · B with B packed once (the
// dense layers' weights, at load) or per call (attention's Kᵀ and V), on
// kernels of ragline's own with runtime dispatch, so that the encoder's speed
// does not depend on which BLAS build is installed or whether it knows the CPU.
// (Debian's OpenBLAS 0.3.21 runs its SSE3 "Prescott" kernels on Intel CPUs
// newer than it, 4× slower than the CPU allows; docs/BENCHMARKS.md.)
//
// Layout: B (k × n) is held in panels of 16 columns; panel p is k × 16 floats,
// k-major (the 16 values of one k are contiguous), zero past n, 64-byte
// aligned. A is read row-major and copied into the kernel's row strips per
// call (a block of at most kBlockRows × kBlockDepth floats).
//
// Kernels: AVX-512F (12 rows × 32 columns of zmm accumulators), AVX2 + FMA
// (6 × 16 of ymm) and a portable one (2 × 16 in GCC vector types, SSE2 on
// baseline x86-64), chosen once at first use; RAGLINE_SIMD=scalar|avx2 caps
// the level, as for the distance and int8 kernels. All of them sum each
// output over k in the same order; they differ only by FMA rounding.
//
// Thread safety: PackedMatrix is immutable after Pack() and may be shared by
// any number of threads. Fp32Gemm is single-threaded, starts no threads and
// keeps its A block in a thread-local buffer; callers split rows or panels.
#pragma once

#include <cstddef>
#include <new>
#include <string_view>
#include <vector>

namespace ragline::embed {

// std::allocator with 64-byte (cache line, one zmm) alignment.
template <typename T>
struct CacheAlignedAllocator {
  using value_type = T;
  CacheAlignedAllocator() = default;
  template <typename U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t{64}); }
  bool operator==(const CacheAlignedAllocator&) const { return true; }
};

// B (k × n), packed for Fp32Gemm.
class PackedMatrix {
 public:
  static constexpr size_t kPanelCols = 16;

  PackedMatrix() = default;

  // Packs B whose element (i, j) is b[i * row_stride + j * col_stride]:
  //   B = Wᵀ of a PyTorch Linear weight W (n × k, row-major): Pack(w, k, n, 1, k);
  //   B row-major with leading dimension ld:                  Pack(b, k, n, ld, 1).
  static PackedMatrix Pack(const float* b, size_t k, size_t n, size_t row_stride, size_t col_stride);
  // Pack() into this matrix, reusing its storage (per-call packing).
  void Repack(const float* b, size_t k, size_t n, size_t row_stride, size_t col_stride);

  size_t rows() const { return rows_; }  // k
  size_t cols() const { return cols_; }  // n
  size_t num_panels() const { return (cols_ + kPanelCols - 1) / kPanelCols; }
  float at(size_t i, size_t j) const { return panel(j / kPanelCols)[i * kPanelCols + j % kPanelCols]; }
  const float* panel(size_t p) const { return data_.data() + p * rows_ * kPanelCols; }
  // Bytes held (the packed panels, padding included).
  size_t bytes() const { return data_.size() * sizeof(float); }

 private:
  size_t rows_ = 0;
  size_t cols_ = 0;
  std::vector<float, CacheAlignedAllocator<float>> data_;
};

// Columns [col_begin, col_end) of C (m × b.cols(), row stride ldc) become
// alpha · A · B, where A is m × b.rows() with row stride lda. col_begin must
// be a multiple of PackedMatrix::kPanelCols and col_end ≤ b.cols(); m may be
// 0. C must not overlap A. Inputs must be finite.
void Fp32Gemm(const float* a, size_t lda, size_t m, const PackedMatrix& b, float alpha, float* c,
              size_t ldc, size_t col_begin, size_t col_end);

// C (m × b.cols()) = A · B.
inline void Fp32Gemm(const float* a, size_t lda, size_t m, const PackedMatrix& b, float* c, size_t ldc) {
  Fp32Gemm(a, lda, m, b, 1.0f, c, ldc, 0, b.cols());
}

// The kernel Fp32Gemm runs on this CPU: "scalar", "avx2" or "avx512".
std::string_view ActiveFp32KernelName();

}  // namespace ragline::embed
