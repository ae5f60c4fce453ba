// What a file holds when its name does not say: content sniffing for files
// without a known extension (README, LICENSE, NEWS, changelog.Debian), and
// gzip decompression for the compressed documents common under
// /usr/share/doc. The pipeline's file listing uses both (ListSourceFiles);
// `Extract` itself still takes an explicit format.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"
#include "text/extract.h"

namespace ragline::text {

// How many leading bytes SniffFormat needs to decide.
inline constexpr size_t kSniffBytes = 8192;

// The format of a document from its first bytes (`head`; `complete` when it
// is the whole document, so a multi-byte character cut at the end of a
// partial head is not an error):
//   - "%PDF-" → PDF;
//   - "<!DOCTYPE html" or "<html" (after a BOM, whitespace and an XML
//     declaration or comments, any case) → HTML;
//   - UTF-8 without NUL bytes → plain text.
// Otherwise InvalidArgument saying why it is not a document ragline reads:
// "empty file", "PostScript (...)" (ASCII, but drawing code), "binary data (NUL byte at offset N)", "not UTF-8 text
// (invalid byte at offset N)".
Result<DocumentFormat> SniffFormat(std::string_view head, bool complete);

// Whether `bytes` starts with the gzip magic (1f 8b).
bool IsGzip(std::string_view bytes);

// Decompresses a gzip stream (concatenated members too). With `prefix_only`,
// stops after `max_output` bytes and accepts a cut-off input (to sniff the
// head of a large file); otherwise LimitExceededError when the output would
// pass `max_output` (a zip bomb) and InvalidArgument for corrupt or truncated
// data.
Result<std::string> Gunzip(std::string_view bytes, size_t max_output, bool prefix_only = false);

}  // namespace ragline::text
