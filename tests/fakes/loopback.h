// Loopback sockets for unit tests: one place that binds a TCP socket to an
// ephemeral port on 127.0.0.1 (listeners, connected pairs, refused ports).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace ringlb::testing {

// A TCP socket bound to 127.0.0.1 on a port the kernel picks; `addr`
// receives the address. `flags` go to socket() (SOCK_NONBLOCK...).
inline int boundLoopback(sockaddr_in& addr, int flags = 0) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
  addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return fd;
}

}  // namespace ringlb::testing
