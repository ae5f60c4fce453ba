// PayloadFilter: a parsed payload predicate, evaluated against a record's
// JSON payload (an object). The filter language (docs/filters.md) follows the
// MongoDB/Pinecone style:
//
//   {"genre": "drama"}                         equality (shorthand for $eq)
//   {"year": {"$gte": 2000, "$lt": 2010}}      numeric range ($gt $gte $lt $lte)
//   {"tag": {"$in": ["a", "b"]}}               set membership ($in, $nin)
//   {"lang": {"$ne": "en"}, "draft": {"$exists": false}}
//   {"$or": [{...}, {...}]}, {"$and": [...]}, {"$not": {...}}
//
// Several keys in one object are ANDed. "a.b" addresses nested objects. A
// field whose first part is not a top-level key of the payload is looked up
// inside the payload's "metadata" object, where ingested documents keep the
// caller's metadata ("lang" finds metadata.lang; "metadata.lang" still
// works). When
// the payload value is an array, $eq/$in match if any element matches and
// $ne/$nin if none does. A missing field matches only $ne, $nin and
// $exists:false. Range operators take numbers and never match non-numbers.
//
// Thread safety: immutable after Parse; Matches may run from many threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "nlohmann/json.hpp"

namespace ragline::store {

class PayloadFilter {
 public:
  // Parses a filter; InvalidArgument says which operator or operand is wrong.
  static Result<PayloadFilter> Parse(const nlohmann::json& filter);

  // True if `payload` (a JSON object) satisfies the filter.
  bool Matches(const nlohmann::json& payload) const;

  // True for the empty filter {} (matches everything).
  bool MatchesAll() const;

  struct Node;  // opaque parsed tree

 private:
  explicit PayloadFilter(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

}  // namespace ragline::store
