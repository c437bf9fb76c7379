#include "l7/gateway/cors.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "common/ascii.h"

namespace ringlb::l7 {
namespace {

using config::HeaderEdit;

constexpr std::string_view kPreflightVary =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isAlnum(char c) { return isAlpha(c) || isDigit(c); }

template <typename Pred>
bool allOf(std::string_view s, Pred pred) {
  return std::all_of(s.begin(), s.end(), pred);
}

bool isPort(std::string_view s) { return !s.empty() && s.size() <= 5 && allOf(s, isDigit); }

// The host and optional port after "://": a DNS name or IPv4 address, or an
// IPv6 literal in brackets. Nothing after them (no path, query or list).
bool isHostAndPort(std::string_view s) {
  std::string_view port;
  if (s.starts_with('[')) {
    size_t close = s.find(']');
    auto ipv6Char = [](char c) { return isAlnum(c) || c == ':' || c == '.'; };
    if (close == std::string_view::npos || close == 1) return false;
    if (!allOf(s.substr(1, close - 1), ipv6Char)) return false;
    std::string_view rest = s.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = rest.substr(1);
  } else {
    size_t colon = s.find(':');
    std::string_view host = s.substr(0, colon);
    auto hostChar = [](char c) { return isAlnum(c) || c == '-' || c == '.' || c == '_'; };
    if (host.empty() || !allOf(host, hostChar)) return false;
    if (colon == std::string_view::npos) return true;
    port = s.substr(colon + 1);
  }
  return isPort(port);
}

// "scheme://host[:port]", the way browsers serialize a tuple origin.
bool isSerializedOrigin(std::string_view origin) {
  size_t sep = origin.find("://");
  if (sep == std::string_view::npos || sep == 0 || !isAlpha(origin.front())) return false;
  auto schemeChar = [](char c) { return isAlnum(c) || c == '+' || c == '-' || c == '.'; };
  if (!allOf(origin.substr(0, sep), schemeChar)) return false;
  return isHostAndPort(origin.substr(sep + 3));
}

// The field when it occurs exactly once: two Origin (or request-method)
// fields make the request ambiguous, and it is refused.
const http::HeaderView* singleField(const http::MessageHead& request, std::string_view name) {
  return request.count(name) == 1 ? request.find(name) : nullptr;
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

bool containsIgnoreCase(const std::vector<std::string>& list, std::string_view item) {
  return std::any_of(list.begin(), list.end(),
                     [item](const std::string& entry) { return equalsIgnoreCase(entry, item); });
}

bool isSafelistedMethod(std::string_view m) { return m == "GET" || m == "HEAD" || m == "POST"; }

bool isSafelistedHeader(std::string_view name) {
  return equalsIgnoreCase(name, "accept") || equalsIgnoreCase(name, "accept-language") ||
         equalsIgnoreCase(name, "content-language") || equalsIgnoreCase(name, "content-type");
}

// Methods are compared case-sensitively, as Fetch does (browsers upper-case
// only the standard methods before sending them).
bool methodAllowed(const config::CorsConfig& config, std::string_view method) {
  return isSafelistedMethod(method) || contains(config.methods, method) ||
         contains(config.methods, "*");
}

bool headerAllowed(const config::CorsConfig& config, std::string_view name) {
  if (isSafelistedHeader(name) || containsIgnoreCase(config.headers, name)) return true;
  return contains(config.headers, "*") && !equalsIgnoreCase(name, "authorization");
}

// The names of every Access-Control-Request-Headers field (comma lists; empty
// elements are skipped as RFC 9110 section 5.6.1 asks). False when a name is
// not a token or there are too many.
bool requestedHeaders(const http::MessageHead& request, std::vector<std::string_view>& names) {
  for (const http::HeaderView& field : request.headers) {
    if (!equalsIgnoreCase(field.name, "access-control-request-headers")) continue;
    std::string_view rest = field.value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view name = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      size_t begin = name.find_first_not_of(" \t");
      if (begin == std::string_view::npos) continue;
      name = name.substr(begin, name.find_last_not_of(" \t") - begin + 1);
      if (!isToken(name) || names.size() == kMaxRequestedHeaders) return false;
      names.push_back(name);
    }
  }
  return true;
}

std::string allowOriginValue(const config::CorsConfig& config, std::string_view origin) {
  bool wildcard = contains(config.origins, "*");
  return wildcard && !config.credentials ? std::string("*") : std::string(origin);
}

// The configured names (without "*"), then each requested one they do not
// name (safelisted, or allowed by "*"), so the browser finds every name it
// asked for.
std::string allowList(const std::vector<std::string>& configured,
                      const std::vector<std::string_view>& requested, bool ignoreCase) {
  std::string out;
  std::vector<std::string_view> named;
  auto add = [&](std::string_view item) {
    auto same = [&](std::string_view n) {
      return ignoreCase ? equalsIgnoreCase(n, item) : n == item;
    };
    if (item == "*" || std::any_of(named.begin(), named.end(), same)) return;
    named.push_back(item);
    if (!out.empty()) out.append(", ");
    out.append(ignoreCase ? toLowerCopy(item) : std::string(item));
  };
  for (const std::string& item : configured) add(item);
  for (std::string_view item : requested) add(item);
  return out;
}

std::string maxAgeSeconds(config::Duration maxAge) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(maxAge).count();
  return std::to_string(std::max<decltype(seconds)>(seconds, 0));
}

}  // namespace

bool isPreflight(const http::MessageHead& request) {
  return request.method == http::Method::Options && request.find("origin") != nullptr &&
         request.find("access-control-request-method") != nullptr;
}

bool corsOriginAllowed(const config::CorsConfig& config, std::string_view origin) {
  if (origin == "null") return contains(config.origins, "null");
  bool wildcard = false;
  for (const std::string& entry : config.origins) {
    if (entry == "*") {
      wildcard = true;
    } else if (entry != "null" && equalsIgnoreCase(entry, origin)) {
      return true;
    }
  }
  return wildcard && isSerializedOrigin(origin);
}

CorsPreflightAnswer preflightAnswer(const config::CorsConfig& config,
                                    const http::MessageHead& request) {
  CorsPreflightAnswer answer;
  const http::HeaderView* origin = singleField(request, "origin");
  const http::HeaderView* method = singleField(request, "access-control-request-method");
  std::vector<std::string_view> names;
  answer.allowed = origin != nullptr && method != nullptr &&
                   corsOriginAllowed(config, origin->value) && isToken(method->value) &&
                   methodAllowed(config, method->value) && requestedHeaders(request, names) &&
                   std::all_of(names.begin(), names.end(),
                               [&](std::string_view n) { return headerAllowed(config, n); });
  std::vector<HeaderEdit>& out = answer.headers;
  if (answer.allowed) {
    out.push_back({"Access-Control-Allow-Origin", allowOriginValue(config, origin->value)});
    if (config.credentials) out.push_back({"Access-Control-Allow-Credentials", "true"});
    out.push_back(
        {"Access-Control-Allow-Methods", allowList(config.methods, {method->value}, false)});
    std::string allowHeaders = allowList(config.headers, names, true);
    if (!allowHeaders.empty()) out.push_back({"Access-Control-Allow-Headers", allowHeaders});
    out.push_back({"Access-Control-Max-Age", maxAgeSeconds(config.maxAge)});
  }
  out.push_back({"Vary", std::string(kPreflightVary)});
  return answer;
}

std::vector<HeaderEdit> actualResponseHeaders(const config::CorsConfig& config,
                                              const http::MessageHead& request) {
  std::vector<HeaderEdit> out;
  const http::HeaderView* origin = singleField(request, "origin");
  if (origin != nullptr && corsOriginAllowed(config, origin->value)) {
    out.push_back({"Access-Control-Allow-Origin", allowOriginValue(config, origin->value)});
    if (config.credentials) out.push_back({"Access-Control-Allow-Credentials", "true"});
  }
  out.push_back({"Vary", "Origin"});
  return out;
}

}  // namespace ringlb::l7
