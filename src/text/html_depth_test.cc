#include "text/html_depth.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "text/extract.h"

namespace ragline::text {
namespace {

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

constexpr size_t kNoLimit = 1u << 30;

TEST(HtmlNestingDepthTest, CountsOpenElementsLikeTheTreeBuilder) {
  EXPECT_EQ(HtmlNestingDepth("", kNoLimit), 0u);
  EXPECT_EQ(HtmlNestingDepth("just text", kNoLimit), 0u);
  EXPECT_EQ(HtmlNestingDepth("<html><body><div><p>x</p></div></body></html>", kNoLimit), 2u);
  EXPECT_EQ(HtmlNestingDepth("<div><div><div>x</div></div></div>", kNoLimit), 3u);
  // Void elements and comments do not nest; raw text is not parsed.
  EXPECT_EQ(HtmlNestingDepth("<div><br><img src=x><hr><!-- <div><div> --></div>", kNoLimit), 1u);
  EXPECT_EQ(HtmlNestingDepth("<script>if (a<b) { '<div><div><div>' }</script><p>x", kNoLimit), 1u);
  // "/>" does not close an HTML element, but does close an SVG one.
  EXPECT_EQ(HtmlNestingDepth("<div/><div/><div/>", kNoLimit), 3u);
  EXPECT_EQ(HtmlNestingDepth("<svg><g/><g/><g/></svg>", kNoLimit), 1u);
  // Quoted '>' inside an attribute does not end the tag.
  EXPECT_EQ(HtmlNestingDepth("<div title='a > b'><span>x</span></div>", kNoLimit), 2u);
}

TEST(HtmlNestingDepthTest, ImpliedEndTagsKeepSloppyHtmlShallow) {
  // Unclosed paragraphs, list items, cells and options close each other.
  EXPECT_EQ(HtmlNestingDepth(Repeat("<p>para", 5000), kNoLimit), 1u);
  EXPECT_EQ(HtmlNestingDepth("<ul>" + Repeat("<li>item", 5000) + "</ul>", kNoLimit), 2u);
  EXPECT_EQ(HtmlNestingDepth("<dl>" + Repeat("<dt>t<dd>d", 2000) + "</dl>", kNoLimit), 2u);
  EXPECT_EQ(HtmlNestingDepth("<table>" + Repeat("<tr><td>a<td>b", 2000) + "</table>", kNoLimit), 3u);
  EXPECT_EQ(HtmlNestingDepth("<select>" + Repeat("<option>o", 2000) + "</select>", kNoLimit), 2u);
  // An unclosed <b> per table cell is dropped at the cell's end (a marker).
  EXPECT_LE(HtmlNestingDepth("<table>" + Repeat("<tr><td><b>bold", 2000) + "</table>", kNoLimit), 5u);
  // Identical misnested formatting elements are kept three at a time (Noah's Ark).
  EXPECT_LE(HtmlNestingDepth(Repeat("<p><font size=2>x</p>", 2000), kNoLimit), 6u);
}

TEST(HtmlNestingDepthTest, SeesWhatMakesTheParserQuadratic) {
  EXPECT_EQ(HtmlNestingDepth(Repeat("<div>", 2000), kNoLimit), 2000u);
  EXPECT_EQ(HtmlNestingDepth(Repeat("<span>x", 2000), kNoLimit), 2000u);
  EXPECT_EQ(HtmlNestingDepth(Repeat("<div/>", 2000), kNoLimit), 2000u);
  // Misnested formatting elements with distinct attributes are all reopened
  // at the next one: the depth grows with their count.
  std::string misnested;
  for (int i = 0; i < 1000; ++i) misnested += "<p><b id=" + std::to_string(i) + ">x</p>";
  EXPECT_GE(HtmlNestingDepth(misnested, kNoLimit), 1000u);
}

TEST(HtmlNestingDepthTest, StopsOnceOverTheLimit) {
  const std::string deep = Repeat("<div>", 1000000);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(HtmlNestingDepth(deep, 512), 513u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(HtmlNestingDepthTest, ExtractRefusesHtmlNestedDeeperThanTheLimit) {
  ExtractOptions options;
  options.max_html_depth = 100;
  auto refused = Extract(Repeat("<div>", 200) + "text", "text/html", options);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(IsLimitExceeded(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("max_html_depth"), std::string_view::npos) << refused.status();
  auto fine = Extract(Repeat("<div>", 99) + "text", "text/html", options);
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_EQ(fine->text, "text");
}

}  // namespace
}  // namespace ragline::text
