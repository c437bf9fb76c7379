// Hash-balancing keys: the 64-bit hash the Maglev balancer consumes, and a
// helper that finds the key bytes (source_ip, uri, header:NAME, cookie:NAME)
// in a request-like view.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "config/model.h"

namespace ringlb::upstream {

// Fast non-cryptographic 64-bit hash; stable across runs and processes, so a
// key maps to the same backend on every worker and after restarts.
uint64_t hashBytes(std::string_view bytes, uint64_t seed = 0);

struct HeaderField {
  std::string_view name;
  std::string_view value;
};

// What the key extraction needs from a request; views into the caller's
// buffers. L4 fills only sourceIp.
struct RequestKeyView {
  std::string_view sourceIp;  // the client address bytes, without the port
  std::string_view uri;
  std::span<const HeaderField> headers;
};

// The key bytes for `key`, or nullopt when the request has none (missing
// header or cookie): the caller then picks without a key (random backend).
// Header names compare case-insensitively; the first matching header wins.
std::optional<std::string_view> extractHashKey(const config::HashKey& key,
                                               const RequestKeyView& request);

// The value of cookie `name` in one Cookie header value ("a=1; b=2").
std::optional<std::string_view> findCookie(std::string_view cookieHeader, std::string_view name);

}  // namespace ringlb::upstream
