// Tokenizer throughput on the sample passages (English) and on the golden
// fixture's texts (every script, emoji, control characters), in bytes of
// input per second. Needs the fetched model (scripts/fetch_model.sh).
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "embed/tokenizer.h"

namespace ragline::embed {
namespace {

const std::filesystem::path kSourceDir = RAGLINE_SOURCE_DIR;

std::vector<std::string> ReadTexts(const std::filesystem::path& path, bool payload) {
  std::vector<std::string> texts;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto json = nlohmann::json::parse(line);
    if (payload) {
      texts.push_back(json["payload"]["text"].get<std::string>());
    } else if (json.contains("text")) {
      texts.push_back(json["text"].get<std::string>());
    }
  }
  return texts;
}

void Run(benchmark::State& state, const std::vector<std::string>& texts, size_t max_length) {
  auto tokenizer = WordPieceTokenizer::Load(kSourceDir / "models" / "all-MiniLM-L6-v2");
  if (!tokenizer.ok() || texts.empty()) {
    state.SkipWithError("model or texts missing; run scripts/fetch_model.sh");
    return;
  }
  int64_t bytes = 0;
  for (const auto& text : texts) bytes += static_cast<int64_t>(text.size());
  for (auto _ : state) {
    for (const auto& text : texts) benchmark::DoNotOptimize(tokenizer->Encode(text, max_length));
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}

void BM_EncodeSamplePassages(benchmark::State& state) {
  static const auto texts = ReadTexts(kSourceDir / "examples" / "sample_records.jsonl", true);
  Run(state, texts, 512);
}
BENCHMARK(BM_EncodeSamplePassages);

void BM_EncodeGoldenTexts(benchmark::State& state) {
  static const auto texts =
      ReadTexts(kSourceDir / "src" / "embed" / "testdata" / "tokenizer_golden.jsonl", false);
  Run(state, texts, 1 << 20);
}
BENCHMARK(BM_EncodeGoldenTexts);

}  // namespace
}  // namespace ragline::embed
