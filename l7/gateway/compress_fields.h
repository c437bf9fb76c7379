// Field-value helpers for the compression phase (RFC 9110 section 5.6):
// walking a comma-separated list that may hold quoted strings, finding a
// token in such a list, and the media type of a Content-Type.
//
// Thread rules: pure functions; any thread. None allocates except
// mediaType().
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "common/ascii.h"
#include "common/http1/http_types.h"

namespace ringlb::l7 {

// Calls fn(element) for each element of a #list, trimmed of OWS (trimOws()), skipping
// empty ones. A comma inside a quoted string does not split: `a="x, y"` is
// one element (an unterminated quote runs to the end of the value). fn
// returns false to stop early; forEachElement then returns false too.
template <typename Fn>
bool forEachElement(std::string_view value, Fn&& fn) {
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i < value.size()) {
      char c = value[i];
      if (quoted && c == '\\' && i + 1 < value.size()) {
        ++i;  // quoted-pair: the next byte is literal
        continue;
      }
      if (c == '"') quoted = !quoted;
      if (quoted || c != ',') continue;
    }
    std::string_view element = trimOws(value.substr(start, i - start));
    if (!element.empty() && !fn(element)) return false;
    start = i + 1;
  }
  return true;
}

// Whether any field named `name` lists an element whose name (before any
// "=" or ";") equals `token`, ASCII case-insensitively: "no-transform" in
// `Cache-Control: max-age=0, No-Transform`.
bool listHasToken(std::span<const http::HeaderView> fields, std::string_view name,
                  std::string_view token);

// The value of the first field named `name` (case-insensitive), or null.
const http::HeaderView* findField(std::span<const http::HeaderView> fields, std::string_view name);

// The media type of a Content-Type value, lower-cased, parameters and OWS
// dropped: "Text/HTML; charset=utf-8" gives "text/html". Empty when the
// value is not type "/" subtype.
std::string mediaType(std::string_view contentType);

// `type` (lower-cased, from mediaType()) matches a configured pattern: the
// same type, "major/*" for any subtype of major, or "*/*".
bool mediaTypeMatches(std::string_view type, std::string_view pattern);

}  // namespace ringlb::l7
