// TopK: a bounded max-heap keeping the k closest candidates seen, and
// ExactTopK: the exact scan every index falls back to (and FLAT is).
//
// Thread safety: a TopK is used by one thread; ExactTopK is thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#include "index/vector_index.h"

namespace ragline::index {

class TopK {
 public:
  explicit TopK(size_t capacity) : capacity_(capacity) { heap_.reserve(capacity); }
  size_t size() const { return heap_.size(); }
  // Distance a new candidate must beat to get in.
  float threshold() const {
    return heap_.size() < capacity_ ? std::numeric_limits<float>::infinity() : heap_.front().distance;
  }
  void Push(float distance, Label label) {
    const Neighbor candidate{distance, label};
    if (heap_.size() < capacity_) {
      heap_.push_back(candidate);
      std::push_heap(heap_.begin(), heap_.end());
    } else if (capacity_ > 0 && candidate < heap_.front()) {
      std::pop_heap(heap_.begin(), heap_.end());
      heap_.back() = candidate;
      std::push_heap(heap_.begin(), heap_.end());
    }
  }
  // Closest first, ties by label.
  std::vector<Neighbor> TakeSorted() {
    std::sort_heap(heap_.begin(), heap_.end());
    return std::move(heap_);
  }

 private:
  size_t capacity_;
  std::vector<Neighbor> heap_;  // max-heap on (distance, label): front() is the worst kept
};

// The k rows of `data` (n × dim, row-major) closest to `query`, closest first,
// skipping rows `filter` rejects (null or empty = admit all).
std::vector<Neighbor> ExactTopK(Metric metric, const float* query, const float* data, size_t n, size_t dim,
                                size_t k, const LabelFilter* filter);

}  // namespace ragline::index
