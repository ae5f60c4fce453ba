#include "text/analyzer.h"

#include <gtest/gtest.h>

#include <thread>

namespace ragline::text {
namespace {

using Terms = std::vector<std::string>;

std::unique_ptr<Analyzer> Make(const AnalyzerOptions& options = {}) {
  auto a = Analyzer::Create(options);
  EXPECT_TRUE(a.ok()) << a.status();
  return std::move(*a);
}

AnalyzerOptions Plain() {
  AnalyzerOptions o;
  o.stemmer = "none";
  o.stop_words = "none";
  return o;
}

TEST(AnalyzerTest, SplitsOnPunctuationAndLowercases) {
  EXPECT_EQ(Make(Plain())->Analyze("Hello, World! (BM25-style) search_engine"),
            (Terms{"hello", "world", "bm25", "style", "search", "engine"}));
}

TEST(AnalyzerTest, EmptyAndSeparatorOnlyTextHaveNoTerms) {
  auto a = Make();
  EXPECT_TRUE(a->Analyze("").empty());
  EXPECT_TRUE(a->Analyze("  \t\n...,;!? -- ").empty());
}

TEST(AnalyzerTest, StemsRunningToRunAndRemovesStopWords) {
  EXPECT_EQ(Make()->Analyze("The dogs are running into the houses"), (Terms{"dog", "run", "hous"}));
}

TEST(AnalyzerTest, StopWordsCanBeKeptAndStemmingTurnedOff) {
  AnalyzerOptions o;
  o.stop_words = "none";
  EXPECT_EQ(Make(o)->Analyze("the running"), (Terms{"the", "run"}));
  o.stemmer = "none";
  EXPECT_EQ(Make(o)->Analyze("the running"), (Terms{"the", "running"}));
}

TEST(AnalyzerTest, AccentedWordsKeepTheirAccentsAndComposedEqualsDecomposed) {
  auto a = Make(Plain());
  EXPECT_EQ(a->Analyze("Café CRÈME"), (Terms{"café", "crème"}));
  // "e" + combining acute accent is NFKC-composed to "é".
  EXPECT_EQ(a->Analyze("cafe\xCC\x81"), (Terms{"café"}));
}

TEST(AnalyzerTest, CompatibilityFormsAndCaseFoldingAreNormalised) {
  auto a = Make(Plain());
  // Full-width letters, the "ﬁ" ligature, German sharp s, a soft hyphen.
  EXPECT_EQ(a->Analyze("ＡＢＣ ﬁle Straße co\xC2\xADoperate"), (Terms{"abc", "file", "strasse", "cooperate"}));
}

TEST(AnalyzerTest, NonAsciiWhiteSpaceAndMixedRunsNormaliseLikeTheWholeText) {
  auto a = Make(Plain());
  // No-break space (NFKC: a space), ideographic space, a combining mark at
  // the start of a run, upper-case ASCII next to non-ASCII letters.
  EXPECT_EQ(a->Analyze("HELLO\u00A0World\u3000Ünïcode \xCC\x81" "Accent ÀB"),
            (Terms{"hello", "world", "ünïcode", "\xCC\x81" "accent", "àb"}));
}

TEST(AnalyzerTest, CjkIdeographsAreSingleCharacterTokens) {
  EXPECT_EQ(Make(Plain())->Analyze("搜索引擎 is 快"), (Terms{"搜", "索", "引", "擎", "is", "快"}));
}

TEST(AnalyzerTest, DigitsFormWordsAndJoinAcrossDecimalPointsAndThousands) {
  EXPECT_EQ(Make(Plain())->Analyze("version 3.14 costs 1,000 in 2024. Done"),
            (Terms{"version", "3.14", "costs", "1,000", "in", "2024", "done"}));
}

TEST(AnalyzerTest, ApostrophesJoinLettersAndPossessivesAreStripped) {
  EXPECT_EQ(Make(Plain())->Analyze("don't stop 'quoted'"), (Terms{"don't", "stop", "quoted"}));
  // With the English stemmer the possessive goes, so "it's" becomes the stop word "it".
  EXPECT_EQ(Make()->Analyze("John’s car, it's red"), (Terms{"john", "car", "red"}));
}

TEST(AnalyzerTest, OverlongTokensAreDropped) {
  AnalyzerOptions o = Plain();
  o.max_token_chars = 5;
  EXPECT_EQ(Make(o)->Analyze("short toolongword ok"), (Terms{"short", "ok"}));
}

TEST(AnalyzerTest, InvalidUtf8BytesActAsSeparators) {
  EXPECT_EQ(Make(Plain())->Analyze("good\xFF\xFEwords"), (Terms{"good", "words"}));
}

TEST(AnalyzerTest, OtherSnowballLanguagesWork) {
  AnalyzerOptions o;
  o.stemmer = "french";
  o.stop_words = "none";
  EXPECT_EQ(Make(o)->Analyze("les chevaux mangeaient"), (Terms{"le", "cheval", "mang"}));
}

TEST(AnalyzerTest, UnknownStemmerIsRejectedNamingIt) {
  AnalyzerOptions o;
  o.stemmer = "klingon";
  auto a = Analyzer::Create(o);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(a.status().message().find("unknown stemmer language 'klingon'"), std::string::npos);
  EXPECT_NE(a.status().message().find("english"), std::string::npos);
}

TEST(AnalyzerTest, OptionsRoundTripThroughJsonAndMissingKeysDefault) {
  AnalyzerOptions o;
  o.lowercase = false;
  o.stemmer = "porter";
  o.stop_words = "none";
  o.max_token_chars = 32;
  auto back = AnalyzerOptions::FromJson(o.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, o);
  auto defaults = AnalyzerOptions::FromJson(nlohmann::json::object());
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(*defaults, AnalyzerOptions{});
}

TEST(AnalyzerTest, BadOptionsAreRejectedWithTheReason) {
  EXPECT_FALSE(AnalyzerOptions::FromJson({{"stemmer", 3}}).ok());
  EXPECT_FALSE(AnalyzerOptions::FromJson({{"colour", "red"}}).ok());
  EXPECT_FALSE(AnalyzerOptions::FromJson({{"stop_words", "german"}}).ok());
  AnalyzerOptions o;
  EXPECT_TRUE(o.SetFromString("stemmer=porter,stop_words=none,lowercase=false").ok());
  EXPECT_EQ(o.stemmer, "porter");
  EXPECT_EQ(o.stop_words, "none");
  EXPECT_FALSE(o.lowercase);
  Status st = o.SetFromString("max_token_chars=0");
  EXPECT_NE(st.message().find("max_token_chars='0'"), std::string::npos) << st;
  st = o.SetFromString("stemmer");
  EXPECT_NE(st.message().find("expected KEY=VALUE"), std::string::npos) << st;
  st = o.SetFromString("case=upper");
  EXPECT_NE(st.message().find("unknown analyzer option 'case'"), std::string::npos) << st;
}

TEST(AnalyzerTest, ConcurrentCallsGiveTheSameTerms) {
  auto a = Make();
  const std::string text = "Searching engines index running documents about stemming and tokenising.";
  const Terms expected = a->Analyze(text);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (a->Analyze(text) != expected) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace ragline::text
