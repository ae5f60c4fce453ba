#include "index/ivf_pq_index.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/thread_pool.h"
#include "core/byte_io.h"
#include "index/distance.h"
#include "index/kmeans.h"
#include "index/top_k.h"

namespace ragline::index {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the IVF-PQ format is little-endian and written with memcpy");

// Training budget. Coarse k-means trains on at most 256 rows per list, the
// sub-quantisers on at most 64 residuals per centroid (16384 for nbits = 8);
// past that, extra rows buy little codebook quality for their cost.
constexpr size_t kCoarseIterations = 20;
constexpr size_t kCoarsePointsPerList = 256;
constexpr size_t kPqIterations = 20;
constexpr size_t kPqPointsPerCentroid = 64;

constexpr char kMagic[8] = {'R', 'L', 'I', 'V', 'F', 'P', 'Q', '1'};
constexpr uint32_t kFormatVersion = 1;

struct InvertedList {
  std::vector<Label> labels;   // rows in this coarse cluster, ascending
  std::vector<uint8_t> codes;  // labels.size() × pq_m, one byte per sub-quantiser code
};

// Everything Build or Deserialize produces; assembled aside, then swapped in,
// so a failed Build/Deserialize leaves the index as it was.
struct Model {
  size_t n = 0;
  size_t nlist = 0;
  size_t pq_m = 0;
  size_t nbits = 0;
  size_t ksub = 0;  // 2^nbits centroids per sub-space
  size_t dsub = 0;  // dim / pq_m
  std::vector<float> coarse;     // nlist × dim
  std::vector<float> codebooks;  // pq_m × ksub × dsub; only until DeriveTables
  std::vector<InvertedList> lists;
  // Derived from the two above (not serialised).
  CentroidTable coarse_table;
  std::vector<CentroidTable> sub_tables;  // pq_m tables of ksub × dsub: the codebooks from now on

  // Builds the tables, then frees `codebooks`: the tables hold the same
  // floats, and keeping both cost ~2 bytes/vector at 200k rows.
  void DeriveTables(size_t dim) {
    coarse_table = CentroidTable(coarse.data(), nlist, dim);
    sub_tables.clear();
    sub_tables.reserve(pq_m);
    for (size_t s = 0; s < pq_m; ++s) {
      sub_tables.emplace_back(codebooks.data() + s * ksub * dsub, ksub, dsub);
    }
    std::vector<float>().swap(codebooks);
  }
};

// sum_s lut[s][code[s]] with the table laid out [m][ksub]; four partial sums
// keep the adds independent.
inline float AdcDistance(const uint8_t* code, size_t m, size_t ksub, const float* lut) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t s = 0;
  for (; s + 4 <= m; s += 4, lut += 4 * ksub) {
    s0 += lut[code[s]];
    s1 += lut[ksub + code[s + 1]];
    s2 += lut[2 * ksub + code[s + 2]];
    s3 += lut[3 * ksub + code[s + 3]];
  }
  for (; s < m; ++s, lut += ksub) s0 += lut[code[s]];
  return (s0 + s1) + (s2 + s3);
}

// Scores every (admitted) row of `list` as base + ADC distance into `top`.
void ScanList(const InvertedList& list, size_t m, size_t ksub, const float* lut, float base,
              const LabelFilter* filter, TopK& top) {
  const size_t count = list.labels.size();
  const uint8_t* code = list.codes.data();
  if (filter == nullptr) {
    for (size_t i = 0; i < count; ++i, code += m) {
      const float d = base + AdcDistance(code, m, ksub, lut);
      if (d < top.threshold()) top.Push(d, list.labels[i]);
    }
    return;
  }
  for (size_t i = 0; i < count; ++i, code += m) {
    const Label label = list.labels[i];
    if (!filter->admits(label)) continue;  // rejected rows never become candidates
    const float d = base + AdcDistance(code, m, ksub, lut);
    if (d < top.threshold()) top.Push(d, label);
  }
}

// Largest divisor of dim that is at most dim / 8 (48 for 384), at least 1.
size_t DefaultPqM(size_t dim) {
  for (size_t m = std::max<size_t>(1, dim / 8); m > 1; --m) {
    if (dim % m == 0) return m;
  }
  return 1;
}

template <typename T>
void Append(std::string* out, const T& value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(T));
}
template <typename T>
void AppendArray(std::string* out, const T* values, size_t count) {
  out->append(reinterpret_cast<const char*>(values), count * sizeof(T));
}

// Bounds-checked reads over the serialised bytes.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  size_t remaining() const { return bytes_.size() - pos_; }
  template <typename T>
  bool Read(T* value) {
    return ReadArray(value, 1);
  }
  template <typename T>
  bool ReadArray(T* values, size_t count) {
    if (count > remaining() / sizeof(T)) return false;
    if (count == 0) return true;  // `values` may be null (an empty vector's data())
    std::memcpy(values, bytes_.data() + pos_, count * sizeof(T));
    pos_ += count * sizeof(T);
    return true;
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

bool MulFits(size_t a, size_t b, size_t* out) { return !__builtin_mul_overflow(a, b, out); }

bool AllFinite(const std::vector<float>& values) {
  return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
}

Status Corrupt(std::string_view what) {
  return absl::DataLossError(absl::StrCat("ivf_pq index bytes are corrupt: ", absl::string_view(what.data(), what.size())));
}

class IvfPqIndex final : public VectorIndex {
 public:
  IvfPqIndex(size_t dim, Metric metric, const IndexParams& params)
      : dim_(dim), metric_(metric), params_(params) {}

  IndexKind kind() const override { return IndexKind::kIvfPq; }
  size_t dim() const override { return dim_; }
  size_t size() const override { return model_.n; }

  Status Build(const float* data, size_t n, ThreadPool* pool) override;
  std::vector<Neighbor> Search(const float* query, size_t k, const SearchOptions& options,
                               const LabelFilter* filter) const override;
  Status Serialize(std::string* out) const override;
  Status Deserialize(std::string_view bytes, const float* data, size_t n) override;
  size_t MemoryBytes() const override;

 private:
  // Checks dim/pq_m/nbits and fills the shape fields of an empty model.
  Result<Model> EmptyModel(size_t n) const;
  Status TrainProductQuantizer(const float* data, size_t n, const std::vector<uint32_t>& assignment,
                               Model& model, ThreadPool* pool) const;
  // Deserialize's body; on error the caller empties the index.
  Status Load(std::string_view bytes, const float* data, size_t n);
  std::vector<Neighbor> ExactScan(const float* query, size_t k, const LabelFilter* filter) const;

  const size_t dim_;
  const Metric metric_;
  const IndexParams params_;
  const float* data_ = nullptr;  // n × dim, owned by the caller
  Model model_;
};

Result<Model> IvfPqIndex::EmptyModel(size_t n) const {
  if (dim_ == 0) return absl::InvalidArgumentError("ivf_pq: dim must be positive");
  const size_t pq_m = params_.pq_m != 0 ? params_.pq_m : DefaultPqM(dim_);
  if (pq_m > dim_ || dim_ % pq_m != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ivf_pq: pq_m=", pq_m, " must divide dim=", dim_));
  }
  if (params_.nbits < 4 || params_.nbits > 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("ivf_pq: nbits=", params_.nbits, " is out of range [4, 8]"));
  }
  if (n > static_cast<size_t>(std::numeric_limits<Label>::max())) {
    return absl::InvalidArgumentError(absl::StrCat("ivf_pq: ", n, " rows exceed the label range"));
  }
  Model model;
  model.n = n;
  model.pq_m = pq_m;
  model.nbits = params_.nbits;
  model.ksub = size_t{1} << params_.nbits;
  model.dsub = dim_ / pq_m;
  model.codebooks.assign(pq_m * model.ksub * model.dsub, 0.0f);
  return model;
}

Status IvfPqIndex::TrainProductQuantizer(const float* data, size_t n,
                                         const std::vector<uint32_t>& assignment, Model& model,
                                         ThreadPool* pool) const {
  const size_t m = model.pq_m, dsub = model.dsub, ksub = model.ksub;
  // Seeded sample of rows; their residuals, split into one matrix per sub-space.
  const size_t rows = std::min(n, ksub * kPqPointsPerCentroid);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(params_.seed ^ 0x9e3779b97f4a7c15ull);
  for (size_t i = 0; i < rows && rows < n; ++i) {
    std::swap(order[i], order[std::uniform_int_distribution<size_t>(i, n - 1)(rng)]);
  }
  order.resize(rows);
  std::sort(order.begin(), order.end());
  std::vector<float> sub_data(m * rows * dsub);  // [m][rows][dsub]
  for (size_t r = 0; r < rows; ++r) {
    const float* x = data + order[r] * dim_;
    const float* c = model.coarse.data() + static_cast<size_t>(assignment[order[r]]) * dim_;
    for (size_t s = 0; s < m; ++s) {
      float* dst = sub_data.data() + (s * rows + r) * dsub;
      for (size_t a = 0; a < dsub; ++a) dst[a] = x[s * dsub + a] - c[s * dsub + a];
    }
  }
  // Sub-spaces train independently: parallel across them, serial inside.
  std::vector<Status> statuses(m);
  ParallelRanges(pool, m, [&](size_t begin, size_t end) {
    for (size_t s = begin; s < end; ++s) {
      KMeansOptions options;
      options.num_clusters = ksub;
      options.iterations = kPqIterations;
      options.max_points_per_cluster = 0;  // already sampled
      options.plus_plus_init = false;
      options.seed = params_.seed + 1 + s;
      Result<KMeansResult> trained =
          TrainKMeans(sub_data.data() + s * rows * dsub, rows, dsub, options, nullptr);
      if (!trained.ok()) {
        statuses[s] = trained.status();
        continue;
      }
      std::copy(trained->centroids.begin(), trained->centroids.end(),
                model.codebooks.begin() + s * ksub * dsub);
    }
  });
  for (const Status& status : statuses) RETURN_IF_ERROR(status);
  return absl::OkStatus();
}

Status IvfPqIndex::Build(const float* data, size_t n, ThreadPool* pool) {
  ASSIGN_OR_RETURN(Model model, EmptyModel(n));
  if (n > 0 && data == nullptr) return absl::InvalidArgumentError("ivf_pq: data is null");
  // Non-finite input would poison the centroids (and the saved index would
  // then fail its own validation on load).
  for (size_t i = 0; i < n * dim_; ++i) {
    if (!std::isfinite(data[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("ivf_pq: row ", i / dim_, " has a non-finite value"));
    }
  }
  if (n == 0) {
    model.DeriveTables(dim_);
    data_ = data;
    model_ = std::move(model);
    return absl::OkStatus();
  }

  // Coarse quantiser.
  size_t nlist = params_.nlist != 0
                     ? params_.nlist
                     : static_cast<size_t>(std::lround(std::sqrt(static_cast<double>(n))));
  nlist = std::clamp<size_t>(nlist, 1, n);
  KMeansOptions coarse_options;
  coarse_options.num_clusters = nlist;
  coarse_options.iterations = kCoarseIterations;
  coarse_options.max_points_per_cluster = kCoarsePointsPerList;
  coarse_options.seed = params_.seed;
  ASSIGN_OR_RETURN(KMeansResult coarse, TrainKMeans(data, n, dim_, coarse_options, pool));
  model.nlist = nlist;
  model.coarse = std::move(coarse.centroids);
  model.coarse_table = CentroidTable(model.coarse.data(), nlist, dim_);
  std::vector<uint32_t> assignment(n);
  AssignToNearest(data, n, model.coarse_table, assignment.data(), nullptr, pool);

  // Product quantiser over residuals, then encode every row.
  RETURN_IF_ERROR(TrainProductQuantizer(data, n, assignment, model, pool));
  model.DeriveTables(dim_);
  const size_t m = model.pq_m, dsub = model.dsub;
  std::vector<uint8_t> codes(n * m);
  ParallelRanges(pool, n, [&](size_t begin, size_t end) {
    std::vector<float> residual(dim_);
    std::vector<float> scratch(model.ksub);
    for (size_t i = begin; i < end; ++i) {
      const float* x = data + i * dim_;
      const float* c = model.coarse.data() + static_cast<size_t>(assignment[i]) * dim_;
      for (size_t a = 0; a < dim_; ++a) residual[a] = x[a] - c[a];
      for (size_t s = 0; s < m; ++s) {
        codes[i * m + s] = static_cast<uint8_t>(
            model.sub_tables[s].Nearest(residual.data() + s * dsub, scratch.data(), nullptr));
      }
    }
  });
  std::vector<size_t> counts(nlist, 0);
  for (uint32_t list : assignment) ++counts[list];
  model.lists.resize(nlist);
  for (size_t l = 0; l < nlist; ++l) {
    model.lists[l].labels.reserve(counts[l]);
    model.lists[l].codes.reserve(counts[l] * m);
  }
  for (size_t i = 0; i < n; ++i) {
    InvertedList& list = model.lists[assignment[i]];
    list.labels.push_back(static_cast<Label>(i));
    list.codes.insert(list.codes.end(), codes.begin() + i * m, codes.begin() + (i + 1) * m);
  }
  data_ = data;
  model_ = std::move(model);
  return absl::OkStatus();
}

std::vector<Neighbor> IvfPqIndex::ExactScan(const float* query, size_t k,
                                            const LabelFilter* filter) const {
  return ExactTopK(metric_, query, data_, model_.n, dim_, k, filter);
}

std::vector<Neighbor> IvfPqIndex::Search(const float* query, size_t k, const SearchOptions& options,
                                         const LabelFilter* filter) const {
  const Model& model = model_;
  if (k == 0 || model.n == 0) return {};
  if (filter != nullptr && !filter->admits) filter = nullptr;  // an empty predicate admits all
  const size_t nlist = model.nlist, m = model.pq_m, ksub = model.ksub, dsub = model.dsub;
  const size_t nprobe =
      std::clamp<size_t>(options.nprobe != 0 ? options.nprobe : params_.nprobe, 1, nlist);
  size_t candidates = options.rerank != 0 ? options.rerank : params_.rerank;
  if (candidates == 0) candidates = 4 * k;
  candidates = std::min(std::max(candidates, k), model.n);  // the heap never needs more than n

  // Lists are probed nearest-centroid first (L2 for both metrics: rows were
  // assigned to lists by L2, and the inner-product use is over unit vectors).
  std::vector<float> dots(nlist);
  model.coarse_table.Dots(query, dots.data());
  const float query_norm = Dot(query, query, dim_);
  std::vector<std::pair<float, uint32_t>> order(nlist);
  for (size_t l = 0; l < nlist; ++l) {
    order[l] = {query_norm + model.coarse_table.norms()[l] - 2.0f * dots[l],
                static_cast<uint32_t>(l)};
  }
  std::partial_sort(order.begin(), order.begin() + nprobe, order.end());

  if (filter != nullptr && filter->admitted_estimate < model.n) {
    // A selective filter leaves too few admitted rows in the probed lists:
    // scoring the admitted rows exactly is both cheaper and complete.
    size_t probed_rows = 0;
    for (size_t p = 0; p < nprobe; ++p) probed_rows += model.lists[order[p].second].labels.size();
    const double expected = static_cast<double>(filter->admitted_estimate) *
                            static_cast<double>(probed_rows) / static_cast<double>(model.n);
    if (expected < static_cast<double>(candidates)) return ExactScan(query, k, filter);
  }

  // ADC tables, [m][ksub]. L2: per list, over the query's residual. Inner
  // product: <q, c + r> = <q, c> + sum_s <q_s, r_s>, so one table per query.
  std::vector<float> lut(m * ksub);
  std::vector<float> residual(metric_ == Metric::kL2 ? dim_ : 0);
  if (metric_ == Metric::kInnerProduct) {
    for (size_t s = 0; s < m; ++s) {
      float* row = lut.data() + s * ksub;
      model.sub_tables[s].Dots(query + s * dsub, row);
      for (size_t j = 0; j < ksub; ++j) row[j] = -row[j];
    }
  }
  TopK top(candidates);
  auto scan = [&](uint32_t list_id) {
    const InvertedList& list = model.lists[list_id];
    if (list.labels.empty()) return;
    float base;
    if (metric_ == Metric::kL2) {
      const float* c = model.coarse.data() + static_cast<size_t>(list_id) * dim_;
      for (size_t a = 0; a < dim_; ++a) residual[a] = query[a] - c[a];
      base = Dot(residual.data(), residual.data(), dim_);  // sum of the |r_s|² terms
      for (size_t s = 0; s < m; ++s) {
        float* row = lut.data() + s * ksub;
        model.sub_tables[s].Dots(residual.data() + s * dsub, row);
        const float* norms = model.sub_tables[s].norms();
        for (size_t j = 0; j < ksub; ++j) row[j] = norms[j] - 2.0f * row[j];
      }
    } else {
      base = -dots[list_id];
    }
    ScanList(list, m, ksub, lut.data(), base, filter, top);
  };
  size_t visited = 0;
  for (; visited < nprobe; ++visited) scan(order[visited].second);
  if (top.size() < k && visited < nlist) {
    // Too few (admitted) rows in the probed lists: keep going outwards.
    std::sort(order.begin() + nprobe, order.end());
    for (; visited < nlist && top.size() < k; ++visited) scan(order[visited].second);
  }

  // Re-rank the candidates with exact distances over the caller's vectors.
  std::vector<Neighbor> result = top.TakeSorted();
  for (Neighbor& neighbor : result) {
    neighbor.distance = Distance(metric_, query, data_ + static_cast<size_t>(neighbor.label) * dim_, dim_);
  }
  std::sort(result.begin(), result.end());
  if (result.size() > k) result.resize(k);
  return result;
}

// Layout (little-endian; docs/formats/ivf_pq.md):
//   char[8] magic "RLIVFPQ1", u32 version, u32 metric, u64 dim, u64 n,
//   u32 nlist, u32 pq_m, u32 nbits, u32 reserved (0),
//   f32 coarse[nlist × dim], f32 codebooks[pq_m × 2^nbits × dim/pq_m],
//   u32 list_sizes[nlist], then per list: u32 labels[size], u8 codes[size × pq_m],
//   u64 checksum of everything before it.
Status IvfPqIndex::Serialize(std::string* out) const {
  const Model& model = model_;
  if (model.pq_m == 0) return absl::FailedPreconditionError("ivf_pq: Serialize before Build");
  const size_t start = out->size();
  out->append(kMagic, sizeof(kMagic));
  Append(out, kFormatVersion);
  Append(out, static_cast<uint32_t>(metric_ == Metric::kL2 ? 0 : 1));
  Append(out, static_cast<uint64_t>(dim_));
  Append(out, static_cast<uint64_t>(model.n));
  Append(out, static_cast<uint32_t>(model.nlist));
  Append(out, static_cast<uint32_t>(model.pq_m));
  Append(out, static_cast<uint32_t>(model.nbits));
  Append(out, uint32_t{0});
  AppendArray(out, model.coarse.data(), model.coarse.size());
  for (const CentroidTable& table : model.sub_tables) {
    const std::vector<float> codebook = table.Centroids();
    AppendArray(out, codebook.data(), codebook.size());
  }
  for (const InvertedList& list : model.lists) Append(out, static_cast<uint32_t>(list.labels.size()));
  for (const InvertedList& list : model.lists) {
    AppendArray(out, list.labels.data(), list.labels.size());
    AppendArray(out, list.codes.data(), list.codes.size());
  }
  Append(out, Checksum64(out->data() + start, out->size() - start));
  return absl::OkStatus();
}

Status IvfPqIndex::Deserialize(std::string_view bytes, const float* data, size_t n) {
  Status status = Load(bytes, data, n);
  if (!status.ok()) {  // as the other kinds: a failed load leaves an empty index
    data_ = nullptr;
    model_ = Model{};
  }
  return status;
}

Status IvfPqIndex::Load(std::string_view bytes, const float* data, size_t n) {
  if (n > 0 && data == nullptr) return absl::InvalidArgumentError("ivf_pq: data is null");
  if (bytes.size() < sizeof(kMagic) + sizeof(uint64_t)) return Corrupt("truncated header");
  uint64_t stored_checksum;
  std::memcpy(&stored_checksum, bytes.data() + bytes.size() - 8, 8);
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  if (std::memcmp(body.data(), kMagic, sizeof(kMagic)) != 0) return Corrupt("bad magic");
  if (Checksum64(body.data(), body.size()) != stored_checksum) return Corrupt("checksum mismatch (truncated or damaged)");

  Reader reader(body.substr(sizeof(kMagic)));
  uint32_t version, metric, nlist, pq_m, nbits, reserved;
  uint64_t dim, rows;
  if (!reader.Read(&version) || !reader.Read(&metric) || !reader.Read(&dim) ||
      !reader.Read(&rows) || !reader.Read(&nlist) || !reader.Read(&pq_m) ||
      !reader.Read(&nbits) || !reader.Read(&reserved)) {
    return Corrupt("truncated header");
  }
  if (version != kFormatVersion) return Corrupt(absl::StrCat("unknown format version ", version));
  if (metric != (metric_ == Metric::kL2 ? 0u : 1u)) return Corrupt("metric differs from the index's");
  if (dim != dim_) return Corrupt(absl::StrCat("dim ", dim, " differs from the index's ", dim_));
  if (rows != n) return Corrupt(absl::StrCat("built over ", rows, " rows, given ", n));
  if (reserved != 0) return Corrupt("reserved field is not zero");
  if (nbits < 4 || nbits > 8) return Corrupt(absl::StrCat("nbits ", nbits, " out of range"));
  if (pq_m == 0 || pq_m > dim_ || dim_ % pq_m != 0) return Corrupt("pq_m does not divide dim");
  if (n == 0 ? nlist != 0 : (nlist == 0 || nlist > n)) return Corrupt("nlist out of range");
  if (n > std::numeric_limits<Label>::max()) return Corrupt("row count exceeds the label range");

  Model model;
  model.n = n;
  model.nlist = nlist;
  model.pq_m = pq_m;
  model.nbits = nbits;
  model.ksub = size_t{1} << nbits;
  model.dsub = dim_ / pq_m;
  // Sizes are checked against the bytes present before anything is allocated.
  size_t coarse_floats;
  if (!MulFits(nlist, dim_, &coarse_floats) || coarse_floats > reader.remaining() / sizeof(float)) {
    return Corrupt("truncated coarse centroids");
  }
  model.coarse.resize(coarse_floats);
  model.codebooks.resize(pq_m * model.ksub * model.dsub);
  if (!reader.ReadArray(model.coarse.data(), model.coarse.size())) return Corrupt("truncated coarse centroids");
  if (!reader.ReadArray(model.codebooks.data(), model.codebooks.size())) return Corrupt("truncated codebooks");
  if (!AllFinite(model.coarse) || !AllFinite(model.codebooks)) return Corrupt("non-finite centroid");
  if (nlist > reader.remaining() / sizeof(uint32_t)) return Corrupt("truncated list sizes");
  std::vector<uint32_t> sizes(nlist);
  if (!reader.ReadArray(sizes.data(), nlist)) return Corrupt("truncated list sizes");
  uint64_t total = 0;
  for (uint32_t size : sizes) total += size;
  if (total != n) return Corrupt(absl::StrCat("lists hold ", total, " rows, expected ", n));
  size_t payload_bytes;
  if (!MulFits(n, size_t{pq_m} + sizeof(Label), &payload_bytes) || payload_bytes != reader.remaining()) {
    return Corrupt("list payload size mismatch");
  }
  std::vector<bool> seen(n, false);
  model.lists.resize(nlist);
  for (size_t l = 0; l < nlist; ++l) {
    InvertedList& list = model.lists[l];
    list.labels.resize(sizes[l]);
    list.codes.resize(static_cast<size_t>(sizes[l]) * pq_m);
    if (!reader.ReadArray(list.labels.data(), list.labels.size()) ||
        !reader.ReadArray(list.codes.data(), list.codes.size())) {
      return Corrupt("truncated inverted list");
    }
    for (Label label : list.labels) {
      if (label >= n || seen[label]) return Corrupt("label out of range or repeated");
      seen[label] = true;
    }
    if (nbits < 8) {
      for (uint8_t code : list.codes) {
        if (code >= model.ksub) return Corrupt("code out of range");
      }
    }
  }
  if (reader.remaining() != 0) return Corrupt("trailing bytes");
  model.DeriveTables(dim_);
  data_ = data;
  model_ = std::move(model);
  return absl::OkStatus();
}

size_t IvfPqIndex::MemoryBytes() const {
  size_t bytes = (model_.coarse.capacity() + model_.codebooks.capacity()) * sizeof(float) +
                 model_.coarse_table.MemoryBytes() + model_.lists.capacity() * sizeof(InvertedList);
  for (const CentroidTable& table : model_.sub_tables) bytes += table.MemoryBytes();
  for (const InvertedList& list : model_.lists) {
    bytes += list.labels.capacity() * sizeof(Label) + list.codes.capacity();
  }
  return bytes;
}

}  // namespace

std::unique_ptr<VectorIndex> MakeIvfPqIndex(size_t dim, Metric metric, const IndexParams& params) {
  return std::make_unique<IvfPqIndex>(dim, metric, params);
}

}  // namespace ragline::index
