#include "l7/cache/conditional.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "common/ascii.h"
#include "l7/cache/cache_control.h"
#include "l7/gateway/compress_fields.h"

namespace ringlb::l7::cache {
namespace {

using Fields = std::span<const http::HeaderView>;

// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE (RFC 9110 section 8.8.3);
// `opaque` keeps its quotes.
struct EntityTag {
  bool weak = false;
  std::string_view opaque;
};

bool isEtagc(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u != 0x7f);  // obs-text (0x80-0xff) included
}

// Reads one entity-tag at the front of `text` and removes it; nullopt when
// malformed.
std::optional<EntityTag> takeEntityTag(std::string_view& text) {
  EntityTag tag;
  if (text.starts_with("W/")) {
    tag.weak = true;
    text.remove_prefix(2);
  }
  if (text.empty() || text[0] != '"') return std::nullopt;
  size_t end = 1;
  while (end < text.size() && isEtagc(text[end])) ++end;
  if (end == text.size() || text[end] != '"') return std::nullopt;
  tag.opaque = text.substr(0, end + 1);
  text.remove_prefix(end + 1);
  return tag;
}

// A whole field value that is exactly one entity-tag.
std::optional<EntityTag> parseEntityTag(std::string_view text) {
  text = trimOws(text);
  std::optional<EntityTag> tag = takeEntityTag(text);
  if (!tag || !text.empty()) return std::nullopt;
  return tag;
}

// If-None-Match = "*" / #entity-tag, over every field of that name. nullopt
// when absent or malformed (the field is then ignored); `star` for "*".
struct TagList {
  bool star = false;
  std::vector<EntityTag> tags;
};

bool appendTags(std::string_view value, TagList& list) {
  // Elements are split by hand: etagc allows "," and "\" inside the quotes.
  while (true) {
    while (!value.empty() && (isOws(value[0]) || value[0] == ',')) value.remove_prefix(1);
    if (value.empty()) return true;
    if (value[0] == '*') {
      list.star = true;
      value.remove_prefix(1);
    } else {
      std::optional<EntityTag> tag = takeEntityTag(value);
      if (!tag) return false;
      list.tags.push_back(*tag);
    }
    value = value.substr(std::min(value.size(), value.find_first_not_of(" \t")));
    if (!value.empty() && value[0] != ',') return false;
  }
}

std::optional<TagList> ifNoneMatch(Fields fields) {
  TagList list;
  bool seen = false;
  for (const http::HeaderView& f : fields) {
    if (!equalsIgnoreCase(f.name, "if-none-match")) continue;
    seen = true;
    if (!appendTags(f.value, list)) return std::nullopt;
  }
  if (!seen || (!list.star && list.tags.empty())) return std::nullopt;
  return list;
}

// The only field named `name`, or nullopt when absent or repeated (a
// singleton field sent twice is malformed).
std::optional<std::string_view> singleField(Fields fields, std::string_view name) {
  std::optional<std::string_view> value;
  for (const http::HeaderView& f : fields) {
    if (!equalsIgnoreCase(f.name, name)) continue;
    if (value) return std::nullopt;
    value = f.value;
  }
  return value;
}

}  // namespace

bool notModified(const http::MessageHead& request, std::string_view etag,
                 std::string_view lastModified) {
  if (request.method != http::Method::Get && request.method != http::Method::Head) return false;
  if (std::optional<TagList> list = ifNoneMatch(request.headers)) {
    if (list->star) return true;  // a stored response exists: "*" matches it
    std::optional<EntityTag> stored = parseEntityTag(etag);
    if (!stored) return false;
    for (const EntityTag& tag : list->tags) {
      if (tag.opaque == stored->opaque) return true;  // weak comparison: W/ ignored
    }
    return false;
  }
  // RFC 9110 section 13.1.3: only a single valid date counts.
  std::optional<std::string_view> since = singleField(request.headers, "if-modified-since");
  std::optional<Seconds> sinceTime = since ? parseHttpDate(*since) : std::nullopt;
  std::optional<Seconds> modified = parseHttpDate(lastModified);
  return sinceTime && modified && *modified <= *sinceTime;
}

bool ifRangeAllows(const http::MessageHead& request, std::string_view etag,
                   std::string_view lastModified) {
  if (!findField(request.headers, "if-range")) return true;
  std::optional<std::string_view> value = singleField(request.headers, "if-range");
  if (!value) return false;  // repeated: not a validator we can trust
  std::string_view v = trimOws(*value);
  if (v.starts_with("\"") || v.starts_with("W/")) {
    // Strong comparison: neither side may be weak.
    std::optional<EntityTag> tag = parseEntityTag(v);
    std::optional<EntityTag> stored = parseEntityTag(etag);
    return tag && stored && !tag->weak && !stored->weak && tag->opaque == stored->opaque;
  }
  std::optional<Seconds> date = parseHttpDate(v);
  std::optional<Seconds> modified = parseHttpDate(lastModified);
  return date && modified && *date == *modified;
}

bool isConditional(const http::MessageHead& request) {
  for (const http::HeaderView& f : request.headers) {
    for (std::string_view name :
         {"if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range"}) {
      if (equalsIgnoreCase(f.name, name)) return true;
    }
  }
  return false;
}

}  // namespace ringlb::l7::cache
