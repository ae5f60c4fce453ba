// Record: what a collection stores, and its binary codec (used by the WAL and
// segment files; layout in docs/formats/wal.md).
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ragline::store {

struct Record {
  std::string id;
  uint64_t version = 0;
  std::vector<float> vector;  // dim floats
  std::string payload;        // a serialised JSON object ("{}" when empty)
};

// WAL record types.
enum class RecordType : uint8_t { kUpsert = 1, kDelete = 2 };

// Upsert: [u32 id_len][id][u64 version][u32 dim][dim × f32][u32 payload_len][payload]
// Delete: [u32 id_len][id][u64 version] (the version deleted)
void EncodeUpsert(const Record& record, std::string* out);
void EncodeDelete(std::string_view id, uint64_t version, std::string* out);
Result<Record> DecodeUpsert(std::string_view bytes);
struct DeleteEntry {
  std::string id;
  uint64_t version;
};
Result<DeleteEntry> DecodeDelete(std::string_view bytes);

}  // namespace ragline::store
