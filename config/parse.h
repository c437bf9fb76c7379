// TOML text -> Config model, with every syntax, unknown-key, type and
// single-value problem reported to Diagnostics. No I/O: names are not
// resolved and files are not opened here (see validate.h).
// Main thread only.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"
#include "config/model.h"

namespace ringlb::config {

// Where each key was written, by dotted path ("listeners.web.pool",
// "pools.api.backends[1]", "listeners.web.routes[0].pool"), and whether its
// value was accepted. Lets later checks point at the right place and tell a
// key left out from one set to its default.
class SourceMap {
 public:
  void record(const std::string& path, SourcePos pos, bool valid);
  bool present(const std::string& path) const { return entries_.count(path) != 0; }
  bool valid(const std::string& path) const;
  // {0, 0} when absent.
  SourcePos at(const std::string& path) const;
  // Every recorded path, sorted.
  std::vector<std::string> paths() const;

 private:
  struct Entry {
    SourcePos pos;
    bool valid = false;
  };
  std::map<std::string, Entry> entries_;
};

struct ParsedConfig {
  Config config;
  SourceMap sources;
};

// nullopt only when the text is not valid TOML (that error is reported).
std::optional<ParsedConfig> parseConfig(std::string_view text, Diagnostics& diag);

// The dotted path used in messages and in SourceMap for a named section:
// "pools.api", or `pools."bad name"` when the name is not a plain identifier.
std::string sectionPath(std::string_view prefix, std::string_view name);

}  // namespace ringlb::config
