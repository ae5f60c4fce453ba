// Extraction: turns the bytes of a txt, Markdown, HTML or PDF file into plain
// UTF-8 text plus a title, the heading structure and metadata. The text is
// what gets chunked and embedded; every offset ragline reports (chunk
// offsets, section ranges, page starts) is a byte offset into it.
//
// Rules per format (docs/ingestion.md has the full list):
//   - plain text: must be UTF-8 (InvalidArgument naming the first bad byte
//     offset, or a NUL byte: binary data); a BOM is removed; CRLF and lone CR
//     become LF. Nothing else changes.
//   - Markdown: markup removed, text kept: headings lose their '#'s, links
//     and images keep their text / alt text (URLs dropped), emphasis and code
//     markers are removed, fences and reference definitions dropped, code
//     kept verbatim. Headings become `sections`; a YAML front matter block is
//     dropped (its `title:` becomes the title, else the first h1).
//   - HTML (gumbo): the main text. script/style/noscript/template/nav/aside/
//     iframe/svg/form controls are dropped, and so are page-level header/
//     footer (those outside article/main/section), and so is site furniture
//     named as documentation generators name it: navigation bars and tables
//     of contents by class (texinfo's header / nav-panel / section-toc,
//     DocBook's navheader / navfooter, Sphinx's related / sphinxsidebar,
//     toc, breadcrumbs, ...) or ARIA role (navigation, banner, contentinfo,
//     search, doc-toc). If the page has a <main>
//     (or role="main") only that is kept, else a lone <article>, else the
//     <body>. Block elements become paragraph breaks, <br>/<li>/<tr> line
//     breaks, whitespace collapses as a browser would (not inside <pre>),
//     entities are decoded. <title> (else the first h1) is the title; h1–h6
//     give the sections.
//   - PDF (poppler-cpp): the text of each page in reading order, running
//     headers and footers dropped (lines at a page's edges that recur on at
//     least half of 3+ pages, page numbers included), pages separated by
//     "\n\f\n"; the Info dictionary's title and other fields go
//     to title / metadata. Broken, truncated or password-protected PDFs are
//     InvalidArgument naming the problem; no poppler exception escapes.
//
// Thread safety: Extract and ExtractFile are pure functions and may run
// concurrently (poppler's error callback is installed once and writes to a
// thread-local buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ragline::text {

enum class DocumentFormat { kPlainText, kMarkdown, kHtml, kPdf };

// "text/plain", "text/markdown", "text/html", "application/pdf".
std::string_view ContentTypeOf(DocumentFormat format);

// The format for a MIME type (parameters such as "; charset=utf-8" are
// allowed; only UTF-8 / US-ASCII charsets are accepted) or a file extension
// with or without its dot ("md", ".HTML"). Case-insensitive. Unimplemented
// naming the type when it is none of txt/text, md/markdown, html/htm/xhtml,
// pdf or their MIME types; InvalidArgument for an unsupported charset.
Result<DocumentFormat> FormatFromContentType(std::string_view content_type_or_extension);

// A heading's part of the text: [begin, end) runs from the start of the
// heading line to the start of the next heading (of any level) or the end of
// the text. Sections are sorted, do not overlap, and text before the first
// heading belongs to none.
struct Section {
  uint32_t begin = 0;
  uint32_t end = 0;
  int level = 1;             // 1 for h1 / '#', ... 6
  std::string heading_path;  // the enclosing headings and this one: "Install > Debian"

  bool operator==(const Section&) const = default;
};

struct ExtractedDocument {
  std::string text;  // valid UTF-8, LF line ends, no trailing whitespace
  std::string title;  // "" when the document has none
  std::vector<Section> sections;
  // PDF only: page_starts[i] is the byte offset where page i+1 begins.
  std::vector<uint32_t> page_starts;
  // Always "content_type"; HTML: "lang", "description", "author", "keywords"
  // when present; PDF: "pages" and the non-empty Info fields ("author",
  // "subject", "keywords", "creator", "producer"); Markdown: the scalar
  // front-matter keys.
  std::map<std::string, std::string> metadata;

  // The heading path of the section containing byte `offset`; "" if none.
  std::string_view HeadingPathAt(size_t offset) const;
};

struct ExtractOptions {
  // Larger inputs are rejected (LimitExceededError) before any parsing.
  size_t max_input_bytes = size_t{64} << 20;
  // HTML whose open elements nest deeper than this (html_depth.h) is
  // rejected (LimitExceededError) before parsing: the parser's time grows
  // with the square of the depth. Real pages stay far below it.
  size_t max_html_depth = 256;
};

// Extracts `bytes` as the format named by `content_type_or_extension` (see
// FormatFromContentType). Errors: Unimplemented (unsupported type),
// LimitExceededError (over max_input_bytes, HTML over max_html_depth),
// InvalidArgument (invalid UTF-8, a broken / encrypted PDF); messages name
// the problem and, where it applies, the byte offset.
Result<ExtractedDocument> Extract(std::string_view bytes, std::string_view content_type_or_extension,
                                  const ExtractOptions& options = {});
Result<ExtractedDocument> Extract(std::string_view bytes, DocumentFormat format,
                                  const ExtractOptions& options = {});

// Reads `path` (format from its extension) and extracts it. NotFound if it
// does not exist; errors from Extract are prefixed with the path.
Result<ExtractedDocument> ExtractFile(const std::filesystem::path& path,
                                      const ExtractOptions& options = {});

// The byte offset of the first invalid UTF-8 sequence in `s` (overlong
// forms, surrogates and code points above U+10FFFF are invalid), or nullopt.
std::optional<size_t> FindInvalidUtf8(std::string_view s);

}  // namespace ragline::text
