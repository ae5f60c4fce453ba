#include "store/record.h"

#include <cstring>

#include "core/strings.h"

namespace ragline::store {
namespace {

// Little-endian fixed-width helpers (x86-64 and aarch64 are little-endian;
// the format says so explicitly).
template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  template <typename T>
  bool Get(T* v) {
    if (b_.size() < sizeof(T)) return false;
    std::memcpy(v, b_.data(), sizeof(T));
    b_.remove_prefix(sizeof(T));
    return true;
  }
  bool GetBytes(size_t n, std::string_view* v) {
    if (b_.size() < n) return false;
    *v = b_.substr(0, n);
    b_.remove_prefix(n);
    return true;
  }
  bool GetString(std::string* s) {
    uint32_t n;
    std::string_view v;
    if (!Get(&n) || !GetBytes(n, &v)) return false;
    s->assign(v);
    return true;
  }
  bool done() const { return b_.empty(); }

 private:
  std::string_view b_;
};

Status Corrupt(std::string_view what) {
  return absl::DataLossError(StrCat("corrupt record: ", what));
}

}  // namespace

void EncodeUpsert(const Record& record, std::string* out) {
  Put<uint32_t>(out, static_cast<uint32_t>(record.id.size()));
  out->append(record.id);
  Put<uint64_t>(out, record.version);
  Put<uint32_t>(out, static_cast<uint32_t>(record.vector.size()));
  out->append(reinterpret_cast<const char*>(record.vector.data()), record.vector.size() * sizeof(float));
  Put<uint32_t>(out, static_cast<uint32_t>(record.payload.size()));
  out->append(record.payload);
}

void EncodeDelete(std::string_view id, uint64_t version, std::string* out) {
  Put<uint32_t>(out, static_cast<uint32_t>(id.size()));
  out->append(id);
  Put<uint64_t>(out, version);
}

Result<Record> DecodeUpsert(std::string_view bytes) {
  Reader r(bytes);
  Record rec;
  uint32_t dim;
  std::string_view floats;
  if (!r.GetString(&rec.id)) return Corrupt("upsert id");
  if (!r.Get(&rec.version)) return Corrupt("upsert version");
  if (!r.Get(&dim) || !r.GetBytes(size_t{dim} * sizeof(float), &floats)) return Corrupt("upsert vector");
  rec.vector.resize(dim);
  if (!floats.empty()) std::memcpy(rec.vector.data(), floats.data(), floats.size());
  if (!r.GetString(&rec.payload)) return Corrupt("upsert payload");
  if (!r.done()) return Corrupt("trailing bytes after upsert");
  return rec;
}

Result<DeleteEntry> DecodeDelete(std::string_view bytes) {
  Reader r(bytes);
  DeleteEntry d;
  if (!r.GetString(&d.id)) return Corrupt("delete id");
  if (!r.Get(&d.version)) return Corrupt("delete version");
  if (!r.done()) return Corrupt("trailing bytes after delete");
  return d;
}

}  // namespace ragline::store
