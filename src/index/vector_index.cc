#include "index/vector_index.h"

#include <charconv>

#include "core/strings.h"
#include "index/flat_index.h"
#include "index/hnsw_index.h"
#include "index/ivf_pq_index.h"

namespace ragline::index {

std::string_view IndexKindName(IndexKind kind) {
  switch (kind) {
    case IndexKind::kFlat:
      return "flat";
    case IndexKind::kHnsw:
      return "hnsw";
    case IndexKind::kIvfPq:
      return "ivf_pq";
  }
  return "unknown";
}

Status VectorIndex::Extend(const float*, size_t, ThreadPool*) {
  return absl::UnimplementedError(StrCat(IndexKindName(kind()), " index cannot grow; build it again"));
}

Result<IndexKind> ParseIndexKind(std::string_view name) {
  if (name == "flat") return IndexKind::kFlat;
  if (name == "hnsw") return IndexKind::kHnsw;
  if (name == "ivf_pq") return IndexKind::kIvfPq;
  return absl::InvalidArgumentError(
      StrCat("unknown index kind '", name, "' (expected flat, hnsw or ivf_pq)"));
}

Status IndexParams::Set(std::string_view key, std::string_view value) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size()) {
    return absl::InvalidArgumentError(
        StrCat("index parameter ", key, ": '", value, "' is not a non-negative integer"));
  }
  auto in_range = [&](uint64_t lo, uint64_t hi) -> Status {
    if (v < lo || v > hi) {
      return absl::InvalidArgumentError(
          StrCat("index parameter ", key, "=", v, " is out of range [", lo, ", ", hi, "]"));
    }
    return absl::OkStatus();
  };
  if (key == "M" || key == "m") {
    RETURN_IF_ERROR(in_range(2, 256));
    m = static_cast<uint32_t>(v);
  } else if (key == "ef_construction") {
    RETURN_IF_ERROR(in_range(1, 1 << 16));
    ef_construction = static_cast<uint32_t>(v);
  } else if (key == "ef_search" || key == "ef") {
    RETURN_IF_ERROR(in_range(1, 1 << 16));
    ef_search = static_cast<uint32_t>(v);
  } else if (key == "nlist") {
    RETURN_IF_ERROR(in_range(0, 1 << 20));
    nlist = static_cast<uint32_t>(v);
  } else if (key == "pq_m" || key == "m_pq") {
    RETURN_IF_ERROR(in_range(0, 4096));
    pq_m = static_cast<uint32_t>(v);
  } else if (key == "nbits") {
    RETURN_IF_ERROR(in_range(4, 8));
    nbits = static_cast<uint32_t>(v);
  } else if (key == "nprobe") {
    RETURN_IF_ERROR(in_range(1, 1 << 20));
    nprobe = static_cast<uint32_t>(v);
  } else if (key == "rerank") {
    RETURN_IF_ERROR(in_range(0, 1 << 20));
    rerank = static_cast<uint32_t>(v);
  } else if (key == "seed") {
    seed = v;
  } else {
    return absl::InvalidArgumentError(StrCat(
        "unknown index parameter '", key,
        "' (known: M, ef_construction, ef_search, nlist, pq_m, nbits, nprobe, rerank, seed)"));
  }
  return absl::OkStatus();
}

std::map<std::string, uint64_t> IndexParams::ToMap(IndexKind kind) const {
  switch (kind) {
    case IndexKind::kFlat:
      return {};
    case IndexKind::kHnsw:
      return {{"M", m}, {"ef_construction", ef_construction}, {"ef_search", ef_search}};
    case IndexKind::kIvfPq:
      return {{"nlist", nlist}, {"pq_m", pq_m}, {"nbits", nbits}, {"nprobe", nprobe}, {"rerank", rerank}};
  }
  return {};
}

std::unique_ptr<VectorIndex> MakeIndex(IndexKind kind, size_t dim, Metric metric,
                                       const IndexParams& params) {
  switch (kind) {
    case IndexKind::kFlat:
      return MakeFlatIndex(dim, metric);
    case IndexKind::kHnsw:
      return MakeHnswIndex(dim, metric, params);
    case IndexKind::kIvfPq:
      return MakeIvfPqIndex(dim, metric, params);
  }
  return nullptr;
}

}  // namespace ragline::index
