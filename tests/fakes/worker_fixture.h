// WorkerFixture: a real Worker run on the test's thread (Worker::setUp and
// turn), with a config from TOML text, for unit tests of whole sessions: the
// client side is one end of a socketpair handed to a session, backends are
// loopback listeners the test plays itself (BackendPeer). Nothing leaves
// 127.0.0.1 and no thread is started.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/shared_services.h"
#include "common/worker.h"
#include "config/load.h"
#include "tests/fakes/loopback.h"

namespace ringlb::testing {

// A loopback port nothing listens on; or one that listens (BackendPeer).
inline int listenLoopback(uint16_t* port) {
  sockaddr_in addr{};
  int fd = boundLoopback(addr, SOCK_NONBLOCK);
  listen(fd, 64);
  *port = ntohs(addr.sin_port);
  return fd;
}

// One side of a connection the test drives by hand, non-blocking.
class Peer {
 public:
  Peer() = default;
  explicit Peer(int fd) : fd_(fd) { fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK); }
  Peer(Peer&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Peer& operator=(Peer&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Peer() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
      } else {
        pollfd p{fd_, POLLOUT, 0};
        poll(&p, 1, 100);
      }
    }
  }
  // What arrived so far is appended to `got`; false once the peer closed
  // (EOF or reset: `reset` says which).
  bool read(std::string& got) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) return false;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      reset_ = errno == ECONNRESET;
      return false;
    }
  }
  bool reset() const { return reset_; }
  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  void close() {
    ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool reset_ = false;
};

// A backend listening on loopback that the test answers by hand.
class BackendPeer {
 public:
  BackendPeer() { fd_ = listenLoopback(&port_); }
  ~BackendPeer() { ::close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The next connection the proxy made, if it has arrived.
  Peer accept() {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    return c >= 0 ? Peer(c) : Peer();
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

class WorkerFixture {
 public:
  explicit WorkerFixture(const std::string& toml) {
    WorkerOptions options;
    options.shared = &shared_;
    options.bufferCount = 256;
    options.bulkBufferCount = 16;
    worker_ = std::make_unique<Worker>(options, factories_);
    std::string error = worker_->setUp();
    if (!error.empty()) throw std::runtime_error(error);
    config::LoadOptions load = config::LoadOptions::system();
    load.checkFiles = false;
    config::LoadResult r = config::loadConfigText(toml, "test.toml", load);
    if (!r.config) throw std::runtime_error("bad test config: " + r.errors.front().format());
    config_ = std::make_shared<const config::Config>(std::move(*r.config));
    worker_->applyConfig(config_);
  }
  ~WorkerFixture() {
    // Sessions still open are aborted and must free themselves.
    worker_->beginStop(std::chrono::milliseconds(0));
    worker_->abortAll("test over");
    for (int i = 0; i < 200 && worker_->turn(std::chrono::milliseconds(10)); ++i) {
    }
    worker_->tearDown();
  }

  // Aborts the sessions still open and lets them free themselves (before
  // the services they belong to go away).
  void endSessions() {
    worker_->abortAll("test over");
    runUntil([&] { return worker_->sessionCount() == 0; });
    for (int i = 0; i < 10; ++i) worker_->turn(std::chrono::milliseconds(1));
  }

  Worker& worker() { return *worker_; }
  SharedServices& shared() { return shared_; }
  const config::ListenerConfig& listener(const std::string& name) const {
    for (const auto& l : config_->listeners) {
      if (l.name == name) return l;
    }
    throw std::runtime_error("no listener " + name);
  }
  // A listening socket for a service that will never accept (sessions are
  // handed their client sockets by the test).
  int serviceFd() {
    uint16_t port;
    return listenLoopback(&port);
  }

  // Turns the worker until `done()` or `limit`; returns done().
  template <typename Pred>
  bool runUntil(Pred done, std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      worker_->turn(std::chrono::milliseconds(5));
    }
    return true;
  }

 private:
  SharedServices shared_;
  ServiceFactories factories_;
  std::unique_ptr<Worker> worker_;
  std::shared_ptr<const config::Config> config_;
};

}  // namespace ringlb::testing
