// Parsing "IP:PORT", "[IPv6]:PORT" and "hostname:PORT".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/model.h"

namespace ringlb::config {

// Numeric addresses only; nullopt with `error` set when malformed.
std::optional<SocketAddress> parseNumericAddress(std::string_view text, std::string* error);

// Numeric, or a hostname resolved with getaddrinfo (blocking: main thread and
// the resolver only). Takes the first address returned.
std::optional<SocketAddress> resolveAddress(std::string_view text, std::string* error);

}  // namespace ringlb::config
