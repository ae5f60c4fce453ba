#include "text/sniff.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

#include "core/strings.h"

namespace ragline::text {
namespace {

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

void SkipSpace(std::string_view& s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
}

// After a BOM, whitespace, an XML declaration and comments: does `s` open an
// HTML document?
bool LooksLikeHtml(std::string_view s) {
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
  for (;;) {
    SkipSpace(s);
    if (s.starts_with("<?xml") || s.starts_with("<!--")) {
      const std::string_view end = s.starts_with("<?") ? "?>" : "-->";
      const size_t close = s.find(end);
      if (close == std::string_view::npos) return false;
      s.remove_prefix(close + end.size());
      continue;
    }
    break;
  }
  if (StartsWithNoCase(s, "<!doctype html")) return true;
  if (!StartsWithNoCase(s, "<html")) return false;
  return s.size() == 5 || s[5] == '>' || std::isspace(static_cast<unsigned char>(s[5]));
}

}  // namespace

Result<DocumentFormat> SniffFormat(std::string_view head, bool complete) {
  if (head.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos) {
    return absl::InvalidArgumentError("empty file");
  }
  if (head.starts_with("%PDF-")) return DocumentFormat::kPdf;
  // ASCII, but a program rather than prose: its text would be drawing code.
  if (head.starts_with("%!PS")) return absl::InvalidArgumentError("PostScript (not read; a PDF of it is)");
  if (const size_t nul = head.find('\0'); nul != std::string_view::npos) {
    return absl::InvalidArgumentError(StrCat("binary data (NUL byte at offset ", nul, ")"));
  }
  if (auto bad = FindInvalidUtf8(head)) {
    // A character cut by the end of a partial head is not an error (at most
    // 3 bytes of a 4-byte sequence).
    if (complete || *bad + 4 <= head.size()) {
      return absl::InvalidArgumentError(StrCat("not UTF-8 text (invalid byte at offset ", *bad, ")"));
    }
  }
  return LooksLikeHtml(head) ? DocumentFormat::kHtml : DocumentFormat::kPlainText;
}

bool IsGzip(std::string_view bytes) { return bytes.size() >= 2 && bytes[0] == '\x1f' && bytes[1] == '\x8b'; }

Result<std::string> Gunzip(std::string_view bytes, size_t max_output, bool prefix_only) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return absl::InternalError("zlib: inflateInit2 failed");
  std::string out;
  char buf[64 * 1024];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(std::min<size_t>(bytes.size(), UINT32_MAX));
  Status status;
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    const int rc = inflate(&z, Z_NO_FLUSH);
    const size_t produced = sizeof(buf) - z.avail_out;
    if (out.size() + produced > max_output) {
      if (prefix_only) {
        out.append(buf, max_output - out.size());
      } else {
        status = LimitExceededError(StrCat("decompresses to more than ", max_output, " bytes"));
      }
      break;
    }
    out.append(buf, produced);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      // Another gzip member follows (gzip -c a b > ab.gz).
      if (inflateReset(&z) != Z_OK) {
        status = absl::InternalError("zlib: inflateReset failed");
        break;
      }
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && z.avail_in == 0) {  // the input ended mid-stream
      if (!prefix_only) status = absl::InvalidArgumentError("gzip data is truncated");
      break;
    }
    status = absl::InvalidArgumentError(StrCat("corrupt gzip data (", z.msg != nullptr ? z.msg : "zlib error", ")"));
    break;
  }
  inflateEnd(&z);
  if (!status.ok()) return status;
  return out;
}

}  // namespace ragline::text
