#include "l7/gateway/compress_fields.h"

#include <algorithm>

namespace ringlb::l7 {

const http::HeaderView* findField(std::span<const http::HeaderView> fields, std::string_view name) {
  for (const http::HeaderView& f : fields) {
    if (equalsIgnoreCase(f.name, name)) return &f;
  }
  return nullptr;
}

bool listHasToken(std::span<const http::HeaderView> fields, std::string_view name,
                  std::string_view token) {
  bool found = false;
  for (const http::HeaderView& f : fields) {
    if (!equalsIgnoreCase(f.name, name)) continue;
    forEachElement(f.value, [&](std::string_view element) {
      // A directive's name ends at "=" (Cache-Control) or ";" (parameters).
      std::string_view elementName = trimOws(element.substr(0, element.find_first_of("=;")));
      found = equalsIgnoreCase(elementName, token);
      return !found;
    });
    if (found) return true;
  }
  return false;
}

std::string mediaType(std::string_view contentType) {
  std::string_view type = trimOws(contentType.substr(0, contentType.find(';')));
  size_t slash = type.find('/');
  if (slash == std::string_view::npos || !isToken(type.substr(0, slash)) ||
      !isToken(type.substr(slash + 1))) {
    return {};
  }
  return toLowerCopy(type);
}

bool mediaTypeMatches(std::string_view type, std::string_view pattern) {
  if (type.empty()) return false;
  if (pattern == "*/*") return true;
  if (pattern.size() >= 2 && pattern.ends_with("/*")) {
    // "text/*": the major type and its slash, then any subtype.
    std::string_view major = pattern.substr(0, pattern.size() - 1);
    return type.size() > major.size() && equalsIgnoreCase(type.substr(0, major.size()), major);
  }
  return equalsIgnoreCase(type, pattern);
}

}  // namespace ringlb::l7
