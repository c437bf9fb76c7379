#include "common/socket.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace ringlb {
namespace {

std::string bindError(const config::SocketAddress& addr, int err) {
  return fmt::format("cannot bind {}: {}{}", addr.text, std::strerror(err),
                     err == EADDRINUSE ? " (another process holds the port)"
                     : err == EACCES   ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
                     : err == EADDRNOTAVAIL ? " (no local interface has that address)"
                                            : "");
}

int openBound(const config::SocketAddress& addr, int type, std::string* error) {
  int fd = socket(addr.family(), type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = fmt::format("cannot create a socket for {}: {}", addr.text, std::strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, addr.sa(), addr.length) != 0) {
    *error = bindError(addr, errno);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

bool addressFree(const config::SocketAddress& addr, int type, std::string* error) {
  if (addr.port() == 0) return true;
  int fd = socket(addr.family(), type | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // the real open reports it
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  bool free = bind(fd, addr.sa(), addr.length) == 0;
  if (!free) *error = bindError(addr, errno);
  close(fd);
  return free;
}

int openTcpListener(const config::SocketAddress& addr, std::string* error, int backlog) {
  int fd = openBound(addr, SOCK_STREAM, error);
  if (fd < 0) return -1;
  if (listen(fd, backlog) != 0) {
    *error = fmt::format("cannot listen on {}: {}", addr.text, std::strerror(errno));
    close(fd);
    return -1;
  }
  // Accepted sockets inherit TCP_NODELAY from the listener on Linux: one
  // setsockopt here instead of one per connection.
  setNoDelay(fd);
  return fd;
}

int openUdpSocket(const config::SocketAddress& addr, std::string* error) {
  return openBound(addr, SOCK_DGRAM, error);
}

int openTcpSocket(int family) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  setNoDelay(fd);
  return fd;
}

void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool isResetError(int err) { return err == ECONNRESET || err == EPIPE || err == ETIMEDOUT; }

bool isLocalResourceError(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

bool reportSocketShortageNow() {
  using Clock = std::chrono::steady_clock;
  thread_local Clock::time_point nextReport{};
  Clock::time_point now = Clock::now();
  if (now < nextReport) return false;
  nextReport = now + std::chrono::seconds(10);
  return true;
}

void resetOnClose(int fd) {
  if (fd < 0) return;
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

int boundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace ringlb

namespace ringlb {

std::string_view peerAddressBytes(int fd, std::array<char, 16>& out) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  if (ss.ss_family == AF_INET) {
    std::memcpy(out.data(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, 4);
    return {out.data(), 4};
  }
  std::memcpy(out.data(), &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, 16);
  return {out.data(), 16};
}

}  // namespace ringlb
