// Which bucket of a route's rate limit a request draws from (rate_limit.h).
//
// Thread rules: pure function; any thread.
#pragma once

#include <span>
#include <string_view>

#include "common/http1/http_types.h"
#include "config/model.h"

namespace ringlb::l7 {

// The key of the request's bucket, a view into the arguments:
// - source_ip: the client's address without its port ("192.0.2.1:5000",
//   "[2001:db8::1]:443" and bare addresses all work); an IPv4-mapped IPv6
//   address ("::ffff:192.0.2.1") counts as the IPv4 address, so a client has
//   one bucket on dual-stack and IPv4 listeners alike.
// - header:NAME: the value of the first field of that name. Requests
//   without it share one bucket, the empty key: leaving the header out is
//   no way around the limit.
// - route: `routeName` (a route has one bucket; SharedRateLimit then ignores
//   the key anyway).
std::string_view rateLimitKey(const config::RateLimitConfig& config, std::string_view clientAddress,
                              std::span<const http::HeaderView> headers,
                              std::string_view routeName);

}  // namespace ringlb::l7
