#include "embed/bert_encoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/strings.h"
#include "embed/int8_gemm.h"
#include "embed/tokenizer.h"

namespace ragline::embed {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

const fs::path kModelDir = fs::path(RAGLINE_SOURCE_DIR) / "models" / "all-MiniLM-L6-v2";
const fs::path kTestdata = fs::path(RAGLINE_SOURCE_DIR) / "src" / "embed" / "testdata";
constexpr size_t kDim = 384;

struct ParityCase {
  std::string text;
  std::vector<int32_t> ids;
};

// The model is fetched, not committed: a missing one fails loudly (no skip).
#define REQUIRE_MODEL()                                                                         \
  ASSERT_TRUE(fs::exists(kModelDir / "model.safetensors"))                                      \
      << "model directory " << kModelDir << " is missing: run scripts/fetch_model.sh to fetch " \
      << "all-MiniLM-L6-v2"

class BertEncoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(kModelDir / "model.safetensors")) return;
    auto encoder = BertEncoder::Load(kModelDir);
    ASSERT_TRUE(encoder.ok()) << encoder.status();
    encoder_ = encoder->release();
  }
  static void TearDownTestSuite() {
    delete encoder_;
    encoder_ = nullptr;
  }

  static std::vector<ParityCase> ReadCases() {
    std::vector<ParityCase> cases;
    std::ifstream in(kTestdata / "parity_cases.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line);
      cases.push_back({j["text"].get<std::string>(), j["ids"].get<std::vector<int32_t>>()});
    }
    return cases;
  }

  static std::vector<float> ReadGolden(size_t rows) {
    std::vector<float> golden(rows * kDim);
    std::ifstream in(kTestdata / "parity_embeddings.f32", std::ios::binary);
    in.read(reinterpret_cast<char*>(golden.data()), static_cast<std::streamsize>(golden.size() * 4));
    EXPECT_EQ(static_cast<size_t>(in.gcount()), golden.size() * 4) << "parity_embeddings.f32 is short";
    return golden;
  }

  // A scratch model dir: symlinks to every file of the real one except
  // `except`, which the test then writes itself.
  static fs::path ScratchModelDir(const std::string& name, const std::string& except) {
    const fs::path dir = fs::temp_directory_path() / ("ragline_bert_encoder_test_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& entry : fs::directory_iterator(kModelDir)) {
      if (entry.path().filename() == except) continue;
      fs::create_symlink(fs::absolute(entry.path()), dir / entry.path().filename());
    }
    return dir;
  }

  static double Cosine(std::span<const float> a, std::span<const float> b) {
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      dot += double{a[i]} * b[i];
      na += double{a[i]} * a[i];
      nb += double{b[i]} * b[i];
    }
    return dot / std::sqrt(na * nb);
  }

  struct Parity {
    double min_cos = 2.0;
    double mean_cos = 0.0;
    size_t worst = 0;
    size_t checked = 0;
  };

  // Encodes the fixture cases (every `stride`-th) with `encoder` and compares
  // each row with sentence-transformers' embedding; every cosine must reach
  // `threshold`. Prints and records min / mean.
  static Parity CheckParity(const BertEncoder& encoder, double threshold, const char* label) {
    const std::vector<ParityCase> cases = ReadCases();
    EXPECT_GE(cases.size(), 1000u);
    const std::vector<float> golden = ReadGolden(cases.size());
    // Under ASan every 8th case keeps the binary within its CI time budget.
    const size_t stride = kSanitized ? 8 : 1;
    ThreadPool pool(2);
    constexpr size_t kBatch = 64;
    Parity p;
    double sum_cos = 0.0;
    std::vector<size_t> indices;
    for (size_t i = 0; i < cases.size(); i += stride) indices.push_back(i);
    for (size_t b = 0; b < indices.size(); b += kBatch) {
      std::vector<std::vector<int32_t>> batch;
      for (size_t j = b; j < std::min(indices.size(), b + kBatch); ++j) batch.push_back(cases[indices[j]].ids);
      auto out = encoder.Encode(batch, &pool);
      EXPECT_TRUE(out.ok()) << out.status();
      if (!out.ok()) return p;
      EXPECT_EQ(out->rows(), batch.size());
      for (size_t j = 0; j < batch.size(); ++j) {
        const size_t i = indices[b + j];
        const double cos = Cosine(out->row(j), {golden.data() + i * kDim, kDim});
        EXPECT_GE(cos, threshold) << label << " case " << i << ": " << cases[i].text;
        if (cos < p.min_cos) {
          p.min_cos = cos;
          p.worst = i;
        }
        sum_cos += cos;
        ++p.checked;
      }
    }
    p.mean_cos = sum_cos / p.checked;
    std::printf(
        "%s parity over %zu cases: min cosine %.10f (1 - min = %.3g; case %zu, %zu tokens), "
        "mean cosine %.10f (1 - mean = %.3g)\n",
        label, p.checked, p.min_cos, 1.0 - p.min_cos, p.worst, cases[p.worst].ids.size(), p.mean_cos,
        1.0 - p.mean_cos);
    RecordProperty(StrCat(label, "_cases"), static_cast<int>(p.checked));
    RecordProperty(StrCat(label, "_min_cosine"), std::to_string(p.min_cos));
    RecordProperty(StrCat(label, "_mean_cosine"), std::to_string(p.mean_cos));
    return p;
  }

  static inline BertEncoder* encoder_ = nullptr;
};

TEST_F(BertEncoderTest, LoadsMiniLmConfig) {
  REQUIRE_MODEL();
  const BertConfig& c = encoder_->config();
  EXPECT_EQ(c.vocab_size, 30522u);
  EXPECT_EQ(c.hidden_size, 384u);
  EXPECT_EQ(c.num_layers, 6u);
  EXPECT_EQ(c.num_heads, 12u);
  EXPECT_EQ(c.intermediate_size, 1536u);
  EXPECT_EQ(c.max_position_embeddings, 512u);
  EXPECT_EQ(c.max_seq_length, 256u);
  EXPECT_FLOAT_EQ(c.layer_norm_eps, 1e-12f);
  EXPECT_EQ(c.pooling, BertConfig::Pooling::kMean);
  EXPECT_TRUE(c.normalize);
  EXPECT_EQ(encoder_->dim(), kDim);
}

// The reference: sentence-transformers' own embeddings of >1,000 real texts
// (scripts/fixtures/make_embedding_golden.py), from the same token ids.
TEST_F(BertEncoderTest, MatchesSentenceTransformersOnEveryFixtureCase) {
  REQUIRE_MODEL();
  CheckParity(*encoder_, 0.9999, "fp32");
}

// The reduced-precision path: int8 dense layers, everything else fp32.
TEST_F(BertEncoderTest, Int8StaysWithinCosine099OfSentenceTransformersOnEveryCase) {
  REQUIRE_MODEL();
  auto tokenizer = WordPieceTokenizer::Load(kModelDir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  std::vector<std::vector<int32_t>> calibration;
  for (const char* line : CalibrationText()) calibration.push_back(tokenizer->Encode(line, 256).ids);
  auto int8 = BertEncoder::Load(kModelDir, Precision::kInt8, calibration);
  ASSERT_TRUE(int8.ok()) << int8.status();
  EXPECT_EQ((*int8)->precision(), Precision::kInt8);
  const Parity p = CheckParity(**int8, 0.99, "int8");
  // Not a copy of the fp32 path: quantisation must show.
  EXPECT_LT(p.mean_cos, 1.0 - 1e-6);
}

// Precision::kAuto resolves to int8 where this CPU has a SIMD int8 kernel (the
// calibration parity check passes for MiniLM), else fp32; either way it then
// is that precision exactly: same embeddings as loading it by name.
TEST_F(BertEncoderTest, AutoPicksInt8WhereASimdKernelRunsItAndIsThenExactlyThatPrecision) {
  REQUIRE_MODEL();
  auto tokenizer = WordPieceTokenizer::Load(kModelDir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  std::vector<std::vector<int32_t>> calibration;
  for (const char* line : CalibrationText()) calibration.push_back(tokenizer->Encode(line, 128).ids);
  auto automatic = BertEncoder::Load(kModelDir, Precision::kAuto, calibration);
  ASSERT_TRUE(automatic.ok()) << automatic.status();
  const bool simd_int8 = ActiveInt8KernelName() != "scalar";
  const Precision want = simd_int8 ? Precision::kInt8 : Precision::kFp32;
  EXPECT_EQ((*automatic)->precision(), want) << (*automatic)->precision_choice();
  EXPECT_THAT((*automatic)->precision_choice(),
              testing::StartsWith(simd_int8 ? "int8 (auto: " : "fp32 (auto: this CPU has no SIMD int8 kernel)"));
  if (simd_int8) {
    EXPECT_THAT((*automatic)->precision_choice(), testing::HasSubstr("min cosine to fp32 0.99"));
  }
  std::printf("auto: %s\n", (*automatic)->precision_choice().c_str());

  auto fixed = BertEncoder::Load(kModelDir, want, calibration);
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  const std::vector<std::vector<int32_t>> inputs(calibration.begin(), calibration.begin() + 8);
  auto a = (*automatic)->Encode(inputs);
  auto b = (*fixed)->Encode(inputs);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t r = 0; r < inputs.size(); ++r) {
    EXPECT_TRUE(std::equal(a->row(r).begin(), a->row(r).end(), b->row(r).begin())) << "row " << r;
  }

  // Without calibration text there is nothing to check int8 against: fp32.
  auto unchecked = BertEncoder::Load(kModelDir, Precision::kAuto);
  ASSERT_TRUE(unchecked.ok()) << unchecked.status();
  EXPECT_EQ((*unchecked)->precision(), Precision::kFp32);
}

TEST(PrecisionTest, ParsesEveryNameAndNamesTheChoicesOnError) {
  for (Precision p : {Precision::kFp32, Precision::kInt8, Precision::kAuto}) {
    auto parsed = ParsePrecision(PrecisionName(p));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, p);
  }
  EXPECT_THAT(std::string(ParsePrecision("fp16").status().message()),
              testing::HasSubstr("precision must be auto, fp32 or int8, not 'fp16'"));
}

// The same weights configured for CLS pooling without Normalize (as
// bge-style models pool), against ST run with that configuration.
TEST_F(BertEncoderTest, MatchesSentenceTransformersWithClsPoolingAndNoNormalize) {
  REQUIRE_MODEL();
  const fs::path dir = fs::temp_directory_path() / "ragline_bert_encoder_test_cls";
  fs::remove_all(dir);
  fs::create_directories(dir / "1_Pooling");
  for (const char* name : {"config.json", "sentence_bert_config.json", "model.safetensors"}) {
    fs::create_symlink(fs::absolute(kModelDir / name), dir / name);
  }
  std::ofstream(dir / "modules.json") << R"([
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])";
  std::ofstream(dir / "1_Pooling" / "config.json")
      << R"({"word_embedding_dimension": 384, "pooling_mode_cls_token": true,
             "pooling_mode_mean_tokens": false, "pooling_mode_max_tokens": false})";
  auto encoder = BertEncoder::Load(dir);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  EXPECT_EQ((*encoder)->config().pooling, BertConfig::Pooling::kCls);
  EXPECT_FALSE((*encoder)->config().normalize);

  const std::vector<ParityCase> cases = ReadCases();
  constexpr size_t kClsCases = 64;  // CLS_CASES in make_embedding_golden.py
  std::vector<float> golden(kClsCases * kDim);
  std::ifstream(kTestdata / "parity_cls_embeddings.f32", std::ios::binary)
      .read(reinterpret_cast<char*>(golden.data()), static_cast<std::streamsize>(golden.size() * 4));
  std::vector<std::vector<int32_t>> batch;
  for (size_t i = 0; i < kClsCases; ++i) batch.push_back(cases[i].ids);
  ThreadPool pool(1);
  auto out = (*encoder)->Encode(batch, &pool);
  ASSERT_TRUE(out.ok()) << out.status();
  for (size_t i = 0; i < kClsCases; ++i) {
    const std::span<const float> want(golden.data() + i * kDim, kDim);
    EXPECT_GE(Cosine(out->row(i), want), 0.9999) << "case " << i;
    double norm_ours = 0, norm_st = 0;
    for (size_t d = 0; d < kDim; ++d) {
      norm_ours += double{out->row(i)[d]} * out->row(i)[d];
      norm_st += double{want[d]} * want[d];
    }
    EXPECT_NEAR(std::sqrt(norm_ours), std::sqrt(norm_st), 1e-4 * std::sqrt(norm_st)) << "case " << i;
  }
  fs::remove_all(dir);
}

TEST_F(BertEncoderTest, SingleAndMultiThreadedResultsAgreeAndRowsAreUnitNorm) {
  REQUIRE_MODEL();
  const std::vector<ParityCase> cases = ReadCases();
  // Short and long cases, so both the column- and row-split paths run.
  std::vector<std::vector<int32_t>> small, large;
  for (size_t i = 0; i < 3; ++i) small.push_back(cases[i].ids);
  for (size_t i = 0; i < cases.size() && large.size() < (kSanitized ? 24u : 96u); i += 7) {
    large.push_back(cases[i].ids);
  }
  ThreadPool pool(2);
  for (const auto* batch : {&small, &large}) {
    auto single = encoder_->Encode(*batch, nullptr);
    auto multi = encoder_->Encode(*batch, &pool);
    ASSERT_TRUE(single.ok() && multi.ok());
    float max_diff = 0.0f;
    for (size_t r = 0; r < single->rows(); ++r) {
      double norm2 = 0.0;
      for (size_t i = 0; i < kDim; ++i) {
        max_diff = std::max(max_diff, std::abs(single->row(r)[i] - multi->row(r)[i]));
        norm2 += double{multi->row(r)[i]} * multi->row(r)[i];
      }
      EXPECT_NEAR(std::sqrt(norm2), 1.0, 1e-5) << "row " << r;
    }
    EXPECT_LE(max_diff, 1e-6f) << batch->size() << " sequences";
  }
}

TEST_F(BertEncoderTest, BatchCompositionDoesNotChangeARow) {
  REQUIRE_MODEL();
  const std::vector<ParityCase> cases = ReadCases();
  // The longest case, alone and between short and long neighbours.
  size_t longest = 0;
  for (size_t i = 0; i < cases.size(); ++i)
    if (cases[i].ids.size() > cases[longest].ids.size()) longest = i;
  const std::vector<std::vector<int32_t>> alone = {cases[5].ids, cases[longest].ids};
  std::vector<std::vector<int32_t>> mixed = {cases[0].ids, cases[longest].ids};
  for (size_t i = 1; i < 30; i += 3) mixed.push_back(cases[i].ids);
  mixed.push_back(cases[5].ids);
  ThreadPool pool(2);
  auto a = encoder_->Encode({alone.data(), 1}, &pool);
  auto b = encoder_->Encode({alone.data() + 1, 1}, nullptr);
  auto m = encoder_->Encode(mixed, &pool);
  ASSERT_TRUE(a.ok() && b.ok() && m.ok());
  for (size_t i = 0; i < kDim; ++i) {
    EXPECT_NEAR(a->row(0)[i], m->row(mixed.size() - 1)[i], 1e-5) << i;
    EXPECT_NEAR(b->row(0)[i], m->row(1)[i], 1e-5) << i;
  }
}

TEST_F(BertEncoderTest, EmptyInputGivesAnEmptyMatrix) {
  REQUIRE_MODEL();
  auto out = encoder_->Encode({}, nullptr);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->rows(), 0u);
}

TEST_F(BertEncoderTest, RejectsBadSequencesNamingTheirIndex) {
  REQUIRE_MODEL();
  const std::vector<int32_t> ok = {101, 7592, 102};
  struct BadInput {
    std::vector<int32_t> sequence;
    std::string message;
  };
  const std::vector<BadInput> table = {
      {{}, "sequence 1 is empty"},
      {{101, 30522, 102}, "sequence 1, token 1: id 30522 is outside the vocabulary [0, 30522)"},
      {{101, -4, 102}, "sequence 1, token 1: id -4 is outside the vocabulary"},
      {std::vector<int32_t>(513, 1000), "sequence 1 has 513 tokens, more than max_position_embeddings (512)"},
  };
  for (const BadInput& bad : table) {
    const std::vector<std::vector<int32_t>> batch = {ok, bad.sequence, ok};
    auto out = encoder_->Encode(batch, nullptr);
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(out.status().message()), HasSubstr(bad.message));
  }
  // 512 tokens (max_position_embeddings) is allowed.
  const std::vector<std::vector<int32_t>> longest = {std::vector<int32_t>(512, 1000)};
  EXPECT_TRUE(encoder_->Encode(longest, nullptr).ok());
}

TEST_F(BertEncoderTest, MissingModelDirectoryOrConfigIsNamed) {
  auto missing_dir = BertEncoder::Load("/nonexistent/ragline-model");
  EXPECT_EQ(missing_dir.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing_dir.status().message()), HasSubstr("/nonexistent/ragline-model"));

  REQUIRE_MODEL();
  const fs::path dir = ScratchModelDir("no_config", "config.json");
  auto no_config = BertEncoder::Load(dir);
  EXPECT_EQ(no_config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(no_config.status().message()), HasSubstr("config.json: cannot open"));

  std::ofstream(dir / "config.json") << R"({"hidden_size": 384})";
  auto bad_config = BertEncoder::Load(dir);
  EXPECT_THAT(std::string(bad_config.status().message()), HasSubstr("config.json: missing \"vocab_size\""));
  fs::remove_all(dir);
}

TEST_F(BertEncoderTest, TruncatedWeightsAreNamed) {
  REQUIRE_MODEL();
  const fs::path src = kModelDir / "model.safetensors";
  std::ifstream in(src, std::ios::binary);
  std::vector<char> head(1 << 20);
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  uint64_t header_len = 0;
  std::memcpy(&header_len, head.data(), 8);

  const fs::path dir = ScratchModelDir("truncated", "model.safetensors");
  const fs::path dst = dir / "model.safetensors";
  std::ofstream(dst, std::ios::binary).write(head.data(), 1000);
  auto in_header = BertEncoder::Load(dir);
  EXPECT_EQ(in_header.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(in_header.status().message()),
              HasSubstr("model.safetensors: truncated: header says " + std::to_string(header_len) +
                        " bytes, file has 1000"));

  // Cut inside the data section: the first tensor past the end is named.
  std::ofstream(dst, std::ios::binary | std::ios::trunc)
      .write(head.data(), static_cast<std::streamsize>(head.size()));
  auto in_data = BertEncoder::Load(dir);
  EXPECT_EQ(in_data.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(in_data.status().message()), HasSubstr("model.safetensors: tensor '"));
  EXPECT_THAT(std::string(in_data.status().message()), HasSubstr("lie outside the data section"));
  fs::remove_all(dir);
}

// Rewrites model.safetensors with an edited header and the original data.
void WriteEditedWeights(const fs::path& dst, const std::function<void(nlohmann::json&)>& edit) {
  std::ifstream in(kModelDir / "model.safetensors", std::ios::binary);
  uint64_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 8);
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  nlohmann::json j = nlohmann::json::parse(header);
  edit(j);
  const std::string edited = j.dump();
  const uint64_t edited_len = edited.size();
  std::ofstream out(dst, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&edited_len), 8);
  out << edited << in.rdbuf();
}

TEST_F(BertEncoderTest, MissingOrMisshapenTensorIsNamed) {
  REQUIRE_MODEL();
  const std::string query = "encoder.layer.3.attention.self.query.weight";
  const fs::path dir = ScratchModelDir("edited", "model.safetensors");

  WriteEditedWeights(dir / "model.safetensors", [&](nlohmann::json& j) {
    j[query + ".renamed"] = j[query];
    j.erase(query);
  });
  auto missing = BertEncoder::Load(dir);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("model.safetensors: tensor '" + query + "' is missing"));

  WriteEditedWeights(dir / "model.safetensors", [&](nlohmann::json& j) {
    j[query]["shape"] = {384, 380};
    const uint64_t begin = j[query]["data_offsets"][0].get<uint64_t>();
    j[query]["data_offsets"][1] = begin + 384 * 380 * 4;
  });
  auto misshapen = BertEncoder::Load(dir);
  EXPECT_EQ(misshapen.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(misshapen.status().message()),
              HasSubstr("model.safetensors: tensor '" + query + "' has shape [384,380], expected [384,384]"));

  // Checkpoints that prefix every name with "bert." (BertFor* models) load too.
  WriteEditedWeights(dir / "model.safetensors", [&](nlohmann::json& j) {
    nlohmann::json renamed;
    for (auto& [name, value] : j.items()) renamed[name == "__metadata__" ? name : "bert." + name] = value;
    j = renamed;
  });
  auto prefixed = BertEncoder::Load(dir);
  ASSERT_TRUE(prefixed.ok()) << prefixed.status();
  const std::vector<std::vector<int32_t>> batch = {{101, 7592, 2088, 102}};
  auto a = (*prefixed)->Encode(batch, nullptr);
  auto b = encoder_->Encode(batch, nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < kDim; ++i) EXPECT_EQ(a->row(0)[i], b->row(0)[i]);
  fs::remove_all(dir);
}

// Weights stored as F16 (as some checkpoints ship) load and stay close to F32.
TEST_F(BertEncoderTest, LoadsHalfPrecisionWeights) {
  REQUIRE_MODEL();
  std::ifstream in(kModelDir / "model.safetensors", std::ios::binary);
  uint64_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 8);
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  const size_t data_size = fs::file_size(kModelDir / "model.safetensors") - 8 - header_len;
  std::vector<float> data(data_size / 4);
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data_size));
  const nlohmann::json j = nlohmann::json::parse(header);
  nlohmann::json out_header;
  std::vector<_Float16> out_data;
  out_data.reserve(data.size());
  for (const auto& [name, t] : j.items()) {
    if (name == "__metadata__" || t["dtype"] != "F32") continue;  // drops position_ids (I64, unused)
    const uint64_t begin = t["data_offsets"][0], end = t["data_offsets"][1];
    nlohmann::json entry = t;
    entry["dtype"] = "F16";
    entry["data_offsets"] = {2 * out_data.size(), 2 * out_data.size() + (end - begin) / 2};
    ASSERT_EQ(begin % 4, 0u) << name;
    const float* src = data.data() + begin / 4;
    for (size_t i = 0; i < (end - begin) / 4; ++i) out_data.push_back(static_cast<_Float16>(src[i]));
    out_header[name] = entry;
  }
  const fs::path dir = ScratchModelDir("f16", "model.safetensors");
  const std::string dumped = out_header.dump();
  const uint64_t dumped_len = dumped.size();
  std::ofstream out(dir / "model.safetensors", std::ios::binary);
  out.write(reinterpret_cast<const char*>(&dumped_len), 8);
  out << dumped;
  out.write(reinterpret_cast<const char*>(out_data.data()),
            static_cast<std::streamsize>(2 * out_data.size()));
  out.close();

  auto half = BertEncoder::Load(dir);
  ASSERT_TRUE(half.ok()) << half.status();
  const std::vector<ParityCase> cases = ReadCases();
  std::vector<std::vector<int32_t>> batch;
  for (size_t i = 0; i < 16; ++i) batch.push_back(cases[i * 17].ids);
  auto a = (*half)->Encode(batch, nullptr);
  auto b = encoder_->Encode(batch, nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_GE(Cosine(a->row(i), b->row(i)), 0.999) << i;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ragline::embed
