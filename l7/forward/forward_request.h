// The HTTP side of the forward proxy, as pure functions: where a CONNECT or
// absolute-URI request goes, and the heads sent upstream and back to the
// client. No I/O, no state.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/http1/http1_parser.h"

namespace ringlb::l7 {

// What the forward proxy adds as Via (RFC 9110 §7.6.3).
inline constexpr std::string_view kForwardVia = "1.1 ringlb";

struct Destination {
  std::string host;  // name or literal IP, IPv6 without brackets
  uint16_t port = 0;
};

// "host:port", "[v6]:port", or (without `defaultPort` == 0) "host". Nullopt
// on an empty or malformed host, a port outside 1..65535, or userinfo.
std::optional<Destination> parseAuthority(std::string_view authority, uint16_t defaultPort);

// Where an absolute-form request goes: only "http://" (any case), default
// port 80. Nullopt with `why` set otherwise.
std::optional<Destination> absoluteTarget(const http::MessageHead& head, std::string* why);

// The request head sent to the origin (HTTP/1.1, keep-alive): origin-form
// target, Host from the URI, hop-by-hop fields (and those named in
// Connection) and every Proxy-* field removed, `Via: 1.1 ringlb` added. Content-Length and
// Transfer-Encoding stay: the body is relayed as is. (The response head is the reverse proxy's,
// plus Via.)
std::string originRequestHead(const http::MessageHead& head, const Destination& dest);

// A complete response the proxy writes itself, with `detail` as the body.
std::string proxyResponse(uint16_t status, std::string_view detail);

}  // namespace ringlb::l7
