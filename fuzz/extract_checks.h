// What every extraction (text/extract.h) must give, whatever the bytes: a
// document whose text is valid UTF-8 with sections and page starts inside
// it, sorted, not overlapping, each starting with its heading; or a clear refusal (InvalidArgument, or a
// limit: ResourceExhausted), never another error.
#pragma once

#include <string_view>

#include "fuzz_check.h"
#include "text/extract.h"

// The section's own heading is the last part of its path; a heading may
// itself contain " > ", so any part after a separator may be it.
inline bool StartsWithItsHeading(std::string_view text, const ragline::text::Section& s) {
  const std::string_view path = s.heading_path;
  auto starts_with = [&](std::string_view heading) {
    return text.substr(s.begin, heading.size()) == heading;
  };
  if (starts_with(path)) return true;
  for (size_t sep = path.find(" > "); sep != std::string_view::npos; sep = path.find(" > ", sep + 1)) {
    if (starts_with(path.substr(sep + 3))) return true;
  }
  return false;
}

inline void CheckExtraction(const ragline::Result<ragline::text::ExtractedDocument>& doc) {
  if (!doc.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(doc.status()) || absl::IsResourceExhausted(doc.status()), "%s",
               doc.status().ToString().c_str());
    return;
  }
  const std::string& text = doc->text;
  FUZZ_CHECK(!ragline::text::FindInvalidUtf8(text).has_value(), "text is not UTF-8");
  FUZZ_CHECK(!ragline::text::FindInvalidUtf8(doc->title).has_value(), "title is not UTF-8");
  uint32_t previous_end = 0;
  for (const auto& s : doc->sections) {
    FUZZ_CHECK(previous_end <= s.begin && s.begin <= s.end && s.end <= text.size(),
               "section [%u, %u) after %u in %zu bytes", s.begin, s.end, previous_end, text.size());
    FUZZ_CHECK(s.level >= 1 && s.level <= 6, "level %d", s.level);
    FUZZ_CHECK(StartsWithItsHeading(text, s), "section at %u does not start with its heading", s.begin);
    previous_end = s.end;
  }
  uint32_t previous_page = 0;
  for (uint32_t start : doc->page_starts) {
    FUZZ_CHECK(previous_page <= start && start <= text.size(), "page start %u", start);
    previous_page = start;
  }
}
