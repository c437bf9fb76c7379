#include "l7/forward/forward_acl.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "common/ascii.h"

namespace ringlb::l7 {
namespace {

// Lower-case, without IPv6 brackets or a trailing root dot.
std::string normalizeHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return toLowerCopy(host);
}

// ::ffff:a.b.c.d stands for a.b.c.d.
IpAddress unmapped(const IpAddress& ip) {
  static constexpr std::array<uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (ip.family != AF_INET6 || !std::equal(kMapped.begin(), kMapped.end(), ip.bytes.begin())) {
    return ip;
  }
  IpAddress v4;
  v4.family = AF_INET;
  std::copy(ip.bytes.begin() + 12, ip.bytes.end(), v4.bytes.begin());
  return v4;
}

bool prefixEqual(const IpAddress& a, const IpAddress& b, unsigned bits) {
  unsigned whole = bits / 8;
  if (!std::equal(a.bytes.begin(), a.bytes.begin() + whole, b.bytes.begin())) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[whole] & mask) == (b.bytes[whole] & mask);
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress ip;
  if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) {
    ip.family = AF_INET;
    return ip;
  }
  if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
    ip.family = AF_INET6;
    return unmapped(ip);
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::fromSockaddr(const sockaddr* sa) {
  IpAddress ip;
  if (sa->sa_family == AF_INET) {
    ip.family = AF_INET;
    std::memcpy(ip.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return ip;
  }
  if (sa->sa_family == AF_INET6) {
    ip.family = AF_INET6;
    std::memcpy(ip.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
    return unmapped(ip);
  }
  return std::nullopt;
}

ForwardAcl::ForwardAcl(const std::vector<std::string>& allow, const std::vector<std::string>& deny,
                       const std::vector<uint16_t>& connectPorts)
    : connectPorts_(connectPorts), allowAll_(allow.empty()) {
  for (const auto& text : allow) {
    if (auto r = parseRule(text)) allow_.push_back(std::move(*r));
  }
  for (const auto& text : deny) {
    if (auto r = parseRule(text)) deny_.push_back(std::move(*r));
  }
}

std::optional<ForwardAcl::Rule> ForwardAcl::parseRule(const std::string& text) {
  Rule r;
  r.text = text;
  auto slash = text.find('/');
  std::string_view addr = std::string_view(text).substr(0, slash);
  if (auto ip = IpAddress::parse(addr)) {
    r.kind = Rule::Kind::Network;
    unsigned maxBits = ip->family == AF_INET ? 32 : 128;
    r.prefixBits = maxBits;
    if (slash != std::string::npos) {
      std::string_view bits = std::string_view(text).substr(slash + 1);
      auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), r.prefixBits);
      if (ec != std::errc() || end != bits.data() + bits.size() || r.prefixBits > maxBits) {
        return std::nullopt;
      }
      // A mapped v6 network counts in v4 bits.
      if (ip->family == AF_INET && addr.find(':') != std::string_view::npos) {
        if (r.prefixBits < 96) return std::nullopt;
        r.prefixBits -= 96;
      }
    }
    r.network = *ip;
    return r;
  }
  if (slash != std::string::npos || text.empty()) return std::nullopt;
  std::string host = normalizeHost(text);
  if (host.size() > 2 && host.compare(0, 2, "*.") == 0) {
    r.kind = Rule::Kind::Subdomain;
    r.host = host.substr(1);  // ".example.com"
  } else {
    r.kind = Rule::Kind::Exact;
    r.host = std::move(host);
  }
  return r;
}

bool ForwardAcl::matchesName(const Rule& r, std::string_view lowerHost) {
  if (r.kind == Rule::Kind::Exact) return lowerHost == r.host;
  if (r.kind != Rule::Kind::Subdomain) return false;
  return lowerHost.size() > r.host.size() &&
         lowerHost.substr(lowerHost.size() - r.host.size()) == r.host;
}

bool ForwardAcl::matchesAddress(const Rule& r, const IpAddress& ip) {
  return r.kind == Rule::Kind::Network && r.network.family == ip.family &&
         prefixEqual(r.network, ip, r.prefixBits);
}

const ForwardAcl::Rule* ForwardAcl::findMatch(const std::vector<Rule>& rules,
                                              std::string_view lowerHost, const IpAddress* literal,
                                              const IpAddress* resolved) {
  for (const Rule& r : rules) {
    if (literal == nullptr && matchesName(r, lowerHost)) return &r;
    if (literal != nullptr && matchesAddress(r, *literal)) return &r;
    if (resolved != nullptr && matchesAddress(r, *resolved)) return &r;
  }
  return nullptr;
}

std::optional<AclVerdict> ForwardAcl::checkPort(uint16_t port, bool isConnect) const {
  if (!isConnect) return std::nullopt;
  if (std::find(connectPorts_.begin(), connectPorts_.end(), port) != connectPorts_.end()) {
    return std::nullopt;
  }
  return AclVerdict{false, fmt::format("port {} is not in connect_ports", port), "connect_ports"};
}

std::optional<AclVerdict> ForwardAcl::refuseEarly(std::string_view host, uint16_t port,
                                                  bool isConnect) const {
  if (auto refused = checkPort(port, isConnect)) return refused;
  std::string lower = normalizeHost(host);
  std::optional<IpAddress> literal = IpAddress::parse(lower);
  const IpAddress* lit = literal ? &*literal : nullptr;
  if (const Rule* r = findMatch(deny_, lower, lit, nullptr)) {
    return AclVerdict{false, fmt::format("denied by deny rule \"{}\"", r->text), r->text};
  }
  return std::nullopt;
}

namespace {

// 0.0.0.0/8 and :: reach this host's own listeners on Linux, past a deny rule
// written for 127.0.0.0/8 or ::1: never a destination.
bool unspecified(const IpAddress* a) {
  if (a == nullptr) return false;
  if (a->family == AF_INET) return a->bytes[0] == 0;
  return std::all_of(a->bytes.begin(), a->bytes.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

AclVerdict ForwardAcl::check(std::string_view host, const IpAddress* resolved, uint16_t port,
                             bool isConnect) const {
  if (auto refused = checkPort(port, isConnect)) return *refused;
  std::string lower = normalizeHost(host);
  std::optional<IpAddress> literal = IpAddress::parse(lower);
  const IpAddress* lit = literal ? &*literal : nullptr;
  if (unspecified(lit) || unspecified(resolved)) {
    return {false, "an unspecified address (0.0.0.0/8, ::) is never a destination",
            "unspecified_address"};
  }
  if (const Rule* r = findMatch(deny_, lower, lit, resolved)) {
    return {false, fmt::format("denied by deny rule \"{}\"", r->text), r->text};
  }
  if (allowAll_) return {true, "no allow list", {}};
  if (const Rule* r = findMatch(allow_, lower, lit, resolved)) {
    return {true, fmt::format("allowed by \"{}\"", r->text), {}};
  }
  return {false, "not matched by any allow rule", "not_allowed"};
}

}  // namespace ringlb::l7
