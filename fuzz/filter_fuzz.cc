// The payload filter language (store/filter.h, docs/filters.md). The input
// is JSON: an array [filter, payload...] or a filter alone (then matched
// against fixed payloads). No crash; a filter that parses also parses under
// "$not", which matches exactly the payloads the filter does not; a filter
// that "matches all" matches every payload.
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/json_depth.h"
#include "fuzz_check.h"
#include "nlohmann/json.hpp"
#include "store/filter.h"

using nlohmann::json;
using ragline::store::PayloadFilter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (ragline::MaxJsonNestingDepth(text) > 64) return 0;  // the server refuses these (kMaxJsonDepth)
  const json input = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (input.is_discarded()) return 0;

  json filter = input;
  std::vector<json> payloads;
  if (input.is_array() && !input.empty()) {
    filter = input[0];
    for (size_t i = 1; i < input.size(); ++i) payloads.push_back(input[i]);
  } else {
    payloads = {json::object(), json{{"genre", "drama"}, {"year", 2004}, {"tags", {"a", "b"}}},
                json{{"a", {{"b", 1.5}}}, {"draft", false}, {"lang", nullptr}}};
  }

  auto parsed = PayloadFilter::Parse(filter);
  if (!parsed.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(parsed.status()), "%s", parsed.status().ToString().c_str());
    return 0;
  }
  auto negated = PayloadFilter::Parse(json{{"$not", filter}});
  FUZZ_CHECK(negated.ok(), "$not of a valid filter: %s", negated.status().ToString().c_str());
  for (const json& payload : payloads) {
    if (!payload.is_object()) continue;
    const bool match = parsed->Matches(payload);
    FUZZ_CHECK(negated->Matches(payload) == !match, "$not disagrees on %s", payload.dump().c_str());
    FUZZ_CHECK(!parsed->MatchesAll() || match, "MatchesAll but not %s", payload.dump().c_str());
  }
  return 0;
}
