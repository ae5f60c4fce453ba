// WordPieceChunkTokenizer: text::ChunkTokenizer over the embedding model's
// WordPiece tokenizer, so chunks are measured in the model's own tokens.
// (text/ does not depend on embed/; this adapter is where they meet.)
//
// Thread safety: Tokenize is const and thread-safe, like the tokenizer.
#pragma once

#include <string_view>
#include <vector>

#include "embed/tokenizer.h"
#include "text/chunker.h"

namespace ragline::pipeline {

class WordPieceChunkTokenizer final : public text::ChunkTokenizer {
 public:
  // Borrows `tokenizer`; it must outlive this adapter.
  explicit WordPieceChunkTokenizer(const embed::WordPieceTokenizer& tokenizer) : tokenizer_(tokenizer) {}

  std::vector<text::TokenSpan> Tokenize(std::string_view text) const override {
    embed::Encoding e = tokenizer_.Tokenize(text);
    std::vector<text::TokenSpan> spans;
    spans.reserve(e.offsets.size());
    for (auto [begin, end] : e.offsets) spans.push_back({begin, end});
    return spans;
  }
  size_t special_tokens() const override { return 2; }  // [CLS], [SEP]

 private:
  const embed::WordPieceTokenizer& tokenizer_;
};

}  // namespace ragline::pipeline
