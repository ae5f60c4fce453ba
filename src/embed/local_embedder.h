// LocalEmbedder: runs a BERT-family sentence-transformers model in process —
// WordPieceTokenizer, then BertEncoder — over a model directory in Hugging
// Face layout (see scripts/fetch_model.sh).
//
// Embed() tokenizes every text (truncating to max_seq_length, as
// sentence-transformers does), sorts them by length and runs the encoder on
// batches of at most max_batch_tokens tokens, then puts rows back in input
// order. Tokenizing and encoding run on the ThreadPool given at Open().
//
// Thread safety: Embed() may be called concurrently; the pool is shared.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/thread_pool.h"
#include "embed/bert_encoder.h"
#include "embed/embedder.h"
#include "embed/tokenizer.h"

namespace ragline::embed {

struct LocalEmbedderOptions {
  Precision precision = Precision::kAuto;
  // 0 = the model's own limit (sentence_bert_config.json; 256 for MiniLM).
  size_t max_seq_length = 0;
  // Tokens per encoder call; bounds scratch memory (~6 KiB per token for MiniLM).
  size_t max_batch_tokens = 16384;
};

class LocalEmbedder final : public Embedder {
 public:
  // `pool` may be null (single thread) and must outlive the embedder.
  static Result<std::unique_ptr<LocalEmbedder>> Open(const std::filesystem::path& model_dir,
                                                     LocalEmbedderOptions options,
                                                     ThreadPool* pool);

  size_t dim() const override { return encoder_->dim(); }
  const std::string& model_id() const override { return model_id_; }
  std::string description() const override { return model_id_ + " (" + encoder_->kernel() + ")"; }
  Result<Matrix> Embed(std::span<const std::string> texts) override;

  // What the model reads for a text: [CLS] pieces [SEP], truncated to
  // max_seq_length (as Embed does it).
  std::vector<int32_t> InputIds(std::string_view text) const;
  // The same for word-piece ids a client tokenized itself, without special
  // tokens (Hugging Face's encode(text, add_special_tokens=False)):
  // InvalidArgument naming the first id outside the vocabulary.
  Result<std::vector<int32_t>> InputIds(std::span<const int32_t> pieces) const;
  // Embeds inputs as InputIds makes them (InvalidArgument for one that is
  // empty or longer than max_seq_length); row i embeds inputs[i].
  Result<Matrix> EmbedInputIds(std::vector<std::vector<int32_t>> inputs) {
    return EmbedInputIds(std::move(inputs), pool_);
  }
  // The same on `pool` instead of the one given at Open() (null: this thread only).
  Result<Matrix> EmbedInputIds(std::vector<std::vector<int32_t>> inputs, ThreadPool* pool);

  // The model's tokenizer, for chunking text by model tokens.
  const WordPieceTokenizer& tokenizer() const { return tokenizer_; }
  const BertEncoder& encoder() const { return *encoder_; }
  size_t max_seq_length() const { return max_seq_length_; }

 private:
  LocalEmbedder(WordPieceTokenizer tokenizer, std::unique_ptr<BertEncoder> encoder,
                std::string model_id, size_t max_seq_length, LocalEmbedderOptions options,
                ThreadPool* pool);

  WordPieceTokenizer tokenizer_;
  std::unique_ptr<BertEncoder> encoder_;
  std::string model_id_;
  size_t max_seq_length_;
  LocalEmbedderOptions options_;
  ThreadPool* pool_;
};

}  // namespace ragline::embed
