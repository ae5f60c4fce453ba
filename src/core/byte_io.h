// ByteWriter / ByteReader: little helpers for ragline's binary formats (WAL
// record bodies, segment files, index serialisations).
//
// Values are written in the host's byte order (every supported target is
// little-endian x86-64). ByteReader never reads past the end of its input:
// every read returns false instead, so callers turn truncation into DataLoss.
//
// Thread safety: instances are not shared between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace ragline {

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  void Bytes(const void* p, size_t size) { out_->append(static_cast<const char*>(p), size); }
  void U32(uint32_t v) { Bytes(&v, sizeof(v)); }
  void U64(uint64_t v) { Bytes(&v, sizeof(v)); }
  void F32(float v) { Bytes(&v, sizeof(v)); }
  template <typename T>
  void Array(const T* p, size_t count) {
    static_assert(std::is_trivially_copyable_v<T>);
    Bytes(p, count * sizeof(T));
  }
  // u32 length, then the bytes.
  void String(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    Bytes(s.data(), s.size());
  }
  size_t size() const { return out_->size(); }

 private:
  std::string* out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  [[nodiscard]] bool Bytes(void* p, size_t size) {
    if (size > in_.size() - pos_) return false;
    if (size > 0) std::memcpy(p, in_.data() + pos_, size);
    pos_ += size;
    return true;
  }
  [[nodiscard]] bool U32(uint32_t* v) { return Bytes(v, sizeof(*v)); }
  [[nodiscard]] bool U64(uint64_t* v) { return Bytes(v, sizeof(*v)); }
  [[nodiscard]] bool F32(float* v) { return Bytes(v, sizeof(*v)); }
  // Reads `count` elements; false (reading nothing) when fewer bytes remain,
  // including when count * sizeof(T) would overflow.
  template <typename T>
  [[nodiscard]] bool Array(T* p, size_t count) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (count > remaining() / sizeof(T)) return false;
    return Bytes(p, count * sizeof(T));
  }
  // Reads a String() as a view into the input.
  [[nodiscard]] bool String(std::string_view* s) {
    uint32_t n;
    if (!U32(&n) || n > remaining()) return false;
    *s = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  // Views the next `size` bytes without copying.
  [[nodiscard]] bool View(size_t size, std::string_view* s) {
    if (size > remaining()) return false;
    *s = in_.substr(pos_, size);
    pos_ += size;
    return true;
  }
  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

// 64-bit checksum of a byte range (word-at-a-time multiply/xor mix; detects
// torn or flipped bytes, not adversaries).
inline uint64_t Checksum64(const char* p, size_t size) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ size;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ (w * 0xBF58476D1CE4E5B9ull)) * 0x94D049BB133111EBull;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  if (i < size) std::memcpy(&tail, p + i, size - i);
  h = (h ^ (tail * 0xBF58476D1CE4E5B9ull)) * 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

}  // namespace ragline
