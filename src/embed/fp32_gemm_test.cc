// Fp32 GEMM: every kernel this CPU runs against a double-precision reference
// on odd and encoder shapes, column ranges, alpha and accumulation over k
// blocks; the packed layout; and the kernel choice against CPUID itself.
#include "embed/fp32_gemm.h"

#include <cpuid.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <random>
#include <tuple>
#include <vector>

#include "embed/fp32_gemm_internal.h"
#include "gtest/gtest.h"

namespace ragline::embed {
namespace {

using internal::Fp32Kernel;

std::vector<float> Uniform(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

// Checks C[:, col_begin:col_end) = alpha · A · B against a double reference,
// within 1e-5 of Σ|a||b| per output (fp32 rounding of a k-term sum), and
// that every other element of C kept its sentinel.
void ExpectGemm(Fp32Kernel kernel, size_t m, size_t k, size_t n, size_t col_begin, size_t col_end, float alpha) {
  SCOPED_TRACE(testing::Message() << internal::Fp32KernelName(kernel) << " m=" << m << " k=" << k << " n=" << n
                                  << " cols=[" << col_begin << "," << col_end << ") alpha=" << alpha);
  const size_t lda = k + 3;  // strides wider than the data, as in attention
  const size_t ldc = n + 5;
  const std::vector<float> a = Uniform(m * lda, static_cast<uint32_t>(m * 31 + k));
  const std::vector<float> b = Uniform(k * n, static_cast<uint32_t>(k * 17 + n));
  const PackedMatrix packed = PackedMatrix::Pack(b.data(), k, n, n, 1);
  constexpr float kSentinel = -12345.0f;
  std::vector<float> c(m * ldc, kSentinel);
  internal::Fp32GemmAt(kernel, a.data(), lda, m, packed, alpha, c.data(), ldc, col_begin, col_end);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < ldc; ++j) {
      const float got = c[i * ldc + j];
      if (j < col_begin || j >= col_end) {
        ASSERT_EQ(got, kSentinel) << "wrote outside its columns at (" << i << ", " << j << ")";
        continue;
      }
      double want = 0.0, magnitude = 0.0;
      for (size_t kk = 0; kk < k; ++kk) {
        want += double{a[i * lda + kk]} * b[kk * n + j];
        magnitude += std::fabs(double{a[i * lda + kk]} * b[kk * n + j]);
      }
      ASSERT_NEAR(got, alpha * want, 1e-5 * std::fabs(alpha) * (magnitude + 1.0)) << "at (" << i << ", " << j << ")";
    }
  }
}

class Fp32KernelTest : public testing::TestWithParam<Fp32Kernel> {
 protected:
  void SetUp() override {
    if (!internal::CpuSupports(GetParam())) {
      GTEST_SKIP() << "this CPU cannot run the " << internal::Fp32KernelName(GetParam()) << " kernel";
    }
  }
};

TEST_P(Fp32KernelTest, MatchesTheReferenceOnOddShapes) {
  // Row counts around each strip height (4, 6, 12) and the 96-row block;
  // depths around the 256 block; widths around the 16- and 32-column tiles.
  for (size_t m : {1, 3, 5, 6, 7, 11, 12, 13, 95, 97}) {
    for (size_t k : {1, 2, 17, 255, 257, 600}) {
      for (size_t n : {1, 15, 16, 17, 31, 33, 48}) ExpectGemm(GetParam(), m, k, n, 0, n, 1.0f);
    }
  }
}

TEST_P(Fp32KernelTest, MatchesTheReferenceOnEncoderShapes) {
  // MiniLM: qkv 384 → 1152, attention output 384 → 384, FFN 384 → 1536 → 384;
  // attention per head: 32-deep scores and len-deep context.
  for (auto [m, k, n] : {std::tuple<size_t, size_t, size_t>{16, 384, 1152}, {200, 384, 384}, {130, 1536, 384},
                         {40, 384, 1536}, {77, 32, 77}, {77, 77, 32}}) {
    ExpectGemm(GetParam(), m, k, n, 0, n, 1.0f);
  }
}

TEST_P(Fp32KernelTest, WritesOnlyTheColumnsAskedForAndScalesByAlpha) {
  ExpectGemm(GetParam(), 29, 70, 100, 16, 100, 1.0f);
  ExpectGemm(GetParam(), 29, 70, 100, 32, 48, 0.25f);
  ExpectGemm(GetParam(), 29, 70, 100, 48, 90, -2.0f);
  ExpectGemm(GetParam(), 13, 300, 1152, 576, 1152, 0.17677669f);
}

TEST_P(Fp32KernelTest, ZeroRowsLeaveTheOutputAloneAndZeroDepthWritesZeros) {
  const std::vector<float> b;
  const PackedMatrix empty_depth = PackedMatrix::Pack(b.data(), 0, 20, 20, 1);
  std::vector<float> c(3 * 20, 7.0f);
  internal::Fp32GemmAt(GetParam(), nullptr, 0, 0, empty_depth, 1.0f, c.data(), 20, 0, 20);
  EXPECT_EQ(c, std::vector<float>(3 * 20, 7.0f));
  const std::vector<float> a(3, 1.0f);
  internal::Fp32GemmAt(GetParam(), a.data(), 1, 3, empty_depth, 1.0f, c.data(), 20, 0, 20);
  EXPECT_EQ(c, std::vector<float>(3 * 20, 0.0f));
}

INSTANTIATE_TEST_SUITE_P(Kernels, Fp32KernelTest,
                         testing::Values(Fp32Kernel::kScalar, Fp32Kernel::kAvx2, Fp32Kernel::kAvx512),
                         [](const testing::TestParamInfo<Fp32Kernel>& info) {
                           return std::string(internal::Fp32KernelName(info.param));
                         });

// Both SIMD kernels do one FMA per k in the same order, so they agree to the
// bit: the encoder's parity run on one of them covers the other.
TEST(Fp32KernelTest, Avx2AndAvx512AgreeBitForBit) {
  if (!internal::CpuSupports(Fp32Kernel::kAvx512)) GTEST_SKIP() << "this CPU has no AVX-512";
  for (auto [m, k, n] : {std::tuple<size_t, size_t, size_t>{16, 384, 1152}, {97, 1536, 384}, {13, 77, 45}}) {
    const std::vector<float> a = Uniform(m * k, 5);
    const std::vector<float> b = Uniform(k * n, 6);
    const PackedMatrix packed = PackedMatrix::Pack(b.data(), k, n, n, 1);
    std::vector<float> c2(m * n), c512(m * n);
    internal::Fp32GemmAt(Fp32Kernel::kAvx2, a.data(), k, m, packed, 0.5f, c2.data(), n, 0, n);
    internal::Fp32GemmAt(Fp32Kernel::kAvx512, a.data(), k, m, packed, 0.5f, c512.data(), n, 0, n);
    EXPECT_EQ(c2, c512) << "m=" << m << " k=" << k << " n=" << n;
  }
}

TEST(PackedMatrixTest, PacksBothLayoutsIntoZeroPaddedPanels) {
  const size_t k = 5, n = 21;
  const std::vector<float> w = Uniform(n * k, 3);  // PyTorch Linear layout: n × k
  const PackedMatrix from_linear = PackedMatrix::Pack(w.data(), k, n, 1, k);
  std::vector<float> row_major(k * n);  // the same B, row-major k × n
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < n; ++j) row_major[i * n + j] = w[j * k + i];
  const PackedMatrix from_rows = PackedMatrix::Pack(row_major.data(), k, n, n, 1);
  ASSERT_EQ(from_linear.rows(), k);
  ASSERT_EQ(from_linear.cols(), n);
  ASSERT_EQ(from_linear.num_panels(), 2u);
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = 0; j < n; ++j) {
      EXPECT_EQ(from_linear.at(i, j), w[j * k + i]);
      EXPECT_EQ(from_rows.at(i, j), w[j * k + i]);
    }
    for (size_t j = n; j < 32; ++j) EXPECT_EQ(from_linear.at(i, j), 0.0f) << "padding at " << j;
  }
  EXPECT_EQ(reinterpret_cast<uintptr_t>(from_linear.panel(0)) % 64, 0u);
  EXPECT_EQ(from_linear.bytes(), 2 * k * 16 * sizeof(float));
}

TEST(PackedMatrixTest, RepackReusesTheMatrixForANewShape) {
  PackedMatrix packed = PackedMatrix::Pack(Uniform(64 * 64, 1).data(), 64, 64, 64, 1);
  const std::vector<float> small = Uniform(3 * 2, 2);
  packed.Repack(small.data(), 3, 2, 2, 1);
  EXPECT_EQ(packed.rows(), 3u);
  EXPECT_EQ(packed.cols(), 2u);
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 2; ++j) EXPECT_EQ(packed.at(i, j), small[i * 2 + j]);
}

// What CPUID and XGETBV say, read here without the compiler's helpers that
// the kernel choice uses.
struct CpuidFeatures {
  bool avx2_fma = false;
  bool avx512f = false;
};

CpuidFeatures ReadCpuid() {
  CpuidFeatures f;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool fma = (ecx >> 12) & 1;
  const bool osxsave = (ecx >> 27) & 1;
  if (!osxsave) return f;
  uint32_t xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_state = (xcr0_lo & 0x6) == 0x6;
  const bool zmm_state = (xcr0_lo & 0xE6) == 0xE6;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
  f.avx2_fma = ymm_state && fma && ((ebx >> 5) & 1);
  f.avx512f = zmm_state && ((ebx >> 16) & 1);
  return f;
}

TEST(Fp32KernelChoiceTest, RunsTheWidestKernelCpuidReports) {
  const CpuidFeatures cpu = ReadCpuid();
  const Fp32Kernel want = cpu.avx512f ? Fp32Kernel::kAvx512 : cpu.avx2_fma ? Fp32Kernel::kAvx2 : Fp32Kernel::kScalar;
  EXPECT_EQ(internal::Fp32KernelName(internal::BestFp32Kernel()), internal::Fp32KernelName(want));
  const char* cap = std::getenv("RAGLINE_SIMD");
  if (cap == nullptr) {
    EXPECT_EQ(ActiveFp32KernelName(), internal::Fp32KernelName(want));
  }
  std::printf("fp32 kernel: %s (best on this CPU: %s)\n", std::string(ActiveFp32KernelName()).c_str(),
              std::string(internal::Fp32KernelName(want)).c_str());
}

}  // namespace
}  // namespace ragline::embed
