#include "store/record.h"

#include <cstring>

#include "core/byte_io.h"
#include "core/strings.h"

namespace ragline::store {
namespace {

Status Corrupt(std::string_view what) {
  return absl::DataLossError(StrCat("corrupt record: ", what));
}

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

}  // namespace ragline::store
