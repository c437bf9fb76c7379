#include "config/values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "common/ascii.h"
#include "config/diagnostics.h"

namespace ringlb::config {
namespace {

constexpr size_t kMaxHostLength = 253;
constexpr size_t kMaxNameLength = 64;

std::optional<uint16_t> parseStatusCode(std::string_view text) {
  unsigned code = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (code < 100 || code > 599) return std::nullopt;
  return static_cast<uint16_t>(code);
}

std::optional<StatusRange> parseStatusRange(std::string_view item, std::string* error) {
  auto dash = item.find('-');
  auto low = parseStatusCode(item.substr(0, dash));
  auto high = dash == std::string_view::npos ? low : parseStatusCode(item.substr(dash + 1));
  if (!low || !high) {
    *error =
        "expect_status wants status codes 100..599 and ranges, like \"200-399\" or "
        "\"200,204,300-399\"";
    return std::nullopt;
  }
  if (*low > *high) {
    *error = "expect_status range \"" + std::string(item) + "\" is reversed";
    return std::nullopt;
  }
  return StatusRange{*low, *high};
}

bool isHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

// RFC 3986 scheme, already lower-cased.
bool isScheme(std::string_view text) {
  return !text.empty() && text.front() >= 'a' && text.front() <= 'z' &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
                  c == '.';
         });
}

// "host", "host:port", "[IPv6]" or "[IPv6]:port", already lower-cased.
bool isHostAndPort(std::string_view text) {
  std::string_view host = text;
  std::string_view port;
  if (text.substr(0, 1) == "[") {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    port = rest.empty() ? std::string_view("") : rest.substr(1);
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET6, std::string(host).c_str(), buf) != 1) return false;
  } else {
    size_t colon = text.find(':');
    host = text.substr(0, colon);
    port = colon == std::string_view::npos ? std::string_view("") : text.substr(colon + 1);
    bool hostOk = !host.empty() && host.size() <= kMaxHostLength && host.front() != '.' &&
                  host.back() != '.' && host.find("..") == std::string_view::npos &&
                  std::all_of(host.begin(), host.end(), isHostChar);
    if (!hostOk) return false;
  }
  bool hasPort = text.back() == ':' || !port.empty();
  if (!hasPort) return true;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return !port.empty() && port.front() != '0' && ec == std::errc() &&
         end == port.data() + port.size() && value <= 65535;
}

bool checkCidr(std::string_view text, std::string* error) {
  auto slash = text.find('/');
  std::string ip(text.substr(0, slash));
  std::string_view bitsText = text.substr(slash + 1);
  unsigned char buf[sizeof(in6_addr)];
  int maxBits = 0;
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) {
    maxBits = 32;
  } else if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
    maxBits = 128;
  } else {
    *error = "\"" + ip + "\" is not an IP address (expected a CIDR like \"10.0.0.0/8\")";
    return false;
  }
  int bits = -1;
  auto [end, ec] = std::from_chars(bitsText.data(), bitsText.data() + bitsText.size(), bits);
  if (bitsText.empty() || ec != std::errc() || end != bitsText.data() + bitsText.size() ||
      bits < 0 || bits > maxBits) {
    *error = "CIDR prefix length must be 0.." + std::to_string(maxBits);
    return false;
  }
  return true;
}

}  // namespace

std::optional<std::vector<StatusRange>> parseExpectStatus(std::string_view text,
                                                          std::string* error) {
  std::vector<StatusRange> ranges;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = std::min(text.find(',', start), text.size());
    auto range = parseStatusRange(text.substr(start, comma - start), error);
    if (!range) return std::nullopt;
    ranges.push_back(*range);
    start = comma + 1;
  }
  return ranges;
}

std::optional<HashKey> parseHashKey(std::string_view text, std::string* error) {
  if (text == "source_ip") return HashKey{HashKeyKind::SourceIp, ""};
  if (text == "uri") return HashKey{HashKeyKind::Uri, ""};
  for (auto [prefix, kind] : {std::pair{std::string_view("header:"), HashKeyKind::Header},
                              std::pair{std::string_view("cookie:"), HashKeyKind::Cookie}}) {
    if (text.substr(0, prefix.size()) != prefix) continue;
    std::string_view name = text.substr(prefix.size());
    if (!isHttpToken(name)) {
      *error = "hash_key needs a valid name after \"" + std::string(prefix) + "\"";
      return std::nullopt;
    }
    return HashKey{kind, std::string(name)};
  }
  *error = "hash_key must be source_ip, uri, \"header:NAME\" or \"cookie:NAME\"";
  return std::nullopt;
}

bool isHttpToken(std::string_view text) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

bool isSafeHeaderValue(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::optional<std::string> parseHostPattern(std::string_view text, std::string* error) {
  std::string host = toLowerCopy(text);
  std::string_view rest = host;
  if (rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  bool ok = !rest.empty() && rest.size() <= kMaxHostLength && rest.front() != '.' &&
            rest.back() != '.' && rest.find("..") == std::string_view::npos &&
            std::all_of(rest.begin(), rest.end(), isHostChar);
  if (!ok) {
    *error = "expected a host name like \"app.example.com\" or \"*.example.com\"";
    return std::nullopt;
  }
  return host;
}

namespace {

// A name to ask DNS for: labels of letters, digits, '-' and '_' (SRV owner
// names start with "_service._proto"), a trailing dot allowed.
bool isDnsName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > kMaxHostLength || name.front() == '.' ||
      name.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) { return isHostChar(c) || c == '_'; });
}

}  // namespace

std::optional<DiscoverConfig> parseDiscover(std::string_view text, std::string* error) {
  DiscoverConfig out;
  out.text = std::string(text);
  if (text.substr(0, 4) == "dns:") {
    std::string_view rest = text.substr(4);
    size_t colon = rest.rfind(':');
    uint32_t port = 0;
    std::string_view digits = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || port == 0 ||
        port > 65535) {
      *error = "discover = \"dns:NAME:PORT\" needs a port 1..65535 after the name";
      return std::nullopt;
    }
    out.kind = DiscoverConfig::Kind::Dns;
    out.name = toLowerCopy(rest.substr(0, colon));
    out.port = static_cast<uint16_t>(port);
  } else if (text.substr(0, 4) == "srv:") {
    out.kind = DiscoverConfig::Kind::Srv;
    out.name = toLowerCopy(text.substr(4));
    if (out.name.substr(0, 1) != "_" || out.name.find("._") == std::string::npos) {
      *error = "discover = \"srv:NAME\" needs an SRV name like \"_http._tcp.api.internal\"";
      return std::nullopt;
    }
  } else {
    *error = "discover must be \"dns:NAME:PORT\" or \"srv:_service._proto.NAME\"";
    return std::nullopt;
  }
  if (!isDnsName(out.name)) {
    *error = "discover names an invalid DNS name " + quote(out.name);
    return std::nullopt;
  }
  return out;
}

bool checkDestinationPattern(std::string_view text, std::string* error) {
  if (text.find('\0') != std::string_view::npos) {
    *error = "destination contains a NUL byte";
    return false;
  }
  if (text.find('/') != std::string_view::npos) return checkCidr(text, error);
  std::string ip(text);
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) return true;
  if (parseHostPattern(text, error)) return true;
  *error = "expected a host, \"*.domain\", an IP address or a CIDR like \"10.0.0.0/8\"";
  return false;
}

std::optional<std::pair<RateLimitKey, std::string>> parseRateLimitKey(std::string_view text,
                                                                      std::string* error) {
  if (text == "source_ip") return std::pair(RateLimitKey::SourceIp, std::string());
  if (text == "route") return std::pair(RateLimitKey::Route, std::string());
  constexpr std::string_view kHeader = "header:";
  if (text.substr(0, kHeader.size()) != kHeader) {
    *error = "key must be source_ip, route or \"header:NAME\"";
    return std::nullopt;
  }
  std::string_view name = text.substr(kHeader.size());
  if (!isHttpToken(name)) {
    *error = "key needs a valid header name after \"header:\"";
    return std::nullopt;
  }
  return std::pair(RateLimitKey::Header, toLowerCopy(name));
}

std::optional<std::string> parseOrigin(std::string_view text, std::string* error) {
  if (text == "*") return std::string(text);
  std::string origin = toLowerCopy(text);
  size_t sep = origin.find("://");
  bool ok = sep != std::string::npos && isScheme(std::string_view(origin).substr(0, sep)) &&
            isHostAndPort(std::string_view(origin).substr(sep + 3));
  if (!ok) {
    *error =
        "expected \"*\" or an origin like \"https://app.example.com\" or "
        "\"http://localhost:3000\" (scheme://host[:port], no path, not even a trailing \"/\")";
    return std::nullopt;
  }
  // Browsers leave the scheme's default port out of Origin.
  for (std::string_view suffix : {std::string_view("https:443"), std::string_view("http:80")}) {
    std::string_view scheme = suffix.substr(0, suffix.find(':'));
    std::string_view port = suffix.substr(suffix.find(':'));
    if (origin.substr(0, sep) == scheme && origin.ends_with(port)) {
      origin.resize(origin.size() - port.size());
    }
  }
  return origin;
}

std::optional<std::string> parseMediaRange(std::string_view text, std::string* error) {
  std::string range = toLowerCopy(text);
  size_t slash = range.find('/');
  std::string_view type = std::string_view(range).substr(0, slash);
  std::string_view subtype =
      slash == std::string::npos ? std::string_view() : std::string_view(range).substr(slash + 1);
  if (type == "*") {
    *error = "the type cannot be \"*\": list the types worth compressing (\"text/*\", ...)";
    return std::nullopt;
  }
  bool ok = isHttpToken(type) && type.find('*') == std::string_view::npos &&
            (subtype == "*" || (isHttpToken(subtype) && subtype.find('*') == std::string::npos));
  if (!ok) {
    *error = "expected a media type like \"application/json\" or \"text/*\" (no parameters)";
    return std::nullopt;
  }
  return range;
}

bool isValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

}  // namespace ringlb::config
