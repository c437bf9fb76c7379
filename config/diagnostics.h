// Collects every problem found while loading a config, so that all of them are
// reported at once. Main thread only (one Diagnostics per load).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/load.h"

namespace ringlb::config {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  // A position of 0:0 (unknown) is reported as 1:1.
  void error(SourcePos pos, std::string message);

  bool empty() const { return errors_.empty(); }
  size_t count() const { return errors_.size(); }
  // Sorted by line then column; equal positions keep the order they were found.
  std::vector<ConfigError> take();

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// `text` in double quotes, safe to print on one line: control and non-ASCII
// bytes are escaped and long text is cut, since it may come from any file.
std::string quote(std::string_view text);

}  // namespace ringlb::config
