#include "common/demo/demo_backend.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "common/socket.h"

namespace ringlb::demo {
namespace {

constexpr size_t kMaxHead = 16 * 1024;

// Handles every complete request head in `in`; appends responses to `out`.
// Returns false when the connection must close.
bool answer(std::string& in, std::string& out, const std::string& name, std::atomic<uint64_t>& n) {
  for (;;) {
    size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) return in.size() <= kMaxHead;
    std::string head = in.substr(0, end);
    in.erase(0, end + 4);
    n.fetch_add(1, std::memory_order_relaxed);
    bool health = head.rfind("GET /healthz ", 0) == 0;
    std::string body = health ? "ok\n" : fmt::format("hello from {}\n", name);
    bool close = head.find("\r\nConnection: close") != std::string::npos ||
                 head.find(" HTTP/1.0\r\n") != std::string::npos;
    out += fmt::format(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
        "X-Backend: {}\r\n{}\r\n{}",
        body.size(), name, close ? "Connection: close\r\n" : "", body);
    if (close) return false;
  }
}

}  // namespace

DemoBackend::DemoBackend(std::string name) : name_(std::move(name)) {}

DemoBackend::~DemoBackend() { stop(); }

std::string DemoBackend::start(uint16_t port) {
  std::string error;
  auto addr = config::SocketAddress{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&addr.storage);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin->sin_port = htons(port);
  addr.length = sizeof(sockaddr_in);
  addr.text = fmt::format("127.0.0.1:{}", port);
  listenFd_ = openTcpListener(addr, &error, 1024);
  if (listenFd_ < 0) return error;
  port_ = static_cast<uint16_t>(boundPort(listenFd_));
  if (pipe2(stopPipe_, O_CLOEXEC) != 0) return std::strerror(errno);
  thread_ = std::thread([this] { serve(); });
  return "";
}

void DemoBackend::stop() {
  if (thread_.joinable()) {
    [[maybe_unused]] ssize_t n = write(stopPipe_[1], "x", 1);
    thread_.join();
  }
  for (int* fd : {&listenFd_, &stopPipe_[0], &stopPipe_[1]}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

void DemoBackend::serve() {
  struct Conn {
    std::string in, out;
    bool closing = false;
  };
  std::map<int, Conn> conns;
  std::vector<pollfd> fds;
  char buf[16384];
  for (;;) {
    fds.clear();
    fds.push_back({stopPipe_[0], POLLIN, 0});
    fds.push_back({listenFd_, POLLIN, 0});
    for (auto& [fd, c] : conns) {
      fds.push_back({fd, static_cast<short>(c.out.empty() ? POLLIN : POLLIN | POLLOUT), 0});
    }
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if (fds[0].revents) break;
    if (fds[1].revents & POLLIN) {
      int fd = accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) conns[fd];
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      int fd = fds[i].fd;
      Conn& c = conns[fd];
      bool keep = !c.closing;
      if (keep && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
          c.in.append(buf, static_cast<size_t>(n));
          keep = answer(c.in, c.out, name_, requests_);
        } else if (n == 0 || errno != EAGAIN) {
          keep = false;
          c.out.clear();
        }
      }
      if (!c.out.empty()) {
        ssize_t n = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n > 0) c.out.erase(0, static_cast<size_t>(n));
        if (n < 0 && errno != EAGAIN) c.out.clear(), keep = false;
      }
      c.closing = !keep;
      if (c.closing && c.out.empty()) {
        close(fd);
        conns.erase(fd);
      }
    }
  }
  for (auto& [fd, c] : conns) close(fd);
}

}  // namespace ringlb::demo
