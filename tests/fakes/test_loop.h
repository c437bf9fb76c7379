// TestLoop: an event loop for unit tests of streams and sessions: a real
// ring, buffer rings, block pool, timer wheel and clock on the test's
// thread, with no worker. Sockets come from socketpair() or loopback TCP.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <utility>

#include "common/block_pool.h"
#include "common/buffer_ring.h"
#include "common/io_context.h"
#include "common/ring.h"
#include "common/timer_wheel.h"
#include "tests/fakes/loopback.h"

namespace ringlb::testing {

class TestLoop {
 public:
  using Clock = std::chrono::steady_clock;

  explicit TestLoop(uint16_t smallBuffers = 64, uint32_t smallSize = 16 * 1024)
      : small_(ring_, 0, smallBuffers, smallSize), bulk_(ring_, 1, 8, 512 * 1024) {}

  IoContext& io() { return io_; }
  Ring& ring() { return ring_; }
  const BufferStore& store() const { return io_.store; }
  BlockPool& blocks() { return blocks_; }
  BufferRing& small() { return small_; }

  // One turn: submit, wait up to 10 ms, run completions and due timers.
  void turn() {
    ring_.enter(true, std::chrono::milliseconds(10));
    now_ = Clock::now();
    ring_.dispatch();
    timers_.advance(now_);
  }

  // Turns until `done()` or `limit` passed; returns done().
  template <typename Pred>
  bool runUntil(Pred done, std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
    auto deadline = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() > deadline) return false;
      turn();
    }
    return true;
  }

 private:
  Ring ring_{256};
  BufferRing small_;
  BufferRing bulk_;
  BlockPool blocks_;
  Clock::time_point now_ = Clock::now();
  TimerWheel timers_{now_};
  IoContext io_{ring_, BufferStore{small_, bulk_, blocks_}, timers_, now_};
};

// A connected pair of stream sockets: {ours, the peer's}.
inline std::pair<int, int> unixPair() {
  int fds[2];
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
  return {fds[0], fds[1]};
}

// A connected loopback TCP pair (resets and TCP options need TCP).
inline std::pair<int, int> tcpPair() {
  sockaddr_in addr{};
  int listener = boundLoopback(addr);
  listen(listener, 1);
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  close(listener);
  return {server, client};
}

// Appends what `fd` holds now to `out` without blocking; false at EOF or on
// an error other than "nothing yet".
inline bool readSome(int fd, std::string& out) {
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n > 0) out.append(buf, static_cast<size_t>(n));
  return n != 0 && !(n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// A loopback address where nothing listens (connects are refused).
inline sockaddr_in closedPort() {
  sockaddr_in addr{};
  close(boundLoopback(addr));
  return addr;
}

}  // namespace ringlb::testing
