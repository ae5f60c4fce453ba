// Per-level entry points into the distance kernels, for tests and benchmarks
// that compare every SIMD level against the scalar reference. Production code
// calls the dispatched functions in distance.h instead.
//
// Thread safety: all functions are pure and thread-safe.
#pragma once

#include <cstddef>

#include "index/distance.h"

namespace ragline::index::internal {

// True when this CPU can run `level`'s kernels.
bool CpuSupports(SimdLevel level);

// Runs `level`'s kernel directly. The caller checks CpuSupports(level) first:
// running an unsupported level is an illegal instruction.
float L2SqrAt(SimdLevel level, const float* a, const float* b, size_t dim);
float DotAt(SimdLevel level, const float* a, const float* b, size_t dim);

}  // namespace ragline::index::internal
