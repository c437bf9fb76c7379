// libFuzzer target for the config loader: any bytes must load or produce
// errors, never crash or hang, and every error must be one printable line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/address.h"
#include "config/load.h"

namespace {

// No DNS while fuzzing: numeric addresses only.
ringlb::config::LoadOptions fuzzOptions() {
  ringlb::config::LoadOptions options;
  options.resolve = [](std::string_view text, std::string* error) {
    return ringlb::config::parseNumericAddress(text, error);
  };
  options.checkFiles = false;
  return options;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ringlb::config::LoadOptions options = fuzzOptions();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ringlb::config::LoadResult result = ringlb::config::loadConfigText(text, "fuzz.toml", options);
  if (result.config.has_value() != result.errors.empty()) std::abort();
  for (const auto& error : result.errors) {
    for (char c : error.format()) {
      if (static_cast<unsigned char>(c) < 0x20) std::abort();  // one line per problem
    }
    if (error.pos.line == 0 || error.pos.column == 0) std::abort();
  }
  return 0;
}
