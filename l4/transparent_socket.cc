#include "l4/transparent_socket.h"

#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "common/log.h"

namespace ringlb::l4 {

int transparentSource(const sockaddr_storage& client, int backendFamily, sockaddr_storage& out,
                      socklen_t& len) {
  out = {};
  if (client.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(client);
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {  // ::ffff:a.b.c.d from a dual-stack listener
      if (backendFamily != AF_INET) return EAFNOSUPPORT;
      auto& in = reinterpret_cast<sockaddr_in&>(out);
      in.sin_family = AF_INET;
      in.sin_port = in6.sin6_port;
      std::memcpy(&in.sin_addr, &in6.sin6_addr.s6_addr[12], 4);
      len = sizeof(sockaddr_in);
      return 0;
    }
    if (backendFamily != AF_INET6) return EAFNOSUPPORT;
    reinterpret_cast<sockaddr_in6&>(out) = in6;
    len = sizeof(sockaddr_in6);
    return 0;
  }
  if (client.ss_family == AF_INET) {
    if (backendFamily != AF_INET) return EAFNOSUPPORT;
    reinterpret_cast<sockaddr_in&>(out) = reinterpret_cast<const sockaddr_in&>(client);
    len = sizeof(sockaddr_in);
    return 0;
  }
  return ENOTCONN;
}

namespace {

int setTransparent(int fd, int family) {
  int one = 1;
  int rc = family == AF_INET6 ? setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one)
                              : setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one);
  return rc == 0 ? 0 : errno;
}

}  // namespace

int bindTransparent(int fd, const sockaddr_storage& source, socklen_t len, bool* portChanged) {
  if (portChanged != nullptr) *portChanged = false;
  if (int err = setTransparent(fd, source.ss_family); err != 0) return err;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&source), len) == 0) return 0;
  if (errno != EADDRINUSE) return errno;
  // A failed bind leaves the socket unbound: bind again, the client's IP with
  // the port picked by connect() for this destination (IP_BIND_ADDRESS_NO_PORT).
  sockaddr_storage anyPort = source;
  if (source.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6&>(anyPort).sin6_port = 0;
  } else {
    reinterpret_cast<sockaddr_in&>(anyPort).sin_port = 0;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&anyPort), len) != 0) return errno;
  if (portChanged != nullptr) *portChanged = true;
  return 0;
}

int probeTransparent(int family) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int err = setTransparent(fd, family);
  ::close(fd);
  return err;
}

bool firstTransparentReport(std::string_view listener, TransparentProblem problem) {
  static std::mutex mutex;
  static std::set<std::pair<std::string, TransparentProblem>> reported;
  std::lock_guard lock(mutex);
  return reported.emplace(std::string(listener), problem).second;
}

void reportNoPermission(std::string_view listener, int err) {
  if (!firstTransparentReport(listener, TransparentProblem::NoPermission)) return;
  logError(
      "listener {}: transparent = true needs CAP_NET_ADMIN (IP_TRANSPARENT: {}); its "
      "connections fail until ringlb runs with it (systemd: "
      "AmbientCapabilities=CAP_NET_ADMIN)",
      listener, std::strerror(err));
}

}  // namespace ringlb::l4
