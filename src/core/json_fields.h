// Strict JSON at the edges: RefuseUnknownFields, JsonUnsigned, OptionalFlag.
//
// Request bodies, vector records and document objects name their fields; a
// field the reader does not know is a client's mistake ("filters" for
// "filter", "top_k" for "k") that would otherwise run silently with a
// default. Readers call this once per object before reading it.
//
// Thread safety: a pure function.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
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

// A JSON number that is a non-negative integer: 5, or 5.0 (JSON Schema's
// "integer" counts both, and so do clients that only have doubles). Nullopt
// for anything else: negative, fractional, not a number, or a float past
// 2^53 (where doubles stop counting by one).
inline std::optional<uint64_t> JsonUnsigned(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    return i >= 0 ? std::optional<uint64_t>(static_cast<uint64_t>(i)) : std::nullopt;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d >= 0 && d <= 9007199254740992.0 && std::floor(d) == d) return static_cast<uint64_t>(d);
  }
  return std::nullopt;
}

// The boolean field `name` of `object`: `absent` when it is missing or
// null, else InvalidArgument ("\"name\" must be true or false") for
// anything but true or false.
inline Result<bool> OptionalFlag(const nlohmann::json& object, std::string_view name, bool absent = false) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return absent;
  if (!it->is_boolean()) return absl::InvalidArgumentError(StrCat("\"", name, "\" must be true or false"));
  return it->get<bool>();
}

}  // namespace ragline
