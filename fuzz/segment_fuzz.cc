// The segment reader (store/segment.h, docs/formats/segment.md: vectors,
// row metadata, payloads, the HNSW graph, the lexical index), through a
// collection's recovery (collection_fuzz.h). Input: a segment file without
// its trailing checksum, which is appended before the file is written, so
// the fuzzer reaches the sections behind it rather than stopping at
// "checksum mismatch". A damaged segment must be quarantined (the
// collection opens degraded) or refused, never crash the process.
#include <cstdint>
#include <cstring>
#include <string>

#include "collection_fuzz.h"
#include "core/crc32c.h"

namespace {

const std::string& SegmentPath() {
  static const std::string path = fuzz::FixtureFile("segments", ".seg");
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string file = fuzz::ReadFile(SegmentPath());
  fuzz::MaybeWriteSeed(file.substr(0, file.size() - 4));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string file(reinterpret_cast<const char*>(data), size);
  const uint32_t crc = ragline::crc32c::Mask(ragline::crc32c::Value(file));
  file.append(reinterpret_cast<const char*>(&crc), 4);
  fuzz::WriteFile(SegmentPath(), file);
  fuzz::OpenAndUse(/*salvage=*/false);
  return 0;
}
