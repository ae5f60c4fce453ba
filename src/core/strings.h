// StrCat: concatenates strings, string_views, characters and numbers.
//
// Debian's abseil (20220623) keeps its own absl::string_view, so absl::StrCat
// does not take std::string_view; this small helper does, and is what ragline
// code uses for messages.
//
// Thread safety: pure functions.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

namespace ragline {
namespace strings_internal {

inline void Append(std::string* out, std::string_view s) { out->append(s); }
inline void Append(std::string* out, const char* s) { out->append(s); }
inline void Append(std::string* out, const std::string& s) { out->append(s); }
inline void Append(std::string* out, char c) { out->push_back(c); }
inline void Append(std::string* out, bool b) { out->append(b ? "true" : "false"); }
template <typename T>
requires(std::integral<T> || std::floating_point<T>) void Append(std::string* out, T v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr);
}

}  // namespace strings_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (strings_internal::Append(&out, args), ...);
  return out;
}

// FNV-1a, 64 bits: ragline's one non-cryptographic string hash (content
// hashes, document partitions, term hashes). Its values are persisted and
// travel between processes: never change it.
inline uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace ragline
