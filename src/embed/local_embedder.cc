#include "embed/local_embedder.h"

#include <algorithm>
#include <numeric>

#include "core/strings.h"

namespace ragline::embed {

Result<std::unique_ptr<LocalEmbedder>> LocalEmbedder::Open(const std::filesystem::path& model_dir,
                                                           LocalEmbedderOptions options,
                                                           ThreadPool* pool) {
  ASSIGN_OR_RETURN(WordPieceTokenizer tokenizer, WordPieceTokenizer::Load(model_dir));
  std::vector<std::vector<int32_t>> calibration;
  if (options.precision != Precision::kFp32) {  // int8 smooths with it; auto also checks int8 on it
    for (const char* line : CalibrationText()) calibration.push_back(tokenizer.Encode(line, 128).ids);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BertEncoder> encoder,
                   BertEncoder::Load(model_dir, options.precision, calibration));
  const BertConfig& config = encoder->config();
  if (tokenizer.vocab_size() != config.vocab_size) {
    return absl::FailedPreconditionError(
        StrCat(model_dir.string(), ": vocabulary has ", std::to_string(tokenizer.vocab_size()),
               " tokens but config.json says vocab_size ", std::to_string(config.vocab_size)));
  }
  size_t model_limit = config.max_seq_length ? config.max_seq_length
                                             : config.max_position_embeddings;
  size_t max_seq_length = options.max_seq_length ? options.max_seq_length : model_limit;
  if (max_seq_length < 2 || max_seq_length > config.max_position_embeddings) {
    return absl::InvalidArgumentError(
        StrCat("max_seq_length ", std::to_string(max_seq_length), " is outside [2, ",
               std::to_string(config.max_position_embeddings), "] for ", model_dir.string()));
  }
  if (options.max_batch_tokens < max_seq_length) options.max_batch_tokens = max_seq_length;
  std::string model_id = std::filesystem::absolute(model_dir).lexically_normal().filename();
  if (model_id.empty()) {
    model_id = std::filesystem::absolute(model_dir).lexically_normal().parent_path().filename();
  }
  return std::unique_ptr<LocalEmbedder>(new LocalEmbedder(std::move(tokenizer),
                                                          std::move(encoder), model_id,
                                                          max_seq_length, options, pool));
}

LocalEmbedder::LocalEmbedder(WordPieceTokenizer tokenizer, std::unique_ptr<BertEncoder> encoder,
                             std::string model_id, size_t max_seq_length,
                             LocalEmbedderOptions options, ThreadPool* pool)
    : tokenizer_(std::move(tokenizer)),
      encoder_(std::move(encoder)),
      model_id_(std::move(model_id)),
      max_seq_length_(max_seq_length),
      options_(options),
      pool_(pool) {}

std::vector<int32_t> LocalEmbedder::InputIds(std::string_view text) const {
  return tokenizer_.Encode(text, max_seq_length_).ids;
}

Result<std::vector<int32_t>> LocalEmbedder::InputIds(std::span<const int32_t> pieces) const {
  std::vector<int32_t> ids;
  ids.reserve(std::min(pieces.size(), max_seq_length_ - 2) + 2);
  ids.push_back(tokenizer_.cls_id());
  for (size_t i = 0; i < pieces.size() && ids.size() + 1 < max_seq_length_; ++i) {
    if (pieces[i] < 0 || static_cast<size_t>(pieces[i]) >= tokenizer_.vocab_size()) {
      return absl::InvalidArgumentError(StrCat("token id ", std::to_string(pieces[i]), " at position ",
                                               std::to_string(i), " is outside the model's vocabulary [0, ",
                                               std::to_string(tokenizer_.vocab_size()), ")"));
    }
    ids.push_back(pieces[i]);
  }
  ids.push_back(tokenizer_.sep_id());
  return ids;
}

Result<Matrix> LocalEmbedder::Embed(std::span<const std::string> texts) {
  const size_t n = texts.size();
  std::vector<std::vector<int32_t>> ids(n);
  auto tokenize = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) ids[i] = InputIds(texts[i]);
  };
  if (pool_ != nullptr && n > 1) {
    pool_->ParallelFor(n, tokenize);
  } else {
    tokenize(0, n);
  }
  return EmbedInputIds(std::move(ids));
}

Result<Matrix> LocalEmbedder::EmbedInputIds(std::vector<std::vector<int32_t>> ids, ThreadPool* pool) {
  const size_t n = ids.size();
  for (size_t i = 0; i < n; ++i) {
    if (ids[i].empty() || ids[i].size() > max_seq_length_) {
      return absl::InvalidArgumentError(StrCat("input ", std::to_string(i), " has ", std::to_string(ids[i].size()),
                                               " tokens; the model reads 1 to ", std::to_string(max_seq_length_)));
    }
  }
  // Longest first, so batches hold similar lengths and the big ones start early.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return ids[a].size() > ids[b].size(); });

  Matrix out(n, dim());
  std::vector<std::vector<int32_t>> batch;
  std::vector<size_t> batch_rows;
  size_t batch_tokens = 0;
  auto run_batch = [&]() -> Status {
    if (batch.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(Matrix rows, encoder_->Encode(batch, pool));
    for (size_t j = 0; j < batch_rows.size(); ++j) {
      std::copy(rows.row(j).begin(), rows.row(j).end(), out.row(batch_rows[j]).begin());
    }
    batch.clear();
    batch_rows.clear();
    batch_tokens = 0;
    return absl::OkStatus();
  };
  for (size_t i : order) {
    if (batch_tokens + ids[i].size() > options_.max_batch_tokens) RETURN_IF_ERROR(run_batch());
    batch_tokens += ids[i].size();
    batch.push_back(std::move(ids[i]));
    batch_rows.push_back(i);
  }
  RETURN_IF_ERROR(run_batch());
  return out;
}

}  // namespace ragline::embed
