// The CORS phase (docs/gateway.md, the Fetch standard's CORS protocol): a
// route with `cors` answers preflights itself and adds the allow headers to
// the responses of cross-origin requests.
//
//   isPreflight            OPTIONS + Origin + Access-Control-Request-Method
//   preflightAnswer        the 204 the proxy sends instead of proxying
//   actualResponseHeaders  fields to add to any other response of the route
//
// Choices (documented in docs/gateway.md as well):
// - Origins match as whole serialized origins ("scheme://host[:port]"),
//   ASCII case-insensitively. Fetch compares bytes, but browsers always send
//   scheme and host in lower case, so this only forgives a config written in
//   mixed case. An origin with a path, a list of origins or two Origin fields
//   never matches.
// - "null" (sandboxed frames, file: pages, redirects) matches only a literal
//   "null" entry; "*" never covers it, so it is never reflected by accident.
// - "*" in `origins` allows every well-formed origin. Without credentials the
//   answer is `Access-Control-Allow-Origin: *`; with credentials (where Fetch
//   refuses "*") the origin itself is reflected.
// - A refused preflight is answered 204 with Vary but no Access-Control-*
//   field (what NGINX- and Envoy-style setups give): the browser then blocks
//   the request, and nothing reaches the backend. Browsers ignore the status
//   here: a missing Access-Control-Allow-Origin fails the check either way.
// - Safelisted methods (GET, HEAD, POST) and request-header names (accept,
//   accept-language, content-language, content-type) are always allowed and
//   named in the answer when asked for. "*" in `methods` or `headers` allows
//   any (except `authorization`, which Fetch's wildcard never covers); the
//   answer then names what was asked, which works with and without
//   credentials.
// - Methods compare case-sensitively (as in Fetch, which upper-cases only
//   the standard ones); header names ASCII case-insensitively, and the
//   answer names them in lower case.
// - A preflight asking for more than kMaxRequestedHeaders header names, or
//   for a name or method that is not a token, is refused.
// - Every actual response of a CORS route gets `Vary: Origin`, also when the
//   origin is refused or absent: the allow headers depend on Origin, and a
//   shared cache must not hand one origin's answer to another.
//
// Thread rules: pure functions; any thread. Results own their strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/http1/http1_parser.h"
#include "config/model.h"

namespace ringlb::l7 {

// Header names a preflight may ask for at most (a browser asks for the
// non-safelisted names the page set: a handful).
inline constexpr size_t kMaxRequestedHeaders = 64;

struct CorsPreflightAnswer {
  bool allowed = false;  // false: `headers` holds Vary only
  uint16_t status = 204;
  // Fields to send, in order. Vary lists the request fields the answer
  // depends on; add it as its own field line.
  std::vector<config::HeaderEdit> headers;
};

// OPTIONS with an Origin and an Access-Control-Request-Method field. Other
// OPTIONS requests are ordinary (they go to the backend).
bool isPreflight(const http::MessageHead& request);

// Whether `origin` (an Origin field value) is allowed by `config`.
bool corsOriginAllowed(const config::CorsConfig& config, std::string_view origin);

// The answer to a preflight (call only when isPreflight(request)).
CorsPreflightAnswer preflightAnswer(const config::CorsConfig& config,
                                    const http::MessageHead& request);

// Fields to add to the response of a non-preflight request on a CORS route:
// Access-Control-Allow-Origin (and -Credentials) when the request's origin is
// allowed, and always `Vary: Origin`. The caller replaces the backend's
// Access-Control-* fields and adds Vary as one more field line (Vary is a
// list, the backend's own stays).
std::vector<config::HeaderEdit> actualResponseHeaders(const config::CorsConfig& config,
                                                      const http::MessageHead& request);

}  // namespace ringlb::l7
