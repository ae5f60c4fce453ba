#include "text/chunker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "embed/tokenizer.h"

namespace ragline::text {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Whitespace-separated words are tokens; 2 specials, like BERT.
class WordTokenizer : public ChunkTokenizer {
 public:
  std::vector<TokenSpan> Tokenize(std::string_view text) const override {
    std::vector<TokenSpan> spans;
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && IsSpace(text[i])) ++i;
      size_t b = i;
      while (i < text.size() && !IsSpace(text[i])) ++i;
      if (i > b) spans.push_back({static_cast<uint32_t>(b), static_cast<uint32_t>(i)});
    }
    return spans;
  }
  size_t special_tokens() const override { return 2; }

 private:
  static bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\f'; }
};

// The real model tokenizer behind the interface, as the pipeline wires it.
class WordPieceChunkTokenizer : public ChunkTokenizer {
 public:
  explicit WordPieceChunkTokenizer(embed::WordPieceTokenizer tokenizer) : tokenizer_(std::move(tokenizer)) {}
  std::vector<TokenSpan> Tokenize(std::string_view text) const override {
    embed::Encoding e = tokenizer_.Tokenize(text);
    std::vector<TokenSpan> spans;
    spans.reserve(e.offsets.size());
    for (auto [b, en] : e.offsets) spans.push_back({b, en});
    return spans;
  }
  size_t special_tokens() const override { return 2; }
  const embed::WordPieceTokenizer& model() const { return tokenizer_; }

 private:
  embed::WordPieceTokenizer tokenizer_;
};

std::vector<Chunk> MustChunk(std::string_view text, const ChunkTokenizer& tok, const ChunkerOptions& o = {}) {
  auto chunks = ChunkText(text, tok, o);
  EXPECT_TRUE(chunks.ok()) << chunks.status();
  return chunks.ok() ? *chunks : std::vector<Chunk>{};
}

bool IsAsciiSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\f' || c == '\r'; }

// Generated prose: paragraphs of sentences of words, some words long.
std::string Prose(uint32_t seed, int paragraphs) {
  static const char* kWords[] = {"the",       "engine",   "retrieval", "tokenization", "embeddings", "of",
                                 "chunking",  "passages", "a",         "unbelievably", "fast",       "index",
                                 "vectors",   "queries",  "documents", "Debian",       "HNSW",       "x86_64",
                                 "ragline's", "well-known"};
  std::mt19937 rng(seed);
  std::string text;
  for (int p = 0; p < paragraphs; ++p) {
    if (p > 0) text += "\n\n";
    int sentences = 1 + static_cast<int>(rng() % 8);
    for (int s = 0; s < sentences; ++s) {
      if (s > 0) text += ' ';
      int words = 3 + static_cast<int>(rng() % 25);
      for (int w = 0; w < words; ++w) {
        if (w > 0) text += (rng() % 17 == 0) ? ", " : " ";
        text += kWords[rng() % std::size(kWords)];
      }
      text += "!?."[rng() % 3 == 0 ? rng() % 2 : 2];
    }
  }
  return text;
}

// The properties every chunking must have.
void ExpectChunkProperties(std::string_view text, const std::vector<Chunk>& chunks, const ChunkTokenizer& tok,
                           const ChunkerOptions& o, size_t overlap_slack) {
  const size_t budget = o.max_tokens - tok.special_tokens();
  std::vector<bool> covered(text.size(), false);
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& c = chunks[i];
    EXPECT_EQ(c.ordinal, i);
    ASSERT_LT(c.begin, c.end);
    ASSERT_LE(c.end, text.size());
    std::string_view piece = c.TextIn(text);
    size_t alone = tok.Tokenize(piece).size();
    EXPECT_EQ(c.token_count, alone) << "chunk " << i;
    EXPECT_LE(alone, budget) << "chunk " << i << " over budget: " << piece;
    EXPECT_FALSE(IsAsciiSpace(piece.front())) << "chunk " << i;
    EXPECT_FALSE(IsAsciiSpace(piece.back())) << "chunk " << i;
    for (uint32_t b = c.begin; b < c.end; ++b) covered[b] = true;
    if (i > 0) {
      const Chunk& prev = chunks[i - 1];
      EXPECT_GT(c.begin, prev.begin);
      EXPECT_GT(c.end, prev.end);
      // Shared tokens: those of `c` that start before `prev` ends.
      size_t shared = 0;
      for (TokenSpan s : tok.Tokenize(piece)) shared += (c.begin + s.begin < prev.end) ? 1 : 0;
      // A chunk shorter than the overlap (one cut early at a boundary) can
      // share at most all but one of its tokens.
      size_t expected = std::min(o.overlap_tokens, prev.token_count - 1);
      EXPECT_GE(shared + overlap_slack, expected) << "chunk " << i;
      EXPECT_LE(shared, o.overlap_tokens + overlap_slack) << "chunk " << i;
    }
  }
  for (size_t b = 0; b < text.size(); ++b) {
    if (!IsAsciiSpace(text[b])) {
      ASSERT_TRUE(covered[b]) << "byte " << b << " is in no chunk";
    }
  }
}

// --------------------------------------------------------- fake tokenizer

TEST(ChunkerTest, EmptyAndWhitespaceOnlyTextHaveNoChunks) {
  WordTokenizer tok;
  EXPECT_TRUE(MustChunk("", tok).empty());
  EXPECT_TRUE(MustChunk(" \n\n\t \f ", tok).empty());
}

TEST(ChunkerTest, ShortTextIsOneChunkWithoutSurroundingWhitespace) {
  WordTokenizer tok;
  std::string text = "\n  Hello there, world.  \n";
  auto chunks = MustChunk(text, tok);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].TextIn(text), "Hello there, world.");
  EXPECT_EQ(chunks[0].token_count, 3u);
  EXPECT_EQ(chunks[0].ordinal, 0u);
}

TEST(ChunkerTest, InvalidOptionsAreRejected) {
  WordTokenizer tok;
  ChunkerOptions o;
  o.max_tokens = 2;
  EXPECT_EQ(ChunkText("a b", tok, o).status().code(), absl::StatusCode::kInvalidArgument);
  o.max_tokens = 10;
  o.overlap_tokens = 8;
  auto r = ChunkText("a b", tok, o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("overlap_tokens (8)"));
  o.overlap_tokens = 7;
  EXPECT_TRUE(ChunkText("a b", tok, o).ok());
}

TEST(ChunkerTest, DefaultsAre256TokensWith32Overlap) {
  ChunkerOptions o;
  EXPECT_EQ(o.max_tokens, 256u);
  EXPECT_EQ(o.overlap_tokens, 32u);
  WordTokenizer tok;
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "w" + std::to_string(i) + " ";
  auto chunks = MustChunk(text, tok);
  ASSERT_GE(chunks.size(), 4u);
  EXPECT_EQ(chunks[0].token_count, 254u);  // no better boundary: the full budget
  EXPECT_EQ(chunks[0].TextIn(text).substr(0, 3), "w0 ");
  EXPECT_TRUE(chunks[1].TextIn(text).starts_with("w222 "));  // 254 - 32
  ExpectChunkProperties(text, chunks, tok, o, 0);
}

TEST(ChunkerTest, EndsAtAParagraphBreakWhenOneIsWithinTheLookback) {
  WordTokenizer tok;
  ChunkerOptions o;
  o.max_tokens = 22;  // 20 content tokens
  o.overlap_tokens = 3;
  o.lookback_tokens = 8;
  // Paragraph 1: 15 words with a sentence end at word 17 later; paragraph 2 long.
  std::string p1 = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen";
  std::string p2 = "alpha beta gamma. delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho";
  std::string text = p1 + "\n\n" + p2;
  auto chunks = MustChunk(text, tok, o);
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].TextIn(text), p1);  // not "... alpha beta gamma." (a sentence end later)
  EXPECT_TRUE(chunks[1].TextIn(text).starts_with("thirteen fourteen fifteen\n\nalpha"));
  ExpectChunkProperties(text, chunks, tok, o, 0);
}

TEST(ChunkerTest, EndsAtASentenceWhenNoParagraphBreakIsNear) {
  WordTokenizer tok;
  ChunkerOptions o;
  o.max_tokens = 22;
  o.overlap_tokens = 4;
  o.lookback_tokens = 10;
  std::string text =
      "Sentence one has exactly seven words. Sentence two also has seven words! Does the third end with a "
      "question? \"Quoted sentence ends here.\" Tail words without any end";
  auto chunks = MustChunk(text, tok, o);
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].TextIn(text),
            "Sentence one has exactly seven words. Sentence two also has seven words! Does the third end with "
            "a question?");
  EXPECT_TRUE(chunks[1].TextIn(text).ends_with("ends here.\" Tail words without any end"));
  ExpectChunkProperties(text, chunks, tok, o, 0);
}

TEST(ChunkerTest, FallsBackToTheTokenBudgetWithoutGoodBoundaries) {
  WordTokenizer tok;
  ChunkerOptions o;
  o.max_tokens = 12;
  o.overlap_tokens = 2;
  std::string text;
  for (int i = 0; i < 45; ++i) text += "tok" + std::to_string(i) + " ";
  auto chunks = MustChunk(text, tok, o);
  ASSERT_EQ(chunks.size(), 6u);  // starts 0, 8, 16, 24, 32, 40
  for (size_t i = 0; i + 1 < chunks.size(); ++i) EXPECT_EQ(chunks[i].token_count, 10u);
  EXPECT_TRUE(chunks[5].TextIn(text).starts_with("tok40 "));
  ExpectChunkProperties(text, chunks, tok, o, 0);
}

TEST(ChunkerTest, PropertiesHoldOnGeneratedProseForManySettings) {
  WordTokenizer tok;
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    ChunkerOptions o;
    o.max_tokens = 10 + seed * 7;
    o.overlap_tokens = seed % 3 == 0 ? 0 : (o.max_tokens - 2) / (2 + seed % 4);
    o.lookback_tokens = seed % 2 ? 64 : 5;
    std::string text = Prose(seed, 1 + static_cast<int>(seed % 9));
    SCOPED_TRACE(testing::Message() << "seed " << seed << " max " << o.max_tokens << " overlap "
                                    << o.overlap_tokens);
    auto chunks = MustChunk(text, tok, o);
    ASSERT_FALSE(chunks.empty());
    ExpectChunkProperties(text, chunks, tok, o, 0);
    EXPECT_EQ(chunks.back().end, text.size());
  }
}

TEST(ChunkerTest, IsDeterministic) {
  WordTokenizer tok;
  std::string text = Prose(7, 20);
  ChunkerOptions o;
  o.max_tokens = 40;
  o.overlap_tokens = 8;
  auto a = MustChunk(text, tok, o), b = MustChunk(text, tok, o);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].begin, b[i].begin);
    EXPECT_EQ(a[i].end, b[i].end);
  }
}

TEST(ChunkerTest, BytesTheTokenizerSkipsStayInsideChunks) {
  // A tokenizer that ignores '#': with overlap 0 the '#' between two chunks
  // must still belong to one of them.
  class SkipHashes : public WordTokenizer {
   public:
    std::vector<TokenSpan> Tokenize(std::string_view text) const override {
      std::vector<TokenSpan> out;
      for (TokenSpan s : WordTokenizer::Tokenize(text)) {
        while (s.begin < s.end && text[s.begin] == '#') ++s.begin;
        while (s.end > s.begin && text[s.end - 1] == '#') --s.end;
        if (s.begin < s.end) out.push_back(s);
      }
      return out;
    }
  } tok;
  ChunkerOptions o;
  o.max_tokens = 5;
  o.overlap_tokens = 0;
  std::string text = "a b c## ##d e f## g h ### i";
  auto chunks = MustChunk(text, tok, o);
  ExpectChunkProperties(text, chunks, tok, o, 0);
}

TEST(ChunkerTest, RejectsTokenizersThatReturnSpansOutsideTheText) {
  class Broken : public WordTokenizer {
   public:
    std::vector<TokenSpan> Tokenize(std::string_view text) const override { return {{0, 100}}; }
  } tok;
  EXPECT_EQ(ChunkText("short", tok).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ChunkerTest, ChunkDocumentTakesHeadingPathsFromSections) {
  ExtractedDocument doc;
  doc.text = "Intro words here.\n\nInstall\n\nStep one. Step two.\n\nDebian\n\napt-get install things now.";
  uint32_t install = static_cast<uint32_t>(doc.text.find("Install"));
  uint32_t debian = static_cast<uint32_t>(doc.text.find("Debian"));
  doc.sections = {{install, debian, 1, "Install"},
                  {debian, static_cast<uint32_t>(doc.text.size()), 2, "Install > Debian"}};
  WordTokenizer tok;
  ChunkerOptions o;
  o.max_tokens = 7;
  o.overlap_tokens = 1;
  auto chunks = ChunkDocument(doc, tok, o);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_GE(chunks->size(), 3u);
  for (const Chunk& c : *chunks) EXPECT_EQ(c.heading_path, doc.HeadingPathAt(c.begin));
  EXPECT_EQ(chunks->front().heading_path, "");
  EXPECT_EQ(chunks->back().heading_path, "Install > Debian");
}

// ------------------------------------------------- the real model tokenizer

const fs::path kModelDir = fs::path(RAGLINE_SOURCE_DIR) / "models" / "all-MiniLM-L6-v2";

class WordPieceChunkerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(kModelDir / "tokenizer.json") && !fs::exists(kModelDir / "vocab.txt")) return;
    auto loaded = embed::WordPieceTokenizer::Load(kModelDir);
    if (loaded.ok()) tokenizer_ = new WordPieceChunkTokenizer(std::move(*loaded));
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    tokenizer_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(tokenizer_, nullptr) << "model directory " << kModelDir
                                   << " is missing or unreadable: run scripts/fetch_model.sh to fetch it";
  }
  static WordPieceChunkTokenizer* tokenizer_;
};
WordPieceChunkTokenizer* WordPieceChunkerTest::tokenizer_ = nullptr;

TEST_F(WordPieceChunkerTest, EveryChunkFitsTheModelWithSpecialsOnGeneratedProse) {
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    std::string text = Prose(seed * 101, 10 + static_cast<int>(seed));
    ChunkerOptions o;  // the defaults: 256 with specials, overlap 32
    if (seed % 3 == 0) {
      o.max_tokens = 64;
      o.overlap_tokens = 8;
    }
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    auto chunks = MustChunk(text, *tokenizer_, o);
    ASSERT_FALSE(chunks.empty());
    // WordPiece boundaries can move the next start back to a word start.
    ExpectChunkProperties(text, chunks, *tokenizer_, o, 16);
    for (const Chunk& c : chunks) {
      embed::Encoding e = tokenizer_->model().Encode(c.TextIn(text), 100000);
      EXPECT_LE(e.ids.size(), o.max_tokens);
      EXPECT_EQ(e.ids.size(), c.token_count + 2);
    }
  }
}

TEST_F(WordPieceChunkerTest, PrefersParagraphThenSentenceEnds) {
  std::string text = Prose(5, 40);
  ChunkerOptions o;
  auto chunks = MustChunk(text, *tokenizer_, o);
  ASSERT_GE(chunks.size(), 3u);
  size_t at_paragraph = 0, at_sentence = 0;
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    std::string_view piece = chunks[i].TextIn(text);
    std::string_view after = std::string_view(text).substr(chunks[i].end, 2);
    if (after == "\n\n") {
      ++at_paragraph;
    } else if (piece.ends_with('.') || piece.ends_with('!') || piece.ends_with('?')) {
      ++at_sentence;
    }
  }
  // Sentences here are 3..27 words, so a sentence end is nearly always
  // within the 64-token lookback.
  EXPECT_GE(10 * (at_paragraph + at_sentence), 9 * (chunks.size() - 1));
  EXPECT_GT(at_paragraph, 0u);
}

TEST_F(WordPieceChunkerTest, ChunksTheExtractedFixtures) {
  for (const char* name : {"page.html", "guide.md", "sample.pdf"}) {
    auto doc = ExtractFile(fs::path(RAGLINE_SOURCE_DIR) / "src" / "text" / "testdata" / name);
    ASSERT_TRUE(doc.ok()) << doc.status();
    ChunkerOptions o;
    o.max_tokens = 32;
    o.overlap_tokens = 4;
    auto chunks = ChunkDocument(*doc, *tokenizer_, o);
    ASSERT_TRUE(chunks.ok()) << chunks.status();
    ASSERT_FALSE(chunks->empty()) << name;
    ExpectChunkProperties(doc->text, *chunks, *tokenizer_, o, 16);
  }
}

TEST_F(WordPieceChunkerTest, WordsSplitIntoPiecesAreNotCutInTheMiddleWhenAvoidable) {
  // Long words of several pieces and no punctuation: cuts fall between words.
  std::string text;
  for (int i = 0; i < 300; ++i) text += (i % 2 ? "antidisestablishmentarianism " : "unbelievably ");
  ChunkerOptions o;
  o.max_tokens = 40;
  o.overlap_tokens = 5;
  auto chunks = MustChunk(text, *tokenizer_, o);
  for (const Chunk& c : chunks) {
    EXPECT_TRUE(c.begin == 0 || text[c.begin - 1] == ' ') << c.TextIn(text);
    EXPECT_TRUE(c.end == text.size() || text[c.end] == ' ') << c.TextIn(text);
  }
  ExpectChunkProperties(text, chunks, *tokenizer_, o, 16);
}

}  // namespace
}  // namespace ragline::text
