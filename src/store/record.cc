#include "store/record.h"

#include <algorithm>
#include <cstring>

#include "core/byte_io.h"
#include "core/strings.h"

namespace ragline::store {
namespace {

Status Corrupt(std::string_view what) { return absl::DataLossError(StrCat("corrupt record: ", what)); }

}  // namespace

void EncodeUpsert(const Record& record, std::string* out) {
  ByteWriter w(out);
  w.String(record.id);
  w.U64(record.version);
  w.U32(static_cast<uint32_t>(record.vector.size()));
  w.Array(record.vector.data(), record.vector.size());
  w.String(record.payload);
}

void EncodeDelete(std::string_view id, uint64_t version, std::string* out) {
  ByteWriter w(out);
  w.String(id);
  w.U64(version);
}

Result<Record> DecodeUpsert(std::string_view bytes) {
  ByteReader r(bytes);
  Record rec;
  std::string_view id, payload;
  uint32_t dim;
  if (!r.String(&id)) return Corrupt("upsert id");
  if (!r.U64(&rec.version)) return Corrupt("upsert version");
  if (!r.U32(&dim) || dim > r.remaining() / sizeof(float)) return Corrupt("upsert vector");
  rec.vector.resize(dim);
  if (!r.Array(rec.vector.data(), dim)) return Corrupt("upsert vector");
  if (!r.String(&payload)) return Corrupt("upsert payload");
  if (!r.AtEnd()) return Corrupt("trailing bytes after upsert");
  rec.id.assign(id);
  rec.payload.assign(payload);
  return rec;
}

Result<DeleteEntry> DecodeDelete(std::string_view bytes) {
  ByteReader r(bytes);
  std::string_view id;
  DeleteEntry d;
  if (!r.String(&id)) return Corrupt("delete id");
  if (!r.U64(&d.version)) return Corrupt("delete version");
  if (!r.AtEnd()) return Corrupt("trailing bytes after delete");
  d.id.assign(id);
  return d;
}

void EncodeBatch(std::span<const DeleteEntry> deletes, std::span<const Record* const> upserts,
                 std::string* out) {
  std::string part;
  ByteWriter w(out);
  w.U32(static_cast<uint32_t>(deletes.size()));
  for (const DeleteEntry& d : deletes) {
    part.clear();
    EncodeDelete(d.id, d.version, &part);
    w.String(part);
  }
  w.U32(static_cast<uint32_t>(upserts.size()));
  for (const Record* r : upserts) {
    part.clear();
    EncodeUpsert(*r, &part);
    w.String(part);
  }
}

Result<BatchEntry> DecodeBatch(std::string_view bytes) {
  ByteReader r(bytes);
  BatchEntry batch;
  uint32_t n = 0;
  std::string_view part;
  if (!r.U32(&n) || n > r.remaining()) return Corrupt("batch delete count");
  batch.deletes.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (!r.String(&part)) return Corrupt("batch delete");
    ASSIGN_OR_RETURN(DeleteEntry d, DecodeDelete(part));
    batch.deletes.push_back(std::move(d));
  }
  if (!r.U32(&n) || n > r.remaining()) return Corrupt("batch upsert count");
  batch.upserts.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (!r.String(&part)) return Corrupt("batch upsert");
    ASSIGN_OR_RETURN(Record rec, DecodeUpsert(part));
    batch.upserts.push_back(std::move(rec));
  }
  if (!r.AtEnd()) return Corrupt("trailing bytes after batch");
  return batch;
}

void MergePositions(const SourcePositions& from, SourcePositions* into) {
  for (const auto& [key, position] : from) {
    auto [it, inserted] = into->emplace(key, position);
    if (!inserted) it->second = std::max(it->second, position);
  }
}

void EncodePositionedBatch(std::string_view batch, const SourcePositions& positions, std::string* out) {
  ByteWriter w(out);
  w.String(batch);
  w.U32(static_cast<uint32_t>(positions.size()));
  for (const auto& [key, position] : positions) {
    w.String(key);
    w.U64(position);
  }
}

Result<BatchEntry> DecodePositionedBatch(std::string_view bytes) {
  ByteReader r(bytes);
  std::string_view batch_bytes, key;
  if (!r.String(&batch_bytes)) return Corrupt("positioned batch");
  ASSIGN_OR_RETURN(BatchEntry batch, DecodeBatch(batch_bytes));
  uint32_t n = 0;
  if (!r.U32(&n) || n > r.remaining()) return Corrupt("batch position count");
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t position = 0;
    if (!r.String(&key) || !r.U64(&position)) return Corrupt("batch position");
    batch.positions[std::string(key)] = position;
  }
  if (!r.AtEnd()) return Corrupt("trailing bytes after positioned batch");
  return batch;
}

}  // namespace ragline::store
