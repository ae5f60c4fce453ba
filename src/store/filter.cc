#include "store/filter.h"

#include <cmath>

#include "core/strings.h"
#include "absl/strings/str_split.h"

namespace ragline::store {

using nlohmann::json;

struct PayloadFilter::Node {
  enum class Op { kAnd, kOr, kNot, kEq, kNe, kIn, kNin, kGt, kGte, kLt, kLte, kExists };
  Op op;
  std::vector<std::string> path;      // field path, for leaf ops
  json operand;                       // value, list (for $in/$nin), bool for $exists
  std::vector<std::shared_ptr<const Node>> children;  // for and/or/not
};

namespace {

using Node = PayloadFilter::Node;
using Op = Node::Op;

Status Invalid(std::string_view where, std::string_view what) {
  return absl::InvalidArgumentError(StrCat("filter ", where, ": ", what));
}

Result<std::shared_ptr<const Node>> ParseObject(const json& f, std::string_view where);

Result<std::shared_ptr<const Node>> ParseFieldOps(const std::string& field, const json& spec) {
  std::vector<std::string> path = absl::StrSplit(field, '.');
  for (const auto& part : path) {
    if (part.empty()) return Invalid(field, "empty path component");
  }
  auto leaf = [&](Op op, json operand) {
    auto n = std::make_shared<Node>();
    n->op = op;
    n->path = path;
    n->operand = std::move(operand);
    return std::shared_ptr<const Node>(n);
  };
  // Shorthand equality: {"field": value}.
  if (!spec.is_object()) {
    if (spec.is_array()) return Invalid(field, "a list needs an operator such as $in");
    return leaf(Op::kEq, spec);
  }
  if (spec.empty()) return Invalid(field, "empty operator object");
  auto all = std::make_shared<Node>();
  all->op = Op::kAnd;
  for (const auto& [op_name, operand] : spec.items()) {
    const std::string where = StrCat(field, ".", op_name);
    if (op_name == "$eq" || op_name == "$ne") {
      if (operand.is_object() || operand.is_array()) return Invalid(where, "needs a scalar value");
      all->children.push_back(leaf(op_name == "$eq" ? Op::kEq : Op::kNe, operand));
    } else if (op_name == "$in" || op_name == "$nin") {
      if (!operand.is_array()) return Invalid(where, "needs a list of values");
      for (const auto& v : operand) {
        if (v.is_object() || v.is_array()) return Invalid(where, "list items must be scalars");
      }
      all->children.push_back(leaf(op_name == "$in" ? Op::kIn : Op::kNin, operand));
    } else if (op_name == "$gt" || op_name == "$gte" || op_name == "$lt" || op_name == "$lte") {
      if (!operand.is_number()) return Invalid(where, "needs a number");
      Op op = op_name == "$gt" ? Op::kGt : op_name == "$gte" ? Op::kGte : op_name == "$lt" ? Op::kLt : Op::kLte;
      all->children.push_back(leaf(op, operand));
    } else if (op_name == "$exists") {
      if (!operand.is_boolean()) return Invalid(where, "needs true or false");
      all->children.push_back(leaf(Op::kExists, operand));
    } else {
      return Invalid(where, "unknown operator (expected $eq $ne $in $nin $gt $gte $lt $lte $exists)");
    }
  }
  if (all->children.size() == 1) return all->children.front();
  return std::shared_ptr<const Node>(all);
}

Result<std::shared_ptr<const Node>> ParseObject(const json& f, std::string_view where) {
  if (!f.is_object()) return Invalid(where, "must be a JSON object");
  auto all = std::make_shared<Node>();
  all->op = Op::kAnd;
  for (const auto& [key, value] : f.items()) {
    if (key == "$and" || key == "$or") {
      if (!value.is_array() || value.empty()) return Invalid(key, "needs a non-empty list of filters");
      auto group = std::make_shared<Node>();
      group->op = key == "$and" ? Op::kAnd : Op::kOr;
      for (const auto& sub : value) {
        ASSIGN_OR_RETURN(auto child, ParseObject(sub, key));
        group->children.push_back(std::move(child));
      }
      all->children.push_back(std::move(group));
    } else if (key == "$not") {
      ASSIGN_OR_RETURN(auto child, ParseObject(value, key));
      auto neg = std::make_shared<Node>();
      neg->op = Op::kNot;
      neg->children.push_back(std::move(child));
      all->children.push_back(std::move(neg));
    } else if (!key.empty() && key[0] == '$') {
      return Invalid(key, "unknown logical operator (expected $and, $or, $not)");
    } else {
      ASSIGN_OR_RETURN(auto child, ParseFieldOps(key, value));
      all->children.push_back(std::move(child));
    }
  }
  if (all->children.size() == 1) return all->children.front();
  return std::shared_ptr<const Node>(all);
}

// The value at path[from...] inside `value`, or null.
const json* LookupFrom(const json* value, const std::vector<std::string>& path, size_t from) {
  for (size_t i = from; i < path.size(); ++i) {
    if (!value->is_object()) return nullptr;
    auto it = value->find(path[i]);
    if (it == value->end()) return nullptr;
    value = &*it;
  }
  return value;
}

// The field at `path`; when the payload has no such top-level field, the
// same path inside its "metadata" object, where ingested documents keep the
// caller's metadata (so {"lang": "en"} filters chunks as hits show them).
const json* Lookup(const json& payload, const std::vector<std::string>& path) {
  if (!payload.is_object() || path.empty()) return nullptr;
  if (auto top = payload.find(path.front()); top != payload.end()) return LookupFrom(&*top, path, 1);
  auto metadata = payload.find("metadata");
  return metadata != payload.end() ? LookupFrom(&*metadata, path, 0) : nullptr;
}

// Scalar equality; numbers compare by value across int/float.
bool ScalarEquals(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

// True if `value` (or, for an array, any of its elements) satisfies `pred`.
template <typename Pred>
bool AnyOf(const json& value, Pred pred) {
  if (value.is_array()) {
    for (const auto& v : value) {
      if (pred(v)) return true;
    }
    return false;
  }
  return pred(value);
}

bool InList(const json& v, const json& list) {
  for (const auto& item : list) {
    if (ScalarEquals(v, item)) return true;
  }
  return false;
}

bool Compare(Op op, const json& v, double bound) {
  if (!v.is_number()) return false;
  const double x = v.get<double>();
  if (std::isnan(x)) return false;
  switch (op) {
    case Op::kGt: return x > bound;
    case Op::kGte: return x >= bound;
    case Op::kLt: return x < bound;
    case Op::kLte: return x <= bound;
    default: return false;
  }
}

bool Eval(const Node& n, const json& payload) {
  switch (n.op) {
    case Op::kAnd:
      for (const auto& c : n.children) {
        if (!Eval(*c, payload)) return false;
      }
      return true;
    case Op::kOr:
      for (const auto& c : n.children) {
        if (Eval(*c, payload)) return true;
      }
      return false;
    case Op::kNot:
      return !Eval(*n.children.front(), payload);
    default:
      break;
  }
  const json* v = Lookup(payload, n.path);
  switch (n.op) {
    case Op::kExists:
      return (v != nullptr) == n.operand.get<bool>();
    case Op::kEq:
      return v && AnyOf(*v, [&](const json& x) { return ScalarEquals(x, n.operand); });
    case Op::kNe:
      return !v || !AnyOf(*v, [&](const json& x) { return ScalarEquals(x, n.operand); });
    case Op::kIn:
      return v && AnyOf(*v, [&](const json& x) { return InList(x, n.operand); });
    case Op::kNin:
      return !v || !AnyOf(*v, [&](const json& x) { return InList(x, n.operand); });
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte: {
      const double bound = n.operand.get<double>();
      return v && AnyOf(*v, [&](const json& x) { return Compare(n.op, x, bound); });
    }
    default:
      return false;
  }
}

}  // namespace

Result<PayloadFilter> PayloadFilter::Parse(const json& filter) {
  if (filter.is_null()) return PayloadFilter(nullptr);
  if (!filter.is_object()) return Invalid("", "must be a JSON object");
  if (filter.empty()) return PayloadFilter(nullptr);
  ASSIGN_OR_RETURN(auto root, ParseObject(filter, "root"));
  return PayloadFilter(std::move(root));
}

bool PayloadFilter::Matches(const json& payload) const { return !root_ || Eval(*root_, payload); }

bool PayloadFilter::MatchesAll() const { return root_ == nullptr; }

}  // namespace ragline::store
