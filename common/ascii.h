// ASCII case helpers for protocol text (header names, host names, methods):
// locale-free, byte-wise, no allocation except toLowerCopy().
//
// Thread rules: pure functions; any thread.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace ringlb {

constexpr char asciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

constexpr bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return asciiLower(x) == asciiLower(y);
         });
}

inline std::string toLowerCopy(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), asciiLower);
  return out;
}

}  // namespace ringlb
