// embed_bench: throughput and latency of ragline's native encoder, in the
// protocol bench/embed_anchor.py uses for sentence-transformers and
// onnxruntime, so bench/embed_report.py can put the numbers side by side.
//
//   embed_bench --model models/all-MiniLM-L6-v2 --texts T.txt --queries Q.txt
//               --threads 1,2 --batches 32,128 --precision fp32,int8
//               --embeddings-out OUT_PREFIX
//
// Protocol (same in embed_anchor.py):
//   * texts are sorted by token count (longest first, as sentence-transformers
//     does) and cut into batches of B; one untimed pass, then --reps timed
//     passes over all texts; throughput = texts / best pass time;
//   * latency: each query (16 tokens with [CLS]/[SEP]) embedded alone on one
//     thread, after 20 warm-up calls; p50 / p99 over all queries × reps;
//   * T threads = ThreadPool of T-1 workers + the caller.
// FLOP/s counts the dense layers and attention: per layer and sequence of L
// tokens, 2·L·(4h² + 2h·i) + 4·L²·h. The sgemm peak is OpenBLAS sgemm on
// 2048³ with T threads (best of 5).
// With --embeddings-out P, the fp32/int8 embeddings of all texts (input
// order) are written to P.<precision>.f32 so the report can check parity.
//
// Output: JSON lines on stdout; progress on stderr.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/thread_pool.h"
#include "embed/local_embedder.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using ragline::Matrix;
using ragline::ThreadPool;
using namespace ragline::embed;

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "embed_bench: %s\n", msg.c_str());
  std::exit(1);
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) Die("cannot read " + path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<size_t> ParseList(const std::string& s) {
  std::vector<size_t> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t comma = s.find(',', pos);
    out.push_back(std::stoul(s.substr(pos, comma - pos)));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    out.push_back(s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double SgemmPeak(size_t threads) {
  const int n = 2048;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  openblas_set_num_threads(static_cast<int>(threads));
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a.data(), n, b.data(),
                n, 0.0f, c.data(), n);
    best = std::min(best, Seconds(t0, Clock::now()));
  }
  openblas_set_num_threads(1);
  return 2.0 * n * n * n / best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, texts_path, queries_path, embeddings_out;
  std::string threads_arg = "1,2", batches_arg = "32,128", precision_arg = "fp32";
  size_t reps = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--model") model = next();
    else if (a == "--texts") texts_path = next();
    else if (a == "--queries") queries_path = next();
    else if (a == "--threads") threads_arg = next();
    else if (a == "--batches") batches_arg = next();
    else if (a == "--precision") precision_arg = next();
    else if (a == "--reps") reps = std::stoul(next());
    else if (a == "--embeddings-out") embeddings_out = next();
    else Die("unknown argument " + a);
  }
  if (model.empty() || texts_path.empty()) Die("--model and --texts are required");
  std::vector<std::string> texts = ReadLines(texts_path);
  std::vector<std::string> queries;
  if (!queries_path.empty()) queries = ReadLines(queries_path);

  for (size_t t : ParseList(threads_arg)) {
    double peak = SgemmPeak(t);
    std::cout << json{{"record", "sgemm_peak"}, {"threads", t}, {"gflops", peak / 1e9}}.dump()
              << std::endl;
  }

  for (const std::string& precision_name : Split(precision_arg)) {
    Precision precision = precision_name == "int8" ? Precision::kInt8 : Precision::kFp32;
    for (size_t threads : ParseList(threads_arg)) {
      std::unique_ptr<ThreadPool> pool;
      if (threads > 1) pool = std::make_unique<ThreadPool>(threads - 1);
      LocalEmbedderOptions options;
      options.precision = precision;
      auto embedder = LocalEmbedder::Open(model, options, pool.get());
      if (!embedder.ok()) Die(std::string(embedder.status().message()));
      LocalEmbedder& e = **embedder;

      // Token counts, the FLOPs of one pass and the length order.
      const size_t h = 384, inter = 1536, layers = 6;  // checked against the config below
      if (e.dim() != h) Die("FLOP model assumes MiniLM-L6 shapes");
      std::vector<size_t> lengths(texts.size());
      double flops = 0;
      size_t tokens = 0;
      for (size_t i = 0; i < texts.size(); ++i) {
        double L = lengths[i] = e.tokenizer().Encode(texts[i], e.max_seq_length()).ids.size();
        tokens += lengths[i];
        flops += layers * (2 * L * (4.0 * h * h + 2.0 * h * inter) + 4 * L * L * h);
      }
      std::vector<size_t> order(texts.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });

      for (size_t batch : ParseList(batches_arg)) {
        Matrix all(texts.size(), e.dim());
        double best = 1e30;
        for (size_t rep = 0; rep <= reps; ++rep) {
          auto t0 = Clock::now();
          for (size_t begin = 0; begin < order.size(); begin += batch) {
            size_t end = std::min(order.size(), begin + batch);
            std::vector<std::string> chunk;
            for (size_t j = begin; j < end; ++j) chunk.push_back(texts[order[j]]);
            auto m = e.Embed(chunk);
            if (!m.ok()) Die(std::string(m.status().message()));
            if (rep == 0) {
              for (size_t j = begin; j < end; ++j) {
                std::copy(m->row(j - begin).begin(), m->row(j - begin).end(),
                          all.row(order[j]).begin());
              }
            }
          }
          if (rep > 0) best = std::min(best, Seconds(t0, Clock::now()));
        }
        std::cout << json{{"record", "throughput"}, {"engine", "ragline"},
                          {"precision", precision_name}, {"kernel", e.encoder().kernel()}, {"threads", threads},
                          {"batch", batch}, {"texts", texts.size()}, {"tokens", tokens},
                          {"seconds", best}, {"texts_per_s", texts.size() / best},
                          {"tokens_per_s", tokens / best}, {"gflops", flops / best / 1e9}}
                         .dump()
                  << std::endl;
        std::fprintf(stderr, "ragline %s T=%zu B=%zu: %.1f texts/s\n", precision_name.c_str(),
                     threads, batch, texts.size() / best);
        if (!embeddings_out.empty() && threads == 1 && batch == ParseList(batches_arg)[0]) {
          std::string path = embeddings_out + "." + precision_name + ".f32";
          std::ofstream out(path, std::ios::binary);
          out.write(reinterpret_cast<const char*>(all.data()),
                    static_cast<std::streamsize>(all.rows() * all.cols() * sizeof(float)));
        }
      }

      if (threads == 1 && !queries.empty()) {
        std::vector<double> ms;
        for (size_t w = 0; w < 20; ++w) {
          std::vector<std::string> one = {queries[w % queries.size()]};
          (void)e.Embed(one);
        }
        for (size_t rep = 0; rep < reps; ++rep) {
          for (const std::string& q : queries) {
            std::vector<std::string> one = {q};
            auto t0 = Clock::now();
            auto m = e.Embed(one);
            ms.push_back(Seconds(t0, Clock::now()) * 1e3);
            if (!m.ok()) Die(std::string(m.status().message()));
          }
        }
        std::sort(ms.begin(), ms.end());
        std::cout << json{{"record", "latency"}, {"engine", "ragline"},
                          {"precision", precision_name}, {"threads", 1},
                          {"queries", queries.size()}, {"p50_ms", ms[ms.size() / 2]},
                          {"p99_ms", ms[ms.size() * 99 / 100]}}
                         .dump()
                  << std::endl;
      }
    }
  }
  return 0;
}
