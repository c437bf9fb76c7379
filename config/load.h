// Loading a config file: parse (toml++ -> model) then validate. Every problem
// is reported, not only the first, as "FILE:LINE:COL: message".
//
// Main thread only (it may resolve hostnames, which blocks).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace ringlb::config {

struct ConfigError {
  std::string file;
  SourcePos pos;
  std::string message;

  // "FILE:LINE:COL: message"
  std::string format() const;
};

struct LoadResult {
  std::optional<Config> config;  // set only when errors is empty
  std::vector<ConfigError> errors;
};

// What the loader asks of the environment; tests and the fuzzer replace the
// resolver so that no DNS query leaves the machine.
struct LoadOptions {
  // Resolves a backend "host:port" (see address.h); nullopt with `error` set
  // when it does not resolve.
  std::function<std::optional<SocketAddress>(std::string_view, std::string* error)> resolve;
  // Whether certificate and key files must be readable at load.
  bool checkFiles = true;

  // The real thing: getaddrinfo and file checks.
  static LoadOptions system();
};

// None of these throw: every failure, including an unreadable file, comes
// back in `errors`.
LoadResult loadConfigFile(const std::string& path);
LoadResult loadConfigFile(const std::string& path, const LoadOptions& options);
// `path` is used in messages and to resolve relative certificate paths.
LoadResult loadConfigText(std::string_view text, const std::string& path);
LoadResult loadConfigText(std::string_view text, const std::string& path,
                          const LoadOptions& options);

}  // namespace ringlb::config
