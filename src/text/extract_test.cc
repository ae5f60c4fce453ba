#include "text/extract.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace ragline::text {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kTestdata = fs::path(RAGLINE_SOURCE_DIR) / "src" / "text" / "testdata";

std::string ReadFixture(const std::string& name) {
  std::ifstream in(kTestdata / name, std::ios::binary);
  EXPECT_TRUE(in) << "missing fixture " << (kTestdata / name);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

ExtractedDocument MustExtract(std::string_view bytes, std::string_view type) {
  auto doc = Extract(bytes, type);
  EXPECT_TRUE(doc.ok()) << doc.status();
  return doc.ok() ? *doc : ExtractedDocument{};
}

std::vector<std::string> HeadingPaths(const ExtractedDocument& doc) {
  std::vector<std::string> paths;
  for (const Section& s : doc.sections) paths.push_back(s.heading_path);
  return paths;
}

// Sections are sorted, disjoint, inside the text, and start with their heading.
void ExpectWellFormedSections(const ExtractedDocument& doc) {
  uint32_t prev_end = 0;
  for (const Section& s : doc.sections) {
    EXPECT_LE(prev_end, s.begin) << s.heading_path;
    EXPECT_LE(s.begin, s.end) << s.heading_path;
    EXPECT_LE(s.end, doc.text.size()) << s.heading_path;
    std::string_view last = s.heading_path;
    if (size_t sep = last.rfind(" > "); sep != std::string_view::npos) last = last.substr(sep + 3);
    EXPECT_EQ(doc.text.substr(s.begin, last.size()), last) << "section does not start at its heading";
    prev_end = s.end;
  }
}

// ------------------------------------------------------------------ types

TEST(FormatTest, KnowsMimeTypesAndExtensionsCaseInsensitively) {
  EXPECT_EQ(*FormatFromContentType("text/plain"), DocumentFormat::kPlainText);
  EXPECT_EQ(*FormatFromContentType(".TXT"), DocumentFormat::kPlainText);
  EXPECT_EQ(*FormatFromContentType("text/markdown; charset=UTF-8"), DocumentFormat::kMarkdown);
  EXPECT_EQ(*FormatFromContentType("md"), DocumentFormat::kMarkdown);
  EXPECT_EQ(*FormatFromContentType(".markdown"), DocumentFormat::kMarkdown);
  EXPECT_EQ(*FormatFromContentType("Text/HTML;charset=\"utf-8\""), DocumentFormat::kHtml);
  EXPECT_EQ(*FormatFromContentType(".htm"), DocumentFormat::kHtml);
  EXPECT_EQ(*FormatFromContentType("application/xhtml+xml"), DocumentFormat::kHtml);
  EXPECT_EQ(*FormatFromContentType("application/pdf"), DocumentFormat::kPdf);
  EXPECT_EQ(*FormatFromContentType(".PDF"), DocumentFormat::kPdf);
}

TEST(FormatTest, UnsupportedTypesAreUnimplementedNamingTheType) {
  for (std::string_view type : {"application/msword", ".docx", "image/png", ""}) {
    auto f = FormatFromContentType(type);
    ASSERT_FALSE(f.ok()) << type;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(std::string(f.status().message()), HasSubstr(std::string("\"") + std::string(type) + "\""));
  }
  auto r = Extract("hello", "application/vnd.ms-excel");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
}

TEST(FormatTest, NonUtf8CharsetsAreRejected) {
  auto f = FormatFromContentType("text/html; charset=iso-8859-1");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("iso-8859-1"));
  EXPECT_TRUE(FormatFromContentType("text/plain; charset=us-ascii").ok());
}

TEST(ExtractTest, InputsOverTheSizeLimitAreRejectedBeforeParsing) {
  ExtractOptions options;
  options.max_input_bytes = 10;
  auto r = Extract("0123456789A", "txt", options);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsLimitExceeded(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("the limit max_input_bytes is 10"));
  EXPECT_TRUE(Extract("0123456789", "txt", options).ok());
}

// ------------------------------------------------------------- plain text

TEST(Utf8Test, FindsTheFirstInvalidSequence) {
  EXPECT_EQ(FindInvalidUtf8("plain ascii"), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), std::nullopt);  // é € 😀
  EXPECT_EQ(FindInvalidUtf8("ab\x80"), 2u);            // stray continuation
  EXPECT_EQ(FindInvalidUtf8("a\xC0\x80"), 1u);         // overlong NUL
  EXPECT_EQ(FindInvalidUtf8("a\xE0\x80\xAF"), 1u);     // overlong '/'
  EXPECT_EQ(FindInvalidUtf8("ab\xED\xA0\x80"), 2u);    // surrogate
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);  // > U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("abc\xE2\x82"), 3u);       // truncated at the end
  EXPECT_EQ(FindInvalidUtf8("\xE2\x28\xA1"), 0u);      // bad continuation
  EXPECT_EQ(FindInvalidUtf8("x\xFF"), 1u);
}

TEST(PlainTextTest, StripsBomNormalisesLineEndsAndTrailingWhitespace) {
  auto doc = MustExtract("\xEF\xBB\xBFHello\r\nWorld\rAgain\n\n  indented stays\n\n\n", "text/plain");
  EXPECT_EQ(doc.text, "Hello\nWorld\nAgain\n\n  indented stays");
  EXPECT_EQ(doc.title, "");
  EXPECT_TRUE(doc.sections.empty());
  EXPECT_EQ(doc.metadata.at("content_type"), "text/plain");
}

TEST(PlainTextTest, InvalidUtf8IsAnErrorNamingTheByteOffset) {
  auto r = Extract("\xEF\xBB\xBFgood text \xC3\x28 bad", "txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("invalid UTF-8 at byte offset 13"));
}

TEST(PlainTextTest, NulBytesMeanBinaryDataAndAreRejected) {
  auto r = Extract(std::string_view("abc\0def", 7), "txt");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("NUL byte at byte offset 3"));
}

TEST(PlainTextTest, EmptyAndWhitespaceOnlyTextGiveEmptyText) {
  EXPECT_EQ(MustExtract("", "txt").text, "");
  EXPECT_EQ(MustExtract(" \r\n\t\n", "txt").text, "");
}

// ---------------------------------------------------------------- Markdown

TEST(MarkdownTest, FixtureKeepsTextDropsMarkupAndRecordsHeadings) {
  auto doc = MustExtract(ReadFixture("guide.md"), "md");
  EXPECT_EQ(doc.title, "Ragline Guide");  // front matter beats the first h1
  EXPECT_EQ(doc.metadata.at("author"), "Ragline Docs");
  EXPECT_EQ(doc.metadata.at("content_type"), "text/markdown");
  const std::string& t = doc.text;
  EXPECT_TRUE(
      t.starts_with("Intro paragraph before any heading, with bold and emphasis and a link.\n\nInstall\n\n"))
      << t;
  EXPECT_THAT(t, HasSubstr("See https://cmake.org for CMake, and snake_case_names stay intact."));
  // Code is verbatim, fences are gone.
  EXPECT_THAT(t,
              HasSubstr("Run the script:\n\nsudo ./scripts/install-deps.sh   # installs *everything*\n\n"));
  EXPECT_THAT(t, HasSubstr("- First item with an image\n- Second item with a reference link"));
  EXPECT_THAT(t, HasSubstr("Quoted text here.\nSecond quoted line."));
  EXPECT_THAT(t, HasSubstr("| Flag | Meaning |\n| -j2 | jobs |"));
  EXPECT_THAT(t, HasSubstr("Flags *literal stars*\n\n2 * 3 = 6 and a_b_c stays."));
  for (std::string_view noise :
       {"```", "**", "](", "example.com", "[ref]", "|---", "title:", "====", "\n---"}) {
    EXPECT_THAT(t, Not(HasSubstr(std::string(noise)))) << "markup left: " << noise;
  }
  EXPECT_EQ(HeadingPaths(doc),
            (std::vector<std::string>{"Install", "Install > Debian", "Install > From source", "Usage",
                                      "Usage > Flags *literal stars*"}));
  ExpectWellFormedSections(doc);
  EXPECT_EQ(doc.sections.back().end, t.size());
  EXPECT_EQ(doc.HeadingPathAt(0), "");  // the intro precedes every heading
  EXPECT_EQ(doc.HeadingPathAt(t.find("Build it yourself")), "Install > From source");
  EXPECT_EQ(doc.HeadingPathAt(t.find("sudo")), "Install > Debian");
}

TEST(MarkdownTest, FirstH1IsTheTitleWithoutFrontMatter) {
  auto doc = MustExtract("Some intro.\n\n# Main Title #\n\nBody.\n\n## Part *two*\nMore.", "text/markdown");
  EXPECT_EQ(doc.title, "Main Title");
  EXPECT_EQ(doc.text, "Some intro.\n\nMain Title\n\nBody.\n\nPart two\n\nMore.");
  EXPECT_EQ(HeadingPaths(doc), (std::vector<std::string>{"Main Title", "Main Title > Part two"}));
  ExpectWellFormedSections(doc);
}

TEST(MarkdownTest, InlineHtmlTagsAndCommentsAreDropped) {
  auto doc = MustExtract("Text <!-- hidden note --> with <span class=\"x\">inline</span> tags<br/>.", "md");
  EXPECT_EQ(doc.text, "Text with inline tags.");
}

TEST(MarkdownTest, UnbalancedMarkersAndUnclosedFencesDoNotLoseText) {
  auto doc = MustExtract("a *lonely star and [bracket\n\n```\ncode never closed\n", "md");
  EXPECT_EQ(doc.text, "a *lonely star and [bracket\n\ncode never closed");
}

TEST(MarkdownTest, InvalidUtf8IsRejected) {
  EXPECT_EQ(Extract("# T\n\xFF", "md").status().code(), absl::StatusCode::kInvalidArgument);
}

// -------------------------------------------------------------------- HTML

TEST(HtmlTest, FixtureKeepsMainTextTitleHeadingsAndDecodesEntities) {
  auto doc = MustExtract(ReadFixture("page.html"), "text/html; charset=utf-8");
  EXPECT_EQ(doc.title, "Installing Ragline & Friends");
  EXPECT_EQ(doc.metadata.at("lang"), "en");
  EXPECT_EQ(doc.metadata.at("description"), "How to install ragline on Debian.");
  EXPECT_EQ(doc.metadata.at("author"), "Ragline Docs");
  const std::string& t = doc.text;
  EXPECT_THAT(t, Not(HasSubstr("SHOULD_NOT_APPEAR"))) << t;
  EXPECT_THAT(t, Not(HasSubstr("font-family")));
  EXPECT_TRUE(t.starts_with(
      "Install Guide\n\nRagline runs on Linux. It needs a C++20 compiler \xE2\x80\x94 GCC\xC2\xA0"
      "12 or newer <recommended>.\n\nDebian\n\n"))
      << t;
  EXPECT_THAT(t, HasSubstr("Run scripts/install-deps.sh, then build with CMake and Ninja.\n\n"
                           "libgumbo-dev\nlibpoppler-cpp-dev\n\nTroubleshooting\n\n"
                           "If the build fails,\nread the log.\n\nninja -C build\n  ragline --help\n\n"));
  EXPECT_THAT(t, HasSubstr("Caf\xC3\xA9 \xE2\x98\x95 notes\n\nName Value\ndim 384"));
  EXPECT_TRUE(t.ends_with("Article footer: tagged install.")) << t;  // an article's own footer stays
  EXPECT_EQ(HeadingPaths(doc), (std::vector<std::string>{"Install Guide", "Install Guide > Debian",
                                                         "Install Guide > Debian > Troubleshooting",
                                                         "Install Guide > Caf\xC3\xA9 \xE2\x98\x95 notes"}));
  ExpectWellFormedSections(doc);
  EXPECT_EQ(doc.HeadingPathAt(t.find("read the log")), "Install Guide > Debian > Troubleshooting");
}

TEST(HtmlTest, WithoutMainTheBodyIsUsedMinusPageHeaderAndFooterAndH1IsTheTitle) {
  auto doc = MustExtract(
      "<html><body><header>Banner</header><h1>Hello &amp; welcome</h1><p>One<p>Two<script>x()</script>"
      "<footer>Bottom</footer></body></html>",
      "html");
  EXPECT_EQ(doc.title, "Hello & welcome");
  EXPECT_EQ(doc.text, "Hello & welcome\n\nOne\n\nTwo");
}

TEST(HtmlTest, NavigationBarsAndTablesOfContentsAreDropped) {
  // As texinfo writes a manual page (libffi's, under /usr/share/doc), plus
  // DocBook's and ARIA's names for the same furniture.
  const std::string html =
      "<html><body><div class=\"header\"><p>Next: <a href=\"n.html\">Type Example</a>, Previous: "
      "<a href=\"p.html\">Size</a>, Up: <a href=\"u.html\">Types</a> [<a href=\"i.html\">Index</a>]</p></div>"
      "<h4 class=\"subsection\">2.3.4 Arrays</h4><ul class=\"section-toc\"><li><a href=\"#a\">Arrays</a></li></ul>"
      "<p>libffi does not have direct support for arrays.</p>"
      "<div class=\"navfooter other\">Prev Home Next</div><div role=\"navigation\">Menu</div>"
      "<div id=\"TOC\"><p>1 Intro</p></div><div class=\"example\"><pre>ffi_type t;</pre></div></body></html>";
  EXPECT_EQ(MustExtract(html, "html").text,
            "2.3.4 Arrays\n\nlibffi does not have direct support for arrays.\n\nffi_type t;");
}

TEST(HtmlTest, FragmentsAndEmptyDocumentsWork) {
  EXPECT_EQ(MustExtract("just <b>text</b>", "html").text, "just text");
  auto empty = MustExtract("", "html");
  EXPECT_EQ(empty.text, "");
  EXPECT_TRUE(empty.sections.empty());
}

// Found by fuzz_html (fuzz/corpus/html/pre_headings): headings inside <pre>
// after whitespace gave a section that ended before it began.
TEST(HtmlTest, HeadingsInsidePreformattedTextGiveWellFormedSections) {
  for (const char* html : {"<pre>    <h2>D<h4>T", "<pre>a  \n\n\n  <h2>D</h2>  \n<h3>E</h3></pre>",
                           "<p>x</p><pre> \n <h1>A<h2> </h2><h3>B</pre>", "<pre>x </pre><h2>H</h2>"}) {
    SCOPED_TRACE(html);
    ExpectWellFormedSections(MustExtract(html, "html"));
  }
}

// Found by fuzz_html (fuzz/corpus/html/md_heading_spaces): a heading whose
// whitespace the text collapses must start its section all the same.
TEST(MarkdownTest, HeadingsWithOddWhitespaceStartTheirSections) {
  for (const char* md : {"\v\n-", "# A   B\t C\n\ntext", "Two  \v words\n===\n", "# \f\n\n## x  y"}) {
    SCOPED_TRACE(md);
    ExpectWellFormedSections(MustExtract(md, "md"));
  }
}

// Found by fuzz_html (fuzz/corpus/html/huge_char_ref): gumbo decodes an
// out-of-range numeric reference into bytes that are not UTF-8.
TEST(HtmlTest, OutOfRangeCharacterReferencesGiveValidUtf8) {
  for (const char* html : {"&#xEEEEEEEE", "<title>&#99999999;</title><p>a &#x110000; b</p>"}) {
    SCOPED_TRACE(html);
    const ExtractedDocument doc = MustExtract(html, "html");
    EXPECT_EQ(FindInvalidUtf8(doc.text), std::nullopt);
    EXPECT_EQ(FindInvalidUtf8(doc.title), std::nullopt);
  }
}

TEST(HtmlTest, DeeplyNestedMarkupDoesNotExhaustTheStack) {
  std::string html;
  for (int i = 0; i < 5000; ++i) html += "<div><span>";
  html += "deep";
  // Over the default depth limit (html_depth_test.cc); allowed here, to
  // check that walking the tree does not recurse.
  ExtractOptions options;
  options.max_html_depth = 20000;
  auto doc = Extract(html, "html", options);
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->text, "deep");
  EXPECT_TRUE(IsLimitExceeded(Extract(html, "html").status()));
}

TEST(HtmlTest, InvalidUtf8IsRejected) {
  auto r = Extract("<p>caf\xE9</p>", "html");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("byte offset 6"));
}

// --------------------------------------------------------------------- PDF

TEST(PdfTest, SampleGivesPageTextPageBreaksTitleAndMetadata) {
  auto doc = MustExtract(ReadFixture("sample.pdf"), "application/pdf");
  EXPECT_EQ(doc.title, "Ragline Sample PDF");
  EXPECT_EQ(doc.metadata.at("pages"), "2");
  EXPECT_EQ(doc.metadata.at("author"), "Ragline Tests");
  EXPECT_EQ(doc.metadata.at("subject"), "PDF fixture");
  EXPECT_EQ(doc.metadata.at("content_type"), "application/pdf");
  const std::string& t = doc.text;
  EXPECT_THAT(t, HasSubstr("Chapter One: Getting Started"));
  EXPECT_THAT(t, HasSubstr("Ragline extracts text from PDF files with poppler."));
  EXPECT_THAT(t, HasSubstr("Every chunk keeps byte offsets into the extracted text."));
  ASSERT_EQ(doc.page_starts.size(), 2u);
  EXPECT_EQ(doc.page_starts[0], 0u);
  EXPECT_EQ(t.substr(doc.page_starts[1]).rfind("Chapter Two: Second Page", 0), 0u) << t;
  EXPECT_EQ(t.substr(doc.page_starts[1] - 3, 3), "\n\f\n");
  EXPECT_FALSE(FindInvalidUtf8(t).has_value());
}

TEST(PdfTest, RunningHeadersAndPageNumberFootersAreDropped) {
  // Four pages under "ACME Widget Manual", each ending "Page N of 4".
  auto doc = MustExtract(ReadFixture("running.pdf"), "application/pdf");
  EXPECT_EQ(doc.text.find("ACME Widget Manual"), std::string::npos) << doc.text;
  EXPECT_EQ(doc.text.find("of 4"), std::string::npos) << doc.text;
  ASSERT_EQ(doc.page_starts.size(), 4u);
  const char* bodies[] = {"Section 1: Widgets are assembled by hand.", "Section 2: Boxes hold ten widgets each.",
                          "Section 3: Returns need the original receipt.",
                          "Section 4: Spare parts ship within a week."};
  for (size_t page = 0; page < 4; ++page) {  // each page is its body alone
    EXPECT_EQ(doc.text.find(bodies[page]), doc.page_starts[page]) << doc.text;
  }
  // Two pages are too few to tell a running header from content.
  auto sample = MustExtract(ReadFixture("sample.pdf"), "application/pdf");
  EXPECT_NE(sample.text.find("Chapter One: Getting Started"), std::string::npos);
}

TEST(PdfTest, OwnerPasswordOnlyEncryptionStillExtracts) {
  auto doc = MustExtract(ReadFixture("owner_only.pdf"), "pdf");
  EXPECT_EQ(doc.title, "Ragline Sample PDF");  // the Info strings are encrypted too
  EXPECT_THAT(doc.text, HasSubstr("This sentence is on the first page."));
}

TEST(PdfTest, BrokenPdfsAreInvalidArgumentNamingTheProblem) {
  struct Case {
    const char* file;
    const char* message;
  };
  for (const Case& c : {Case{"encrypted.pdf", "encrypted"}, Case{"truncated.pdf", "broken PDF"},
                        Case{"garbage.pdf", "broken PDF"}, Case{"not_a_pdf.pdf", "not a PDF"}}) {
    auto r = Extract(ReadFixture(c.file), "pdf");
    ASSERT_FALSE(r.ok()) << c.file;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.file;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.message)) << c.file << ": " << r.status();
  }
}

TEST(PdfTest, CorruptedCopiesNeverCrash) {
  const std::string sample = ReadFixture("sample.pdf");
  std::mt19937 rng(42);
  int ok = 0, failed = 0;
  for (int i = 0; i < 200; ++i) {
    std::string bytes = sample;
    switch (i % 4) {
      case 0:  // torn tail
        bytes.resize(rng() % bytes.size());
        break;
      case 1:  // flipped bits
        for (int k = 0; k < 8; ++k) bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 2:  // overwritten run
        for (size_t k = rng() % bytes.size(), e = std::min(bytes.size(), k + 32); k < e; ++k) {
          bytes[k] = static_cast<char>(rng());
        }
        break;
      case 3:  // dropped middle
        bytes.erase(rng() % bytes.size(), 50);
        break;
    }
    auto r = Extract(bytes, "pdf");
    if (r.ok()) {
      EXPECT_FALSE(FindInvalidUtf8(r->text).has_value());
      ++ok;
    } else {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
      ++failed;
    }
  }
  EXPECT_EQ(ok + failed, 200);
}

TEST(PdfTest, ConcurrentExtractionsAgree) {
  const std::string sample = ReadFixture("sample.pdf");
  const std::string broken = ReadFixture("truncated.pdf");
  const std::string expected = MustExtract(sample, "pdf").text;
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto good = Extract(sample, "pdf");
        if (!good.ok() || good->text != expected) ++mismatches;
        if (Extract(broken, "pdf").ok()) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// -------------------------------------------------------------------- files

TEST(ExtractFileTest, ReadsFixturesByExtension) {
  auto doc = ExtractFile(kTestdata / "guide.md");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->title, "Ragline Guide");
  auto pdf = ExtractFile(kTestdata / "sample.pdf");
  ASSERT_TRUE(pdf.ok()) << pdf.status();
  EXPECT_EQ(pdf->title, "Ragline Sample PDF");
}

TEST(ExtractFileTest, ErrorsNameThePath) {
  auto missing = ExtractFile(kTestdata / "no_such_file.txt");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("no_such_file.txt"));

  auto unsupported = ExtractFile(kTestdata / "make_pdfs.py");
  EXPECT_EQ(unsupported.status().code(), absl::StatusCode::kUnimplemented);

  auto broken = ExtractFile(kTestdata / "truncated.pdf");
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("truncated.pdf: broken PDF"));

  ExtractOptions small;
  small.max_input_bytes = 100;
  auto big = ExtractFile(kTestdata / "sample.pdf", small);
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("over the limit of 100 bytes"));
}

}  // namespace
}  // namespace ragline::text
