// Records and vectors as JSON, the form the CLI (JSONL lines) and the HTTP API
// (request bodies) take: {"id", "version"?, "vector", "payload"?}; and a
// collection's index as the API gives it.
//
// Thread safety: pure functions.
#pragma once

#include <string_view>
#include <vector>

#include "core/status.h"
#include "nlohmann/json.hpp"
#include "store/collection.h"
#include "store/record.h"

namespace ragline::store {

// `dim` finite float32 values. Errors start with "WHERE: " (nothing when
// `where` is empty) and name the problem: not an array, the dimension, the
// first bad element.
Result<std::vector<float>> VectorFromJson(const nlohmann::json& v, size_t dim, std::string_view where);

// A record: "id" a non-empty string; "version" a non-negative integer (absent
// or null: now in ms since the epoch); "vector" as above; "payload" an object
// (absent or null: {}). Errors start with "WHERE: ", or "WHERE (id 'X'): " once
// the id is known.
Result<Record> RecordFromJson(const nlohmann::json& j, size_t dim, std::string_view where);

// "index": "flat" | "hnsw" | "ivf_pq", or {"kind", "params": {"M": 16, ...}}:
// sets config->index_kind (and its parameters). InvalidArgument names the problem.
Status ApplyIndexJson(const nlohmann::json& index, CollectionConfig* config);
// {"M": 16, ...}: each a non-negative integer the index knows.
Status ApplyIndexParamsJson(const nlohmann::json& params, index::IndexParams* out);

}  // namespace ragline::store
