#include "index/hnsw_index.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "core/thread_pool.h"
#include "core/byte_io.h"
#include "index/distance.h"
#include "index/top_k.h"

namespace ragline::index {
namespace {

constexpr char kHnswMagic[8] = {'R', 'L', 'H', 'N', 'S', 'W', '0', '1'};
constexpr uint32_t kHnswVersion = 1;
constexpr uint32_t kMaxLevel = 15;
constexpr size_t kCodeAlign = 32;  // code rows are padded to this many int8 lanes
constexpr float kInf = std::numeric_limits<float>::infinity();

size_t RoundUp(size_t x, size_t to) { return (x + to - 1) / to * to; }

// ---- int8 kernels -----------------------------------------------------------
//
// Codes are int8 in [-127, 127]; rows are padded with zeros to a multiple of
// 32, so the kernels have no tails. The query side of a search is int16.
// Callers bound the inputs so int32 accumulators cannot overflow (see
// QueryBound).

struct ScalarOps {
  static int32_t DotQuery(const int16_t* q, const int8_t* c, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; ++i) s += int32_t(q[i]) * c[i];
    return s;
  }
  static int32_t L2Codes(const int8_t* a, const int8_t* b, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; ++i) {
      int32_t d = int32_t(a[i]) - b[i];
      s += d * d;
    }
    return s;
  }
  static int32_t DotCodes(const int8_t* a, const int8_t* b, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; ++i) s += int32_t(a[i]) * b[i];
    return s;
  }
};

struct Avx2Ops {
  __attribute__((target("avx2,fma"))) static inline int32_t HorizontalSum(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
  }
  __attribute__((target("avx2,fma"))) static inline __m256i Widen(const int8_t* p) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  __attribute__((target("avx2,fma"))) static inline int32_t DotQuery(const int16_t* q,
                                                                      const int8_t* c, size_t n) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    for (size_t i = 0; i < n; i += 32) {
      __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i));
      __m256i q1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i + 16));
      acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(Widen(c + i), q0));
      acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(Widen(c + i + 16), q1));
    }
    return HorizontalSum(_mm256_add_epi32(acc0, acc1));
  }
  __attribute__((target("avx2,fma"))) static inline int32_t L2Codes(const int8_t* a,
                                                                     const int8_t* b, size_t n) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    for (size_t i = 0; i < n; i += 32) {
      __m256i d0 = _mm256_sub_epi16(Widen(a + i), Widen(b + i));
      __m256i d1 = _mm256_sub_epi16(Widen(a + i + 16), Widen(b + i + 16));
      acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(d0, d0));
      acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(d1, d1));
    }
    return HorizontalSum(_mm256_add_epi32(acc0, acc1));
  }
  __attribute__((target("avx2,fma"))) static inline int32_t DotCodes(const int8_t* a,
                                                                      const int8_t* b, size_t n) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    for (size_t i = 0; i < n; i += 32) {
      acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(Widen(a + i), Widen(b + i)));
      acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(Widen(a + i + 16), Widen(b + i + 16)));
    }
    return HorizontalSum(_mm256_add_epi32(acc0, acc1));
  }
};

bool UseAvx2() {
  // ActiveSimdLevel honours RAGLINE_SIMD, so "scalar" there also pins HNSW.
  static const bool use = ActiveSimdLevel() != SimdLevel::kScalar;
  return use;
}

// ---- Per-thread scratch -------------------------------------------------------

struct Candidate {
  float dist;
  uint32_t id;
};
struct CloserFirst {  // for a min-heap via std::*_heap (which builds max-heaps)
  bool operator()(const Candidate& a, const Candidate& b) const { return a.dist > b.dist; }
};
struct FartherFirst {
  bool operator()(const Candidate& a, const Candidate& b) const { return a.dist < b.dist; }
};

// Visited marks with epoch tags: clearing is one increment, not an n-byte
// memset, and the array is reused across searches on the same thread.
struct VisitedSet {
  std::vector<uint16_t> tags;
  uint16_t epoch = 0;

  void Begin(size_t n) {
    if (tags.size() < n) {
      tags.assign(n, 0);
      epoch = 0;
    }
    if (++epoch == 0) {
      std::fill(tags.begin(), tags.end(), 0);
      epoch = 1;
    }
  }
  // Marks `id`; true when it was not marked yet.
  bool Visit(uint32_t id) {
    if (tags[id] == epoch) return false;
    tags[id] = epoch;
    return true;
  }
};

struct Scratch {
  VisitedSet visited;
  std::vector<Candidate> candidates;  // min-heap
  std::vector<Candidate> results;     // max-heap, at most ef
  std::vector<uint32_t> neighbors;    // copy of one link list
  std::vector<int16_t> query;         // quantised query, padded
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

class AlignedCodes {
 public:
  void Reset(size_t bytes) {
    ptr_.reset(bytes == 0 ? nullptr
                          : static_cast<int8_t*>(std::aligned_alloc(64, RoundUp(bytes, 64))));
    if (ptr_) std::memset(ptr_.get(), 0, RoundUp(bytes, 64));
    size_ = bytes;
  }
  int8_t* data() { return ptr_.get(); }
  const int8_t* data() const { return ptr_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(int8_t* p) const { std::free(p); }
  };
  std::unique_ptr<int8_t, Free> ptr_;
  size_t size_ = 0;
};

// ---- The index -----------------------------------------------------------------

class HnswIndex final : public VectorIndex {
 public:
  HnswIndex(size_t dim, Metric metric, const IndexParams& params)
      : dim_(dim),
        metric_(metric),
        code_stride_(RoundUp(std::max<size_t>(dim, 1), kCodeAlign)),
        m_(std::clamp<uint32_t>(params.m, 2, 256)),
        m0_(2 * m_),
        ef_construction_(std::max<uint32_t>(params.ef_construction, 1)),
        ef_search_(std::max<uint32_t>(params.ef_search, 1)),
        seed_(params.seed) {}

  IndexKind kind() const override { return IndexKind::kHnsw; }
  size_t dim() const override { return dim_; }
  size_t size() const override { return n_; }

  Status Build(const float* data, size_t n, ThreadPool* pool) override;
  Status Extend(const float* data, size_t n, ThreadPool* pool) override;
  std::vector<Neighbor> Search(const float* query, size_t k, const SearchOptions& options,
                               const LabelFilter* filter) const override;
  Status Serialize(std::string* out) const override;
  Status Deserialize(std::string_view bytes, const float* data, size_t n) override;
  size_t MemoryBytes() const override {
    return sizeof(*this) + codes_.size() + sq_norms_.capacity() * sizeof(float) +
           center_.capacity() * sizeof(float) + levels_.capacity() +
           links0_.capacity() * sizeof(uint32_t) + upper_links_.capacity() * sizeof(uint32_t) +
           upper_offsets_.capacity() * sizeof(uint32_t);
  }

 private:
  // Link list of `node` at `level`: [count, id_0, ..., id_{capacity-1}].
  uint32_t* Links(uint32_t node, uint32_t level) {
    return level == 0 ? &links0_[size_t(node) * (1 + m0_)]
                      : &upper_links_[upper_offsets_[node] + size_t(level - 1) * (1 + m_)];
  }
  const uint32_t* Links(uint32_t node, uint32_t level) const {
    return const_cast<HnswIndex*>(this)->Links(node, level);
  }
  uint32_t Capacity(uint32_t level) const { return level == 0 ? m0_ : m_; }
  const int8_t* Code(uint32_t node) const { return codes_.data() + size_t(node) * code_stride_; }
  void PrefetchCode(uint32_t node) const {
    const char* p = reinterpret_cast<const char*>(Code(node));
    for (size_t off = 0; off < code_stride_; off += 64) __builtin_prefetch(p + off);
  }

  void Clear();
  void Quantize(const float* data, size_t n, ThreadPool* pool);
  // Levels and empty link lists for rows [from, n_); rows before keep theirs.
  void AssignLevels(size_t from);
  // Quantize, AssignLevels(from) and insert rows [from, n_) into the graph.
  Status Grow(size_t from, ThreadPool* pool);

  // Distance between two indexed nodes in code space (build only).
  template <class Ops>
  [[gnu::always_inline]] float NodeDistance(uint32_t a, uint32_t b) const {
    if (metric_ == Metric::kL2) return float(Ops::L2Codes(Code(a), Code(b), code_stride_));
    return -(scale_ * (mu_dot_[a] + mu_dot_[b]) +
             scale_ * scale_ * float(Ops::DotCodes(Code(a), Code(b), code_stride_)));
  }

  template <class Ops, bool kBuild, class DistFn>
  [[gnu::always_inline]] uint32_t GreedyDescend(uint32_t entry, float* entry_dist, uint32_t from_level,
                         uint32_t to_level, const DistFn& dist) const;
  // Best-first search of one layer from `entry`; leaves up to `ef` nodes the
  // filter admits in scratch.results (a max-heap).
  template <class Ops, bool kBuild, class DistFn>
  [[gnu::always_inline]] void SearchLayer(uint32_t entry, float entry_dist, uint32_t level, size_t ef,
                   const DistFn& dist, const LabelFilter* filter, Scratch& scratch) const;
  // Algorithm 4 of the paper: keeps a candidate only if it is closer to the
  // base than to every already kept one. `cands` sorted by distance ascending.
  template <class Ops>
  [[gnu::always_inline]] void SelectNeighbours(std::vector<Candidate>& cands, size_t max_count) const;

  template <class Ops>
  [[gnu::always_inline]] void Insert(uint32_t node);
  template <class Ops>
  void BuildGraph(size_t from, ThreadPool* pool);
  template <class Ops>
  void InsertRange(size_t begin, size_t end);
  // Makes every node reachable on layer 0 from the entry point. Inserts
  // re-select full neighbour lists with the pruning heuristic, which can
  // drop every link to a node: such a node is never returned by any search,
  // at any ef (0.05-0.4% of the rows of small low-dimensional test sets).
  // Each unreached node gets a link from the nearest reached node with a
  // free slot (among its neighbours and theirs, else among all), and what it
  // reaches then counts as reached. Links are only added, so one pass does;
  // O(n·M) when nothing is missing. Cosine and L2 only (see the .cc).
  template <class Ops>
  [[gnu::always_inline]] void ConnectUnreachable();
  __attribute__((target("avx2,fma"))) void ConnectUnreachableAvx2() { ConnectUnreachable<Avx2Ops>(); }
  void ConnectUnreachableScalar() { ConnectUnreachable<ScalarOps>(); }
  template <class Ops>
  [[gnu::always_inline]] void WalkBaseLayer(const int16_t* query, float l2_factor, size_t ef, const LabelFilter* filter,
                     Scratch& scratch) const;

  // Entry points compiled per instruction set; the kernels inline into them.
  __attribute__((target("avx2,fma"))) void InsertRangeAvx2(size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) Insert<Avx2Ops>(static_cast<uint32_t>(i));
  }
  void InsertRangeScalar(size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) Insert<ScalarOps>(static_cast<uint32_t>(i));
  }
  __attribute__((target("avx2,fma"))) void WalkAvx2(const int16_t* query, float l2_factor,
                                                     size_t ef, const LabelFilter* filter,
                                                     Scratch& scratch) const {
    WalkBaseLayer<Avx2Ops>(query, l2_factor, ef, filter, scratch);
  }
  void WalkScalar(const int16_t* query, float l2_factor, size_t ef, const LabelFilter* filter,
                  Scratch& scratch) const {
    WalkBaseLayer<ScalarOps>(query, l2_factor, ef, filter, scratch);
  }

  std::vector<Neighbor> ExactScan(const float* query, size_t k, const LabelFilter* filter) const;
  // True when so few rows pass `filter` that scanning them beats a walk.
  bool PrefersExactScan(const LabelFilter& filter, size_t ef) const {
    const double admitted = double(filter.admitted_estimate);
    return admitted < 4.0 * double(ef) || admitted * admitted < 2.0 * double(ef) * double(n_);
  }

  const size_t dim_;
  const Metric metric_;
  const size_t code_stride_;
  uint32_t m_;
  uint32_t m0_;
  uint32_t ef_construction_;
  const uint32_t ef_search_;
  const uint64_t seed_;

  const float* data_ = nullptr;  // not owned; n_ × dim_
  size_t n_ = 0;

  // Scalar quantisation: x[d] ≈ center_[d] + scale_ * code[d], code in [-127, 127].
  std::vector<float> center_;
  float scale_ = 1.0f;
  AlignedCodes codes_;           // n_ × code_stride_
  std::vector<float> sq_norms_;  // |decoded x|², for L2 search
  std::vector<float> mu_dot_;    // center_ · code, for IP build; freed after build

  std::vector<uint8_t> levels_;
  std::vector<uint32_t> links0_;         // n_ × (1 + m0_)
  std::vector<uint32_t> upper_offsets_;  // per node into upper_links_ (levels_ > 0 only)
  std::vector<uint32_t> upper_links_;    // per node: levels_ × (1 + m_)
  uint32_t entry_point_ = 0;
  uint32_t max_level_ = 0;

  // Build only.
  std::unique_ptr<std::mutex[]> node_locks_;
  std::mutex entry_mu_;
};

void HnswIndex::Clear() {
  data_ = nullptr;
  n_ = 0;
  center_.clear();
  scale_ = 1.0f;
  codes_.Reset(0);
  sq_norms_.clear();
  mu_dot_.clear();
  levels_.clear();
  links0_.clear();
  upper_offsets_.clear();
  upper_links_.clear();
  entry_point_ = 0;
  max_level_ = 0;
}

void HnswIndex::Quantize(const float* data, size_t n, ThreadPool* pool) {
  std::vector<float> lo(dim_, kInf), hi(dim_, -kInf);
  for (size_t i = 0; i < n; ++i) {
    const float* x = data + i * dim_;
    for (size_t d = 0; d < dim_; ++d) {
      lo[d] = std::min(lo[d], x[d]);
      hi[d] = std::max(hi[d], x[d]);
    }
  }
  center_.assign(dim_, 0.0f);
  float range = 0.0f;
  for (size_t d = 0; d < dim_; ++d) {
    center_[d] = 0.5f * (lo[d] + hi[d]);
    range = std::max(range, hi[d] - lo[d]);
  }
  scale_ = range / 254.0f;
  if (!(scale_ > 0.0f) || !std::isfinite(scale_)) scale_ = 1.0f;
  const float inv_scale = 1.0f / scale_;

  codes_.Reset(n * code_stride_);
  sq_norms_.assign(n, 0.0f);
  mu_dot_.assign(n, 0.0f);
  auto encode = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      const float* x = data + i * dim_;
      int8_t* code = codes_.data() + i * code_stride_;
      float sq = 0.0f, mu_dot = 0.0f;
      for (size_t d = 0; d < dim_; ++d) {
        float c = std::nearbyint((x[d] - center_[d]) * inv_scale);
        c = std::clamp(c, -127.0f, 127.0f);
        if (!(c == c)) c = 0.0f;  // NaN input
        code[d] = static_cast<int8_t>(c);
        float decoded = center_[d] + scale_ * c;
        sq += decoded * decoded;
        mu_dot += center_[d] * c;
      }
      sq_norms_[i] = sq;
      mu_dot_[i] = mu_dot;
    }
  };
  if (pool != nullptr) {
    pool->ParallelFor(n, encode);
  } else {
    encode(0, n);
  }
}

void HnswIndex::AssignLevels(size_t from) {
  std::mt19937_64 rng(seed_);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const double mult = 1.0 / std::log(double(m_));
  levels_.resize(n_, 0);
  upper_offsets_.resize(n_, 0);
  size_t upper_total = from == 0 ? 0 : upper_offsets_[from - 1] + size_t(levels_[from - 1]) * (1 + m_);
  for (size_t i = 0; i < n_; ++i) {
    // Draw for every row, so a grown index gives row i the level a build would.
    double u = 1.0 - uniform(rng);  // (0, 1]
    if (i < from) continue;
    uint32_t level = static_cast<uint32_t>(std::min<double>(kMaxLevel, -std::log(u) * mult));
    levels_[i] = static_cast<uint8_t>(level);
    upper_offsets_[i] = static_cast<uint32_t>(upper_total);
    upper_total += size_t(level) * (1 + m_);
  }
  upper_links_.resize(upper_total, 0);
  links0_.resize(n_ * (1 + m0_), 0);
}

template <class Ops, bool kBuild, class DistFn>
[[gnu::always_inline]] inline uint32_t HnswIndex::GreedyDescend(uint32_t entry, float* entry_dist, uint32_t from_level,
                                  uint32_t to_level, const DistFn& dist) const {
  uint32_t cur = entry;
  float cur_dist = *entry_dist;
  uint32_t buffer[257];
  for (uint32_t level = from_level; level > to_level; --level) {
    for (bool changed = true; changed;) {
      changed = false;
      const uint32_t* links = Links(cur, level);
      uint32_t count;
      if constexpr (kBuild) {
        std::lock_guard<std::mutex> lock(node_locks_[cur]);
        count = links[0];
        std::memcpy(buffer, links + 1, count * sizeof(uint32_t));
        links = buffer;
      } else {
        count = links[0];
        ++links;
      }
      for (uint32_t j = 0; j < count; ++j) {
        const uint32_t next = links[j];
        if (j + 1 < count) PrefetchCode(links[j + 1]);
        const float d = dist(next);
        if (d < cur_dist) {
          cur_dist = d;
          cur = next;
          changed = true;
        }
      }
    }
  }
  *entry_dist = cur_dist;
  return cur;
}

template <class Ops, bool kBuild, class DistFn>
[[gnu::always_inline]] inline void HnswIndex::SearchLayer(uint32_t entry, float entry_dist,
                                                         uint32_t level, size_t ef,
                                                         const DistFn& dist,
                                                         const LabelFilter* filter,
                                                         Scratch& scratch) const {
  auto& candidates = scratch.candidates;
  auto& results = scratch.results;
  candidates.clear();
  results.clear();
  scratch.visited.Begin(n_);
  scratch.neighbors.resize(m0_ + 1);
  uint32_t* todo = scratch.neighbors.data();
  const bool filtered = filter != nullptr && filter->admits;

  scratch.visited.Visit(entry);
  candidates.push_back({entry_dist, entry});
  if (!filtered || filter->admits(entry)) results.push_back({entry_dist, entry});
  float bound = results.empty() ? kInf : entry_dist;

  while (!candidates.empty()) {
    const Candidate current = candidates.front();
    if (current.dist > bound && (results.size() >= ef || !filtered)) break;
    std::pop_heap(candidates.begin(), candidates.end(), CloserFirst());
    candidates.pop_back();

    // Collect the unvisited neighbours first, then score them with the next
    // one's code prefetched while the current one is computed.
    uint32_t num_todo = 0;
    {
      const uint32_t* links = Links(current.id, level);
      std::unique_lock<std::mutex> lock;
      if constexpr (kBuild) lock = std::unique_lock<std::mutex>(node_locks_[current.id]);
      const uint32_t count = links[0];
      for (uint32_t j = 1; j <= count; ++j) {
        const uint32_t next = links[j];
        if (scratch.visited.Visit(next)) todo[num_todo++] = next;
      }
    }
    if (num_todo > 0) PrefetchCode(todo[0]);
    for (uint32_t j = 0; j < num_todo; ++j) {
      if (j + 1 < num_todo) PrefetchCode(todo[j + 1]);
      const uint32_t next = todo[j];
      const float d = dist(next);
      if (results.size() < ef || d < bound) {
        candidates.push_back({d, next});
        std::push_heap(candidates.begin(), candidates.end(), CloserFirst());
        if (!filtered || filter->admits(next)) {
          results.push_back({d, next});
          std::push_heap(results.begin(), results.end(), FartherFirst());
          if (results.size() > ef) {
            std::pop_heap(results.begin(), results.end(), FartherFirst());
            results.pop_back();
          }
          bound = results.front().dist;
        }
      }
    }
  }
}

template <class Ops>
[[gnu::always_inline]] inline void HnswIndex::SelectNeighbours(std::vector<Candidate>& cands, size_t max_count) const {
  if (cands.size() <= max_count) return;
  size_t kept = 0;
  for (size_t i = 0; i < cands.size() && kept < max_count; ++i) {
    const Candidate c = cands[i];
    bool good = true;
    for (size_t j = 0; j < kept; ++j) {
      if (NodeDistance<Ops>(c.id, cands[j].id) < c.dist) {
        good = false;
        break;
      }
    }
    if (good) cands[kept++] = c;
  }
  cands.resize(kept);
}

template <class Ops>
[[gnu::always_inline]] inline void HnswIndex::Insert(uint32_t node) {
  const uint32_t level = levels_[node];
  std::unique_lock<std::mutex> entry_lock(entry_mu_);
  const uint32_t top = max_level_;
  uint32_t entry = entry_point_;
  // Like hnswlib: a node that raises the top level holds the entry lock for
  // its whole insertion, so the new entry point is complete when published.
  if (level <= top) entry_lock.unlock();

  auto dist = [this, node](uint32_t other)
                  __attribute__((always_inline)) { return NodeDistance<Ops>(node, other); };
  float entry_dist = dist(entry);
  if (level < top) entry = GreedyDescend<Ops, true>(entry, &entry_dist, top, level, dist);

  Scratch& scratch = ThreadScratch();
  std::vector<Candidate> selected;
  std::vector<Candidate> rebuilt;
  for (int lc = static_cast<int>(std::min(level, top)); lc >= 0; --lc) {
    const uint32_t l = static_cast<uint32_t>(lc);
    SearchLayer<Ops, true>(entry, entry_dist, l, ef_construction_, dist, nullptr, scratch);
    selected.clear();
    for (const Candidate& c : scratch.results) {
      // A parallel insert may already have linked to `node`; never link to self.
      if (c.id != node) selected.push_back(c);
    }
    if (selected.empty()) continue;
    std::sort(selected.begin(), selected.end(),
              [](const Candidate& a, const Candidate& b) { return a.dist < b.dist; });
    // Next layer starts from the closest node found here.
    entry = selected.front().id;
    entry_dist = selected.front().dist;
    SelectNeighbours<Ops>(selected, m_);

    {
      std::lock_guard<std::mutex> lock(node_locks_[node]);
      uint32_t* links = Links(node, l);
      links[0] = static_cast<uint32_t>(selected.size());
      for (size_t j = 0; j < selected.size(); ++j) links[1 + j] = selected[j].id;
    }
    const uint32_t capacity = Capacity(l);
    for (const Candidate& s : selected) {
      if (s.id == node) continue;
      std::lock_guard<std::mutex> lock(node_locks_[s.id]);
      uint32_t* links = Links(s.id, l);
      const uint32_t count = links[0];
      bool present = false;
      for (uint32_t j = 1; j <= count; ++j) present |= links[j] == node;
      if (present) continue;
      if (count < capacity) {
        links[1 + count] = node;
        links[0] = count + 1;
        continue;
      }
      // Full: re-select among the old neighbours plus the new node.
      rebuilt.clear();
      rebuilt.push_back({s.dist, node});
      for (uint32_t j = 1; j <= count; ++j) {
        rebuilt.push_back({NodeDistance<Ops>(s.id, links[j]), links[j]});
      }
      std::sort(rebuilt.begin(), rebuilt.end(),
                [](const Candidate& a, const Candidate& b) { return a.dist < b.dist; });
      SelectNeighbours<Ops>(rebuilt, capacity);
      links[0] = static_cast<uint32_t>(rebuilt.size());
      for (size_t j = 0; j < rebuilt.size(); ++j) links[1 + j] = rebuilt[j].id;
    }
  }
  if (level > top) {
    entry_point_ = node;
    max_level_ = level;
  }
}

template <class Ops>
void HnswIndex::InsertRange(size_t begin, size_t end) {
  if constexpr (std::is_same_v<Ops, Avx2Ops>) {
    InsertRangeAvx2(begin, end);
  } else {
    InsertRangeScalar(begin, end);
  }
}

template <class Ops>
void HnswIndex::BuildGraph(size_t from, ThreadPool* pool) {
  node_locks_ = std::make_unique<std::mutex[]>(n_);
  if (from == 0) {
    entry_point_ = 0;
    max_level_ = levels_[0];
    from = 1;
  }
  if (pool != nullptr && pool->size() > 0 && n_ > from) {
    // Insert a small prefix serially so the parallel phase starts from a
    // connected graph (and small builds stay deterministic).
    const size_t serial = std::max<size_t>(from, std::min<size_t>(n_, 1000));
    InsertRange<Ops>(from, serial);
    pool->ParallelFor(n_ - serial, [&](size_t begin, size_t end) {
      InsertRange<Ops>(serial + begin, serial + end);
    });
  } else {
    InsertRange<Ops>(from, n_);
  }
  node_locks_.reset();
  if constexpr (std::is_same_v<Ops, Avx2Ops>) {
    ConnectUnreachableAvx2();
  } else {
    ConnectUnreachableScalar();
  }
}

template <class Ops>
[[gnu::always_inline]] inline void HnswIndex::ConnectUnreachable() {
  if (n_ == 0) return;
  // Inner product over vectors of unequal length (not cosine) has nodes
  // that are nobody's neighbour by design (short vectors): linking them in
  // would only cost the others' links.
  if (metric_ == Metric::kInnerProduct) {
    for (size_t i = 0; i < n_; ++i) {
      double sq = 0;
      for (size_t d = 0; d < dim_; ++d) sq += double(data_[i * dim_ + d]) * data_[i * dim_ + d];
      if (std::fabs(sq - 1.0) > 1e-3) return;
    }
  }
  std::vector<uint8_t> reached(n_, 0);
  std::vector<uint32_t> queue;
  auto reach_from = [&](uint32_t start) {
    reached[start] = 1;
    queue.assign(1, start);
    while (!queue.empty()) {
      const uint32_t u = queue.back();
      queue.pop_back();
      const uint32_t* links = Links(u, 0);
      for (uint32_t j = 1; j <= links[0]; ++j) {
        if (!reached[links[j]]) {
          reached[links[j]] = 1;
          queue.push_back(links[j]);
        }
      }
    }
  };
  reach_from(entry_point_);
  // Links are only added, never removed, so what is reached stays reached.
  std::vector<uint32_t> near;
  std::vector<uint8_t> seen(n_, 0);
  for (uint32_t u = 0; u < n_; ++u) {
    if (reached[u]) continue;
    // Hosts: reached nodes with a free slot, among u's neighbours and
    // theirs; failing that, among all reached nodes.
    near.clear();
    const uint32_t* own = Links(u, 0);
    for (uint32_t j = 1; j <= own[0]; ++j) {
      const uint32_t* second = Links(own[j], 0);
      for (uint32_t k = 0; k <= second[0]; ++k) {
        const uint32_t v = k == 0 ? own[j] : second[k];
        if (!seen[v]) {
          seen[v] = 1;
          near.push_back(v);
        }
      }
    }
    for (uint32_t v : near) seen[v] = 0;
    auto has_room = [&](uint32_t v) { return v != u && reached[v] && Links(v, 0)[0] < m0_; };
    std::erase_if(near, [&](uint32_t v) { return !has_room(v); });
    if (near.empty()) {
      for (uint32_t v = 0; v < n_; ++v) {
        if (has_room(v)) near.push_back(v);
      }
    }
    if (near.empty()) continue;  // every reached node is full: cannot happen below n = m0_ + 1
    uint32_t host = near[0];
    float host_dist = NodeDistance<Ops>(u, host);
    for (uint32_t v : near) {
      const float d = NodeDistance<Ops>(u, v);
      if (d < host_dist) {
        host = v;
        host_dist = d;
      }
    }
    uint32_t* links = Links(host, 0);
    links[++links[0]] = u;
    reach_from(u);
  }
}

Status HnswIndex::Grow(size_t from, ThreadPool* pool) {
  // Codes cover the range of all rows; the graph is only ids, so re-quantising
  // the rows it already holds does not disturb it.
  Quantize(data_, n_, pool);
  AssignLevels(from);
  if (upper_links_.size() >= std::numeric_limits<uint32_t>::max()) {
    Clear();
    return absl::ResourceExhaustedError("hnsw index: upper layers too large");
  }
  if (UseAvx2()) {
    BuildGraph<Avx2Ops>(from, pool);
  } else {
    BuildGraph<ScalarOps>(from, pool);
  }
  std::vector<float>().swap(mu_dot_);
  return absl::OkStatus();
}

Status HnswIndex::Build(const float* data, size_t n, ThreadPool* pool) {
  Clear();
  if (n > 0 && data == nullptr) return absl::InvalidArgumentError("hnsw index: null data");
  if (n >= std::numeric_limits<uint32_t>::max() / 2) {
    return absl::InvalidArgumentError(absl::StrCat("hnsw index: ", n, " rows is too many"));
  }
  data_ = data;
  n_ = n;
  if (n == 0) return absl::OkStatus();
  return Grow(0, pool);
}

Status HnswIndex::Extend(const float* data, size_t n, ThreadPool* pool) {
  if (n_ == 0) return Build(data, n, pool);
  if (n < n_ || data == nullptr || n >= std::numeric_limits<uint32_t>::max() / 2) {
    const size_t had = n_;
    Clear();
    return absl::InvalidArgumentError(absl::StrCat("hnsw index: cannot grow ", had, " rows to ", n,
                                                   data == nullptr ? " of null data" : ""));
  }
  const size_t from = n_;
  data_ = data;
  n_ = n;
  if (n == from) return absl::OkStatus();
  return Grow(from, pool);
}

// ---- Search ---------------------------------------------------------------------

template <class Ops>
[[gnu::always_inline]] inline void HnswIndex::WalkBaseLayer(const int16_t* query, float l2_factor,
                                                           size_t ef, const LabelFilter* filter,
                                                           Scratch& scratch) const {
  const int8_t* codes = codes_.data();
  const size_t stride = code_stride_;
  const float* sq_norms = sq_norms_.data();
  auto dist = [&](uint32_t id) __attribute__((always_inline)) -> float {
    const int32_t dot = Ops::DotQuery(query, codes + size_t(id) * stride, stride);
    return metric_ == Metric::kL2 ? sq_norms[id] - l2_factor * float(dot) : -float(dot);
  };
  float entry_dist = dist(entry_point_);
  uint32_t entry = GreedyDescend<Ops, false>(entry_point_, &entry_dist, max_level_, 0, dist);
  SearchLayer<Ops, false>(entry, entry_dist, 0, ef, dist, filter, scratch);
}

std::vector<Neighbor> HnswIndex::ExactScan(const float* query, size_t k,
                                           const LabelFilter* filter) const {
  return ExactTopK(metric_, query, data_, n_, dim_, k, filter);
}

std::vector<Neighbor> HnswIndex::Search(const float* query, size_t k, const SearchOptions& options,
                                        const LabelFilter* filter) const {
  if (k == 0 || n_ == 0) return {};
  const size_t ef = std::max<size_t>(options.ef_search != 0 ? options.ef_search : ef_search_, k);
  const bool filtered = filter != nullptr && filter->admits;
  if (filtered && PrefersExactScan(*filter, ef)) return ExactScan(query, k, filter);

  // Quantise the query to int16 at the finest scale the int32 accumulators
  // allow: |q| * 127 * code_stride_ must stay below 2^31.
  Scratch& scratch = ThreadScratch();
  scratch.query.assign(code_stride_, 0);
  float max_abs = 0.0f;
  for (size_t d = 0; d < dim_; ++d) max_abs = std::max(max_abs, std::fabs(query[d]));
  const double bound =
      std::min(32767.0, std::floor(double(std::numeric_limits<int32_t>::max()) /
                                   (128.0 * double(code_stride_))));
  const float q_scale = max_abs > 0.0f && std::isfinite(max_abs) ? float(bound / max_abs) : 1.0f;
  for (size_t d = 0; d < dim_; ++d) {
    float v = std::clamp(std::nearbyint(query[d] * q_scale), -float(bound), float(bound));
    scratch.query[d] = v == v ? static_cast<int16_t>(v) : int16_t{0};
  }
  // L2 ranks by |x|² - 2 q·x over decoded x = center + scale * code; the q·center
  // and |q|² terms are the same for every row and drop out.
  const float l2_factor = 2.0f * scale_ / q_scale;
  if (UseAvx2()) {
    WalkAvx2(scratch.query.data(), l2_factor, ef, filter, scratch);
  } else {
    WalkScalar(scratch.query.data(), l2_factor, ef, filter, scratch);
  }

  // Re-rank what the walk found with exact distances over the caller's rows.
  std::vector<Neighbor> out;
  out.reserve(scratch.results.size());
  size_t rerank = scratch.results.size();
  if (options.rerank != 0) rerank = std::max<size_t>(k, options.rerank);
  if (rerank < scratch.results.size()) {
    std::sort(scratch.results.begin(), scratch.results.end(),
              [](const Candidate& a, const Candidate& b) { return a.dist < b.dist; });
    scratch.results.resize(rerank);
  }
  for (size_t i = 0; i < scratch.results.size(); ++i) {
    if (i + 1 < scratch.results.size()) {
      const char* next = reinterpret_cast<const char*>(data_ + size_t(scratch.results[i + 1].id) * dim_);
      for (size_t off = 0; off < dim_ * sizeof(float); off += 64) __builtin_prefetch(next + off);
    }
    const uint32_t id = scratch.results[i].id;
    out.push_back({Distance(metric_, query, data_ + size_t(id) * dim_, dim_), id});
  }
  const size_t keep = std::min(k, out.size());
  std::partial_sort(out.begin(), out.begin() + keep, out.end());
  out.resize(keep);
  // The walk can miss admitted rows behind a selective filter; the contract
  // is k hits whenever k rows pass, so fall back to scanning them.
  if (filtered && out.size() < k) return ExactScan(query, k, filter);
  return out;
}

// ---- Serialisation ---------------------------------------------------------------
//
// Layout (host byte order): magic "RLHNSW01", u32 version, u32 metric, u64 dim,
// u64 n, u32 m, u32 m0, u32 ef_construction, u32 max_level, u32 entry_point,
// u64 code_stride, f32 scale, f32 center[dim], u8 levels[n],
// u32 links0[n * (1 + m0)], u64 upper_count, u32 upper_links[upper_count],
// i8 codes[n * code_stride], f32 sq_norms[n], u64 checksum of all bytes before.

Status HnswIndex::Serialize(std::string* out) const {
  const size_t start = out->size();
  ByteWriter w(out);
  w.Bytes(kHnswMagic, sizeof(kHnswMagic));
  w.U32(kHnswVersion);
  w.U32(static_cast<uint32_t>(metric_));
  w.U64(dim_);
  w.U64(n_);
  w.U32(m_);
  w.U32(m0_);
  w.U32(ef_construction_);
  w.U32(max_level_);
  w.U32(entry_point_);
  w.U64(code_stride_);
  w.F32(scale_);
  std::vector<float> center = center_;
  center.resize(dim_, 0.0f);
  w.Array(center.data(), dim_);
  w.Array(levels_.data(), n_);
  w.Array(links0_.data(), links0_.size());
  w.U64(upper_links_.size());
  w.Array(upper_links_.data(), upper_links_.size());
  w.Array(codes_.data(), n_ * code_stride_);
  w.Array(sq_norms_.data(), n_);
  w.U64(Checksum64(out->data() + start, out->size() - start));
  return absl::OkStatus();
}

Status HnswIndex::Deserialize(std::string_view bytes, const float* data, size_t n) {
  auto corrupt = [](const std::string& what) {
    return absl::DataLossError(absl::StrCat("hnsw index: ", what));
  };
  if (bytes.size() < sizeof(kHnswMagic) + sizeof(uint64_t)) return corrupt("truncated");
  if (std::memcmp(bytes.data(), kHnswMagic, sizeof(kHnswMagic)) != 0) return corrupt("bad magic");
  uint64_t stored_sum;
  std::memcpy(&stored_sum, bytes.data() + bytes.size() - sizeof(stored_sum), sizeof(stored_sum));
  const std::string_view body = bytes.substr(0, bytes.size() - sizeof(stored_sum));
  if (Checksum64(body.data(), body.size()) != stored_sum) return corrupt("checksum mismatch");

  ByteReader r(body);
  char magic[sizeof(kHnswMagic)];
  uint32_t version = 0, metric = 0, m = 0, m0 = 0, efc = 0, max_level = 0, entry = 0;
  uint64_t dim = 0, rows = 0, stride = 0;
  float scale = 0.0f;
  if (!r.Bytes(magic, sizeof(magic)) || !r.U32(&version) || !r.U32(&metric) || !r.U64(&dim) ||
      !r.U64(&rows) || !r.U32(&m) || !r.U32(&m0) || !r.U32(&efc) || !r.U32(&max_level) ||
      !r.U32(&entry) || !r.U64(&stride) || !r.F32(&scale)) {
    return corrupt("truncated header");
  }
  if (version != kHnswVersion) return corrupt(absl::StrCat("unsupported version ", version));
  if (metric != static_cast<uint32_t>(metric_) || dim != dim_) {
    return corrupt(absl::StrCat("serialised metric/dim ", metric, "/", dim, " do not match ",
                                static_cast<uint32_t>(metric_), "/", dim_));
  }
  if (rows != n) return corrupt(absl::StrCat("serialised over ", rows, " rows, given ", n));
  if (n > 0 && data == nullptr) return absl::InvalidArgumentError("hnsw index: null data");
  if (m < 2 || m > 256 || m0 < m || m0 > 512 || efc == 0) return corrupt("bad graph parameters");
  if (stride != code_stride_) return corrupt("bad code stride");
  if (!(scale > 0.0f) || !std::isfinite(scale)) return corrupt("bad scale");
  if (max_level > kMaxLevel || (n > 0 && entry >= n) || (n == 0 && (entry != 0 || max_level != 0))) {
    return corrupt("bad entry point");
  }
  // Every array below must fit in what is left before we allocate it.
  if (n > r.remaining()) return corrupt("truncated levels");

  Clear();
  m_ = m;
  m0_ = m0;
  ef_construction_ = efc;
  auto fail = [&](const std::string& what) {
    Clear();
    return corrupt(what);
  };
  center_.resize(dim_);
  if (!r.Array(center_.data(), dim_)) return fail("truncated center");
  levels_.resize(n);
  if (!r.Array(levels_.data(), n)) return fail("truncated levels");
  upper_offsets_.assign(n, 0);
  uint64_t upper_total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (levels_[i] > max_level) return fail("node above the top level");
    upper_offsets_[i] = static_cast<uint32_t>(upper_total);
    upper_total += uint64_t(levels_[i]) * (1 + m_);
    if (upper_total >= std::numeric_limits<uint32_t>::max()) return fail("bad levels");
  }
  if (n > 0 && levels_[entry] != max_level) return fail("entry point is not on the top level");
  const uint64_t links0_count = uint64_t(n) * (1 + m0_);
  if (links0_count > r.remaining() / sizeof(uint32_t)) return fail("truncated links");
  links0_.resize(links0_count);
  if (!r.Array(links0_.data(), links0_count)) return fail("truncated links");
  uint64_t upper_count = 0;
  if (!r.U64(&upper_count) || upper_count != upper_total) return fail("bad upper link count");
  if (upper_count > r.remaining() / sizeof(uint32_t)) return fail("truncated upper links");
  upper_links_.resize(upper_count);
  if (!r.Array(upper_links_.data(), upper_count)) return fail("truncated upper links");
  if (uint64_t(n) * stride > r.remaining()) return fail("truncated codes");
  codes_.Reset(n * stride);
  if (!r.Array(codes_.data(), n * stride)) return fail("truncated codes");
  sq_norms_.resize(n);
  if (!r.Array(sq_norms_.data(), n)) return fail("truncated norms");
  if (!r.AtEnd()) return fail("trailing bytes");

  // Every link must name a row: a bad id would send a search out of bounds.
  auto valid_lists = [&](const std::vector<uint32_t>& links, uint32_t capacity) {
    for (size_t pos = 0; pos < links.size(); pos += 1 + capacity) {
      const uint32_t count = links[pos];
      if (count > capacity) return false;
      for (uint32_t j = 1; j <= count; ++j) {
        if (links[pos + j] >= n) return false;
      }
    }
    return true;
  };
  if (!valid_lists(links0_, m0_) || !valid_lists(upper_links_, m_)) return fail("bad link");
  // An upper-level link must lead to a node that exists on that level, or
  // the walk would read another node's (or no node's) link list.
  for (size_t i = 0; i < n; ++i) {
    for (uint32_t level = 1; level <= levels_[i]; ++level) {
      const uint32_t* links = Links(static_cast<uint32_t>(i), level);
      for (uint32_t j = 1; j <= links[0]; ++j) {
        if (levels_[links[j]] < level) return fail("link to a node below its level");
      }
    }
  }
  scale_ = scale;
  entry_point_ = entry;
  max_level_ = max_level;
  data_ = data;
  n_ = n;
  return absl::OkStatus();
}

}  // namespace

std::unique_ptr<VectorIndex> MakeHnswIndex(size_t dim, Metric metric, const IndexParams& params) {
  return std::make_unique<HnswIndex>(dim, metric, params);
}

}  // namespace ragline::index
