#include "server/web_routes.h"

#include <yaml-cpp/yaml.h>

#include <mutex>
#include <regex>

#include "core/strings.h"
#include "server/embedded_files.h"
#include "server/http_error.h"

namespace ragline::server {
namespace {

using nlohmann::json;

constexpr char kOpenApiFile[] = "docs/openapi.yaml";
constexpr char kApiPageFile[] = "web/api.html";
constexpr char kUiPageFile[] = "web/ui.html";

json ScalarToJson(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted or block: a string as written
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (std::regex_match(s, kInt)) {
    try {
      return std::stoll(s);
    } catch (const std::out_of_range&) {
      return std::stod(s);
    }
  }
  if (std::regex_match(s, kFloat)) return std::stod(s);
  return s;
}

json NodeToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return ScalarToJson(n);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : n) out.push_back(NodeToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : n) out[kv.first.Scalar()] = NodeToJson(kv.second);
      return out;
    }
    default:
      return nullptr;
  }
}

// The compiled-in document as JSON text, converted on first use.
Result<std::string> OpenApiJson() {
  static std::once_flag once;
  static Result<std::string> text = absl::InternalError("not converted");
  std::call_once(once, [] {
    auto doc = YamlToJson(*EmbeddedFile(kOpenApiFile));
    text = doc.ok() ? Result<std::string>(DumpJson(*doc))
                    : Result<std::string>(absl::InternalError(StrCat("docs/openapi.yaml: ", std::string(doc.status().message()))));
  });
  return text;
}

void AddFile(Server& server, std::string path, std::function<Result<std::string>()> body, std::string type) {
  server.AddRoute({"GET", std::move(path), Access::kOpen, -1,
                   [body = std::move(body), type = std::move(type)](RouteRequest& r) -> Result<json> {
                     ASSIGN_OR_RETURN(std::string bytes, body());
                     r.response.SetHeader("Cache-Control", "no-cache");
                     r.response.SetContent(std::move(bytes), type);
                     r.MarkResponded();
                     return json();
                   }});
}

}  // namespace

Result<json> YamlToJson(std::string_view yaml) {
  try {
    return NodeToJson(YAML::Load(std::string(yaml)));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(StrCat("malformed YAML: ", e.what()));
  }
}

void RegisterWebRoutes(Server& server) {
  AddFile(
      server, "/openapi.yaml", [] { return std::string(*EmbeddedFile(kOpenApiFile)); },
      "application/yaml; charset=utf-8");
  AddFile(server, "/openapi.json", OpenApiJson, "application/json");
  AddFile(
      server, "/docs", [] { return std::string(*EmbeddedFile(kApiPageFile)); }, "text/html; charset=utf-8");
  AddFile(
      server, "/ui", [] { return std::string(*EmbeddedFile(kUiPageFile)); }, "text/html; charset=utf-8");
}

}  // namespace ragline::server
