#include "store/segment.h"

#include <algorithm>
#include <cstring>

#include "core/strings.h"
#include "core/byte_io.h"
#include "core/crc32c.h"
#include "index/distance.h"
#include "index/top_k.h"

namespace ragline::store {

using index::Neighbor;

TombstoneBitmap::TombstoneBitmap(size_t capacity)
    : capacity_(capacity), words_(new std::atomic<uint64_t>[(capacity + 63) / 64]) {
  for (size_t i = 0; i < (capacity + 63) / 64; ++i) words_[i].store(0, std::memory_order_relaxed);
}

bool TombstoneBitmap::Kill(Row row) {
  const uint64_t bit = uint64_t{1} << (row & 63);
  const uint64_t before = words_[row >> 6].fetch_or(bit, std::memory_order_acq_rel);
  if (before & bit) return false;
  dead_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

std::vector<Neighbor> Segment::ExactSearch(const float* query, size_t k, size_t n,
                                           const PayloadFilter* filter) const {
  index::TopK top(k);
  for (Row row = 0; row < n; ++row) {
    if (!IsAlive(row) || (filter && !filter->Matches(meta(row).payload))) continue;
    top.Push(index::Distance(metric_, query, vector(row), dim_), row);
  }
  return top.TakeSorted();
}

// ---------------------------------------------------------------- growing

GrowingSegment::GrowingSegment(uint64_t id, size_t dim, index::Metric metric, size_t capacity)
    : Segment(id, dim, metric, capacity), chunks_((capacity + kChunkRows - 1) / kChunkRows) {}

Row GrowingSegment::Append(const float* vec, RowMeta meta) {
  const size_t row = count_.load(std::memory_order_relaxed);
  auto& chunk = chunks_[row / kChunkRows];
  if (!chunk) {
    chunk = std::make_unique<Chunk>();
    chunk->vectors.resize(kChunkRows * dim_);
  }
  const size_t slot = row % kChunkRows;
  std::memcpy(chunk->vectors.data() + slot * dim_, vec, dim_ * sizeof(float));
  chunk->meta[slot] = std::move(meta);
  count_.store(row + 1, std::memory_order_release);  // publish
  return static_cast<Row>(row);
}

const float* GrowingSegment::vector(Row row) const {
  return chunks_[row / kChunkRows]->vectors.data() + (row % kChunkRows) * dim_;
}

const RowMeta& GrowingSegment::meta(Row row) const { return chunks_[row / kChunkRows]->meta[row % kChunkRows]; }

size_t GrowingSegment::MemoryBytes() const {
  size_t bytes = capacity() / 8;
  for (const auto& c : chunks_) {
    if (c) bytes += sizeof(Chunk) + c->vectors.size() * sizeof(float);
  }
  const size_t n = size();
  for (Row r = 0; r < n; ++r) bytes += meta(r).id.size() + meta(r).payload.size() * 32;
  return bytes;
}

std::vector<Neighbor> GrowingSegment::Search(const float* query, size_t k, const index::SearchOptions&,
                                             const PayloadFilter* filter) const {
  return ExactSearch(query, k, size(), filter);
}

// ---------------------------------------------------------------- sealed

SealedSegment::SealedSegment(uint64_t id, size_t dim, index::Metric metric, std::vector<float> vectors,
                             std::vector<RowMeta> metas)
    : Segment(id, dim, metric, metas.size()), vectors_(std::move(vectors)), metas_(std::move(metas)) {}

Result<std::shared_ptr<SealedSegment>> SealedSegment::Build(uint64_t id, size_t dim, index::Metric metric,
                                                            index::IndexKind kind,
                                                            const index::IndexParams& params,
                                                            std::vector<float> vectors,
                                                            std::vector<RowMeta> metas, ThreadPool* pool) {
  if (vectors.size() != metas.size() * dim) {
    return absl::InternalError("segment build: vector count does not match row count");
  }
  std::shared_ptr<SealedSegment> seg(
      new SealedSegment(id, dim, metric, std::move(vectors), std::move(metas)));
  seg->index_ = index::MakeIndex(kind, dim, metric, params);
  RETURN_IF_ERROR(seg->index_->Build(seg->vectors_.data(), seg->metas_.size(), pool));
  return seg;
}

Result<std::shared_ptr<SealedSegment>> SealedSegment::BuildFrom(const GrowingSegment& frozen,
                                                                index::IndexKind kind,
                                                                const index::IndexParams& params,
                                                                ThreadPool* pool) {
  const size_t n = frozen.size();
  const size_t dim = frozen.dim();
  std::vector<float> vectors(n * dim);
  std::vector<RowMeta> metas(n);
  for (Row r = 0; r < n; ++r) {
    std::memcpy(vectors.data() + size_t{r} * dim, frozen.vector(r), dim * sizeof(float));
    metas[r] = frozen.meta(r);
  }
  ASSIGN_OR_RETURN(auto seg, Build(frozen.id(), dim, frozen.metric(), kind, params, std::move(vectors),
                                   std::move(metas), pool));
  seg->CopyTombstones(frozen);
  return seg;
}

void SealedSegment::CopyTombstones(const Segment& other) {
  const size_t n = std::min(size(), other.size());
  for (Row r = 0; r < n; ++r) {
    if (!other.IsAlive(r)) Kill(r);
  }
}

size_t SealedSegment::MemoryBytes() const {
  size_t bytes = vectors_.size() * sizeof(float) + metas_.size() * sizeof(RowMeta) + size() / 8;
  for (const auto& m : metas_) bytes += m.id.size() + m.payload.size() * 32;
  return bytes + (index_ ? index_->MemoryBytes() : 0);
}

std::vector<Neighbor> SealedSegment::Search(const float* query, size_t k, const index::SearchOptions& options,
                                            const PayloadFilter* filter) const {
  const size_t n = size();
  const size_t alive = n - dead_count();
  if (k == 0 || alive == 0) return {};
  const bool payload_filter = filter && !filter->MatchesAll();
  if (!payload_filter && dead_count() == 0) return index_->Search(query, k, options, nullptr);

  // Estimate how many rows pass from an evenly spaced sample, so the index
  // can choose between its walk and an exact scan of the admitted rows.
  size_t estimate = alive;
  if (payload_filter) {
    constexpr size_t kSample = 512;
    const size_t step = std::max<size_t>(1, n / kSample);
    size_t seen = 0, passed = 0;
    for (Row r = 0; r < n; r += step) {
      ++seen;
      if (IsAlive(r) && filter->Matches(metas_[r].payload)) ++passed;
    }
    // Round up so a rare match never estimates to zero.
    estimate = std::min(alive, (passed * n + seen - 1) / seen + (passed == 0 ? step : 0));
  }
  index::LabelFilter label_filter{
      [this, filter, payload_filter](index::Label row) {
        return IsAlive(row) && (!payload_filter || filter->Matches(metas_[row].payload));
      },
      estimate};
  auto hits = index_->Search(query, k, options, &label_filter);
  // A graph walk can miss admitted rows when few pass; an exact scan is the
  // guarantee that k hits come back whenever k exist.
  if (hits.size() < k) hits = ExactSearch(query, k, n, payload_filter ? filter : nullptr);
  return hits;
}

// ---------------------------------------------------------------- file format

namespace {

constexpr char kMagic[8] = {'R', 'L', 'S', 'E', 'G', '0', '0', '1'};

}  // namespace

Status SealedSegment::Write(Env& env, const std::string& path) const {
  std::string out;
  out.reserve(vectors_.size() * sizeof(float) + metas_.size() * 64 + 64);
  ByteWriter w(&out);
  w.Bytes(kMagic, sizeof(kMagic));
  w.U32(static_cast<uint32_t>(dim_));
  w.U64(metas_.size());
  w.Array(vectors_.data(), vectors_.size());
  for (const auto& m : metas_) {
    w.String(m.id);
    w.U64(m.version);
    w.String(m.payload.dump());
  }
  std::string index_bytes;
  RETURN_IF_ERROR(index_->Serialize(&index_bytes));
  w.U64(index_bytes.size());
  w.Bytes(index_bytes.data(), index_bytes.size());
  w.U32(crc32c::Mask(crc32c::Value(out)));
  return env.WriteFileAtomically(path, out);
}

Result<std::shared_ptr<SealedSegment>> SealedSegment::Load(Env& env, const std::string& path, uint64_t id,
                                                           size_t dim, index::Metric metric,
                                                           index::IndexKind kind,
                                                           const index::IndexParams& params) {
  ASSIGN_OR_RETURN(std::string bytes, env.ReadFile(path));
  auto corrupt = [&](std::string_view what) {
    return absl::DataLossError(StrCat("segment file ", path, ": ", what));
  };
  if (bytes.size() < sizeof(kMagic) + 4 + 8 + 8 + 4) return corrupt("truncated header");
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  std::string_view body(bytes.data(), bytes.size() - 4);
  if (crc32c::Unmask(stored_crc) != crc32c::Value(body)) return corrupt("checksum mismatch");
  if (std::memcmp(body.data(), kMagic, sizeof(kMagic)) != 0) return corrupt("bad magic");
  ByteReader r(body.substr(sizeof(kMagic)));
  uint32_t file_dim;
  uint64_t n;
  if (!r.U32(&file_dim) || !r.U64(&n)) return corrupt("truncated header");
  if (file_dim != dim) return corrupt(StrCat("dimension ", file_dim, " != collection's ", dim));
  if (n > r.remaining() / sizeof(float) / std::max<size_t>(dim, 1)) return corrupt("truncated vectors");
  std::vector<float> vectors(n * dim);
  if (!r.Array(vectors.data(), vectors.size())) return corrupt("truncated vectors");
  std::vector<RowMeta> metas(n);
  for (auto& m : metas) {
    std::string_view id, payload;
    if (!r.String(&id) || !r.U64(&m.version) || !r.String(&payload)) return corrupt("truncated record");
    m.id.assign(id);
    m.payload = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (!m.payload.is_object()) return corrupt(StrCat("bad payload for record ", m.id));
  }
  uint64_t index_len;
  std::string_view index_bytes;
  if (!r.U64(&index_len) || !r.View(index_len, &index_bytes) || !r.AtEnd()) return corrupt("bad index section");
  std::shared_ptr<SealedSegment> seg(new SealedSegment(id, dim, metric, std::move(vectors), std::move(metas)));
  seg->index_ = index::MakeIndex(kind, dim, metric, params);
  Status st = seg->index_->Deserialize(index_bytes, seg->vectors_.data(), n);
  if (!st.ok()) return corrupt(std::string(st.message()));
  return seg;
}

}  // namespace ragline::store
