// ASCII helpers for protocol text (header names, tokens, host names, methods, hex):
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

// The value of a hex digit, -1 for any other byte.
constexpr int hexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr bool isDigit(char c) { return c >= '0' && c <= '9'; }

// A tchar (RFC 9110 section 5.6.2): the bytes of a token.
constexpr bool isTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A token: a non-empty run of tchars.
constexpr bool isToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), isTchar);
}

// Optional whitespace (RFC 9110 section 5.6.3): spaces and tabs.
constexpr bool isOws(char c) { return c == ' ' || c == '\t'; }

// `s` without leading and trailing OWS (field values, list elements).
constexpr std::string_view trimOws(std::string_view s) {
  while (!s.empty() && isOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isOws(s.back())) s.remove_suffix(1);
  return s;
}

inline std::string toLowerCopy(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), asciiLower);
  return out;
}

}  // namespace ringlb
