#include "embed/bert_encoder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "core/strings.h"
#include "embed/encoder_math.h"
#include "embed/fp32_gemm.h"
#include "embed/int8_gemm.h"
#include "embed/safetensors.h"

namespace ragline::embed {

Result<Precision> ParsePrecision(std::string_view name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "int8") return Precision::kInt8;
  if (name == "auto") return Precision::kAuto;
  return absl::InvalidArgumentError(StrCat("precision must be auto, fp32 or int8, not '", name, "'"));
}

std::string_view PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kFp32:
      return "fp32";
    case Precision::kInt8:
      return "int8";
    case Precision::kAuto:
      return "auto";
  }
  return "unknown";
}
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Sequences are run in chunks of at most this many tokens (a longer single
// sequence is its own chunk): bounds scratch memory (the FFN activations are
// tokens x intermediate floats) and keeps the working set near the caches.
constexpr size_t kMaxChunkTokens = 2048;
// Below this many rows per worker a dense layer is split by output columns
// instead of rows, so short batches still use every thread.
constexpr size_t kMinRowsPerWorker = 32;
// Row blocks of a dense layer: each runs its epilogue while its rows are in
// cache; bounded so that a long chunk still balances over the workers.
constexpr size_t kMaxRowsPerBlock = 1024;

Result<json> ReadJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(StrCat(path.string(), ": cannot open"));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(StrCat(path.string(), ": bad JSON: ", e.what()));
  }
}

Result<size_t> GetSize(const json& j, const fs::path& path, const char* key, std::optional<size_t> fallback) {
  if (!j.contains(key)) {
    if (fallback) return *fallback;
    return absl::InvalidArgumentError(StrCat(path.string(), ": missing \"", key, "\""));
  }
  if (!j[key].is_number_unsigned() || j[key].get<uint64_t>() == 0) {
    return absl::InvalidArgumentError(StrCat(path.string(), ": \"", key, "\" must be a positive integer"));
  }
  return static_cast<size_t>(j[key].get<uint64_t>());
}

std::string FormatFixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

size_t NumWorkers(const ThreadPool* pool) { return pool == nullptr ? 1 : pool->size() + 1; }

// Runs fn(begin, end) over [0, n) on the pool, or inline without one.
void ParallelFor(ThreadPool* pool, size_t n, const std::function<void(size_t, size_t)>& fn) {
  if (pool == nullptr || n <= 1) {
    if (n > 0) fn(0, n);
    return;
  }
  pool->ParallelFor(n, fn);
}

}  // namespace

// A dense (nn.Linear) layer: y = x W^T + b, with W^T packed once for the
// fp32 kernels (fp32_gemm.h).
struct Dense {
  PackedMatrix weight;     // W^T: in_features x out_features; empty once int8 is kept
  std::vector<float> bias;  // out_features
  size_t out_features = 0;
  size_t in_features = 0;
  // Precision::kInt8: W quantised (int8_gemm.h); Linear uses it when set.
  std::optional<QuantizedMatrix> quantized;
  // When not empty, the layer's inputs must be multiplied by these (per input
  // channel) before it runs: the smoothing factors folded into `quantized`.
  std::vector<float> input_scale;

  // Switches this layer to the int8 kernel (the fp32 weights stay until
  // DropFp32 or DropInt8). With `smooth` (in_features factors s), W·diag(s)
  // is quantised and inputs are divided by s, which leaves x·Wᵀ unchanged in
  // exact arithmetic.
  void Quantize(const std::vector<float>* smooth) {
    std::vector<float> w(out_features * in_features);  // back to PyTorch's out x in layout
    for (size_t i = 0; i < in_features; ++i) {
      const float s = smooth != nullptr ? (*smooth)[i] : 1.0f;
      for (size_t o = 0; o < out_features; ++o) w[o * in_features + i] = weight.at(i, o) * s;
    }
    quantized = QuantizedMatrix::Quantize(w.data(), out_features, in_features);
    if (smooth != nullptr) {
      input_scale.resize(in_features);
      for (size_t i = 0; i < in_features; ++i) input_scale[i] = 1.0f / (*smooth)[i];
    }
  }
  void DropFp32() { weight = PackedMatrix(); }
  void DropInt8() {
    quantized.reset();
    input_scale = std::vector<float>();
  }
};

struct LayerNormWeights {
  std::vector<float> gamma;
  std::vector<float> beta;
};

struct EncoderLayer {
  Dense qkv;  // query, key and value fused: rows [0,H) query, [H,2H) key, [2H,3H) value
  Dense attention_output;
  LayerNormWeights attention_norm;
  Dense intermediate;
  Dense output;
  LayerNormWeights output_norm;
};

struct BertEncoder::Weights {
  std::vector<float> word_embeddings;      // vocab x hidden
  std::vector<float> position_embeddings;  // max_position x hidden
  std::vector<float> token_type0;          // hidden (token type 0's row)
  LayerNormWeights embedding_norm;
  std::vector<EncoderLayer> layers;
};

Result<BertConfig> BertConfig::Load(const fs::path& model_dir) {
  if (!fs::is_directory(model_dir)) {
    return absl::NotFoundError(StrCat(model_dir.string(), ": model directory does not exist"));
  }
  BertConfig c;
  const fs::path config_path = model_dir / "config.json";
  ASSIGN_OR_RETURN(const json config, ReadJson(config_path));
  if (!config.is_object()) return absl::InvalidArgumentError(StrCat(config_path.string(), ": not an object"));
  ASSIGN_OR_RETURN(c.vocab_size, GetSize(config, config_path, "vocab_size", std::nullopt));
  ASSIGN_OR_RETURN(c.hidden_size, GetSize(config, config_path, "hidden_size", std::nullopt));
  ASSIGN_OR_RETURN(c.num_layers, GetSize(config, config_path, "num_hidden_layers", std::nullopt));
  ASSIGN_OR_RETURN(c.num_heads, GetSize(config, config_path, "num_attention_heads", std::nullopt));
  ASSIGN_OR_RETURN(c.intermediate_size, GetSize(config, config_path, "intermediate_size", std::nullopt));
  ASSIGN_OR_RETURN(c.max_position_embeddings,
                   GetSize(config, config_path, "max_position_embeddings", std::nullopt));
  ASSIGN_OR_RETURN(c.type_vocab_size, GetSize(config, config_path, "type_vocab_size", size_t{2}));
  if (config.contains("layer_norm_eps")) {
    if (!config["layer_norm_eps"].is_number()) {
      return absl::InvalidArgumentError(StrCat(config_path.string(), ": \"layer_norm_eps\" is not a number"));
    }
    c.layer_norm_eps = config["layer_norm_eps"].get<float>();
  }
  if (c.hidden_size % c.num_heads != 0) {
    return absl::InvalidArgumentError(StrCat(config_path.string(), ": hidden_size ", c.hidden_size,
                                             " is not a multiple of num_attention_heads ", c.num_heads));
  }
  const std::string act = config.value("hidden_act", std::string("gelu"));
  if (act != "gelu") {
    return absl::UnimplementedError(
        StrCat(config_path.string(), ": hidden_act \"", act, "\" is not supported (only \"gelu\")"));
  }
  const std::string positions = config.value("position_embedding_type", std::string("absolute"));
  if (positions != "absolute") {
    return absl::UnimplementedError(StrCat(config_path.string(), ": position_embedding_type \"", positions,
                                           "\" is not supported (only \"absolute\")"));
  }

  c.max_seq_length = std::min<size_t>(c.max_position_embeddings, 512);
  const fs::path sbert_path = model_dir / "sentence_bert_config.json";
  if (fs::exists(sbert_path)) {
    ASSIGN_OR_RETURN(const json sbert, ReadJson(sbert_path));
    ASSIGN_OR_RETURN(c.max_seq_length, GetSize(sbert, sbert_path, "max_seq_length", c.max_seq_length));
    c.max_seq_length = std::min(c.max_seq_length, c.max_position_embeddings);
  }

  // modules.json names the pooling folder and whether a Normalize module
  // follows; without it sentence-transformers mean-pools and does not normalise.
  fs::path pooling_dir = model_dir / "1_Pooling";
  const fs::path modules_path = model_dir / "modules.json";
  if (fs::exists(modules_path)) {
    ASSIGN_OR_RETURN(const json modules, ReadJson(modules_path));
    if (!modules.is_array())
      return absl::InvalidArgumentError(StrCat(modules_path.string(), ": not an array"));
    for (const json& m : modules) {
      const std::string type = m.is_object() ? m.value("type", std::string()) : std::string();
      if (type.ends_with(".Pooling")) pooling_dir = model_dir / m.value("path", std::string("1_Pooling"));
      if (type.ends_with(".Normalize")) c.normalize = true;
    }
  }
  const fs::path pooling_path = pooling_dir / "config.json";
  if (fs::exists(pooling_path)) {
    ASSIGN_OR_RETURN(const json pooling, ReadJson(pooling_path));
    const bool cls = pooling.value("pooling_mode_cls_token", false);
    const bool mean = pooling.value("pooling_mode_mean_tokens", false);
    const bool other = pooling.value("pooling_mode_max_tokens", false) ||
                       pooling.value("pooling_mode_mean_sqrt_len_tokens", false) ||
                       pooling.value("pooling_mode_weightedmean_tokens", false) ||
                       pooling.value("pooling_mode_lasttoken", false);
    if (cls + mean != 1 || other) {
      return absl::UnimplementedError(
          StrCat(pooling_path.string(), ": only exactly one of mean or CLS pooling is supported"));
    }
    c.pooling = cls ? Pooling::kCls : Pooling::kMean;
  }
  return c;
}

namespace {

class WeightLoader {
 public:
  WeightLoader(const SafetensorsFile& file, std::string prefix) : file_(file), prefix_(std::move(prefix)) {}

  Result<std::vector<float>> Read(const std::string& name, std::initializer_list<size_t> shape) const {
    return file_.ReadFloat32(prefix_ + name, std::vector<size_t>(shape));
  }

  Result<LayerNormWeights> ReadLayerNorm(const std::string& name, size_t n) const {
    LayerNormWeights ln;
    ASSIGN_OR_RETURN(ln.gamma, Read(name + ".weight", {n}));
    ASSIGN_OR_RETURN(ln.beta, Read(name + ".bias", {n}));
    return ln;
  }

  // Stacks the named nn.Linear layers (same in_features) into one Dense.
  Result<Dense> ReadDense(std::initializer_list<std::string> names, size_t out_each, size_t in) const {
    Dense d;
    d.in_features = in;
    std::vector<float> stacked;  // PyTorch layout: out x in
    for (const std::string& name : names) {
      ASSIGN_OR_RETURN(std::vector<float> w, Read(name + ".weight", {out_each, in}));
      ASSIGN_OR_RETURN(std::vector<float> b, Read(name + ".bias", {out_each}));
      stacked.insert(stacked.end(), w.begin(), w.end());
      d.bias.insert(d.bias.end(), b.begin(), b.end());
      d.out_features += out_each;
    }
    d.weight = PackedMatrix::Pack(stacked.data(), in, d.out_features, 1, in);
    return d;
  }

 private:
  const SafetensorsFile& file_;
  std::string prefix_;
};

Result<std::unique_ptr<BertEncoder::Weights>> LoadWeights(const fs::path& path, const BertConfig& c) {
  ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
  // BertModel checkpoints name tensors "embeddings...."; BertFor* ones "bert.embeddings....".
  const std::string prefix = !file.Contains("embeddings.word_embeddings.weight") &&
                                     file.Contains("bert.embeddings.word_embeddings.weight")
                                 ? "bert."
                                 : "";
  const WeightLoader loader(file, prefix);
  const size_t h = c.hidden_size;
  auto w = std::make_unique<BertEncoder::Weights>();
  ASSIGN_OR_RETURN(w->word_embeddings, loader.Read("embeddings.word_embeddings.weight", {c.vocab_size, h}));
  ASSIGN_OR_RETURN(w->position_embeddings,
                   loader.Read("embeddings.position_embeddings.weight", {c.max_position_embeddings, h}));
  ASSIGN_OR_RETURN(std::vector<float> token_types,
                   loader.Read("embeddings.token_type_embeddings.weight", {c.type_vocab_size, h}));
  w->token_type0.assign(token_types.begin(), token_types.begin() + h);
  ASSIGN_OR_RETURN(w->embedding_norm, loader.ReadLayerNorm("embeddings.LayerNorm", h));
  w->layers.resize(c.num_layers);
  for (size_t i = 0; i < c.num_layers; ++i) {
    const std::string p = StrCat("encoder.layer.", i, ".");
    EncoderLayer& layer = w->layers[i];
    ASSIGN_OR_RETURN(layer.qkv, loader.ReadDense({p + "attention.self.query", p + "attention.self.key",
                                                  p + "attention.self.value"},
                                                 h, h));
    ASSIGN_OR_RETURN(layer.attention_output, loader.ReadDense({p + "attention.output.dense"}, h, h));
    ASSIGN_OR_RETURN(layer.attention_norm, loader.ReadLayerNorm(p + "attention.output.LayerNorm", h));
    ASSIGN_OR_RETURN(layer.intermediate,
                     loader.ReadDense({p + "intermediate.dense"}, c.intermediate_size, h));
    ASSIGN_OR_RETURN(layer.output, loader.ReadDense({p + "output.dense"}, h, c.intermediate_size));
    ASSIGN_OR_RETURN(layer.output_norm, loader.ReadLayerNorm(p + "output.LayerNorm", h));
  }
  return w;
}

// y[rows x out] = x[rows x in] W^T (no bias): the one place dense layers
// reach a GEMM kernel (fp32 or int8). Rows are split over the
// pool in blocks, and epilogue(row_begin, row_end) runs on each finished block
// while it is still in cache; short inputs are split by output columns, and
// the epilogue then runs once over all rows.
template <typename Epilogue>
void Linear(const Dense& d, const float* x, size_t rows, float* y, ThreadPool* pool,
            const Epilogue& epilogue) {
  const size_t n = d.out_features;
  const size_t k = d.in_features;
  const size_t workers = NumWorkers(pool);
  if (d.quantized) {
    // Rows only: the int8 kernel's activation quantisation is per row.
    const size_t rows_per_block =
        std::clamp<size_t>((rows + workers - 1) / workers, 1, kMaxRowsPerBlock);
    const size_t blocks = (rows + rows_per_block - 1) / rows_per_block;
    ParallelFor(pool, blocks, [&](size_t begin, size_t end) {
      thread_local Int8Scratch scratch;
      thread_local std::vector<float> smoothed;
      for (size_t b = begin; b < end; ++b) {
        const size_t r0 = b * rows_per_block;
        const size_t r1 = std::min(rows, r0 + rows_per_block);
        const float* input = x + r0 * k;
        if (!d.input_scale.empty()) {  // divide inputs by the smoothing factors
          smoothed.resize((r1 - r0) * k);
          for (size_t r = 0; r < r1 - r0; ++r)
            for (size_t i = 0; i < k; ++i) smoothed[r * k + i] = input[r * k + i] * d.input_scale[i];
          input = smoothed.data();
        }
        Int8Linear(input, r1 - r0, *d.quantized, nullptr, y + r0 * n, scratch);
        epilogue(r0, r1);
      }
    });
    return;
  }
  auto gemm = [&](size_t row_begin, size_t row_count, size_t col_begin, size_t col_count) {
    Fp32Gemm(x + row_begin * k, k, row_count, d.weight, 1.0f, y + row_begin * n, n, col_begin,
             col_begin + col_count);
  };
  if (workers > 1 && rows < kMinRowsPerWorker * workers) {
    const size_t col_blocks = workers;
    const size_t cols_per_block = (n / col_blocks + 15) / 16 * 16;
    ParallelFor(pool, col_blocks, [&](size_t begin, size_t end) {
      for (size_t b = begin; b < end; ++b) {
        const size_t c0 = std::min(n, b * cols_per_block);
        const size_t c1 = b + 1 == col_blocks ? n : std::min(n, c0 + cols_per_block);
        if (c1 > c0) gemm(0, rows, c0, c1 - c0);
      }
    });
    epilogue(size_t{0}, rows);
    return;
  }
  // Two blocks per worker, so a core slowed by other work does not hold up the rest.
  const size_t rows_per_block = workers == 1 ? kMaxRowsPerBlock
                                             : std::clamp<size_t>((rows + 2 * workers - 1) / (2 * workers),
                                                                  kMinRowsPerWorker, kMaxRowsPerBlock);
  const size_t blocks = (rows + rows_per_block - 1) / rows_per_block;
  ParallelFor(pool, blocks, [&](size_t begin, size_t end) {
    for (size_t b = begin; b < end; ++b) {
      const size_t r0 = b * rows_per_block;
      const size_t r1 = std::min(rows, r0 + rows_per_block);
      gemm(r0, r1 - r0, 0, n);
      epilogue(r0, r1);
    }
  });
}

}  // namespace

// Per-call scratch: every activation of one chunk of packed tokens.
struct BertEncoder::Scratch {
  std::vector<float> hidden;        // tokens x H: the residual stream
  std::vector<float> qkv;           // tokens x 3H
  std::vector<float> context;       // tokens x H: attention output before projection
  std::vector<float> projected;     // tokens x H: dense output before bias + residual + LN
  std::vector<float> intermediate;  // tokens x I
  // Calibration only (single-threaded): per dense layer, the largest |input|
  // seen on each input channel.
  std::map<const Dense*, std::vector<float>>* input_max = nullptr;
};

Result<std::unique_ptr<BertEncoder>> BertEncoder::Load(const fs::path& model_dir, Precision precision,
                                                       std::span<const std::vector<int32_t>> calibration) {
  ASSIGN_OR_RETURN(BertConfig config, BertConfig::Load(model_dir));
  ASSIGN_OR_RETURN(std::unique_ptr<Weights> weights, LoadWeights(model_dir / "model.safetensors", config));
  std::unique_ptr<BertEncoder> encoder(new BertEncoder(std::move(config), Precision::kFp32, std::move(weights)));
  switch (precision) {
    case Precision::kFp32:
      encoder->KeepPrecision(Precision::kFp32, "fp32 (asked for)");
      break;
    case Precision::kInt8: {
      ASSIGN_OR_RETURN(Matrix unused, encoder->QuantizeDenseLayers(calibration));
      encoder->KeepPrecision(Precision::kInt8, "int8 (asked for)");
      break;
    }
    case Precision::kAuto: {
      const std::string kernel(ActiveInt8KernelName());
      if (kernel == "scalar") {
        encoder->KeepPrecision(Precision::kFp32, "fp32 (auto: this CPU has no SIMD int8 kernel)");
        break;
      }
      if (calibration.empty()) {
        encoder->KeepPrecision(Precision::kFp32, "fp32 (auto: no calibration text to check int8 against)");
        break;
      }
      ASSIGN_OR_RETURN(Matrix fp32, encoder->QuantizeDenseLayers(calibration));
      ASSIGN_OR_RETURN(Matrix int8, encoder->Encode(calibration));
      double min_cosine = 1.0;
      for (size_t r = 0; r < fp32.rows(); ++r) {
        const std::span<const float> x = fp32.row(r), y = int8.row(r);
        double dot = 0, a = 0, b = 0;
        for (size_t i = 0; i < x.size(); ++i) {
          dot += double{x[i]} * y[i];
          a += double{x[i]} * x[i];
          b += double{y[i]} * y[i];
        }
        min_cosine = std::min(min_cosine, a > 0 && b > 0 ? dot / std::sqrt(a * b) : 0.0);
      }
      const bool holds = min_cosine >= kAutoMinCosine;
      encoder->KeepPrecision(holds ? Precision::kInt8 : Precision::kFp32,
                             StrCat(holds ? "int8" : "fp32", " (auto: ", kernel, " int8 kernel, min cosine to fp32 ",
                                    FormatFixed(min_cosine, 4), holds ? " >= " : " < ",
                                    FormatFixed(kAutoMinCosine, 2), " on ", fp32.rows(), " calibration texts)"));
      break;
    }
  }
  return encoder;
}

void BertEncoder::KeepPrecision(Precision precision, std::string choice) {
  for (EncoderLayer& layer : weights_->layers) {
    for (Dense* d : {&layer.qkv, &layer.attention_output, &layer.intermediate, &layer.output}) {
      if (precision == Precision::kInt8) {
        d->DropFp32();
      } else {
        d->DropInt8();
      }
    }
  }
  precision_ = precision;
  precision_choice_ = std::move(choice);
}

Result<Matrix> BertEncoder::QuantizeDenseLayers(std::span<const std::vector<int32_t>> calibration) {
  // Largest |input| per channel of every dense layer, measured in fp32.
  std::map<const Dense*, std::vector<float>> input_max;
  Matrix fp32;
  if (!calibration.empty()) {
    Scratch scratch;
    scratch.input_max = &input_max;
    ASSIGN_OR_RETURN(fp32, EncodeWith(calibration, nullptr, &scratch));
  }
  for (EncoderLayer& layer : weights_->layers) {
    for (Dense* d : {&layer.qkv, &layer.attention_output, &layer.intermediate, &layer.output}) {
      auto it = input_max.find(d);
      if (it == input_max.end()) {
        d->Quantize(nullptr);
        continue;
      }
      // SmoothQuant with alpha = 0.5: s_j = sqrt(max|x_j| / max|W_:j|) moves
      // half of each input channel's range from the activations into the weights.
      std::vector<float> smooth(d->in_features, 1.0f);
      for (size_t j = 0; j < d->in_features; ++j) {
        float w_max = 0.0f;  // weight is W^T: in x out
        for (size_t o = 0; o < d->out_features; ++o) w_max = std::max(w_max, std::fabs(d->weight.at(j, o)));
        const float a_max = it->second[j];
        if (a_max > 0.0f && w_max > 0.0f) smooth[j] = std::clamp(std::sqrt(a_max / w_max), 1e-3f, 1e3f);
      }
      d->Quantize(&smooth);
    }
  }
  return fp32;
}

BertEncoder::BertEncoder(BertConfig config, Precision precision, std::unique_ptr<Weights> weights)
    : config_(std::move(config)), precision_(precision), weights_(std::move(weights)) {}
BertEncoder::~BertEncoder() = default;

const BertConfig& BertEncoder::config() const { return config_; }
Precision BertEncoder::precision() const { return precision_; }

std::string BertEncoder::kernel() const {
  return precision_ == Precision::kInt8 ? StrCat("int8 ", ActiveInt8KernelName())
                                        : StrCat("fp32 ", ActiveFp32KernelName());
}

std::string EncoderKernels() {
  return StrCat("fp32 ", ActiveFp32KernelName(), ", int8 ", ActiveInt8KernelName());
}

Result<Matrix> BertEncoder::Encode(std::span<const std::vector<int32_t>> sequences, ThreadPool* pool) const {
  Scratch scratch;
  return EncodeWith(sequences, pool, &scratch);
}

Result<Matrix> BertEncoder::EncodeWith(std::span<const std::vector<int32_t>> sequences, ThreadPool* pool,
                                       Scratch* scratch) const {
  const BertConfig& c = config_;
  const size_t h = c.hidden_size;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const auto& seq = sequences[s];
    if (seq.empty()) return absl::InvalidArgumentError(StrCat("BertEncoder: sequence ", s, " is empty"));
    if (seq.size() > c.max_position_embeddings) {
      return absl::InvalidArgumentError(StrCat("BertEncoder: sequence ", s, " has ", seq.size(),
                                               " tokens, more than max_position_embeddings (",
                                               c.max_position_embeddings, ")"));
    }
    for (size_t t = 0; t < seq.size(); ++t) {
      if (seq[t] < 0 || static_cast<size_t>(seq[t]) >= c.vocab_size) {
        return absl::InvalidArgumentError(StrCat("BertEncoder: sequence ", s, ", token ", t, ": id ", seq[t],
                                                 " is outside the vocabulary [0, ", c.vocab_size, ")"));
      }
    }
  }
  Matrix out(sequences.size(), h);
  for (size_t first = 0; first < sequences.size();) {
    size_t last = first;
    size_t tokens = 0;
    while (last < sequences.size() && (last == first || tokens + sequences[last].size() <= kMaxChunkTokens)) {
      tokens += sequences[last].size();
      ++last;
    }
    EncodeChunk(sequences.subspan(first, last - first), tokens, pool, scratch, &out, first);
    first = last;
  }
  return out;
}

void BertEncoder::EncodeChunk(std::span<const std::vector<int32_t>> sequences, size_t tokens,
                              ThreadPool* pool, Scratch* scratch, Matrix* out, size_t out_row) const {
  const BertConfig& c = config_;
  const Weights& w = *weights_;
  const size_t h = c.hidden_size;
  const size_t heads = c.num_heads;
  const size_t head_dim = h / heads;
  const float eps = c.layer_norm_eps;

  scratch->hidden.resize(tokens * h);
  scratch->qkv.resize(tokens * 3 * h);
  scratch->context.resize(tokens * h);
  scratch->projected.resize(tokens * h);
  scratch->intermediate.resize(tokens * c.intermediate_size);
  float* hidden = scratch->hidden.data();
  float* qkv = scratch->qkv.data();
  float* context = scratch->context.data();
  float* projected = scratch->projected.data();
  float* intermediate = scratch->intermediate.data();

  std::vector<size_t> offsets(sequences.size() + 1, 0);
  size_t max_len = 0;
  for (size_t s = 0; s < sequences.size(); ++s) {
    offsets[s + 1] = offsets[s] + sequences[s].size();
    max_len = std::max(max_len, sequences[s].size());
  }

  // Embeddings: word + position + token type 0, then LayerNorm.
  ParallelFor(pool, sequences.size(), [&](size_t begin, size_t end) {
    std::vector<float> zero_bias(h, 0.0f);
    for (size_t s = begin; s < end; ++s) {
      for (size_t t = 0; t < sequences[s].size(); ++t) {
        float* row = hidden + (offsets[s] + t) * h;
        const float* word = w.word_embeddings.data() + static_cast<size_t>(sequences[s][t]) * h;
        const float* position = w.position_embeddings.data() + t * h;
        for (size_t i = 0; i < h; ++i) row[i] = position[i] + w.token_type0[i];
        internal::BiasResidualLayerNorm(word, zero_bias.data(), w.embedding_norm.gamma.data(),
                                        w.embedding_norm.beta.data(), eps, row, h);
      }
    }
  });

  // Calibration: record each dense layer's per-channel input maxima.
  auto observe = [&](const Dense& d, const float* x) {
    if (scratch->input_max == nullptr) return;
    std::vector<float>& amax = (*scratch->input_max)[&d];
    amax.resize(d.in_features, 0.0f);
    for (size_t r = 0; r < tokens; ++r)
      for (size_t i = 0; i < d.in_features; ++i) amax[i] = std::max(amax[i], std::fabs(x[r * d.in_features + i]));
  };

  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (const EncoderLayer& layer : w.layers) {
    observe(layer.qkv, hidden);
    Linear(layer.qkv, hidden, tokens, qkv, pool, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) internal::AddBias(qkv + r * 3 * h, layer.qkv.bias.data(), 3 * h);
    });

    // Attention per (sequence, head): scores = Q K^T / sqrt(d), softmax, context = P V.
    ParallelFor(pool, sequences.size() * heads, [&](size_t begin, size_t end) {
      std::vector<float> scores(max_len * max_len);
      thread_local PackedMatrix keys_t, values;  // K^T (head_dim x len) and V (len x head_dim)
      for (size_t job = begin; job < end; ++job) {
        const size_t s = job / heads;
        const size_t head = job % heads;
        const size_t len = sequences[s].size();
        const float* q = qkv + offsets[s] * 3 * h + head * head_dim;
        const float* k = q + h;
        const float* v = q + 2 * h;
        float* ctx = context + offsets[s] * h + head * head_dim;
        keys_t.Repack(k, head_dim, len, 1, 3 * h);
        Fp32Gemm(q, 3 * h, len, keys_t, scale, scores.data(), len, 0, len);
        for (size_t i = 0; i < len; ++i) internal::SoftmaxRow(scores.data() + i * len, len);
        values.Repack(v, len, head_dim, 3 * h, 1);
        Fp32Gemm(scores.data(), len, len, values, ctx, h);
      }
    });

    observe(layer.attention_output, context);
    Linear(layer.attention_output, context, tokens, projected, pool, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) {
        internal::BiasResidualLayerNorm(projected + r * h, layer.attention_output.bias.data(),
                                        layer.attention_norm.gamma.data(), layer.attention_norm.beta.data(),
                                        eps, hidden + r * h, h);
      }
    });
    observe(layer.intermediate, hidden);
    Linear(layer.intermediate, hidden, tokens, intermediate, pool, [&](size_t r0, size_t r1) {
      const size_t n = c.intermediate_size;
      for (size_t r = r0; r < r1; ++r)
        internal::BiasGelu(intermediate + r * n, layer.intermediate.bias.data(), n);
    });
    observe(layer.output, intermediate);
    Linear(layer.output, intermediate, tokens, projected, pool, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) {
        internal::BiasResidualLayerNorm(projected + r * h, layer.output.bias.data(),
                                        layer.output_norm.gamma.data(), layer.output_norm.beta.data(), eps,
                                        hidden + r * h, h);
      }
    });
  }

  // Pooling, then L2 normalisation (F.normalize: divide by max(norm, 1e-12)).
  for (size_t s = 0; s < sequences.size(); ++s) {
    float* dst = out->row(out_row + s).data();
    const size_t len = sequences[s].size();
    const float* first = hidden + offsets[s] * h;
    if (c.pooling == BertConfig::Pooling::kCls) {
      std::copy(first, first + h, dst);
    } else {
      std::vector<double> sum(h, 0.0);
      for (size_t t = 0; t < len; ++t)
        for (size_t i = 0; i < h; ++i) sum[i] += first[t * h + i];
      for (size_t i = 0; i < h; ++i) dst[i] = static_cast<float>(sum[i] / static_cast<double>(len));
    }
    if (c.normalize) {
      double norm2 = 0.0;
      for (size_t i = 0; i < h; ++i) norm2 += static_cast<double>(dst[i]) * dst[i];
      const float inv = static_cast<float>(1.0 / std::max(std::sqrt(norm2), 1e-12));
      for (size_t i = 0; i < h; ++i) dst[i] *= inv;
    }
  }
}

}  // namespace ragline::embed

namespace ragline::embed {

std::span<const char* const> CalibrationText() {
  // Written for calibration: short queries, fragments and prose of the kinds
  // RAG systems embed, so [CLS]/[SEP]-heavy short inputs are represented.
  static constexpr const char* kLines[] = {
      "How do I reset my password?",
      "error",
      "Thanks!",
      "What is the capital of France?",
      "install package",
      "The quick brown fox jumps over the lazy dog.",
      "Returns the number of elements in the container.",
      "Why does my build fail with an undefined reference to pthread_create?",
      "Refunds are issued to the original payment method within five business days.",
      "The server listens on port 8080 by default; set PORT to change it.",
      "In 1969, Apollo 11 landed on the Moon and two astronauts walked on its surface.",
      "Use a context manager to make sure the file is closed even when an exception is raised.",
      "Photosynthesis converts light energy into chemical energy stored in glucose.",
      "Can I upgrade my plan in the middle of a billing cycle?",
      "SELECT name, count(*) FROM users GROUP BY name ORDER BY 2 DESC;",
      "The committee will meet again next Tuesday to review the budget proposal.",
      "Le chat dort sur le canapé.",
      "Headaches, fever and a sore throat are common early symptoms.",
      "If the connection times out, the client retries with exponential back-off.",
      "A",
      "Chapter 3: Configuration",
      "Each shard owns a contiguous range of partitions and replicates its log to two followers.",
      "She walked along the river until the city lights disappeared behind the hills.",
      "Deprecated since version 2.4; use open_stream() instead.",
  };
  return kLines;
}

}  // namespace ragline::embed
