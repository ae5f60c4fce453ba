// Matrix: a dense row-major float32 matrix (rows × cols) that owns its storage.
// Embeddings travel between modules as Matrix: row i is the vector of input i.
//
// Thread safety: like std::vector — concurrent const access is safe; writers
// need external synchronisation (distinct rows may be written concurrently).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace ragline {

class Matrix {
 public:
  Matrix() = default;
  // A zero-filled rows × cols matrix.
  Matrix(size_t rows, size_t cols) : rows_(rows), cols_(cols), data_(rows * cols, 0.0f) {}

  size_t rows() const { return rows_; }
  size_t cols() const { return cols_; }
  bool empty() const { return rows_ == 0; }

  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  std::span<float> row(size_t r) { return {data_.data() + r * cols_, cols_}; }
  std::span<const float> row(size_t r) const { return {data_.data() + r * cols_, cols_}; }

 private:
  size_t rows_ = 0;
  size_t cols_ = 0;
  std::vector<float> data_;
};

}  // namespace ragline
