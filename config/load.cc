#include "config/load.h"

#include <fmt/format.h>

#include <exception>
#include <fstream>
#include <sstream>
#include <system_error>

#include "config/address.h"
#include "config/diagnostics.h"
#include "config/parse.h"
#include "config/validate.h"

namespace ringlb::config {
namespace {

// A config is a few KiB; this only stops a wrong path (a log, a device) from
// being read into memory.
constexpr std::streamoff kMaxFileSize = 16 << 20;

LoadResult failure(const std::string& path, std::string message) {
  Diagnostics diag(path);
  diag.error({1, 1}, std::move(message));
  return {std::nullopt, diag.take()};
}

LoadResult load(std::string_view text, const std::string& path, const LoadOptions& options) {
  Diagnostics diag(path);
  auto parsed = parseConfig(text, diag);
  if (!parsed) return {std::nullopt, diag.take()};
  parsed->config.path = path;
  validateConfig(parsed->config, parsed->sources, options, diag);
  LoadResult result;
  if (diag.empty()) result.config = std::move(parsed->config);
  result.errors = diag.take();
  return result;
}

}  // namespace

LoadOptions LoadOptions::system() {
  LoadOptions options;
  options.resolve = resolveAddress;
  return options;
}

LoadResult loadConfigText(std::string_view text, const std::string& path) {
  return loadConfigText(text, path, LoadOptions::system());
}

LoadResult loadConfigText(std::string_view text, const std::string& path,
                          const LoadOptions& options) {
  try {
    return load(text, path, options);
  } catch (const std::exception& e) {
    return failure(path, fmt::format("internal error while loading: {}", e.what()));
  }
}

LoadResult loadConfigFile(const std::string& path) {
  return loadConfigFile(path, LoadOptions::system());
}

LoadResult loadConfigFile(const std::string& path, const LoadOptions& options) {
  try {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return failure(
          path, fmt::format("cannot open config file: {}", std::generic_category().message(errno)));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad() || text.tellp() > kMaxFileSize) {
      return failure(path, "cannot read config file (an I/O error, or larger than 16 MiB)");
    }
    return loadConfigText(text.str(), path, options);
  } catch (const std::exception& e) {
    return failure(path, fmt::format("cannot read config file: {}", e.what()));
  }
}

}  // namespace ringlb::config
