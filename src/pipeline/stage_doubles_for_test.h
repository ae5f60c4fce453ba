#pragma once

// Tests only: stand-ins that keep pipeline tests on what the stages do with
// messages: a word tokenizer, a hashing embedder, events that record.

#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "embed/embedder.h"
#include "pipeline/stages.h"
#include "text/chunker.h"

namespace ragline::pipeline {

// One token per space-separated word.
class WordTokenizer : public text::ChunkTokenizer {
 public:
  std::vector<text::TokenSpan> Tokenize(std::string_view s) const override {
    std::vector<text::TokenSpan> out;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && s[i] == ' ') ++i;
      const size_t b = i;
      while (i < s.size() && s[i] != ' ') ++i;
      if (i > b) out.push_back({static_cast<uint32_t>(b), static_cast<uint32_t>(i)});
    }
    return out;
  }
  size_t special_tokens() const override { return 2; }
};

// A unit vector from each text's hash; counts calls and batch sizes.
class HashEmbedder : public embed::Embedder {
 public:
  size_t dim() const override { return 4; }
  const std::string& model_id() const override { return id_; }
  Result<Matrix> Embed(std::span<const std::string> texts) override {
    batch_sizes.push_back(texts.size());
    if (!fail.ok()) return fail;
    Matrix m(texts.size(), 4);
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::string h = ContentHash(texts[i]);
      float norm = 0;
      for (size_t d = 0; d < 4; ++d) {
        m.row(i)[d] = 1.0f + static_cast<float>(h[d] % 7);
        norm += m.row(i)[d] * m.row(i)[d];
      }
      for (size_t d = 0; d < 4; ++d) m.row(i)[d] /= std::sqrt(norm);
    }
    return m;
  }
  std::vector<size_t> batch_sizes;
  Status fail;  // not OK: every call fails with it

 private:
  std::string id_ = "hash-4";
};

// Records what the stages report.
// Read the fields once the stage has returned.
class RecordingEvents : public StageEvents {
 public:
  void Unchanged(const std::string& id) override {
    std::lock_guard<std::mutex> l(mu_);
    unchanged.push_back(id);
  }
  void Failed(const std::string& id, const std::string& error, bool over_limit) override {
    std::lock_guard<std::mutex> l(mu_);
    failed[id] = error;
  }
  void Committed(const std::string& id, CommitOutcome outcome, size_t chunks) override {
    std::lock_guard<std::mutex> l(mu_);
    committed[id] = {outcome, chunks};
  }
  void ChunksDeleted(size_t n) override {
    std::lock_guard<std::mutex> l(mu_);
    deleted += n;
  }
  void StageTime(std::string_view, double) override {}
  bool ShouldStop() override { return stop; }

  std::vector<std::string> unchanged;
  std::map<std::string, std::string> failed;
  std::map<std::string, std::pair<CommitOutcome, size_t>> committed;
  size_t deleted = 0;
  std::atomic<bool> stop{false};

 private:
  std::mutex mu_;
};

}  // namespace ragline::pipeline
