// The API's own description, served by the server that implements it
// (docs/server.md "API description"), open like /healthz:
//
//   GET /openapi.yaml   docs/openapi.yaml as compiled in (application/yaml)
//   GET /openapi.json   the same document as JSON
//   GET /docs           a page that lists every operation from /openapi.json
//                       and sends requests to this server (web/api.html)
//
// Thread safety: handlers are re-entrant; the JSON is converted once.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "nlohmann/json.hpp"
#include "server/server.h"

namespace ragline::server {

// A YAML document as JSON: mappings, sequences and scalars, plain scalars
// typed by YAML's core schema (null, true/false, integers, floats), quoted
// and block scalars as strings. InvalidArgument for malformed YAML.
Result<nlohmann::json> YamlToJson(std::string_view yaml);

void RegisterOpenApiRoutes(Server& server);

}  // namespace ragline::server
