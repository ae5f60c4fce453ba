#pragma once

// The deepest nesting of arrays/objects in JSON text, counted over brackets
// outside strings: a scan before parsing, so that a 100k-deep document can
// be refused instead of overflowing a recursive parser's stack (the server
// refuses bodies deeper than kMaxJsonDepth, server.h).

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace ragline {

inline size_t MaxJsonNestingDepth(std::string_view text) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace ragline
