// Record: what a collection stores, and its binary codec (used by the WAL and
// segment files; layout in docs/formats/wal.md).
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <span>
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

// WAL record types. Every write since the atomic-batch change is one kBatch
// record; kUpsert and kDelete are still read (logs written before it).
enum class RecordType : uint8_t { kUpsert = 1, kDelete = 2, kBatch = 3 };

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

// Batch: one atomic write (Collection::Write), replayed whole or not at all.
// [u32 n_deletes] n_deletes × ([u32 len][delete])
// [u32 n_upserts] n_upserts × ([u32 len][upsert])
// Deletes apply before upserts; no id is in both.
struct BatchEntry {
  std::vector<DeleteEntry> deletes;
  std::vector<Record> upserts;
};
void EncodeBatch(std::span<const DeleteEntry> deletes, std::span<const Record* const> upserts,
                 std::string* out);
Result<BatchEntry> DecodeBatch(std::string_view bytes);

}  // namespace ragline::store
