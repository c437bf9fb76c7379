#include "l7/forward/forward_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "common/ascii.h"
#include "common/http1/http_types.h"

namespace ringlb::l7 {
namespace {

bool isHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

std::optional<uint16_t> parsePort(std::string_view text) {
  unsigned port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(port);
}

// Framing fields stay because the body is relayed byte for byte. Every
// Proxy-* field (Proxy-Authorization, Proxy-Connection, ...) was meant for
// this proxy, not for the origin.
bool dropField(const http::MessageHead& head, std::string_view name) {
  if (equalsIgnoreCase(name, "Transfer-Encoding")) return false;
  constexpr std::string_view kProxy = "proxy-";
  bool proxyField = name.size() > kProxy.size() && equalsIgnoreCase(name.substr(0, 6), kProxy);
  return head.isHopByHop(name) || proxyField || equalsIgnoreCase(name, "Keep-Alive");
}

void appendFields(const http::MessageHead& head, std::string& out) {
  for (const http::HeaderView& h : head.headers) {
    if (dropField(head, h.name) || equalsIgnoreCase(h.name, "Host")) continue;
    fmt::format_to(std::back_inserter(out), "{}: {}\r\n", h.name, h.value);
  }
  fmt::format_to(std::back_inserter(out), "Via: {}\r\n\r\n", kForwardVia);
}

}  // namespace

std::optional<Destination> parseAuthority(std::string_view authority, uint16_t defaultPort) {
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  Destination d;
  std::string_view host;
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos || close < 2) return std::nullopt;
    host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
    if (!std::all_of(host.begin(), host.end(),
                     [](char c) { return isHostChar(c) || c == ':' || c == '%'; })) {
      return std::nullopt;
    }
  } else {
    size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
    if (!std::all_of(host.begin(), host.end(), isHostChar)) return std::nullopt;
  }
  if (host.empty()) return std::nullopt;
  d.host = std::string(host);
  if (rest.empty()) {
    if (defaultPort == 0) return std::nullopt;
    d.port = defaultPort;
    return d;
  }
  if (rest.front() != ':') return std::nullopt;
  auto port = parsePort(rest.substr(1));
  if (!port) return std::nullopt;
  d.port = *port;
  return d;
}

std::optional<Destination> absoluteTarget(const http::MessageHead& head, std::string* why) {
  constexpr std::string_view kScheme = "http://";
  if (head.target.size() < kScheme.size() ||
      !equalsIgnoreCase(head.target.substr(0, kScheme.size()), kScheme)) {
    *why = "only http:// URIs are proxied (use CONNECT for https)";
    return std::nullopt;
  }
  auto dest = parseAuthority(head.authority, 80);
  if (!dest) *why = "the URI has no valid host[:port]";
  return dest;
}

std::string originRequestHead(const http::MessageHead& head, const Destination& dest) {
  std::string out;
  out.reserve(256 + head.target.size());
  std::string_view path = head.path;
  std::string_view slash = path.empty() || path.front() == '?' ? "/" : "";
  bool v6 = dest.host.find(':') != std::string::npos;
  std::string host = v6 ? "[" + dest.host + "]" : dest.host;
  if (dest.port != 80) host += fmt::format(":{}", dest.port);
  // HTTP/1.1 towards the origin whatever the client spoke: the connection
  // may carry the next request (keep-alive; the response framing says where
  // each ends).
  fmt::format_to(std::back_inserter(out), "{} {}{} HTTP/1.1\r\nHost: {}\r\n", head.methodName,
                 slash, path, host);
  appendFields(head, out);
  return out;
}

std::string proxyResponse(uint16_t status, std::string_view detail) {
  std::string_view reason = http::reasonPhrase(status);
  if (reason.empty()) reason = status == 403 ? "Forbidden" : "Error";
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
      "Connection: close\r\nVia: {}\r\n\r\n{}\n",
      status, reason, detail.size() + 1, kForwardVia, detail);
}

}  // namespace ringlb::l7
