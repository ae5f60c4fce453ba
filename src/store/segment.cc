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

Row GrowingSegment::Append(const float* vec, RowMeta meta, index::TermVector terms) {
  const size_t row = count_.load(std::memory_order_relaxed);
  auto& chunk = chunks_[row / kChunkRows];
  if (!chunk) {
    chunk = std::make_unique<Chunk>();
    chunk->vectors.resize(kChunkRows * dim_);
  }
  const size_t slot = row % kChunkRows;
  std::memcpy(chunk->vectors.data() + slot * dim_, vec, dim_ * sizeof(float));
  chunk->meta[slot] = std::move(meta);
  chunk->terms[slot] = std::move(terms);
  count_.store(row + 1, std::memory_order_release);  // publish
  if (slot == kChunkRows - 1) {
    // ~1 ms per 1024 rows; readers meanwhile keep scanning the chunk.
    auto lexical = std::make_unique<index::LexicalIndex>();
    lexical->Build(std::span<const index::TermVector>(chunk->terms, kChunkRows));
    chunk->lexical_owner = std::move(lexical);
    chunk->lexical.store(chunk->lexical_owner.get(), std::memory_order_release);
  }
  return static_cast<Row>(row);
}

const float* GrowingSegment::vector(Row row) const {
  return chunks_[row / kChunkRows]->vectors.data() + (row % kChunkRows) * dim_;
}

const RowMeta& GrowingSegment::meta(Row row) const { return chunks_[row / kChunkRows]->meta[row % kChunkRows]; }

const index::TermVector& GrowingSegment::term_vector(Row row) const {
  return chunks_[row / kChunkRows]->terms[row % kChunkRows];
}

size_t GrowingSegment::MemoryBytes() const {
  size_t bytes = capacity() / 8;
  for (const auto& c : chunks_) {
    if (c) bytes += sizeof(Chunk) + c->vectors.size() * sizeof(float);
  }
  const size_t n = size();
  for (Row r = 0; r < n; ++r) bytes += meta(r).id.size() + meta(r).payload.size() * 32;
  return bytes + LexicalMemoryBytes();
}

size_t GrowingSegment::LexicalMemoryBytes() const {
  size_t bytes = 0;
  const size_t n = size();
  for (Row r = 0; r < n; ++r) bytes += term_vector(r).entries.capacity() * sizeof(index::TermVector::Entry);
  for (size_t c = 0; c * kChunkRows < n; ++c) {
    if (const auto* lexical = ChunkIndex(c, c * kChunkRows, n)) bytes += lexical->MemoryBytes();
  }
  return bytes;
}

size_t GrowingSegment::LexicalDocuments() const {
  size_t docs = 0;
  const size_t n = size();
  for (Row r = 0; r < n; ++r) docs += IsAlive(r) && !term_vector(r).empty();
  return docs;
}

const index::LexicalIndex* GrowingSegment::ChunkIndex(size_t chunk, size_t begin, size_t end) const {
  if (std::min(end, begin + kChunkRows) - begin < kChunkRows) return nullptr;
  return chunks_[chunk]->lexical.load(std::memory_order_acquire);
}

// Both methods below give the same figures whether a chunk is read through
// its index or scanned (a reader may see the index appear between them): the
// index and Bm25Query::Score add the same terms in the same (hash) order.
void GrowingSegment::AddBm25Stats(std::span<const index::TermHash> terms, size_t rows,
                                  index::Bm25Stats* stats) const {
  for (size_t c = 0, begin = 0; begin < rows; ++c, begin += kChunkRows) {
    const size_t end = std::min(rows, begin + kChunkRows);
    if (const auto* lexical = ChunkIndex(c, begin, end)) {
      stats->doc_count += lexical->doc_count();
      stats->total_doc_length += lexical->total_doc_length();
      for (size_t i = 0; i < terms.size(); ++i) stats->doc_freq[i] += lexical->DocFreq(terms[i]);
      continue;
    }
    for (Row r = begin; r < end; ++r) {
      const index::TermVector& tv = term_vector(r);
      if (tv.empty()) continue;
      ++stats->doc_count;
      stats->total_doc_length += tv.length;
      for (size_t i = 0; i < terms.size(); ++i) stats->doc_freq[i] += tv.Frequency(terms[i]) > 0;
    }
  }
}

std::vector<Neighbor> GrowingSegment::LexicalSearch(const index::Bm25Query& query, size_t k, size_t rows,
                                                    const PayloadFilter* filter) const {
  if (k == 0 || query.size() == 0) return {};
  index::TopK top(k);
  for (size_t c = 0, begin = 0; begin < rows; ++c, begin += kChunkRows) {
    const size_t end = std::min(rows, begin + kChunkRows);
    if (const auto* lexical = ChunkIndex(c, begin, end)) {
      const index::LabelFilter admit{
          [this, begin, filter](index::Label label) {
            const Row r = static_cast<Row>(begin + label);
            return IsAlive(r) && (!filter || filter->Matches(meta(r).payload));
          },
          kChunkRows};
      for (const auto& n : lexical->Search(query, k, &admit)) top.Push(n.distance, static_cast<Row>(begin + n.label));
      continue;
    }
    for (Row r = begin; r < end; ++r) {
      if (!IsAlive(r)) continue;
      const float score = query.Score(term_vector(r));
      if (score <= 0 || -score > top.threshold()) continue;
      if (filter && !filter->Matches(meta(r).payload)) continue;
      top.Push(-score, r);
    }
  }
  return top.TakeSorted();
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
                                                            std::vector<float> vectors, std::vector<RowMeta> metas,
                                                            std::vector<index::TermVector> terms, ThreadPool* pool,
                                                            const SealedSegment* base) {
  if (vectors.size() != metas.size() * dim || terms.size() != metas.size()) {
    return absl::InternalError("segment build: vector or term vector count does not match row count");
  }
  if (base != nullptr && (base->dim_ != dim || base->size() > metas.size() ||
                          !std::equal(base->vectors_.begin(), base->vectors_.end(), vectors.begin()))) {
    return absl::InternalError("segment build: the base segment's rows are not the first rows");
  }
  std::shared_ptr<SealedSegment> seg(
      new SealedSegment(id, dim, metric, std::move(vectors), std::move(metas)));
  seg->index_ = index::MakeIndex(kind, dim, metric, params);
  Status grown = absl::UnimplementedError("no base");
  if (base != nullptr && base->index_->kind() == kind) {
    std::string bytes;
    RETURN_IF_ERROR(base->index_->Serialize(&bytes));
    RETURN_IF_ERROR(seg->index_->Deserialize(bytes, seg->vectors_.data(), base->size()));
    grown = seg->index_->Extend(seg->vectors_.data(), seg->metas_.size(), pool);
    if (!grown.ok() && !absl::IsUnimplemented(grown)) return grown;
  }
  if (!grown.ok()) RETURN_IF_ERROR(seg->index_->Build(seg->vectors_.data(), seg->metas_.size(), pool));
  seg->lexical_.Build(terms);
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
  std::vector<index::TermVector> terms(n);
  for (Row r = 0; r < n; ++r) {
    std::memcpy(vectors.data() + size_t{r} * dim, frozen.vector(r), dim * sizeof(float));
    metas[r] = frozen.meta(r);
    terms[r] = frozen.term_vector(r);
  }
  ASSIGN_OR_RETURN(auto seg, Build(frozen.id(), dim, frozen.metric(), kind, params, std::move(vectors),
                                   std::move(metas), std::move(terms), pool));
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
  return bytes + (index_ ? index_->MemoryBytes() : 0) + lexical_.MemoryBytes();
}

index::LabelFilter SealedSegment::AliveFilter(const PayloadFilter* filter, size_t estimate) const {
  const bool payload_filter = filter && !filter->MatchesAll();
  return index::LabelFilter{
      [this, filter, payload_filter](index::Label row) {
        return IsAlive(row) && (!payload_filter || filter->Matches(metas_[row].payload));
      },
      estimate};
}

size_t SealedSegment::LexicalDocuments() const {
  size_t docs = 0;
  for (Row r = 0; r < size(); ++r) docs += IsAlive(r) && lexical_.doc_length(r) > 0;
  return docs;
}

void SealedSegment::AddBm25Stats(std::span<const index::TermHash> terms, size_t,
                                 index::Bm25Stats* stats) const {
  stats->doc_count += lexical_.doc_count();
  stats->total_doc_length += lexical_.total_doc_length();
  for (size_t i = 0; i < terms.size(); ++i) stats->doc_freq[i] += lexical_.DocFreq(terms[i]);
}

std::vector<Neighbor> SealedSegment::LexicalSearch(const index::Bm25Query& query, size_t k, size_t,
                                                   const PayloadFilter* filter) const {
  if (k == 0 || alive_count() == 0) return {};
  if ((!filter || filter->MatchesAll()) && dead_count() == 0) return lexical_.Search(query, k, nullptr);
  const index::LabelFilter admit = AliveFilter(filter, alive_count());
  return lexical_.Search(query, k, &admit);
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
  const index::LabelFilter label_filter = AliveFilter(filter, estimate);
  auto hits = index_->Search(query, k, options, &label_filter);
  // A graph walk can miss admitted rows when few pass; an exact scan is the
  // guarantee that k hits come back whenever k exist.
  if (hits.size() < k) hits = ExactSearch(query, k, n, payload_filter ? filter : nullptr);
  return hits;
}

// ---------------------------------------------------------------- file format

namespace {

// Version 2 added the lexical index section; version 1 files are still read.
constexpr char kMagicV1[8] = {'R', 'L', 'S', 'E', 'G', '0', '0', '1'};
constexpr char kMagic[8] = {'R', 'L', 'S', 'E', 'G', '0', '0', '2'};

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
  std::string lexical_bytes;
  lexical_.Serialize(&lexical_bytes);
  w.U64(lexical_bytes.size());
  w.Bytes(lexical_bytes.data(), lexical_bytes.size());
  w.U32(crc32c::Mask(crc32c::Value(out)));
  return env.WriteFileAtomically(path, out);
}

Result<std::shared_ptr<SealedSegment>> SealedSegment::Load(Env& env, const std::string& path, uint64_t id,
                                                           size_t dim, index::Metric metric,
                                                           index::IndexKind kind,
                                                           const index::IndexParams& params,
                                                           const PayloadAnalyzer& analyze) {
  ASSIGN_OR_RETURN(std::string bytes, env.ReadFile(path));
  auto corrupt = [&](std::string_view what) {
    return absl::DataLossError(StrCat("segment file ", path, ": ", what));
  };
  if (bytes.size() < sizeof(kMagic) + 4 + 8 + 8 + 4) return corrupt("truncated header");
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  std::string_view body(bytes.data(), bytes.size() - 4);
  if (crc32c::Unmask(stored_crc) != crc32c::Value(body)) return corrupt("checksum mismatch");
  const bool v1 = std::memcmp(body.data(), kMagicV1, sizeof(kMagicV1)) == 0;
  if (!v1 && std::memcmp(body.data(), kMagic, sizeof(kMagic)) != 0) return corrupt("bad magic");
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
  if (!r.U64(&index_len) || !r.View(index_len, &index_bytes)) return corrupt("bad index section");
  uint64_t lexical_len = 0;
  std::string_view lexical_bytes;
  if (!v1 && (!r.U64(&lexical_len) || !r.View(lexical_len, &lexical_bytes))) {
    return corrupt("bad lexical index section");
  }
  if (!r.AtEnd()) return corrupt(v1 ? "bad index section" : "bad lexical index section");
  std::shared_ptr<SealedSegment> seg(new SealedSegment(id, dim, metric, std::move(vectors), std::move(metas)));
  seg->index_ = index::MakeIndex(kind, dim, metric, params);
  Status st = seg->index_->Deserialize(index_bytes, seg->vectors_.data(), n);
  if (!st.ok()) return corrupt(std::string(st.message()));
  if (v1) {
    std::vector<index::TermVector> terms(n);
    for (size_t row = 0; row < n; ++row) terms[row] = analyze(seg->metas_[row].payload);
    seg->lexical_.Build(terms);
  } else {
    st = seg->lexical_.Deserialize(lexical_bytes, n);
    if (!st.ok()) return corrupt(std::string(st.message()));
  }
  return seg;
}

}  // namespace ragline::store
