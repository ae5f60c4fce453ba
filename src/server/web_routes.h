// The pages and files the server serves from the binary (embedded_files.h),
// open like /healthz (docs/server.md):
//
//   GET /ui             the web page: ask a collection and watch the cited answer
//                       stream in, search with filters, collection stats (web/ui.html)
//   GET /openapi.yaml   docs/openapi.yaml as compiled in (application/yaml)
//   GET /openapi.json   the same document as JSON
//   GET /docs           a page that lists every operation from /openapi.json
//                       and sends requests to this server (web/api.html)
//
// The pages call the HTTP API like any client, with the API key the user
// types (kept in the tab's sessionStorage).
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

void RegisterWebRoutes(Server& server);

}  // namespace ragline::server
