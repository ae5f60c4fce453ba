// RefuseUnknownFields: strict JSON objects at the edges.
//
// Request bodies, vector records and document objects name their fields; a
// field the reader does not know is a client's mistake ("filters" for
// "filter", "top_k" for "k") that would otherwise run silently with a
// default. Readers call this once per object before reading it.
//
// Thread safety: a pure function.
#pragma once

#include <initializer_list>
#include <string_view>

#include "core/status.h"
#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace ragline {

// InvalidArgument naming the first key of `object` (a JSON object; anything
// else passes) that is not in `allowed`: `where: unknown field "key"
// (expected one of a, b, c)`; no prefix when `where` is empty.
inline Status RefuseUnknownFields(const nlohmann::json& object,
                                  std::initializer_list<std::string_view> allowed, std::string_view where) {
  if (!object.is_object()) return absl::OkStatus();
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (known) continue;
    std::string expected;
    for (std::string_view a : allowed) expected += StrCat(expected.empty() ? "" : ", ", a);
    return absl::InvalidArgumentError(StrCat(where, where.empty() ? "" : ": ", "unknown field \"", key,
                                             "\" (expected one of ", expected, ")"));
  }
  return absl::OkStatus();
}

}  // namespace ragline
