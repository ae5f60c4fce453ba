// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78): the
// checksum of every on-disk record (WAL, segments, manifests).
//
// Extend(crc, data) continues a running CRC, so Value(a + b) ==
// Extend(Value(a), b). A CRC stored next to data that is itself checksummed
// again (a record holding a CRC) should be stored in masked form (Mask), as
// leveldb does: the CRC of a string that embeds its own CRC is otherwise
// degenerate.
//
// The implementation uses the SSE4.2 crc32 instruction when the CPU has it
// (checked once at run time) and a slicing-by-8 table otherwise; both give
// identical results.
//
// Thread safety: pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ragline::crc32c {

// Returns the CRC-32C of `data` appended to a string whose CRC is `crc`.
uint32_t Extend(uint32_t crc, const char* data, size_t n);
inline uint32_t Extend(uint32_t crc, std::string_view data) {
  return Extend(crc, data.data(), data.size());
}

// Returns the CRC-32C of `data`.
inline uint32_t Value(std::string_view data) { return Extend(0, data); }

// The portable table-driven path, exposed so tests can compare it with the
// hardware path.
uint32_t ExtendPortable(uint32_t crc, const char* data, size_t n);
// True when Extend uses the SSE4.2 instruction on this CPU.
bool HardwareAccelerated();

inline constexpr uint32_t kMaskDelta = 0xa282ead8u;

// Returns a masked representation of `crc` for storage.
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }

// Returns the CRC whose masked representation is `masked_crc`.
inline uint32_t Unmask(uint32_t masked_crc) {
  uint32_t rot = masked_crc - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace ragline::crc32c
