#include "l7/cache/vary.h"

#include <algorithm>
#include <array>

#include "common/ascii.h"
#include "l7/gateway/accept_encoding.h"
#include "l7/gateway/compress_fields.h"

namespace ringlb::l7::cache {
namespace {

using Fields = std::span<const http::HeaderView>;

// `value` with the whitespace around its commas removed (outside quoted
// strings), so "a, b" and "a,b" are one variant.
void appendNormalised(std::string& out, std::string_view value) {
  bool quoted = false;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (quoted && c == '\\' && i + 1 < value.size()) {
      out.push_back(c);
      out.push_back(value[++i]);
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (!quoted && c == ',') {
      while (!out.empty() && isOws(out.back())) out.pop_back();
      out.push_back(',');
      while (i + 1 < value.size() && isOws(value[i + 1])) ++i;
      continue;
    }
    out.push_back(c);
  }
}

// Every field named `name` joined with ","; nullopt when there is none.
std::optional<std::string> combined(Fields fields, std::string_view name) {
  std::optional<std::string> value;
  for (const http::HeaderView& f : fields) {
    if (!equalsIgnoreCase(f.name, name)) continue;
    if (value)
      value->push_back(',');
    else
      value.emplace();
    value->append(f.value);
  }
  if (!value) return value;
  std::string out;
  appendNormalised(out, trimOws(*value));
  return out;
}

// The lowest q a client gave `coding` (else its `*`), as AcceptEncoding
// does for the codings it tracks; used for deflate, which it does not.
std::optional<QValue> deflateQ(Fields fields) {
  std::optional<QValue> own, any;
  for (const http::HeaderView& f : fields) {
    if (!equalsIgnoreCase(f.name, "accept-encoding")) continue;
    forEachElement(f.value, [&](std::string_view element) {
      size_t semi = element.find(';');
      std::string_view coding = trimOws(element.substr(0, semi));
      std::optional<QValue> q = kQMax;
      if (semi != std::string_view::npos) {
        std::string_view weight = trimOws(element.substr(semi + 1));
        q = weight.size() >= 2 && asciiLower(weight[0]) == 'q' && weight[1] == '='
                ? parseQValue(weight.substr(2))
                : std::nullopt;
      }
      if (!q) return true;  // malformed: ignored
      std::optional<QValue>* slot = equalsIgnoreCase(coding, "deflate") ? &own
                                    : coding == "*"                     ? &any
                                                                        : nullptr;
      if (slot && (!*slot || *q < **slot)) *slot = q;
      return true;
    });
  }
  return own ? own : any;
}

// Accept-Encoding as the variant it selects (see vary.h).
std::string acceptEncodingKey(Fields fields,
                              const std::optional<config::CompressConfig>& compress) {
  AcceptEncoding accept = parseAcceptEncoding(fields);
  if (compress) {
    std::optional<config::ContentCoding> coding = chooseCoding(accept, compress->algorithms);
    return coding ? std::string(codingToken(*coding)) : "identity";
  }
  std::string out;
  auto add = [&out](std::optional<QValue> q, std::string_view token) {
    if (!q || *q == 0) return;
    if (!out.empty()) out.push_back(',');
    out.append(token);
  };
  // Alphabetical: br, deflate, gzip, zstd.
  add(accept.qvalue(config::ContentCoding::Brotli), "br");
  add(deflateQ(fields), "deflate");
  add(accept.qvalue(config::ContentCoding::Gzip), "gzip");
  add(accept.qvalue(config::ContentCoding::Zstd), "zstd");
  return out.empty() ? "identity" : out;
}

}  // namespace

std::optional<std::vector<std::string>> varyNames(std::span<const http::HeaderView> response) {
  std::vector<std::string> names;
  bool never = false;
  for (const http::HeaderView& f : response) {
    if (!equalsIgnoreCase(f.name, "vary")) continue;
    forEachElement(f.value, [&](std::string_view element) {
      // "*", or anything that is not a field name, can never be matched.
      never = element == "*" || !isToken(element);
      if (!never) names.push_back(toLowerCopy(element));
      return !never;
    });
    if (never) return std::nullopt;
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::string varyKey(std::span<const std::string> names,
                    std::span<const http::HeaderView> requestFields,
                    const std::optional<config::CompressConfig>& compress) {
  std::string key;
  for (const std::string& name : names) {
    key.append(name);
    // Absent is "name\n", present is "name:value\n" (even when empty).
    if (!findField(requestFields, name)) {
      key.push_back('\n');
      continue;
    }
    key.push_back(':');
    if (equalsIgnoreCase(name, "accept-encoding")) {
      key.append(acceptEncodingKey(requestFields, compress));
    } else {
      key.append(*combined(requestFields, name));
    }
    key.push_back('\n');
  }
  return key;
}

}  // namespace ringlb::l7::cache
