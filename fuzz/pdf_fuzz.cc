// PDF extraction (text/extract.h over poppler-cpp): any bytes give a
// document or a clear error (InvalidArgument, LimitExceeded), never a crash.
#include <cstdint>
#include <string_view>

#include "extract_checks.h"
#include "text/extract.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckExtraction(ragline::text::Extract(bytes, "pdf"));
  return 0;
}
