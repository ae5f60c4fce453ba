// SafetensorsFile: a read-only view of a .safetensors file (Hugging Face's
// weight format): an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {"k": "v", ...},
//    "name": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end]}, ...}
// and then the data section; offsets are relative to the start of the data
// section (byte 8 + N).
//
// Open() maps the file and validates the whole header up front: known dtype,
// every offset range inside the data section, and end - begin equal to
// product(shape) x dtype size. Errors name the file (and the tensor).
//
// Thread safety: immutable after Open(); all const methods may be called
// concurrently. The mapping lives as long as the SafetensorsFile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace ragline::embed {

enum class SafetensorsDType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "BF16", ... as written in the header.
const char* SafetensorsDTypeName(SafetensorsDType dtype);
// Bytes per element.
size_t SafetensorsDTypeSize(SafetensorsDType dtype);

struct SafetensorsTensor {
  SafetensorsDType dtype;
  std::vector<size_t> shape;
  size_t num_elements = 0;
  std::span<const std::byte> data;  // inside the mapping; not aligned in general
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. Fails with NotFound when the file does not
  // exist and DataLoss for a truncated or malformed file.
  static Result<SafetensorsFile> Open(const std::filesystem::path& path);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::filesystem::path& path() const { return path_; }
  // The "__metadata__" string map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::map<std::string, SafetensorsTensor>& tensors() const { return tensors_; }
  bool Contains(const std::string& name) const { return tensors_.count(name) != 0; }

  // Returns tensor `name` converted to float32 (from F32, F16 or BF16),
  // row-major, after checking that its shape equals `expected_shape`.
  // NotFound for a missing tensor; InvalidArgument for a wrong shape or a
  // non-float dtype. Messages read "<file>: tensor '<name>' ...".
  Result<std::vector<float>> ReadFloat32(const std::string& name,
                                         std::span<const size_t> expected_shape) const;

 private:
  struct Mapping;
  SafetensorsFile(std::filesystem::path path, std::unique_ptr<Mapping> mapping);

  std::filesystem::path path_;
  std::unique_ptr<Mapping> mapping_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, SafetensorsTensor> tensors_;
};

// IEEE half / bfloat16 bit patterns to float (exact).
float HalfToFloat(uint16_t bits);
float BFloat16ToFloat(uint16_t bits);

}  // namespace ragline::embed
