// HnswIndex: hierarchical navigable small-world graph (Malkov & Yashunin).
//
// Thread safety: as VectorIndex.
#pragma once

#include <memory>

#include "index/vector_index.h"

namespace ragline::index {

std::unique_ptr<VectorIndex> MakeHnswIndex(size_t dim, Metric metric, const IndexParams& params);

}  // namespace ragline::index
