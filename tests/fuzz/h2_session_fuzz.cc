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

#include "tests/fakes/http_listener.h"

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

std::string config() {
  sockaddr_in closed = ringlb::testing::closedPort();
  return ringlb::testing::httpListenerConfig(
      "127.0.0.1:" + std::to_string(ntohs(closed.sin_port)),
      "protocols = [\"h2c\", \"http/1.1\"]\nmax_header_size = 4096\n"
      "idle_timeout = \"200ms\"\nheader_timeout = \"200ms\"\n");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* h = new ringlb::testing::HttpListener(config());  // one worker for every input
  ringlb::testing::Peer client = h->connect();
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
