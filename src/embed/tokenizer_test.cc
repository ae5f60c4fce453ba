#include "core/temp_dir_for_test.h"
#include "embed/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/strings.h"

namespace ragline::embed {
namespace {

namespace fs = std::filesystem;
using Offsets = std::vector<std::pair<uint32_t, uint32_t>>;

const fs::path kSourceDir = RAGLINE_SOURCE_DIR;
const fs::path kModelDir = kSourceDir / "models" / "all-MiniLM-L6-v2";
const fs::path kGoldenPath = kSourceDir / "src" / "embed" / "testdata" / "tokenizer_golden.jsonl";
constexpr size_t kGoldenMaxLength = 256;

// The tokenizer of the fetched model, loaded once; nullptr (with the reason
// in *error) when the model is missing, which fails the calling test.
const WordPieceTokenizer* ModelTokenizer(std::string* error) {
  static const Result<WordPieceTokenizer>* const tokenizer =
      new Result<WordPieceTokenizer>(WordPieceTokenizer::Load(kModelDir));
  if (tokenizer->ok()) return &tokenizer->value();
  *error = StrCat("cannot load ", kModelDir.string(), " (", std::string(tokenizer->status().message()),
                  "); run scripts/fetch_model.sh to fetch the model");
  return nullptr;
}

#define ASSERT_MODEL_TOKENIZER(var)                         \
  std::string var##_error;                                  \
  const WordPieceTokenizer* var = ModelTokenizer(&var##_error); \
  ASSERT_NE(var, nullptr) << var##_error

std::vector<std::string> Tokens(const WordPieceTokenizer& tokenizer, const Encoding& encoding) {
  std::vector<std::string> tokens;
  for (int32_t id : encoding.ids) tokens.push_back(tokenizer.Token(id));
  return tokens;
}

// A string with its non-printable and non-ASCII bytes escaped, for messages.
std::string Printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 300)) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", c);
      out += buf;
    }
  }
  if (text.size() > 300) out += "...";
  return out;
}

std::string Join(const std::vector<int32_t>& ids) {
  std::ostringstream out;
  for (size_t i = 0; i < ids.size(); ++i) out << (i ? " " : "") << ids[i];
  return out.str();
}

std::string Join(const Offsets& offsets) {
  std::ostringstream out;
  for (size_t i = 0; i < offsets.size(); ++i) {
    out << (i ? " " : "") << "(" << offsets[i].first << "," << offsets[i].second << ")";
  }
  return out.str();
}

// The exception lists in tokenizer.cc are what utf8proc's Unicode 15.0.0
// gets wrong about HF's older tables; another Unicode version needs them
// re-derived (see the comment there).
TEST(WordPieceTokenizerTest, RunsOnTheUnicodeVersionItsHfExceptionsWereDerivedFor) {
  EXPECT_STREQ(utf8proc_unicode_version(), "15.0.0")
      << "utf8proc's Unicode version changed: re-derive the exception lists in src/embed/tokenizer.cc";
}

// Every case of the fixture written by scripts/fixtures/make_tokenizer_golden.py
// from the real Hugging Face tokenizer: ids and byte offsets must be equal.
TEST(WordPieceTokenizerTest, MatchesHuggingFaceOnEveryGoldenCase) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  std::ifstream in(kGoldenPath);
  ASSERT_TRUE(in) << "cannot open " << kGoldenPath;
  size_t cases = 0, mismatches = 0, tokenize_mismatches = 0, truncated = 0;
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json golden = nlohmann::json::parse(line);
    if (golden.contains("header")) continue;
    ++cases;
    const std::string text = golden["text"].get<std::string>();
    const std::vector<int32_t> expected_ids = golden["ids"].get<std::vector<int32_t>>();
    const std::vector<uint32_t> flat = golden["offsets"].get<std::vector<uint32_t>>();
    Offsets expected_offsets;
    for (size_t i = 0; i + 1 < flat.size(); i += 2) expected_offsets.emplace_back(flat[i], flat[i + 1]);

    const Encoding encoding = tokenizer->Encode(text, kGoldenMaxLength);
    if (encoding.truncated) ++truncated;
    if (encoding.ids != expected_ids || encoding.offsets != expected_offsets) {
      if (++mismatches <= 5) {
        ADD_FAILURE() << "text: \"" << Printable(text) << "\"\n  want ids " << Join(expected_ids)
                      << "\n  got  ids " << Join(encoding.ids)
                      << "\n  want offsets " << Join(expected_offsets)
                      << "\n  got  offsets " << Join(encoding.offsets);
      }
      continue;
    }
    // Without truncation, Tokenize() is Encode() minus [CLS] and [SEP].
    if (!encoding.truncated) {
      const Encoding pieces = tokenizer->Tokenize(text);
      if (pieces.ids != std::vector<int32_t>(expected_ids.begin() + 1, expected_ids.end() - 1)) {
        ++tokenize_mismatches;
      }
    }
  }
  std::printf("golden: %zu cases (%zu truncated), %zu mismatches\n", cases, truncated, mismatches);
  EXPECT_GE(cases, 3000u);
  EXPECT_GT(truncated, 0u) << "the fixture should exercise truncation";
  EXPECT_EQ(mismatches, 0u) << mismatches << " of " << cases << " golden cases differ from Hugging Face";
  EXPECT_EQ(tokenize_mismatches, 0u);
}

TEST(WordPieceTokenizerTest, LowercasesAndStripsAccents) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  EXPECT_EQ(Tokens(*tokenizer, tokenizer->Tokenize("Héllo WÖRLD, Crème")),
            (std::vector<std::string>{"hello", "world", ",", "cr", "##eme"}));
}

TEST(WordPieceTokenizerTest, MapsPiecesOfADecomposedCharacterToItsOriginalBytes) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  const Encoding encoding = tokenizer->Tokenize("Café");  // é is two bytes
  ASSERT_EQ(Tokens(*tokenizer, encoding), (std::vector<std::string>{"cafe"}));
  EXPECT_EQ(encoding.offsets, (Offsets{{0, 5}}));
}

TEST(WordPieceTokenizerTest, MakesEachCjkIdeographItsOwnWord) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  const Encoding encoding = tokenizer->Tokenize("中文abc");
  EXPECT_EQ(Tokens(*tokenizer, encoding), (std::vector<std::string>{"中", "文", "abc"}));
  EXPECT_EQ(encoding.offsets, (Offsets{{0, 3}, {3, 6}, {6, 9}}));
}

TEST(WordPieceTokenizerTest, SplitsOffPunctuationButNotSymbols) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  EXPECT_EQ(Tokens(*tokenizer, tokenizer->Tokenize("hello,world!«hi»")),
            (std::vector<std::string>{"hello", ",", "world", "!", "«", "hi", "»"}));
  // ± is Sm and € is Sc, not P*: they stay inside the word.
  EXPECT_EQ(Tokens(*tokenizer, tokenizer->Tokenize("a±b")), (std::vector<std::string>{"a", "##±", "##b"}));
}

TEST(WordPieceTokenizerTest, SplitsWordsIntoLongestVocabPieces) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  const Encoding encoding = tokenizer->Tokenize("tokenization");
  EXPECT_EQ(Tokens(*tokenizer, encoding), (std::vector<std::string>{"token", "##ization"}));
  EXPECT_EQ(encoding.offsets, (Offsets{{0, 5}, {5, 12}}));
}

TEST(WordPieceTokenizerTest, TurnsAWordOfMoreThan100CharactersIntoOneUnk) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  const Encoding too_long = tokenizer->Tokenize(std::string(101, 'a'));
  EXPECT_EQ(too_long.ids, (std::vector<int32_t>{tokenizer->unk_id()}));
  EXPECT_EQ(too_long.offsets, (Offsets{{0, 101}}));
  const Encoding at_limit = tokenizer->Tokenize(std::string(100, 'a'));
  EXPECT_GT(at_limit.ids.size(), 1u);
  EXPECT_EQ(std::count(at_limit.ids.begin(), at_limit.ids.end(), tokenizer->unk_id()), 0);
}

TEST(WordPieceTokenizerTest, TruncationKeepsClsAndSepAndSaysSo) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  const Encoding encoding = tokenizer->Encode("one two three four five six seven eight nine ten", 6);
  EXPECT_TRUE(encoding.truncated);
  EXPECT_EQ(Tokens(*tokenizer, encoding),
            (std::vector<std::string>{"[CLS]", "one", "two", "three", "four", "[SEP]"}));
  EXPECT_EQ(encoding.offsets.front(), std::make_pair(0u, 0u));
  EXPECT_EQ(encoding.offsets.back(), std::make_pair(0u, 0u));

  const Encoding fits = tokenizer->Encode("one two three four", 6);
  EXPECT_FALSE(fits.truncated);
  EXPECT_EQ(fits.ids.size(), 6u);
  const Encoding only_specials = tokenizer->Encode("one", 2);
  EXPECT_TRUE(only_specials.truncated);
  EXPECT_EQ(only_specials.ids, (std::vector<int32_t>{tokenizer->cls_id(), tokenizer->sep_id()}));
}

TEST(WordPieceTokenizerTest, DropsInvalidUtf8Bytes) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  const Encoding encoding = tokenizer->Tokenize("hel\xFFlo \xC3 wor\xE2\x82ld\xF0");
  EXPECT_EQ(Tokens(*tokenizer, encoding), (std::vector<std::string>{"hello", "world"}));
  EXPECT_EQ(encoding.offsets, (Offsets{{0, 6}, {9, 16}}));
}

TEST(WordPieceTokenizerTest, SurvivesRandomBytesWithOffsetsInsideTheInput) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    const Encoding encoding = tokenizer->Encode(bytes, 32);
    ASSERT_EQ(encoding.ids.size(), encoding.offsets.size());
    ASSERT_LE(encoding.ids.size(), 32u);
    for (const auto& [begin, end] : encoding.offsets) {
      ASSERT_LE(begin, end);
      ASSERT_LE(end, bytes.size());
    }
  }
}

TEST(WordPieceTokenizerTest, KeepsAddedTokensWrittenInTheText) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  const Encoding encoding = tokenizer->Tokenize("a[MASK]b [mask]");
  EXPECT_EQ(Tokens(*tokenizer, encoding),
            (std::vector<std::string>{"a", "[MASK]", "b", "[", "mask", "]"}));
  EXPECT_EQ(encoding.offsets[1], std::make_pair(1u, 7u));
}

TEST(WordPieceTokenizerTest, DropsControlAndZeroWidthCharactersAndSplitsOnUnicodeSpaces) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  EXPECT_EQ(Tokens(*tokenizer, tokenizer->Tokenize(std::string("ab\x01") + "c\u200Bd\u3000e\u00A0f")),
            (std::vector<std::string>{"abc", "##d", "e", "f"}));
}

TEST(WordPieceTokenizerTest, ExposesSpecialTokenIds) {
  ASSERT_MODEL_TOKENIZER(tokenizer);
  EXPECT_EQ(tokenizer->vocab_size(), 30522u);
  EXPECT_EQ(tokenizer->pad_id(), 0);
  EXPECT_EQ(tokenizer->unk_id(), 100);
  EXPECT_EQ(tokenizer->cls_id(), 101);
  EXPECT_EQ(tokenizer->sep_id(), 102);
  EXPECT_EQ(tokenizer->TokenId("hello"), std::optional<int32_t>(7592));
  EXPECT_EQ(tokenizer->TokenId("no such token"), std::nullopt);
  EXPECT_EQ(tokenizer->Token(-1), "");
  EXPECT_EQ(tokenizer->Token(1 << 30), "");
}

std::vector<std::string> TinyVocab() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "aff", "##aff", "##able", "##a", "!"};
}

TEST(WordPieceTokenizerTest, FromVocabUsesGreedyLongestMatch) {
  auto tokenizer = WordPieceTokenizer::FromVocab(TinyVocab(), TokenizerOptions());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(tokenizer->Tokenize("unaffable!").ids, (std::vector<int32_t>{5, 7, 8, 10}));
  EXPECT_EQ(tokenizer->Tokenize("unaffablex").ids, (std::vector<int32_t>{1}));
}

TEST(WordPieceTokenizerTest, KeepsAccentsAndCaseWhenOptionsSaySo) {
  TokenizerOptions options;
  options.lowercase = false;
  std::vector<std::string> vocab = TinyVocab();
  vocab.push_back("Été");
  auto tokenizer = WordPieceTokenizer::FromVocab(vocab, options);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(tokenizer->Tokenize("Été").ids, (std::vector<int32_t>{11}));
  EXPECT_FALSE(tokenizer->options().strip_accents.has_value());
}

TEST(WordPieceTokenizerTest, FromVocabRejectsAnEmptyVocabAndMissingSpecialTokens) {
  EXPECT_FALSE(WordPieceTokenizer::FromVocab({}, TokenizerOptions()).ok());
  std::vector<std::string> vocab = TinyVocab();
  vocab.erase(vocab.begin() + 3);  // [SEP]
  auto tokenizer = WordPieceTokenizer::FromVocab(vocab, TokenizerOptions());
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_NE(std::string(tokenizer.status().message()).find("[SEP]"), std::string::npos)
      << tokenizer.status();
}

std::string ErrorOf(const fs::path& dir) {
  auto tokenizer = WordPieceTokenizer::Load(dir);
  return tokenizer.ok() ? "ok" : std::string(tokenizer.status().message());
}

MATCHER_P(Contains, part, "") { return arg.find(part) != std::string::npos; }

TEST(WordPieceTokenizerTest, LoadNamesAMissingDirectory) {
  EXPECT_THAT(ErrorOf("/nonexistent/model"), Contains("/nonexistent/model"));
}

TEST(WordPieceTokenizerTest, LoadNamesAMissingVocab) {
  TempDir dir;
  EXPECT_THAT(ErrorOf(dir.path()), Contains("no vocab"));
}

TEST(WordPieceTokenizerTest, LoadNamesTheVocabFileWhenASpecialTokenIsMissing) {
  TempDir dir;
  dir.Write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[MASK]\nhello\n");
  const std::string error = ErrorOf(dir.path());
  EXPECT_THAT(error, Contains("vocab.txt"));
  EXPECT_THAT(error, Contains("[SEP]"));
}

TEST(WordPieceTokenizerTest, LoadNamesAnEmptyVocab) {
  TempDir dir;
  dir.Write("vocab.txt", "");
  const std::string error = ErrorOf(dir.path());
  EXPECT_THAT(error, Contains("vocab.txt"));
  EXPECT_THAT(error, Contains("empty"));
}

TEST(WordPieceTokenizerTest, LoadNamesMalformedJson) {
  TempDir dir;
  dir.Write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
  dir.Write("tokenizer.json", "{\"normalizer\": ");
  const std::string error = ErrorOf(dir.path());
  EXPECT_THAT(error, Contains("tokenizer.json"));
  EXPECT_THAT(error, Contains("malformed JSON"));
}

TEST(WordPieceTokenizerTest, LoadReadsSettingsFromTokenizerConfigWithoutTokenizerJson) {
  TempDir dir;
  dir.Write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nHello\nhello\n");
  dir.Write("tokenizer_config.json", R"({"do_lower_case": false, "tokenize_chinese_chars": true})");
  auto tokenizer = WordPieceTokenizer::Load(dir.path());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_FALSE(tokenizer->options().lowercase);
  EXPECT_EQ(tokenizer->Tokenize("Hello").ids, (std::vector<int32_t>{5}));
}

TEST(WordPieceTokenizerTest, LoadFallsBackToTheVocabInsideTokenizerJson) {
  ASSERT_MODEL_TOKENIZER(reference);
  TempDir dir;
  fs::copy_file(kModelDir / "tokenizer.json", fs::path(dir.path()) / "tokenizer.json");
  auto tokenizer = WordPieceTokenizer::Load(dir.path());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  ASSERT_EQ(tokenizer->vocab_size(), reference->vocab_size());
  const std::string text = "Tokenizers from tokenizer.json: naïve café, 中文, [MASK]!";
  EXPECT_EQ(tokenizer->Encode(text, 64).ids, reference->Encode(text, 64).ids);
}

}  // namespace
}  // namespace ragline::embed
