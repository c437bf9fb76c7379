// Parsers and checks for the small string languages inside config values
// (status lists, hash keys, header names, host patterns). Pure; any thread.
// Each returns nullopt or false with `error` set to a message without a prefix.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/model.h"

namespace ringlb::config {

// "200", "200-399", "200,204,300-399"; codes 100..599.
std::optional<std::vector<StatusRange>> parseExpectStatus(std::string_view text,
                                                          std::string* error);

// source_ip | uri | "header:NAME" | "cookie:NAME".
std::optional<HashKey> parseHashKey(std::string_view text, std::string* error);

// A pool's `discover`: "dns:NAME:PORT" or "srv:_service._proto.NAME".
std::optional<DiscoverConfig> parseDiscover(std::string_view text, std::string* error);

// An HTTP token (RFC 9110 tchar), used for header names and methods.
bool isHttpToken(std::string_view text);
// No CR, LF or NUL (header injection).
bool isSafeHeaderValue(std::string_view text);

// "example.com" or "*.example.com" (letters, digits, '-', '.'), case-insensitive.
// Returns the lower-cased pattern.
std::optional<std::string> parseHostPattern(std::string_view text, std::string* error);

// A forward-proxy destination: a host pattern or a CIDR ("10.0.0.0/8", "::1/128").
bool checkDestinationPattern(std::string_view text, std::string* error);

// A route's rate_limit `key`: source_ip | route | "header:NAME" (the name
// lower-cased, since header names are case-insensitive).
std::optional<std::pair<RateLimitKey, std::string>> parseRateLimitKey(std::string_view text,
                                                                      std::string* error);

// A CORS origin: "*" or "scheme://host[:port]" without path, query or user
// (what browsers send in Origin). Returns it lower-cased.
std::optional<std::string> parseOrigin(std::string_view text, std::string* error);

// A media range for compression: "type/subtype" or "type/*", no parameters.
// Returns it lower-cased.
std::optional<std::string> parseMediaRange(std::string_view text, std::string* error);

// Pool and listener names end up in metrics labels and messages.
bool isValidName(std::string_view name);

}  // namespace ringlb::config
