// Per-kernel entry points into the fp32 GEMM, for tests and benchmarks that
// compare every kernel. Production code calls Fp32Gemm (fp32_gemm.h).
//
// Thread safety: as Fp32Gemm.
#pragma once

#include <cstddef>
#include <string_view>

#include "embed/fp32_gemm.h"

namespace ragline::embed::internal {

enum class Fp32Kernel { kScalar, kAvx2, kAvx512 };

std::string_view Fp32KernelName(Fp32Kernel kernel);

// True when this CPU can run `kernel`.
bool CpuSupports(Fp32Kernel kernel);

// The best kernel this CPU supports, ignoring RAGLINE_SIMD.
Fp32Kernel BestFp32Kernel();

// The kernel Fp32Gemm uses (BestFp32Kernel capped by RAGLINE_SIMD).
Fp32Kernel ActiveFp32Kernel();

// Fp32Gemm on `kernel`. The caller checks CpuSupports(kernel) first: running
// an unsupported kernel is an illegal instruction.
void Fp32GemmAt(Fp32Kernel kernel, const float* a, size_t lda, size_t m, const PackedMatrix& b, float alpha,
                float* c, size_t ldc, size_t col_begin, size_t col_end);

}  // namespace ragline::embed::internal
