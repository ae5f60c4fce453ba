// ann_bench: recall@k / QPS / build time / memory of one ragline index kind
// over pinned embeddings, in the protocol bench/anchors.py uses for hnswlib and
// faiss, so bench/report.py can put the numbers side by side.
//
//   ann_bench --base bench/data/base.fvecs --queries bench/data/queries.fvecs
//             --gt bench/data/n200000_gt.ivecs --n 200000
//             --index hnsw --param M=16 --param ef_construction=200
//             --sweep ef_search=10,20,40,80 --build-threads 1,2 --search-threads 1,2
//
// Protocol (same in anchors.py):
//   * build once per --build-threads value (1 = no pool, T > 1 = ThreadPool of
//     T-1 workers + the caller); the last build is the one searched;
//   * for each sweep point (cartesian product of all --sweep keys) and each
//     --search-threads value T: one untimed pass over all queries (warm-up and
//     recall), then --reps timed passes; QPS = queries / best pass time. With T
//     threads the queries are split over T threads (ThreadPool::ParallelFor);
//   * recall@k = |returned top-k ∩ exact top-k| / k averaged over queries.
//
// Self-checks (exit 1 on failure, before any number is trusted): results are
// sorted, unique, in range; FLAT returns an exact top-k (every returned row's
// inner product ≥ the k-th exact one − 1e-4, and recall = 1 up to such ties);
// FLAT/HNSW distances equal −dot(q, x) recomputed here.
//
// Output: one JSON object per line on stdout (records "build" and "search");
// progress on stderr.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/thread_pool.h"
#include "index/distance.h"
#include "index/vector_index.h"

namespace {

using ragline::ThreadPool;
using ragline::index::IndexKind;
using ragline::index::IndexParams;
using ragline::index::Label;
using ragline::index::Neighbor;
using ragline::index::SearchOptions;
using ragline::index::VectorIndex;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

[[noreturn]] void Fail(const std::string& msg) {
  std::cerr << "ann_bench: " << msg << "\n";
  std::exit(1);
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Reads up to max_rows rows (0 = all) of an .fvecs / .ivecs file:
// per row an int32 dimension then `dim` 4-byte values.
template <typename T>
std::vector<T> ReadVecs(const std::string& path, size_t max_rows, size_t* dim_out, size_t* rows_out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot open " + path);
  int32_t dim = 0;
  if (!in.read(reinterpret_cast<char*>(&dim), 4) || dim <= 0 || dim > 100000) {
    Fail(path + ": bad header");
  }
  in.seekg(0, std::ios::end);
  const size_t bytes = static_cast<size_t>(in.tellg());
  const size_t row_bytes = 4 * (static_cast<size_t>(dim) + 1);
  if (bytes % row_bytes != 0) Fail(path + ": size is not a multiple of the row size");
  size_t rows = bytes / row_bytes;
  if (max_rows != 0) {
    if (max_rows > rows) Fail(path + ": has " + std::to_string(rows) + " rows, need " + std::to_string(max_rows));
    rows = max_rows;
  }
  std::vector<T> out(rows * dim);
  in.seekg(0);
  std::vector<char> buf(row_bytes);
  for (size_t r = 0; r < rows; ++r) {
    if (!in.read(buf.data(), row_bytes)) Fail(path + ": short read");
    int32_t d;
    std::memcpy(&d, buf.data(), 4);
    if (d != dim) Fail(path + ": inconsistent row dimension");
    std::memcpy(out.data() + r * dim, buf.data() + 4, 4 * dim);
  }
  *dim_out = dim;
  *rows_out = rows;
  return out;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::vector<uint32_t> ParseList(std::string_view s) {
  std::vector<uint32_t> out;
  for (const auto& tok : Split(s, ',')) out.push_back(static_cast<uint32_t>(std::stoul(tok)));
  return out;
}

struct Args {
  std::string base, queries, gt, index = "hnsw", system = "ragline", label;
  size_t n = 0, k = 10;
  int reps = 3;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::vector<uint32_t>>> sweeps;
  std::vector<uint32_t> build_threads{1, 2}, search_threads{1, 2};
};

void Usage() {
  std::cerr << "usage: ann_bench --base F.fvecs --queries Q.fvecs --gt G.ivecs [--n N] [--k 10]\n"
               "         --index flat|hnsw|ivf_pq [--param KEY=V]... [--sweep KEY=V1,V2,...]...\n"
               "         [--build-threads 1,2] [--search-threads 1,2] [--reps 3] [--label NAME]\n"
               "  sweep keys: ef_search, nprobe, rerank (per-query SearchOptions)\n";
  std::exit(2);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (flag == "--base") a.base = value();
    else if (flag == "--queries") a.queries = value();
    else if (flag == "--gt") a.gt = value();
    else if (flag == "--n") a.n = std::stoull(value());
    else if (flag == "--k") a.k = std::stoull(value());
    else if (flag == "--reps") a.reps = std::stoi(value());
    else if (flag == "--index") a.index = value();
    else if (flag == "--label") a.label = value();
    else if (flag == "--build-threads") a.build_threads = ParseList(value());
    else if (flag == "--search-threads") a.search_threads = ParseList(value());
    else if (flag == "--param" || flag == "--sweep") {
      std::string kv = value();
      auto eq = kv.find('=');
      if (eq == std::string::npos) Usage();
      if (flag == "--param") a.params.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
      else a.sweeps.emplace_back(kv.substr(0, eq), ParseList(kv.substr(eq + 1)));
    } else {
      Usage();
    }
  }
  if (a.base.empty() || a.queries.empty() || a.gt.empty()) Usage();
  if (a.build_threads.empty() || a.search_threads.empty() || a.reps < 1) Usage();
  if (a.label.empty()) a.label = a.index;
  return a;
}

// Cartesian product of the sweeps; each point is a list of (key, value).
std::vector<std::vector<std::pair<std::string, uint32_t>>> SweepPoints(const Args& a) {
  std::vector<std::vector<std::pair<std::string, uint32_t>>> points{{}};
  for (const auto& [key, values] : a.sweeps) {
    std::vector<std::vector<std::pair<std::string, uint32_t>>> next;
    for (const auto& p : points) {
      for (uint32_t v : values) {
        auto q = p;
        q.emplace_back(key, v);
        next.push_back(std::move(q));
      }
    }
    points = std::move(next);
  }
  return points;
}

SearchOptions ToOptions(const std::vector<std::pair<std::string, uint32_t>>& point) {
  SearchOptions o;
  for (const auto& [key, v] : point) {
    if (key == "ef_search" || key == "ef") o.ef_search = v;
    else if (key == "nprobe") o.nprobe = v;
    else if (key == "rerank") o.rerank = v;
    else Fail("unknown sweep key " + key + " (ef_search, nprobe, rerank)");
  }
  return o;
}

size_t PeakRssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  auto kind_or = ragline::index::ParseIndexKind(args.index);
  if (!kind_or.ok()) Fail(std::string(kind_or.status().message()));
  const IndexKind kind = *kind_or;
  IndexParams params;
  for (const auto& [key, value] : args.params) {
    auto st = params.Set(key, value);
    if (!st.ok()) Fail(std::string(st.message()));
  }

  size_t dim = 0, n = 0, qdim = 0, nq = 0, gt_k = 0, gt_rows = 0;
  const auto t_load = Clock::now();
  std::vector<float> base = ReadVecs<float>(args.base, args.n, &dim, &n);
  std::vector<float> queries = ReadVecs<float>(args.queries, 0, &qdim, &nq);
  std::vector<int32_t> gt = ReadVecs<int32_t>(args.gt, 0, &gt_k, &gt_rows);
  if (qdim != dim) Fail("query dimension differs from base dimension");
  if (gt_rows != nq) Fail("ground truth rows != number of queries");
  if (gt_k < args.k) Fail("ground truth has fewer than k neighbours per query");
  for (int32_t id : gt) {
    if (id < 0 || static_cast<size_t>(id) >= n) Fail("ground truth id out of range: wrong --n for this gt file?");
  }
  std::cerr << "loaded n=" << n << " dim=" << dim << " queries=" << nq << " in "
            << Seconds(t_load, Clock::now()) << "s, simd="
            << ragline::index::SimdLevelName(ragline::index::ActiveSimdLevel()) << "\n";

  json common = {{"system", args.system},
                 {"index", args.index},
                 {"label", args.label},
                 {"n", n},
                 {"dim", dim},
                 {"k", args.k},
                 {"simd", std::string(ragline::index::SimdLevelName(ragline::index::ActiveSimdLevel()))}};
  json pj = json::object();
  for (const auto& [key, v] : params.ToMap(kind)) pj[key] = v;
  common["params"] = pj;

  // ---- build
  std::unique_ptr<VectorIndex> index;
  for (uint32_t threads : args.build_threads) {
    index.reset();
    const size_t rss_before = PeakRssBytes();
    index = ragline::index::MakeIndex(kind, dim, ragline::index::Metric::kInnerProduct, params);
    if (!index) Fail("MakeIndex returned null");
    std::unique_ptr<ThreadPool> pool;
    if (threads > 1) pool = std::make_unique<ThreadPool>(threads - 1);
    std::cerr << "building " << args.label << " with " << threads << " thread(s)...\n";
    const auto t0 = Clock::now();
    auto st = index->Build(base.data(), n, pool.get());
    const double build_s = Seconds(t0, Clock::now());
    if (!st.ok()) Fail("Build: " + std::string(st.message()));
    if (index->size() != n) Fail("index size() != n after Build");
    const size_t rss_after = PeakRssBytes();
    const size_t index_bytes = index->MemoryBytes();
    // FLAT and HNSW search the raw vectors; IVF-PQ only with re-rank (reported separately).
    const size_t raw = dim * sizeof(float);
    json rec = common;
    rec["type"] = "build";
    rec["build_threads"] = threads;
    rec["build_s"] = build_s;
    rec["index_bytes"] = index_bytes;
    rec["index_bytes_per_vector"] = static_cast<double>(index_bytes) / n;
    rec["raw_bytes_per_vector"] = raw;
    rec["bytes_per_vector"] =
        static_cast<double>(index_bytes) / n + (kind == IndexKind::kIvfPq ? 0.0 : static_cast<double>(raw));
    rec["rss_delta_bytes"] = rss_after > rss_before ? rss_after - rss_before : 0;
    std::cout << rec.dump() << std::endl;
    std::cerr << "  build " << build_s << "s, " << rec["bytes_per_vector"].get<double>() << " B/vector\n";
  }

  // ---- search sweep
  const size_t k = args.k;
  std::vector<std::vector<Neighbor>> results(nq);
  int failures = 0;
  for (const auto& point : SweepPoints(args)) {
    const SearchOptions options = ToOptions(point);
    json pt = json::object();
    for (const auto& [key, v] : point) pt[key] = v;
    for (uint32_t threads : args.search_threads) {
      std::unique_ptr<ThreadPool> pool;
      if (threads > 1) pool = std::make_unique<ThreadPool>(threads - 1);
      auto run_pass = [&]() {
        auto body = [&](size_t begin, size_t end) {
          for (size_t q = begin; q < end; ++q) {
            results[q] = index->Search(queries.data() + q * dim, k, options, nullptr);
          }
        };
        if (pool) pool->ParallelFor(nq, body, threads);
        else body(0, nq);
      };
      run_pass();  // warm-up; its results give recall
      double hits = 0;
      for (size_t q = 0; q < nq; ++q) {
        const auto& res = results[q];
        const int32_t* truth = gt.data() + q * gt_k;
        std::set<Label> truth_set(truth, truth + k);
        std::set<Label> seen;
        if (res.size() != std::min(k, n)) Fail("query " + std::to_string(q) + ": " + std::to_string(res.size()) + " results");
        for (size_t i = 0; i < res.size(); ++i) {
          if (res[i].label >= n) Fail("label out of range");
          if (!seen.insert(res[i].label).second) Fail("duplicate label in results");
          if (i > 0 && res[i].distance < res[i - 1].distance) Fail("results not sorted by distance");
          if (truth_set.count(res[i].label)) hits += 1;
          if (kind != IndexKind::kIvfPq || options.rerank > 0) {
            const float exact = -ragline::index::DotScalar(queries.data() + q * dim, base.data() + res[i].label * dim, dim);
            if (kind != IndexKind::kIvfPq && std::fabs(exact - res[i].distance) > 1e-3f) {
              Fail("distance mismatch: index says " + std::to_string(res[i].distance) + ", exact " + std::to_string(exact));
            }
            if (kind == IndexKind::kFlat) {
              const float kth = -ragline::index::DotScalar(queries.data() + q * dim, base.data() + truth[k - 1] * dim, dim);
              if (exact > kth + 1e-4f) {
                std::cerr << "FLAT not exact: query " << q << " rank " << i << " dist " << exact << " > k-th exact " << kth << "\n";
                ++failures;
              }
            }
          }
        }
      }
      const double recall = hits / (static_cast<double>(nq) * k);
      double best = 1e300;
      for (int r = 0; r < args.reps; ++r) {
        const auto t0 = Clock::now();
        run_pass();
        best = std::min(best, Seconds(t0, Clock::now()));
      }
      json rec = common;
      rec["type"] = "search";
      rec["search"] = pt;
      rec["threads"] = threads;
      rec["queries"] = nq;
      rec["recall"] = recall;
      rec["qps"] = nq / best;
      std::cout << rec.dump() << std::endl;
      std::cerr << "  " << pt.dump() << " threads=" << threads << " recall@" << k << "=" << recall
                << " qps=" << nq / best << "\n";
      if (kind == IndexKind::kFlat && recall < 0.999) {
        std::cerr << "FLAT recall " << recall << " < 0.999\n";
        ++failures;
      }
    }
  }
  if (failures) Fail(std::to_string(failures) + " self-check failure(s)");
  return 0;
}
