// BertEncoder: the forward pass of a BERT-family sentence-transformers model
// (all-MiniLM-L6-v2, bge-small, e5-small): embeddings (word + absolute
// position + token type 0) -> LayerNorm -> N x [self-attention -> add &
// LayerNorm -> GELU(erf) feed-forward -> add & LayerNorm] (post-LN, eps from
// config.json) -> pooling (mean over tokens, or CLS, from 1_Pooling/config.json)
// -> L2 normalisation when modules.json lists a Normalize module.
//
// Weights are read once from model.safetensors (F32, F16 or BF16 stored;
// held as F32, plus int8 copies for Precision::kInt8). Sequences run without
// padding: dense layers work on all tokens of a batch packed together,
// attention per sequence.
//
// Thread safety: immutable after Load(); Encode() may be called concurrently
// (each call uses its own scratch memory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/matrix.h"
#include "core/status.h"
#include "core/thread_pool.h"

namespace ragline::embed {

enum class Precision {
  kFp32,  // reference precision
  kInt8,  // int8 weights and dynamically quantised activations in the dense layers
  // Resolved at load to int8 where this CPU has a SIMD int8 kernel (AVX2 or
  // AVX-512 VNNI: 1.5-2× the fp32 encoder) and int8 stays within cosine
  // kAutoMinCosine of fp32 on every line of the calibration text; else fp32.
  kAuto,
};
// "auto", "fp32" or "int8"; InvalidArgument naming the value otherwise.
Result<Precision> ParsePrecision(std::string_view name);
// "fp32", "int8" or "auto".
std::string_view PrecisionName(Precision precision);
// Precision::kAuto's parity bar: int8's bar against sentence-transformers.
inline constexpr double kAutoMinCosine = 0.99;

// What config.json, sentence_bert_config.json, 1_Pooling/config.json and
// modules.json say about the model.
struct BertConfig {
  size_t vocab_size = 0;
  size_t hidden_size = 0;
  size_t num_layers = 0;
  size_t num_heads = 0;
  size_t intermediate_size = 0;
  size_t max_position_embeddings = 0;
  size_t type_vocab_size = 0;
  float layer_norm_eps = 1e-12f;
  size_t max_seq_length = 0;  // sentence-transformers' limit (256 for MiniLM)
  enum class Pooling { kMean, kCls } pooling = Pooling::kMean;
  bool normalize = false;

  static Result<BertConfig> Load(const std::filesystem::path& model_dir);
};

class BertEncoder {
 public:
  // Reads the config files and model.safetensors from model_dir. Missing,
  // truncated or mismatched files fail with an error naming the file (and the
  // tensor, for a missing or wrongly shaped one).
  //
  // Precision::kInt8 quantises the four dense layers of every block. The FFN
  // output layer's inputs (GELU outputs) have a few channels far larger than
  // the rest; `calibration` (token sequences of real text, e.g. from
  // CalibrationText()) measures them once at load so those channels are
  // smoothed into the weights (SmoothQuant, alpha 0.5) before quantising.
  // Without calibration no smoothing is done and accuracy is lower.
  // Precision::kAuto needs `calibration` too (without it: fp32).
  static Result<std::unique_ptr<BertEncoder>> Load(
      const std::filesystem::path& model_dir, Precision precision = Precision::kFp32,
      std::span<const std::vector<int32_t>> calibration = {});
  ~BertEncoder();

  const BertConfig& config() const;
  // The precision the encoder runs (kFp32 or kInt8, never kAuto).
  Precision precision() const;
  // Why: "fp32 (asked for)", "int8 (auto: avx512vnni kernel, min cosine to
  // fp32 0.9962 on 40 calibration texts)", ...
  const std::string& precision_choice() const { return precision_choice_; }
  size_t dim() const { return config().hidden_size; }
  // The kernel the dense layers run on this CPU: "fp32 avx512", "int8 avx2", ...
  // (attention always runs on the fp32 kernel).
  std::string kernel() const;

  // Encodes token-id sequences (each already [CLS] … [SEP], length in
  // [1, max_position_embeddings]) into a sequences.size() × dim() matrix of
  // pooled (and, per the model, normalised) embeddings. Work is spread over
  // `pool` when given; each GEMM call is single-threaded.
  Result<Matrix> Encode(std::span<const std::vector<int32_t>> sequences,
                        ThreadPool* pool = nullptr) const;

  struct Weights;

 private:
  struct Scratch;  // activations of one chunk; per Encode() call

  BertEncoder(BertConfig config, Precision precision, std::unique_ptr<Weights> weights);
  // Runs the model on `sequences` (validated, `tokens` in total, packed without
  // padding) and writes their embeddings to rows out_row.. of *out.
  void EncodeChunk(std::span<const std::vector<int32_t>> sequences, size_t tokens, ThreadPool* pool,
                   Scratch* scratch, Matrix* out, size_t out_row) const;
  // Validates sequences, then runs them chunk by chunk through EncodeChunk.
  Result<Matrix> EncodeWith(std::span<const std::vector<int32_t>> sequences, ThreadPool* pool,
                            Scratch* scratch) const;
  // Quantises the dense layers (Precision::kInt8), smoothing the FFN output
  // inputs with the channel maxima `calibration` produces in fp32.
  // Returns the fp32 embeddings of `calibration` (empty without it). The fp32
  // weights are kept until KeepPrecision drops one of the two copies.
  Result<Matrix> QuantizeDenseLayers(std::span<const std::vector<int32_t>> calibration);
  // Drops the weights `precision` does not use and records it.
  void KeepPrecision(Precision precision, std::string choice);
  BertConfig config_;
  Precision precision_;
  std::string precision_choice_;
  std::unique_ptr<Weights> weights_;
};

// A few hundred tokens of varied English prose (questions, fragments, prose,
// code-ish text) for Precision::kInt8 calibration; tokenize it with the
// model's tokenizer, one sequence per line.
std::span<const char* const> CalibrationText();

// The kernels each precision runs on this CPU: "fp32 avx512, int8 avx512vnni".
std::string EncoderKernels();

}  // namespace ragline::embed
