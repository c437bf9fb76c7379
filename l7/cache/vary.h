// Variants of one URL (RFC 9111 section 4.1): a stored response is used for
// a request only when the fields its Vary names match, after normalising.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/http1/http_types.h"
#include "config/model.h"

namespace ringlb::l7::cache {

// The field names a response's Vary fields list, lower-cased, de-duplicated,
// sorted; nullopt for `Vary: *` (never matches: not stored).
std::optional<std::vector<std::string>> varyNames(std::span<const http::HeaderView> response);

// The request's side of those names, as one string to compare: for each name
// "name:value\n", the value the request's fields of that name combine to
// (joined with ","; whitespace around commas and at the ends removed;
// absent and empty differ). Accept-Encoding is normalised to what it means
// for this route: with `compress` set, to the coding the route would pick
// for it (gzip, br, zstd, or "identity"), so every client that gets gzip
// shares one variant; without, to the sorted list of acceptable codings
// among gzip, br, zstd, deflate ("identity" when none).
std::string varyKey(std::span<const std::string> names,
                    std::span<const http::HeaderView> requestFields,
                    const std::optional<config::CompressConfig>& compress);

}  // namespace ringlb::l7::cache
