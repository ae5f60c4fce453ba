// The WordPiece tokenizer (embed/tokenizer.h) with the real
// all-MiniLM-L6-v2 vocabulary (scripts/fetch_model.sh) on any bytes, valid
// UTF-8 or not: no crash, every id inside the vocabulary, every offset a
// range inside the text, truncation as documented.
#include <cstdint>
#include <string>
#include <string_view>

#include "embed/tokenizer.h"
#include "fuzz_check.h"

namespace {

using ragline::embed::Encoding;
using ragline::embed::WordPieceTokenizer;

const WordPieceTokenizer& Tokenizer() {
  static const WordPieceTokenizer* tokenizer = [] {
    auto t = WordPieceTokenizer::Load(std::string(RAGLINE_SOURCE_DIR) + "/models/all-MiniLM-L6-v2");
    FUZZ_CHECK(t.ok(), "%s (run scripts/fetch_model.sh first)", t.status().ToString().c_str());
    return new WordPieceTokenizer(std::move(*t));
  }();
  return *tokenizer;
}

void CheckEncoding(const Encoding& e, size_t text_size, size_t vocab_size) {
  FUZZ_CHECK(e.ids.size() == e.offsets.size(), "%zu ids, %zu offsets", e.ids.size(), e.offsets.size());
  for (size_t i = 0; i < e.ids.size(); ++i) {
    FUZZ_CHECK(e.ids[i] >= 0 && static_cast<size_t>(e.ids[i]) < vocab_size, "id %d", e.ids[i]);
    const auto [begin, end] = e.offsets[i];
    FUZZ_CHECK(begin <= end && end <= text_size, "offsets [%u, %u) of %zu bytes", begin, end, text_size);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const WordPieceTokenizer& t = Tokenizer();
  const Encoding pieces = t.Tokenize(text);
  CheckEncoding(pieces, size, t.vocab_size());

  const size_t max_length = 2 + size % 64;
  const Encoding e = t.Encode(text, max_length);
  CheckEncoding(e, size, t.vocab_size());
  FUZZ_CHECK(e.ids.size() >= 2 && e.ids.size() <= max_length, "%zu ids for max_length %zu", e.ids.size(),
             max_length);
  FUZZ_CHECK(e.ids.front() == t.cls_id() && e.ids.back() == t.sep_id(), "not [CLS] ... [SEP]");
  FUZZ_CHECK(e.truncated == (pieces.ids.size() + 2 > max_length), "truncated=%d with %zu pieces", e.truncated,
             pieces.ids.size());
  return 0;
}
