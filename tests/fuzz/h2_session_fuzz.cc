// libFuzzer target for the HTTP/2 side of an http listener: the bytes after
// the client preface reach a real HttpConnection (h2c) on a worker run on
// this thread, through a socketpair. Whatever the frames, the session must
// end (the client side closes after the input) without a crash, a hang or a
// sanitizer report, and free itself. The pool's backend is a closed port, so
// every request that gets through is answered 502 at once.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "l7/http/http_connection.h"
#include "l7/http/http_service.h"
#include "tests/fakes/test_loop.h"
#include "tests/fakes/worker_fixture.h"

namespace {

using ringlb::testing::WorkerFixture;

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct Harness {
  Harness() : fx(config()), service(fx.worker(), fx.listener("front"), fx.serviceFd()) {}
  static std::string config() {
    sockaddr_in closed = ringlb::testing::closedPort();
    return "[pools.p]\nbackends = [\"127.0.0.1:" + std::to_string(ntohs(closed.sin_port)) +
           "\"]\nretries = 0\nconnect_timeout = \"100ms\"\n"
           "[listeners.front]\nbind = \"127.0.0.1:1\"\nmode = \"http\"\npool = \"p\"\n"
           "protocols = [\"h2c\", \"http/1.1\"]\nmax_header_size = 4096\n"
           "idle_timeout = \"200ms\"\nheader_timeout = \"200ms\"\n";
  }
  WorkerFixture fx;
  ringlb::l7::HttpService service;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* h = new Harness();  // one worker for every input
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  ringlb::testing::Peer client(fds[1]);
  (new ringlb::l7::HttpConnection(h->service, fds[0]))->start();
  std::string input(kPreface);
  input.append(reinterpret_cast<const char*>(data), size);
  size_t sent = 0;
  std::string got;
  bool open = true;
  // Feed the input while reading what comes back, then close our side: the
  // session must be gone within a bound.
  bool ended = h->fx.runUntil(
      [&] {
        if (sent < input.size()) {
          ssize_t n = ::send(client.fd(), input.data() + sent, input.size() - sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
          if (n > 0) sent += static_cast<size_t>(n);
          if (n < 0 && errno != EAGAIN) sent = input.size();
          if (sent == input.size()) ::shutdown(client.fd(), SHUT_WR);
        }
        if (open) open = client.read(got);
        got.clear();
        return sent == input.size() && h->fx.worker().sessionCount() == 0;
      },
      std::chrono::milliseconds(3000));
  if (!ended) std::abort();  // a session that never ends
  return 0;
}
