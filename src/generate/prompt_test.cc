#include "generate/prompt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ragline::generate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// One token per byte: budgets in tests are easy to reason about.
size_t Bytes(std::string_view text) { return text.size(); }

std::vector<Passage> ThreePassages() {
  return {{"a#0", "a", "Alpha", "Alpha text one."},
          {"b#3", "b", "", "Beta text two."},
          {"c#1", "c", "Gamma", "Gamma text three."}};
}

TEST(PromptTest, NumbersPassagesInRankOrderUnderTheirTitles) {
  Prompt prompt = BuildPrompt("What is alpha?", ThreePassages());
  ASSERT_EQ(prompt.messages.size(), 2u);
  EXPECT_EQ(prompt.messages[0].role, "system");
  EXPECT_EQ(prompt.messages[0].content, kDefaultSystemPrompt);
  EXPECT_EQ(prompt.messages[1].role, "user");
  EXPECT_EQ(prompt.messages[1].content,
            "Passages:\n\n"
            "[1] Alpha\nAlpha text one.\n\n"
            "[2] b\nBeta text two.\n\n"  // no title: the doc_id
            "[3] Gamma\nGamma text three.\n\n"
            "Question: What is alpha?");
  EXPECT_THAT(prompt.chunk_ids, ElementsAre("a#0", "b#3", "c#1"));
  EXPECT_FALSE(prompt.last_passage_truncated);
  EXPECT_GT(prompt.estimated_tokens, 0u);
}

TEST(PromptTest, SystemPromptAsksForNumberedCitationsFromThePassagesOnly) {
  EXPECT_THAT(std::string(kDefaultSystemPrompt), HasSubstr("only the numbered passages"));
  EXPECT_THAT(std::string(kDefaultSystemPrompt), HasSubstr("[1]"));
}

TEST(PromptTest, CanPutTheInstructionsInTheUserMessage) {
  PromptOptions options;
  options.use_system_role = false;
  options.system_prompt = "Be brief.";
  Prompt prompt = BuildPrompt("q?", ThreePassages(), options);
  ASSERT_EQ(prompt.messages.size(), 1u);
  EXPECT_EQ(prompt.messages[0].role, "user");
  EXPECT_THAT(prompt.messages[0].content, ::testing::StartsWith("Be brief.\n\nPassages:\n\n[1] Alpha"));
}

TEST(PromptTest, IncludesOnlyWholePassagesThatFitTheBudget) {
  PromptOptions options;
  options.count_tokens = Bytes;
  options.system_prompt = "S";
  // Fixed: "S" (1) + "Passages:\n\n" (11) + "Question: q" (11) = 23.
  // Blocks: "[1] Alpha\nAlpha text one.\n\n" = 27, "[2] b\nBeta text two.\n\n" = 22.
  options.max_prompt_tokens = 23 + 27 + 22;
  Prompt prompt = BuildPrompt("q", ThreePassages(), options);
  EXPECT_THAT(prompt.chunk_ids, ElementsAre("a#0", "b#3"));
  EXPECT_EQ(prompt.estimated_tokens, 72u);
  EXPECT_THAT(prompt.messages[1].content, Not(HasSubstr("Gamma")));
  EXPECT_FALSE(prompt.last_passage_truncated);

  options.max_prompt_tokens = 23 + 27 + 21;  // one short of passage 2
  prompt = BuildPrompt("q", ThreePassages(), options);
  EXPECT_THAT(prompt.chunk_ids, ElementsAre("a#0"));
}

TEST(PromptTest, DoesNotSkipAPassageToFitALaterSmallerOne) {
  std::vector<Passage> passages = ThreePassages();
  passages[1].text = std::string(500, 'x');
  PromptOptions options;
  options.count_tokens = Bytes;
  options.system_prompt = "S";
  options.max_prompt_tokens = 200;
  Prompt prompt = BuildPrompt("q", passages, options);
  EXPECT_THAT(prompt.chunk_ids, ElementsAre("a#0"));  // rank order is kept: no [3]
}

TEST(PromptTest, CutsAFirstPassageThatAloneExceedsTheBudgetAtAWordBoundary) {
  std::vector<Passage> passages = {
      {"long#0", "long", "Long", "one two three four five six seven eight nine ten"},
      {"b#0", "b", "B", "never included"}};
  PromptOptions options;
  options.count_tokens = Bytes;
  options.system_prompt = "S";
  // 23 fixed + "[1] Long\n" (9) + "one two three ..." (17) + "\n\n" (2) = 51.
  options.max_prompt_tokens = 51;
  Prompt prompt = BuildPrompt("q", passages, options);
  EXPECT_THAT(prompt.chunk_ids, ElementsAre("long#0"));
  EXPECT_TRUE(prompt.last_passage_truncated);
  EXPECT_THAT(prompt.messages[1].content, HasSubstr("[1] Long\none two three ...\n\nQuestion: q"));
  EXPECT_LE(prompt.estimated_tokens, 51u);
}

TEST(PromptTest, NeverDropsTheFirstPassageEvenWithNoBudgetLeft) {
  PromptOptions options;
  options.count_tokens = Bytes;
  options.max_prompt_tokens = 5;  // less than the instructions alone
  Prompt prompt = BuildPrompt("q", ThreePassages(), options);
  EXPECT_THAT(prompt.chunk_ids, ElementsAre("a#0"));
  EXPECT_TRUE(prompt.last_passage_truncated);
  EXPECT_THAT(prompt.messages[1].content, HasSubstr("[1] Alpha\nAlpha ...\n\n"));
}

TEST(PromptTest, NoPassagesGivesAnEmptyMapping) {
  Prompt prompt = BuildPrompt("q", {});
  EXPECT_TRUE(prompt.chunk_ids.empty());
  EXPECT_EQ(prompt.messages[1].content, "Passages:\n\nQuestion: q");
}

TEST(PromptTest, EstimatesTokensAsWordsTimesOnePointThreeRoundedUp) {
  EXPECT_EQ(EstimateTokens(""), 0u);
  EXPECT_EQ(EstimateTokens("   \n"), 0u);
  EXPECT_EQ(EstimateTokens("one"), 2u);               // 1.3 -> 2
  EXPECT_EQ(EstimateTokens(" ten  words\there a b c d e f g "), 13u);  // 10 words
}

struct CitationCase {
  const char* name;
  const char* answer;
  std::vector<int> want;  // passage numbers, in order
};

class ParseCitationsTest : public ::testing::TestWithParam<CitationCase> {};

TEST_P(ParseCitationsTest, FindsTheCitedPassagesInOrderOnce) {
  const std::vector<std::string> ids = {"a#0", "b#0", "c#0", "d#0", "e#0"};
  std::vector<Citation> got = ParseCitations(GetParam().answer, ids);
  std::vector<int> numbers;
  for (const Citation& c : got) {
    numbers.push_back(c.n);
    EXPECT_EQ(c.chunk_id, ids[c.n - 1]);
  }
  EXPECT_EQ(numbers, GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseCitationsTest,
    ::testing::Values(
        CitationCase{"Single", "Paris [1].", {1}},
        CitationCase{"OrderOfFirstUse", "B [3]. A [1]. B again [3].", {3, 1}},
        CitationCase{"Adjacent", "Both [2][1].", {2, 1}},
        CitationCase{"CommaList", "Both [1, 4].", {1, 4}},
        CitationCase{"CommaListNoSpace", "Both [4,2].", {4, 2}},
        CitationCase{"SemicolonList", "Both [1; 2].", {1, 2}},
        CitationCase{"Range", "All [2-4].", {2, 3, 4}},
        CitationCase{"EnDashRange", "All [1–2].", {1, 2}},
        CitationCase{"MixedListAndRange", "[5, 1-2]", {5, 1, 2}},
        CitationCase{"SpacesInside", "[ 2 ]", {2}},
        CitationCase{"OutOfRangeIgnored", "[0] [6] [99] [3]", {3}},
        CitationCase{"RangeClipped", "[4-9]", {4, 5}},
        CitationCase{"BackwardsRangeIgnored", "[3-1]", {}},
        CitationCase{"NotACitation", "[see 1] [1a] [^2] [] [x]", {}},
        CitationCase{"TrailingComma", "[1,]", {}},
        CitationCase{"NestedOpen", "[[2]]", {2}},
        CitationCase{"Unclosed", "text [2", {}},
        CitationCase{"HugeNumberIgnored", "[99999999999] [1]", {1}},
        CitationCase{"NoCitations", "I do not know.", {}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ParseCitationsTest, NoMappingMeansNoCitations) {
  EXPECT_TRUE(ParseCitations("[1] [2]", {}).empty());
}

}  // namespace
}  // namespace ragline::generate
