// Loading a config file: parse (toml++ -> model) then validate. Every problem
// is reported, not only the first, as "FILE:LINE:COL: message".
//
// Main thread only (it may resolve hostnames, which blocks).
#pragma once

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

LoadResult loadConfigFile(const std::string& path);
// `path` is used in messages and to resolve relative certificate paths.
LoadResult loadConfigText(std::string_view text, const std::string& path);

}  // namespace ringlb::config
