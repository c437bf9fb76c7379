// ForwardAcl: which destinations a forward listener may reach (the
// `allow`, `deny` and `connect_ports` keys of a forward listener).
//
// Rules, in order: CONNECT only to a port in connect_ports; then `deny`
// (first match refuses); then `allow` (absent = everything; else a match is
// required). Patterns are the forms config/values.cc accepts:
//   "host.example.com"  exact host, ASCII case-insensitive
//   "*.example.com"     any subdomain (not example.com itself)
//   "10.0.0.1", "::1"   one address
//   "10.0.0.0/8"        a CIDR block (IPv4 or IPv6)
// Address patterns match a literal-IP destination and the address a host
// name resolved to; an IPv4-mapped IPv6 address counts as its IPv4 address.
//
// Pure: built once per listener (config thread or worker), then read-only;
// any thread may call check().
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringlb::l7 {

// An IP address without port: 4 or 16 bytes.
struct IpAddress {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};

  // Parses "10.0.0.1", "::1" or "[::1]"; nullopt when not a literal.
  static std::optional<IpAddress> parse(std::string_view text);
  // From a socket address; IPv4-mapped IPv6 becomes IPv4.
  static std::optional<IpAddress> fromSockaddr(const sockaddr* sa);
};

struct AclVerdict {
  bool allowed = false;
  // Why, for the 403 body and the logs: the rule that matched or the rule
  // that was missing ("deny \"evil.example.com\"", "port 25 not in connect_ports").
  std::string reason;
  // The rule as a metric label (ringlb_forward_denied_total{rule}): the
  // deny pattern as written, "connect_ports", "unspecified_address" or
  // "not_allowed"; empty when allowed.
  std::string rule;
};

class ForwardAcl {
 public:
  ForwardAcl() = default;
  // Patterns that do not parse are skipped (the loader has rejected them already).
  ForwardAcl(const std::vector<std::string>& allow, const std::vector<std::string>& deny,
             const std::vector<uint16_t>& connectPorts);

  // The full decision. `host` is the destination as the client wrote it
  // (name or literal IP, brackets allowed); `resolved` the address it
  // resolved to (null when not resolved yet or a literal).
  AclVerdict check(std::string_view host, const IpAddress* resolved, uint16_t port,
                   bool isConnect) const;
  // What can be refused before resolving `host`: a port outside
  // connect_ports, or a deny rule on the name or the literal address.
  std::optional<AclVerdict> refuseEarly(std::string_view host, uint16_t port, bool isConnect) const;

 private:
  struct Rule {
    enum class Kind : uint8_t { Exact, Subdomain, Network } kind = Kind::Exact;
    std::string host;  // lower-case; Subdomain: the suffix with its leading "."
    IpAddress network;
    unsigned prefixBits = 0;
    std::string text;  // as written in the config
  };

  static std::optional<Rule> parseRule(const std::string& text);
  static bool matchesName(const Rule& r, std::string_view lowerHost);
  static bool matchesAddress(const Rule& r, const IpAddress& ip);
  static const Rule* findMatch(const std::vector<Rule>& rules, std::string_view lowerHost,
                               const IpAddress* literal, const IpAddress* resolved);
  std::optional<AclVerdict> checkPort(uint16_t port, bool isConnect) const;

  std::vector<Rule> allow_;
  std::vector<Rule> deny_;
  std::vector<uint16_t> connectPorts_;
  bool allowAll_ = true;
};

}  // namespace ringlb::l7
