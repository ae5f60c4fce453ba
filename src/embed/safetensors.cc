#include "embed/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/strings.h"

namespace ragline::embed {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace {

// Headers of real models are tens of KB; anything beyond this is corruption.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

struct DTypeEntry {
  const char* name;
  SafetensorsDType dtype;
  size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {"F64", SafetensorsDType::kF64, 8}, {"F32", SafetensorsDType::kF32, 4},
    {"F16", SafetensorsDType::kF16, 2}, {"BF16", SafetensorsDType::kBF16, 2},
    {"I64", SafetensorsDType::kI64, 8}, {"I32", SafetensorsDType::kI32, 4},
    {"I16", SafetensorsDType::kI16, 2}, {"I8", SafetensorsDType::kI8, 1},
    {"U8", SafetensorsDType::kU8, 1},   {"BOOL", SafetensorsDType::kBool, 1},
};

std::string ShapeString(std::span<const size_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += StrCat(i ? "," : "", shape[i]);
  return s + "]";
}

}  // namespace

const char* SafetensorsDTypeName(SafetensorsDType dtype) {
  for (const auto& e : kDTypes)
    if (e.dtype == dtype) return e.name;
  return "?";
}

size_t SafetensorsDTypeSize(SafetensorsDType dtype) {
  for (const auto& e : kDTypes)
    if (e.dtype == dtype) return e.size;
  return 0;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {  // inf / nan
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {  // normal
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {  // zero
    bits = sign;
  } else {  // subnormal: renormalise
    exp = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

float BFloat16ToFloat(uint16_t bits) { return std::bit_cast<float>(uint32_t{bits} << 16); }

struct SafetensorsFile::Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr != nullptr) munmap(addr, size);
  }
  const std::byte* bytes() const { return static_cast<const std::byte*>(addr); }
};

SafetensorsFile::SafetensorsFile(std::filesystem::path path, std::unique_ptr<Mapping> mapping)
    : path_(std::move(path)), mapping_(std::move(mapping)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

Result<SafetensorsFile> SafetensorsFile::Open(const std::filesystem::path& path) {
  const std::string file = path.string();
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string msg = StrCat(file, ": cannot open: ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg) : absl::InternalError(msg);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::InternalError(StrCat(file, ": fstat: ", std::strerror(err)));
  }
  const size_t file_size = static_cast<size_t>(st.st_size);
  auto mapping = std::make_unique<Mapping>();
  if (file_size > 0) {
    void* addr = mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return absl::InternalError(StrCat(file, ": mmap: ", std::strerror(err)));
    }
    mapping->addr = addr;
    mapping->size = file_size;
  }
  ::close(fd);

  if (file_size < 8) {
    return absl::DataLossError(
        StrCat(file, ": truncated: file has ", file_size, " bytes, the header length alone takes 8"));
  }
  uint64_t header_len;
  std::memcpy(&header_len, mapping->bytes(), 8);
  if (header_len > kMaxHeaderBytes) {
    return absl::DataLossError(
        StrCat(file, ": header length ", header_len, " bytes is implausible (limit ", kMaxHeaderBytes, ")"));
  }
  if (8 + header_len > file_size) {
    return absl::DataLossError(
        StrCat(file, ": truncated: header says ", header_len, " bytes, file has ", file_size));
  }
  const size_t data_begin = 8 + header_len;
  const size_t data_size = file_size - data_begin;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(mapping->bytes() + 8),
                                   reinterpret_cast<const char*>(mapping->bytes() + data_begin));
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(StrCat(file, ": bad JSON header: ", e.what()));
  }
  if (!header.is_object()) return absl::DataLossError(StrCat(file, ": JSON header is not an object"));

  SafetensorsFile result(path, std::move(mapping));
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return absl::DataLossError(StrCat(file, ": __metadata__ is not an object"));
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          return absl::DataLossError(StrCat(file, ": __metadata__ value of '", key, "' is not a string"));
        }
        result.metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string where = StrCat(file, ": tensor '", name, "'");
    if (!entry.is_object() || !entry.contains("dtype") || !entry["dtype"].is_string() ||
        !entry.contains("shape") || !entry["shape"].is_array() || !entry.contains("data_offsets") ||
        !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2) {
      return absl::DataLossError(
          StrCat(where, ": entry needs dtype (string), shape (array) and ", "data_offsets ([begin, end])"));
    }
    SafetensorsTensor tensor;
    const std::string dtype = entry["dtype"].get<std::string>();
    size_t elem_size = 0;
    for (const auto& e : kDTypes) {
      if (dtype == e.name) {
        tensor.dtype = e.dtype;
        elem_size = e.size;
      }
    }
    if (elem_size == 0) return absl::DataLossError(StrCat(where, ": unknown dtype '", dtype, "'"));
    size_t count = 1;
    for (const auto& dim : entry["shape"]) {
      if (!dim.is_number_unsigned()) {
        return absl::DataLossError(StrCat(where, ": shape has a non-integer or negative dimension"));
      }
      const uint64_t d = dim.get<uint64_t>();
      if (d != 0 && count > std::numeric_limits<size_t>::max() / elem_size / d) {
        return absl::DataLossError(StrCat(where, ": shape overflows"));
      }
      count *= d;
      tensor.shape.push_back(d);
    }
    tensor.num_elements = count;
    const auto& offsets = entry["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
      return absl::DataLossError(StrCat(where, ": data_offsets are not non-negative integers"));
    }
    const uint64_t begin = offsets[0].get<uint64_t>();
    const uint64_t end = offsets[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return absl::DataLossError(StrCat(where, ": data_offsets [", begin, ", ", end,
                                        "] lie outside the data section (", data_size, " bytes)"));
    }
    if (end - begin != count * elem_size) {
      return absl::DataLossError(StrCat(where, ": ", end - begin, " bytes of data for ", dtype, " shape ",
                                        ShapeString(tensor.shape), " (expected ", count * elem_size, ")"));
    }
    tensor.data = {result.mapping_->bytes() + data_begin + begin, static_cast<size_t>(end - begin)};
    result.tensors_.emplace(name, std::move(tensor));
  }
  return result;
}

Result<std::vector<float>> SafetensorsFile::ReadFloat32(const std::string& name,
                                                        std::span<const size_t> expected_shape) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(StrCat(path_.string(), ": tensor '", name, "' is missing"));
  }
  const SafetensorsTensor& t = it->second;
  if (!std::equal(t.shape.begin(), t.shape.end(), expected_shape.begin(), expected_shape.end())) {
    return absl::InvalidArgumentError(StrCat(path_.string(), ": tensor '", name, "' has shape ",
                                             ShapeString(t.shape), ", expected ",
                                             ShapeString(expected_shape)));
  }
  std::vector<float> out(t.num_elements);
  const std::byte* src = t.data.data();
  switch (t.dtype) {
    case SafetensorsDType::kF32:
      if (!out.empty()) std::memcpy(out.data(), src, out.size() * sizeof(float));
      break;
    case SafetensorsDType::kF16:
    case SafetensorsDType::kBF16:
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        out[i] = t.dtype == SafetensorsDType::kF16 ? HalfToFloat(bits) : BFloat16ToFloat(bits);
      }
      break;
    default:
      return absl::InvalidArgumentError(StrCat(path_.string(), ": tensor '", name, "' has dtype ",
                                               SafetensorsDTypeName(t.dtype), ", expected F32, F16 or BF16"));
  }
  return out;
}

}  // namespace ragline::embed
