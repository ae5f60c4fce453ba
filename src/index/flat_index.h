// FlatIndex: exact top-k by scanning every row. The reference the ANN indexes
// are measured against, and the search path of growing segments.
//
// Thread safety: as VectorIndex.
#pragma once

#include <memory>

#include "index/vector_index.h"

namespace ragline::index {

std::unique_ptr<VectorIndex> MakeFlatIndex(size_t dim, Metric metric);

}  // namespace ragline::index
