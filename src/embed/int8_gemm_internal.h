// Per-kernel entry points into the int8 GEMM, for tests and benchmarks that
// compare every kernel against the scalar reference. Production code calls
// Int8Linear (int8_gemm.h) instead.
//
// Thread safety: as Int8Linear.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "embed/int8_gemm.h"

namespace ragline::embed::internal {

// kAvx512Vnni runs vpdpbusd on ymm (AVX-512 VL); kAvx512VnniZmm on zmm, with
// 12 × 32 tiles (the one chosen where the CPU has AVX-512 VNNI).
enum class Int8Kernel { kScalar, kAvx2, kAvx512Vnni, kAvx512VnniZmm };

std::string_view Int8KernelName(Int8Kernel kernel);

// True when this CPU can run `kernel`.
bool CpuSupports(Int8Kernel kernel);

// The kernel Int8Linear uses (best supported, capped by RAGLINE_SIMD).
Int8Kernel ActiveInt8Kernel();

// Quantises one activation row of k floats into q (k bytes; the caller's
// padding past k is left alone) and returns its scale and zero point, exactly
// as every kernel does.
void QuantizeActivationRow(const float* x, size_t k, uint8_t* q, float* scale, int32_t* zero_point);

// Int8Linear on `kernel`. The caller checks CpuSupports(kernel) first:
// running an unsupported kernel is an illegal instruction.
void Int8LinearAt(Int8Kernel kernel, const float* x, size_t m, const QuantizedMatrix& w,
                  const float* bias, float* y, Int8Scratch& scratch);

}  // namespace ragline::embed::internal
