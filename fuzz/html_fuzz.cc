// HTML extraction (text/extract.h: gumbo, the depth guard of
// text/html_depth.h): any bytes give a document or a clear error, never a
// crash; extracted text is valid UTF-8 and every section lies inside it.
#include <cstdint>
#include <string_view>

#include "extract_checks.h"
#include "text/extract.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckExtraction(ragline::text::Extract(bytes, "html"));
  CheckExtraction(ragline::text::Extract(bytes, "md"));
  return 0;
}
