// Nesting depth of JSON text, counted over brackets outside strings: the
// fuzz targets skip inputs deeper than the server admits (kMaxJsonDepth,
// server.h), as every JSON the product parses has passed that check.
#pragma once

#include <cstddef>
#include <string_view>

inline size_t JsonDepth(std::string_view text) {
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
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) max_depth = depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}
