#include "l7/gateway/rate_limit_key.h"

#include "common/ascii.h"

namespace ringlb::l7 {
namespace {

std::string_view addressWithoutPort(std::string_view address) {
  if (address.starts_with('[')) {
    size_t close = address.find(']');
    return close == std::string_view::npos ? address : address.substr(1, close - 1);
  }
  // One colon: IPv4 (or a name) with a port. More: a bare IPv6 address.
  size_t colon = address.find(':');
  if (colon != std::string_view::npos && address.find(':', colon + 1) == std::string_view::npos) {
    return address.substr(0, colon);
  }
  return address;
}

std::string_view withoutIpv4Mapping(std::string_view ip) {
  constexpr std::string_view kMapped = "::ffff:";
  bool mapped =
      ip.size() > kMapped.size() && equalsIgnoreCase(ip.substr(0, kMapped.size()), kMapped);
  if (mapped && ip.find('.', kMapped.size()) != std::string_view::npos) {
    return ip.substr(kMapped.size());
  }
  return ip;
}

}  // namespace

std::string_view rateLimitKey(const config::RateLimitConfig& config, std::string_view clientAddress,
                              std::span<const http::HeaderView> headers,
                              std::string_view routeName) {
  switch (config.key) {
    case config::RateLimitKey::SourceIp:
      return withoutIpv4Mapping(addressWithoutPort(clientAddress));
    case config::RateLimitKey::Header:
      for (const http::HeaderView& field : headers) {
        if (equalsIgnoreCase(field.name, config.headerName)) return field.value;
      }
      return {};
    case config::RateLimitKey::Route: return routeName;
  }
  return routeName;
}

}  // namespace ringlb::l7
