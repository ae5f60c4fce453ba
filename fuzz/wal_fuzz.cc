// The WAL reader and the record codec behind it (store/wal.h, store/record.h,
// docs/formats/wal.md), through a collection's recovery (collection_fuzz.h).
// Input: one flags byte, then the bytes of the collection's last WAL file.
// Flags bit 0: salvage open (ragline check); bit 1: keep the checksums as
// given. Otherwise each record header's checksum is recomputed before the
// file is written, so the fuzzer reaches the lengths, types, LSNs and
// payloads behind it rather than stopping at "checksum mismatch".
#include <cstdint>
#include <cstring>
#include <string>

#include "collection_fuzz.h"
#include "core/crc32c.h"

namespace {

constexpr size_t kHeaderSize = 17;  // crc u32, length u32, type u8, lsn u64

void FixChecksums(std::string& file) {
  size_t offset = 0;
  while (file.size() - offset >= kHeaderSize) {
    uint32_t length;
    std::memcpy(&length, file.data() + offset + 4, 4);
    if (length > file.size() - offset - kHeaderSize) return;
    const uint32_t crc = ragline::crc32c::Mask(
        ragline::crc32c::Value(std::string_view(file.data() + offset + 4, kHeaderSize - 4 + length)));
    std::memcpy(file.data() + offset, &crc, 4);
    offset += kHeaderSize + length;
  }
}

const std::string& WalPath() {
  static const std::string path = fuzz::FixtureFile("wal", ".log");
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::MaybeWriteSeed(std::string(1, '\0') + fuzz::ReadFile(WalPath()));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((flags & 2) == 0) FixChecksums(file);
  fuzz::WriteFile(WalPath(), file);
  fuzz::OpenAndUse(/*salvage=*/(flags & 1) != 0);
  return 0;
}
