#include "config/address.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ringlb::config {
namespace {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  bool bracketed = false;
};

std::optional<HostPort> splitHostPort(std::string_view text, std::string* error) {
  HostPort out;
  std::string_view portText;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *error = "expected \"[IPv6]:PORT\"";
      return std::nullopt;
    }
    out.host = std::string(text.substr(1, close - 1));
    out.bracketed = true;
    portText = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      *error = "expected \"IP:PORT\", \"[IPv6]:PORT\" or \"hostname:PORT\"";
      return std::nullopt;
    }
    if (text.substr(0, colon).find(':') != std::string_view::npos) {
      *error = "an IPv6 address needs brackets: \"[IPv6]:PORT\"";
      return std::nullopt;
    }
    out.host = std::string(text.substr(0, colon));
    portText = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (portText.empty() || ec != std::errc() || end != portText.data() + portText.size() ||
      port > 65535) {
    *error = "port must be a number from 0 to 65535";
    return std::nullopt;
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

std::optional<SocketAddress> fromNumeric(const HostPort& hp, std::string_view text) {
  SocketAddress addr;
  addr.text = std::string(text);
  if (!hp.bracketed) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&addr.storage);
    if (inet_pton(AF_INET, hp.host.c_str(), &sin->sin_addr) == 1) {
      sin->sin_family = AF_INET;
      sin->sin_port = htons(hp.port);
      addr.length = sizeof(sockaddr_in);
      return addr;
    }
    return std::nullopt;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&addr.storage);
  if (inet_pton(AF_INET6, hp.host.c_str(), &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(hp.port);
    addr.length = sizeof(sockaddr_in6);
    return addr;
  }
  return std::nullopt;
}

// RFC 1123 host names: letters, digits, '-' and '.', at most 253 bytes. Checked
// before getaddrinfo so that nothing odd (spaces, NUL, '%') reaches the resolver.
bool isHostname(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.front() == '-') {
    return false;
  }
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::optional<SocketAddress> parseNumericAddress(std::string_view text, std::string* error) {
  auto hp = splitHostPort(text, error);
  if (!hp) return std::nullopt;
  auto addr = fromNumeric(*hp, text);
  if (!addr) *error = "\"" + hp->host + "\" is not a numeric IP address";
  return addr;
}

std::optional<SocketAddress> resolveAddress(std::string_view text, std::string* error) {
  auto hp = splitHostPort(text, error);
  if (!hp) return std::nullopt;
  if (auto addr = fromNumeric(*hp, text)) return addr;
  if (hp->bracketed) {
    *error = "\"" + hp->host + "\" is not a valid IPv6 address";
    return std::nullopt;
  }
  if (!isHostname(hp->host)) {
    *error = "\"" + hp->host + "\" is neither an IP address nor a valid host name";
    return std::nullopt;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(hp->host.c_str(), nullptr, &hints, &result);
  if (rc != 0 || result == nullptr) {
    *error = "cannot resolve \"" + hp->host + "\": " + gai_strerror(rc);
    return std::nullopt;
  }
  SocketAddress addr;
  addr.text = std::string(text);
  std::memcpy(&addr.storage, result->ai_addr, result->ai_addrlen);
  addr.length = result->ai_addrlen;
  freeaddrinfo(result);
  addr.setPort(hp->port);
  return addr;
}

std::string_view formatAddress(const sockaddr* sa, std::array<char, kAddressTextSize>& out) {
  char ip[INET6_ADDRSTRLEN] = {};
  fmt::format_to_n_result<char*> r{};
  if (sa != nullptr && sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    r = fmt::format_to_n(out.data(), out.size(), "{}:{}", ip, ntohs(in->sin_port));
  } else if (sa != nullptr && sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    r = fmt::format_to_n(out.data(), out.size(), "[{}]:{}", ip, ntohs(in6->sin6_port));
  } else {
    return "-";
  }
  return {out.data(), std::min(r.size, out.size())};
}

}  // namespace ringlb::config
