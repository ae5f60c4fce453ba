// Files compiled into the binary (cmake/embed_files.cmake; the list is
// RAGLINE_EMBEDDED_FILES in CMakeLists.txt): what `ragline serve` serves
// without reading the source tree (docs/openapi.yaml, web/).
//
// Thread safety: immutable data.
#pragma once

#include <optional>
#include <string_view>

namespace ragline::server {

// The bytes of an embedded file by its path in the repository
// ("docs/openapi.yaml"); nullopt for a file not embedded.
std::optional<std::string_view> EmbeddedFile(std::string_view name);

}  // namespace ragline::server
