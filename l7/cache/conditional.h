// Conditional requests against a stored response (RFC 9110 section 13):
// the client's own If-None-Match / If-Modified-Since answered 304 from the
// cache, If-Range for a Range request, and the validators ringlb sends to
// revalidate a stale copy.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/http1/http1_parser.h"

namespace ringlb::l7::cache {

// For a GET or HEAD `request` and a stored 200 with these validators (empty
// when absent): true when the answer is 304 Not Modified. If-None-Match
// (weak comparison, `*` matches, a list of tags) decides when present and
// If-Modified-Since is then ignored; If-Modified-Since is true when
// Last-Modified is a valid date at or before it. Malformed fields are
// ignored (the full answer).
bool notModified(const http::MessageHead& request, std::string_view etag,
                 std::string_view lastModified);

// True when an If-Range of `request` allows the range (absent: true). A
// strong ETag must match strongly; a date must equal Last-Modified exactly
// (and Last-Modified is then only usable if the stored Date is at least one
// second later: not checked here, the caller passes strong validators only).
bool ifRangeAllows(const http::MessageHead& request, std::string_view etag,
                   std::string_view lastModified);

// Whether the request carries any conditional field (If-None-Match,
// If-Modified-Since, If-Match, If-Unmodified-Since, If-Range).
bool isConditional(const http::MessageHead& request);

}  // namespace ringlb::l7::cache
