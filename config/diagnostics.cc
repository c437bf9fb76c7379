#include "config/diagnostics.h"

#include <fmt/format.h>

#include <algorithm>

namespace ringlb::config {

namespace {
constexpr size_t kMaxQuoted = 80;
}  // namespace

std::string ConfigError::format() const {
  return fmt::format("{}:{}:{}: {}", file, pos.line, pos.column, message);
}

void Diagnostics::error(SourcePos pos, std::string message) {
  if (pos.line == 0) pos = {1, 1};
  // The contract is one line per problem, whatever bytes the file held.
  std::string safe;
  for (char c : message) {
    if (static_cast<unsigned char>(c) < 0x20) {
      safe += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      safe += c;
    }
  }
  message = std::move(safe);
  errors_.push_back({file_, pos, std::move(message)});
}

std::vector<ConfigError> Diagnostics::take() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    if (a.pos.line != b.pos.line) return a.pos.line < b.pos.line;
    return a.pos.column < b.pos.column;
  });
  return std::move(errors_);
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == kMaxQuoted) {
      out += "...";
      break;
    }
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

}  // namespace ringlb::config
