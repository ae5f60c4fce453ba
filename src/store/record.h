// Record: what a collection stores, and its binary codec (used by the WAL and
// segment files; layout in docs/formats/wal.md).
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <map>
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
// record, or one kPositionedBatch when it carries source positions; kUpsert
// and kDelete are still read (logs written before it).
enum class RecordType : uint8_t { kUpsert = 1, kDelete = 2, kBatch = 3, kPositionedBatch = 4 };

// How far a collection has consumed outside sources: a key per source (for
// Kafka "topic/partition") → the next position to read there (for Kafka the
// next offset). A write that carries positions is applied with them
// atomically, so the data and the positions it covers are durable together
// (exactly once into the store). Positions only move forward: merging keeps
// the larger value per key.
using SourcePositions = std::map<std::string, uint64_t>;
// Raises each of `into`'s positions to `from`'s where that is larger.
void MergePositions(const SourcePositions& from, SourcePositions* into);

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
  SourcePositions positions;  // kPositionedBatch only
};
void EncodeBatch(std::span<const DeleteEntry> deletes, std::span<const Record* const> upserts,
                 std::string* out);
Result<BatchEntry> DecodeBatch(std::string_view bytes);

// PositionedBatch: a Batch and the source positions it covers, one record.
// [u32 len][batch] [u32 n_positions] n_positions × ([u32 len][key][u64 position])
void EncodePositionedBatch(std::string_view batch, const SourcePositions& positions, std::string* out);
Result<BatchEntry> DecodePositionedBatch(std::string_view bytes);

}  // namespace ragline::store
