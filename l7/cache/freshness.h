// Whether a response may be stored, for how long it is fresh, and what a
// stored response may be used for now (RFC 9111 sections 3, 4.2 and 4.3.4;
// RFC 5861). Heuristic freshness is never used: a response without explicit
// freshness is stored only with the route's default_ttl.
//
// Thread rules: value types and pure functions; any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/http1/http1_parser.h"
#include "l7/cache/cache_control.h"

namespace ringlb::l7::cache {

// What a stored response carries besides its fields and body.
struct Freshness {
  Seconds requestTime = 0;          // when the request that got it was sent
  Seconds responseTime = 0;         // when its head arrived
  Seconds correctedInitialAge = 0;  // RFC 9111 section 4.2.3
  Seconds lifetime = 0;             // freshness lifetime; <= 0: stale at once
  Seconds staleWhileRevalidate = 0;
  Seconds staleIfError = 0;
  bool mustRevalidate = false;  // must-revalidate, proxy-revalidate or s-maxage: never served stale
  bool noCache = false;         // response no-cache: validated before every use
  bool hasValidator = false;    // ETag or Last-Modified: a stale copy can be revalidated
};

// Why a response is not stored (None: it is).
enum class NoStore : uint8_t {
  None,
  Method,  // the request was not GET
  Status,  // a status this cache does not store (see decideStore)
  RequestNoStore,
  ResponseNoStore,
  Private,
  Authorization,  // a request with Authorization, a response without
                  // public/s-maxage/must-revalidate
  VaryStar,
  SetCookie,    // a response that sets a cookie is one client's (as NGINX and Varnish do)
  NoFreshness,  // no explicit freshness, no default_ttl, and no validator to revalidate with
  Partial,      // 206 or Content-Range
};
std::string_view noStoreName(NoStore reason);  // "status", "private", ... ("" for None)

struct StoreDecision {
  NoStore reason = NoStore::None;
  Freshness freshness;
  bool store() const { return reason == NoStore::None; }
};

// `request` as the client sent it; `response` the final response head.
// Stored statuses: 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501
// (heuristically cacheable: explicit freshness or default_ttl), and 302,
// 307 only with explicit freshness (max-age, s-maxage, Expires). Freshness
// lifetime: s-maxage, else max-age, else Expires - Date (Date absent: the
// response time; an invalid Expires means already stale), else
// defaultTtl (0 = none). A response with lifetime 0 (max-age=0, no-cache) is
// stored only when it has a validator. Age: RFC 9111 section 4.2.3 with
// the Age field (invalid: ignored) and Date (absent: responseTime).
StoreDecision decideStore(const http::MessageHead& request, const http::MessageHead& response,
                          Seconds requestTime, Seconds responseTime, Seconds defaultTtl);

// The current age of a stored response at `now` (section 4.2.3), >= 0.
Seconds currentAge(const Freshness& f, Seconds now);

// What a stored response may do for `request` at `now`.
enum class Usability : uint8_t {
  Fresh,                 // serve it
  StaleWhileRevalidate,  // serve it stale, and revalidate it in the background
  MustValidate,          // send a conditional request first (stale, no-cache on either side,
                         // or the request's max-age/min-fresh ask for fresher)
};
// Request directives honoured: max-age, min-fresh, max-stale (a stale
// response within it counts as Fresh unless mustRevalidate), no-cache and
// Pragma: no-cache (when there is no Cache-Control).
Usability usability(const Freshness& f, const http::MessageHead& request, Seconds now);

// After a failed validation or fetch (connect error, 5xx): may the stale copy
// be served instead (stale-if-error of the response or the request, and not
// mustRevalidate)?
bool staleIfErrorAllows(const Freshness& f, const http::MessageHead& request, Seconds now);

// RFC 9111 section 3.2: the stored fields updated from a 304's fields
// (every field the 304 carries replaces the stored ones of its name, except
// Content-Length, Content-Encoding, Transfer-Encoding, Content-Range and
// hop-by-hop fields). Owned strings: the stored response is rebuilt from them.
struct OwnedField {
  std::string name;
  std::string value;
};
std::vector<OwnedField> mergeNotModified(std::span<const OwnedField> stored,
                                         std::span<const http::HeaderView> notModified);

}  // namespace ringlb::l7::cache
