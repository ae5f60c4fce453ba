#include "index/flat_index.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "index/distance.h"
#include "core/byte_io.h"
#include "index/top_k.h"

namespace ragline::index {
namespace {

constexpr char kFlatMagic[8] = {'R', 'L', 'F', 'L', 'A', 'T', '0', '1'};
constexpr uint32_t kFlatVersion = 1;

class FlatIndex final : public VectorIndex {
 public:
  FlatIndex(size_t dim, Metric metric) : dim_(dim), metric_(metric) {}

  IndexKind kind() const override { return IndexKind::kFlat; }
  size_t dim() const override { return dim_; }
  size_t size() const override { return n_; }

  Status Build(const float* data, size_t n, ThreadPool* /*pool*/) override {
    if (n > 0 && data == nullptr) return absl::InvalidArgumentError("flat index: null data");
    if (n > std::numeric_limits<Label>::max()) {
      return absl::InvalidArgumentError(absl::StrCat("flat index: ", n, " rows exceed Label range"));
    }
    data_ = data;
    n_ = n;
    return absl::OkStatus();
  }

  std::vector<Neighbor> Search(const float* query, size_t k, const SearchOptions& /*options*/,
                               const LabelFilter* filter) const override {
    return ExactTopK(metric_, query, data_, n_, dim_, k, filter);
  }

  Status Serialize(std::string* out) const override {
    ByteWriter w(out);
    w.Bytes(kFlatMagic, sizeof(kFlatMagic));
    w.U32(kFlatVersion);
    w.U32(static_cast<uint32_t>(metric_));
    w.U64(dim_);
    w.U64(n_);
    return absl::OkStatus();
  }

  Status Deserialize(std::string_view bytes, const float* data, size_t n) override {
    ByteReader r(bytes);
    char magic[sizeof(kFlatMagic)];
    uint32_t version = 0, metric = 0;
    uint64_t dim = 0, rows = 0;
    if (!r.Bytes(magic, sizeof(magic)) || std::memcmp(magic, kFlatMagic, sizeof(magic)) != 0) {
      return absl::DataLossError("flat index: bad magic");
    }
    if (!r.U32(&version) || !r.U32(&metric) || !r.U64(&dim) || !r.U64(&rows)) {
      return absl::DataLossError("flat index: truncated header");
    }
    if (version != kFlatVersion) {
      return absl::DataLossError(absl::StrCat("flat index: unsupported version ", version));
    }
    if (metric != static_cast<uint32_t>(metric_) || dim != dim_) {
      return absl::DataLossError(absl::StrCat("flat index: serialised metric/dim ", metric, "/", dim,
                                              " do not match index ",
                                              static_cast<uint32_t>(metric_), "/", dim_));
    }
    if (rows != n) {
      return absl::DataLossError(
          absl::StrCat("flat index: serialised over ", rows, " rows, given ", n));
    }
    if (!r.AtEnd()) return absl::DataLossError("flat index: trailing bytes");
    return Build(data, n, nullptr);
  }

  size_t MemoryBytes() const override { return sizeof(*this); }

 private:
  const size_t dim_;
  const Metric metric_;
  const float* data_ = nullptr;  // not owned; n_ × dim_
  size_t n_ = 0;
};

}  // namespace

std::vector<Neighbor> ExactTopK(Metric metric, const float* query, const float* data, size_t n, size_t dim,
                                size_t k, const LabelFilter* filter) {
  if (k == 0 || n == 0) return {};
  const bool filtered = filter != nullptr && filter->admits;
  TopK top(std::min(k, n));
  for (size_t i = 0; i < n; ++i) {
    const Label label = static_cast<Label>(i);
    if (filtered && !filter->admits(label)) continue;
    top.Push(Distance(metric, query, data + i * dim, dim), label);
  }
  return top.TakeSorted();
}

std::unique_ptr<VectorIndex> MakeFlatIndex(size_t dim, Metric metric) {
  return std::make_unique<FlatIndex>(dim, metric);
}

}  // namespace ragline::index
