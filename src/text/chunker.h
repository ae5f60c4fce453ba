// Chunker: cuts extracted text into passages that fit the embedding model,
// counting the model's own tokens, with overlap, and preferring to end a
// passage at a paragraph break, else a sentence end.
//
// text/ sits beside embed/ and does not depend on it: the tokenizer comes in
// through ChunkTokenizer, which the pipeline implements over
// embed::WordPieceTokenizer (Tokenize(text).offsets are exactly the spans).
//
// Algorithm (docs/ingestion.md):
//   budget = max_tokens - tokenizer.special_tokens()   (256 - 2 = 254)
//   tokenize the whole text once; from token `start`, the chunk may take up
//   to `budget` tokens. If the text does not end inside that window, look at
//   the cut points between the last `lookback_tokens` tokens of the window
//   (never in its first half, never at or before the previous chunk's end)
//   and take the latest of the best class:
//     paragraph break (a blank line or a form feed in the gap)
//     > sentence end (., !, ?, …, 。, ！, ？ — optionally followed by closing
//       quotes/brackets — then whitespace; 。！？ need no whitespace)
//     > line break > word boundary (whitespace or punctuation at the cut)
//     > any token boundary.
//   The chunk is re-tokenized on its own and shrunk if it exceeds the budget
//   (WordPiece can split a word differently without its left context). The
//   next chunk starts `overlap_tokens` tokens before the end, moved back to
//   the start of a word.
// Chunk text is text.substr(begin, end - begin): begin is a token start, end
// a token end (extended over adjacent bytes the tokenizer ignores, so that
// with any overlap every non-whitespace byte belongs to a chunk).
//
// Thread safety: ChunkText is a pure function; it calls the tokenizer's
// const methods, which must be thread-safe if ChunkText runs concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "text/extract.h"

namespace ragline::text {

// A token's byte range [begin, end) in the tokenized text.
struct TokenSpan {
  uint32_t begin = 0;
  uint32_t end = 0;
};

// The embedding model's tokenizer as the chunker sees it.
class ChunkTokenizer {
 public:
  virtual ~ChunkTokenizer() = default;
  // The content tokens of `text` (no special tokens, no truncation), in
  // order, non-overlapping, byte ranges into `text`.
  virtual std::vector<TokenSpan> Tokenize(std::string_view text) const = 0;
  // Tokens the model adds to every sequence ([CLS] and [SEP] for BERT: 2).
  virtual size_t special_tokens() const = 0;
};

struct ChunkerOptions {
  size_t max_tokens = 256;      // per chunk, special tokens included
  size_t overlap_tokens = 32;   // shared by consecutive chunks; < max_tokens - specials
  size_t lookback_tokens = 64;  // how far back from the limit to look for a good cut

  // InvalidArgument naming the bad value, given the tokenizer's specials.
  Status Validate(size_t special_tokens) const;
};

struct Chunk {
  size_t ordinal = 0;          // 0, 1, 2, ... in text order
  uint32_t begin = 0;          // byte offsets into the chunked text
  uint32_t end = 0;
  size_t token_count = 0;      // content tokens of the chunk text alone (specials not counted)
  std::string heading_path;    // the section containing `begin` ("" if none)

  std::string_view TextIn(std::string_view text) const { return text.substr(begin, end - begin); }
};

// Chunks `text`. Empty or whitespace-only text gives no chunks. Deterministic.
// InvalidArgument for invalid options, text over 4 GiB, or token spans that
// are not sorted / inside the text (a tokenizer bug).
Result<std::vector<Chunk>> ChunkText(std::string_view text, const ChunkTokenizer& tokenizer,
                                     const ChunkerOptions& options = {});

// ChunkText(doc.text) with each chunk's heading_path taken from doc.sections.
Result<std::vector<Chunk>> ChunkDocument(const ExtractedDocument& doc, const ChunkTokenizer& tokenizer,
                                         const ChunkerOptions& options = {});

}  // namespace ragline::text
