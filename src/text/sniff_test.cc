#include "text/sniff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace ragline::text {
namespace {

using ::testing::HasSubstr;

std::string Gzip(const std::string& plain) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, plain.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = static_cast<uInt>(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Reason(std::string_view head, bool complete = true) {
  auto f = SniffFormat(head, complete);
  EXPECT_FALSE(f.ok());
  return f.ok() ? "" : std::string(f.status().message());
}

TEST(SniffTest, TellsPdfHtmlAndTextFromTheirFirstBytes) {
  EXPECT_EQ(*SniffFormat("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", false), DocumentFormat::kPdf);
  EXPECT_EQ(*SniffFormat("<!DOCTYPE html>\n<html><body>x</body></html>", true), DocumentFormat::kHtml);
  EXPECT_EQ(*SniffFormat("\xEF\xBB\xBF  \n<HTML lang=en><p>x", true), DocumentFormat::kHtml);
  EXPECT_EQ(*SniffFormat("<?xml version=\"1.0\"?>\n<!-- generated -->\n<html xmlns=\"x\">", true),
            DocumentFormat::kHtml);
  EXPECT_EQ(*SniffFormat("GNU bash NEWS\n\nThis is a terse description.\n", true), DocumentFormat::kPlainText);
  EXPECT_EQ(*SniffFormat("<htmlish> is not a tag we read as HTML", true), DocumentFormat::kPlainText);
  EXPECT_EQ(*SniffFormat("Ünïcödé text, 日本語", true), DocumentFormat::kPlainText);
}

TEST(SniffTest, SaysWhyBinaryEmptyAndNonUtf8FilesAreNotDocuments) {
  EXPECT_EQ(Reason(" \n\t\n"), "empty file");
  EXPECT_EQ(Reason(""), "empty file");
  EXPECT_EQ(Reason(std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16)), "binary data (NUL byte at offset 8)");
  EXPECT_EQ(Reason("caf\xe9 latin-1"), "not UTF-8 text (invalid byte at offset 3)");
  EXPECT_EQ(Reason("%!PS-Adobe-3.0\n%%Creator: dvips\n"), "PostScript (not read; a PDF of it is)");
}

TEST(SniffTest, ACharacterCutByAPartialHeadIsNotAnError) {
  const std::string head = "text then \xE6\x97";  // the first 2 bytes of 日
  EXPECT_EQ(*SniffFormat(head, /*complete=*/false), DocumentFormat::kPlainText);
  EXPECT_THAT(Reason(head, /*complete=*/true), HasSubstr("invalid byte at offset 10"));
}

TEST(GunzipTest, RoundTripsMembersAndRefusesBombsAndCorruption) {
  const std::string plain(100000, 'a');
  const std::string gz = Gzip(plain);
  ASSERT_TRUE(IsGzip(gz));
  EXPECT_FALSE(IsGzip(plain));
  EXPECT_EQ(*Gunzip(gz, plain.size()), plain);
  // Two members, as `gzip -c a b` writes them.
  EXPECT_EQ(*Gunzip(Gzip("one ") + Gzip("two"), 100), "one two");
  // Over the limit: refused whole, or its head when that is what was asked.
  auto bomb = Gunzip(gz, 1000);
  EXPECT_TRUE(IsLimitExceeded(bomb.status())) << bomb.status();
  EXPECT_THAT(std::string(bomb.status().message()), HasSubstr("more than 1000 bytes"));
  EXPECT_EQ(*Gunzip(gz, 1000, /*prefix_only=*/true), std::string(1000, 'a'));
  // Cut off: an error when read whole, a head when sniffing.
  std::string text = "The quick brown fox jumps over the lazy dog.";
  for (unsigned i = 1; text.size() < 50000; i = i * 1103515245u + 12345u) text += " w" + std::to_string(i % 9973);
  const std::string cut = Gzip(text);
  const std::string half = cut.substr(0, cut.size() / 2);
  EXPECT_THAT(std::string(Gunzip(half, 1 << 20).status().message()), HasSubstr("truncated"));
  auto head = Gunzip(half, 1 << 20, /*prefix_only=*/true);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_TRUE(head->starts_with("The quick brown fox"));
  std::string corrupt = gz;
  corrupt[12] ^= 0x55;
  corrupt[13] ^= 0x55;
  EXPECT_TRUE(absl::IsInvalidArgument(Gunzip(corrupt, 1 << 20).status()));
}

}  // namespace
}  // namespace ragline::text
