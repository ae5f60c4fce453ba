// WordPieceTokenizer: the BERT tokenizer, token for token identical to the
// Hugging Face fast BertTokenizer (tokenizers' BertNormalizer +
// BertPreTokenizer + WordPiece + the [CLS] … [SEP] template).
//
// Pipeline for one text:
//   1. Clean: drop U+0000, U+FFFD and control (Cc), format (Cf) and
//      private-use (Co) characters; every whitespace character becomes ' '.
//      Unassigned code points (Cn, noncharacters) are kept, as HF keeps them
//      (they end up in an [UNK]).
//   2. Put spaces around CJK ideographs (each becomes its own word).
//   3. If strip_accents: NFD, then drop non-spacing marks (Mn).
//   4. If lowercase: per-character lowercase.
//   5. Split on whitespace; every punctuation character (ASCII punctuation
//      and Unicode P*) is a word of its own.
//   6. WordPiece: greedy longest match from the left, continuations prefixed
//      "##"; a word that cannot be covered, or has more than
//      max_input_chars_per_word characters, becomes one [UNK].
//   7. Encode() adds [CLS]/[SEP] and truncates so the sequence, specials
//      included, has at most max_length tokens.
// Before step 1 the raw text is split on the added tokens (options.added_tokens,
// [MASK] etc.), which become tokens as written. Input is UTF-8; invalid bytes
// are read as U+FFFD and so dropped by step 1.
//
// Unicode data: HF takes the Cf/P*/Mn categories of steps 1, 3 and 5 from
// Unicode 8.0 tables (the unicode_categories crate), NFD from an older table
// too, and lowercase from a recent Rust std (Unicode 16+). We use utf8proc
// plus exception lists, derived by comparing every code point against
// tokenizers 0.23.3, that are exact for utf8proc's Unicode 15.0.0 (the tests
// check that version). So, like HF: characters that became Cf/P*/Mn after
// Unicode 8.0 are kept / not split / not stripped. NFD decomposes character
// by character without canonical reordering of combining marks; the marks it
// would reorder are nearly all Mn and stripped anyway.
//
// Thread safety: immutable after construction; all const methods may be
// called concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ragline::embed {

struct TokenizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool lowercase = true;
  // nullopt: strip accents exactly when lowercasing (BERT's default).
  std::optional<bool> strip_accents;
  size_t max_input_chars_per_word = 100;
  std::string continuing_subword_prefix = "##";
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  // Hugging Face "added tokens": matched verbatim in the raw text before any
  // normalisation (leftmost, longest first) and emitted as their own id, so
  // "a [MASK] b" has the [MASK] id as HF does. Each must be in the vocab.
  // Load() takes them from tokenizer.json's added_tokens.
  std::vector<std::string> added_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
};

// One tokenized text. offsets[i] is the byte range [begin, end) of token i in
// the input text; the special tokens [CLS]/[SEP] get {0, 0}.
struct Encoding {
  std::vector<int32_t> ids;
  std::vector<std::pair<uint32_t, uint32_t>> offsets;
  bool truncated = false;  // tokens were dropped to fit max_length
};

class WordPieceTokenizer {
 public:
  // Loads vocab.txt (else the vocab inside tokenizer.json) and the
  // normaliser settings from tokenizer.json / tokenizer_config.json in a
  // Hugging Face model directory. Errors name the file and the problem.
  static Result<WordPieceTokenizer> Load(const std::filesystem::path& model_dir);
  // vocab[i] is the token with id i.
  static Result<WordPieceTokenizer> FromVocab(std::vector<std::string> vocab,
                                              TokenizerOptions options);

  // The word pieces of `text`: no specials, no truncation.
  Encoding Tokenize(std::string_view text) const;
  // [CLS] pieces [SEP], truncated to at most max_length tokens (>= 2; a
  // smaller value acts as 2). Stops tokenizing once the limit is passed.
  Encoding Encode(std::string_view text, size_t max_length) const;

  std::optional<int32_t> TokenId(std::string_view token) const;
  // The token with this id; "" for an id outside the vocab.
  const std::string& Token(int32_t id) const;
  size_t vocab_size() const;
  int32_t cls_id() const;
  int32_t sep_id() const;
  int32_t pad_id() const;
  int32_t unk_id() const;
  const TokenizerOptions& options() const;

  // Private state lives behind this pointer so the header stays light.
  struct State;
  explicit WordPieceTokenizer(std::shared_ptr<const State> state);

 private:
  std::shared_ptr<const State> state_;
};

}  // namespace ragline::embed
