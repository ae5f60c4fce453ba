// IvfPqIndex: inverted file over k-means coarse clusters with product-quantised
// residual codes, searched with asymmetric distance lookup tables (ADC) and an
// optional exact re-rank over the original vectors.
//
// Thread safety: as VectorIndex.
#pragma once

#include <memory>

#include "index/vector_index.h"

namespace ragline::index {

std::unique_ptr<VectorIndex> MakeIvfPqIndex(size_t dim, Metric metric, const IndexParams& params);

}  // namespace ragline::index
