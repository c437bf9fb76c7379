#include "config/model.h"

#include <arpa/inet.h>

#include <cstring>

#include "config/address.h"

namespace ringlb::config {

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

void SocketAddress::setPort(uint16_t port) {
  if (family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  } else if (family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
  }
}

std::string SocketAddress::numeric() const {
  std::array<char, kAddressTextSize> out;
  return std::string(formatAddress(sa(), out));
}

bool SocketAddress::operator==(const SocketAddress& other) const {
  return length == other.length && std::memcmp(&storage, &other.storage, length) == 0;
}

Duration ListenerConfig::effectiveIdleTimeout() const {
  if (idleTimeout) return *idleTimeout;
  switch (mode) {
    case ListenerMode::Tcp: return std::chrono::hours(1);
    case ListenerMode::Udp: return std::chrono::seconds(30);
    case ListenerMode::Http:
    case ListenerMode::Forward: return std::chrono::seconds(60);
  }
  return std::chrono::seconds(60);
}

const PoolConfig* Config::findPool(const std::string& name) const {
  auto it = pools.find(name);
  return it == pools.end() ? nullptr : &it->second;
}

bool ListenerConfig::speaks(HttpProtocol p) const {
  for (HttpProtocol q : protocols) {
    if (q == p) return true;
  }
  return false;
}

}  // namespace ringlb::config
