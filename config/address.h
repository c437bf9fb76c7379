// Parsing "IP:PORT", "[IPv6]:PORT" and "hostname:PORT", and printing a
// socket address back as text.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
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

// Room for "[IPv6]:port" and a NUL.
inline constexpr size_t kAddressTextSize = 64;
// `sa` as "ip:port" or "[ipv6]:port", written into `out` (no allocation);
// "-" for a null address or another family (0: not known).
std::string_view formatAddress(const sockaddr* sa, std::array<char, kAddressTextSize>& out);

}  // namespace ringlb::config
