// IvfPqIndex: inverted file over k-means coarse clusters with product-quantised
// residual codes, searched with asymmetric distance lookup tables (ADC) and an
// exact re-rank over the caller's original vectors.
//
// Params used (IndexParams): nlist (0 = round(sqrt(n)), clamped to [1, n]),
// pq_m (0 = largest divisor of dim ≤ dim/8, e.g. 48 for 384; must divide dim,
// else Build returns InvalidArgument), nbits (4..8: 2^nbits centroids per
// sub-space, one byte per code), nprobe and rerank (search defaults; 0 rerank
// = 4k), seed (training is deterministic for a given seed, with or without a
// ThreadPool). Memory per row: pq_m code bytes + a 4-byte label; MemoryBytes()
// adds the centroids and codebooks, never the caller's rows. Returned
// distances are exact (re-ranked). Serialised form: docs/formats/ivf_pq.md.
//
// Thread safety: as VectorIndex. Build parallelises on `pool` with
// ThreadPool::ParallelFor (safe to call from a task on the same pool: the
// caller does the work that no idle worker picks up).
#pragma once

#include <memory>

#include "index/vector_index.h"

namespace ragline::index {

// Makes an empty IVF-PQ index; parameter errors surface from Build.
std::unique_ptr<VectorIndex> MakeIvfPqIndex(size_t dim, Metric metric, const IndexParams& params);

}  // namespace ragline::index
