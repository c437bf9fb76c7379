// Cache-Control (RFC 9111 section 5.2) of one message, and the HTTP-date
// (RFC 9110 section 5.6.7) that Date, Expires and Last-Modified carry.
//
// Thread rules: value types and pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/http1/http_types.h"

namespace ringlb::l7::cache {

// Wall-clock seconds since the Unix epoch (HTTP dates have one-second
// resolution). Freshness arithmetic is done in these.
using Seconds = int64_t;

// Every Cache-Control field of a message, combined (RFC 9110 section 5.3).
// Directive names are case-insensitive; values may be tokens or quoted
// strings. A delta-seconds value that is not a non-negative integer makes the
// directive count as absent, except max-age and s-maxage, where an invalid
// value counts as 0 (stale: RFC 9111 section 4.2.1 says treat it as such).
// Values above 2^31 are clamped to 2^31 (section 1.2.2). Unknown directives
// are ignored. A qualified `no-cache="F"` or `private="F"` counts as the
// unqualified directive (the stricter reading; section 5.2.2.4 allows it).
struct CacheControl {
  // Both sides.
  std::optional<Seconds> maxAge;
  bool noCache = false;
  bool noStore = false;
  bool noTransform = false;
  // Requests.
  std::optional<Seconds> maxStale;  // "max-stale" without a value: INT64_MAX
  std::optional<Seconds> minFresh;
  bool onlyIfCached = false;
  // Responses.
  std::optional<Seconds> sMaxAge;
  bool isPublic = false;
  bool isPrivate = false;
  bool mustRevalidate = false;
  bool proxyRevalidate = false;
  bool immutable = false;
  std::optional<Seconds> staleWhileRevalidate;  // RFC 5861
  std::optional<Seconds> staleIfError;          // RFC 5861 (requests too)
};

CacheControl parseCacheControl(std::span<const http::HeaderView> fields);

// delta-seconds (RFC 9111 section 1.2.2): digits only, clamped to 2^31;
// nullopt for anything else ("", "-1", "1.5", " 1"). Also used for Age.
std::optional<Seconds> parseDeltaSeconds(std::string_view text);

// An HTTP-date in any of the three forms a recipient must accept
// (IMF-fixdate, RFC 850, asctime); nullopt when it is none of them. A
// two-digit RFC 850 year more than 50 years ahead counts in the past
// century (RFC 9110 section 5.6.7).
std::optional<Seconds> parseHttpDate(std::string_view text);
// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string formatHttpDate(Seconds t);

// The value of the first field named `name` (case-insensitive), if any.
std::optional<std::string_view> fieldValue(std::span<const http::HeaderView> fields,
                                           std::string_view name);

}  // namespace ringlb::l7::cache
