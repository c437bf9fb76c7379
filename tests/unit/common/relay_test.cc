// Relay: bytes both ways, half-close in each direction, resets passed on,
// backpressure when one side stops reading, and the switch of a bulk
// direction to splice(2) with the same guarantees.
#include "common/relay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>

#include "common/socket.h"
#include "tests/fakes/test_loop.h"

namespace ringlb {
namespace {

using testing::TestLoop;

struct Owner : RelayHandler {
  void onStreamEvent(Stream&, StreamEvent e) override {
    if (e == StreamEvent::Closed) ++closed;
  }
  void onRelayEnd(Relay&, AccessEnd e) override { end = e; }
  std::optional<AccessEnd> end;
  int closed = 0;
};

bool readSome(int fd, std::string& out) {
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n > 0) out.append(buf, static_cast<size_t>(n));
  return n != 0 && !(n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// client peer <-> [client stream | relay | backend stream] <-> backend peer
struct Fixture {
  explicit Fixture(bool tcp = false) {
    auto c = tcp ? testing::tcpPair() : testing::unixPair();
    auto b = tcp ? testing::tcpPair() : testing::unixPair();
    client.adopt(c.first);
    clientPeer = c.second;
    backend.adopt(b.first);
    backendPeer = b.second;
    relay.start();
  }
  ~Fixture() {
    client.close();
    backend.close();
    loop.runUntil([&] { return client.closed() && backend.closed(); });
    ::close(clientPeer);
    ::close(backendPeer);
  }
  TestLoop loop;
  Owner owner;
  Stream client{loop.io(), owner};
  Stream backend{loop.io(), owner};
  Relay relay{client, backend, owner};
  int clientPeer = -1;
  int backendPeer = -1;
};

TEST(Relay, MovesBytesBothWays) {
  Fixture f;
  ::send(f.clientPeer, "request", 7, 0);
  std::string atBackend;
  ASSERT_TRUE(f.loop.runUntil([&] {
    readSome(f.backendPeer, atBackend);
    return atBackend == "request";
  }));
  std::string reply(500 * 1024, 'r');
  std::string atClient;
  size_t sent = 0;
  fcntl(f.backendPeer, F_SETFL, O_NONBLOCK);
  ASSERT_TRUE(f.loop.runUntil([&] {
    if (sent < reply.size()) {
      ssize_t n = ::send(f.backendPeer, reply.data() + sent, reply.size() - sent, 0);
      if (n > 0) sent += static_cast<size_t>(n);
    }
    readSome(f.clientPeer, atClient);
    return atClient.size() == reply.size();
  }));
  EXPECT_EQ(atClient, reply);
  EXPECT_FALSE(f.owner.end);
}

TEST(Relay, AHalfCloseIsPassedOnAndTheOtherDirectionGoesOn) {
  Fixture f;
  ::send(f.clientPeer, "all of it", 9, 0);
  ::shutdown(f.clientPeer, SHUT_WR);
  std::string atBackend;
  ASSERT_TRUE(f.loop.runUntil([&] { return !readSome(f.backendPeer, atBackend); }))
      << "the backend sees the client's FIN";
  EXPECT_EQ(atBackend, "all of it");
  ::send(f.backendPeer, "answer", 6, 0);
  std::string atClient;
  ASSERT_TRUE(f.loop.runUntil([&] {
    readSome(f.clientPeer, atClient);
    return atClient == "answer";
  }));
  EXPECT_FALSE(f.owner.end) << "one direction is still open";
  ::shutdown(f.backendPeer, SHUT_WR);
  ASSERT_TRUE(f.loop.runUntil([&] { return f.owner.end.has_value(); }));
  EXPECT_EQ(*f.owner.end, AccessEnd::Closed);
}

TEST(Relay, AResetIsPassedOnAsAReset) {
  Fixture f(/*tcp=*/true);
  ::send(f.clientPeer, "x", 1, 0);
  std::string atBackend;
  ASSERT_TRUE(f.loop.runUntil([&] {
    readSome(f.backendPeer, atBackend);
    return atBackend == "x";
  }));
  resetOnClose(f.backendPeer);
  ::close(f.backendPeer);
  ASSERT_TRUE(f.loop.runUntil([&] { return f.owner.end.has_value(); }));
  EXPECT_EQ(*f.owner.end, AccessEnd::BackendReset);
  f.client.close();
  f.loop.runUntil([&] { return f.client.closed(); });
  f.loop.turn();  // submits the close
  pollfd p{f.clientPeer, POLLIN, 0};
  poll(&p, 1, 2000);
  char c;
  EXPECT_EQ(::recv(f.clientPeer, &c, 1, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, ECONNRESET);
  f.backendPeer = ::socket(AF_INET, SOCK_STREAM, 0);  // closed above; the fixture closes this one
}

TEST(Relay, ABackendThatStopsReadingHoldsBackTheClient) {
  Fixture f;
  fcntl(f.clientPeer, F_SETFL, O_NONBLOCK);
  std::string chunk(64 * 1024, 'u');
  size_t sent = 0;
  for (int i = 0; i < 300; ++i) {
    ssize_t n = ::send(f.clientPeer, chunk.data(), chunk.size(), 0);
    if (n > 0) sent += static_cast<size_t>(n);
    f.loop.turn();
  }
  size_t held = f.client.in().buffers() + f.backend.out().buffers();
  EXPECT_LE(held, 2u * Stream::kMaxQueuedBuffers) << "the proxy holds a bounded amount";
  EXPECT_LT(sent, 300u * chunk.size()) << "the client was slowed down by TCP flow control";
  std::string atBackend;
  ASSERT_TRUE(f.loop.runUntil([&] {
    readSome(f.backendPeer, atBackend);
    return atBackend.size() == sent;
  }));
}

// Bytes that show loss, duplication or reordering (not a multiple of a
// buffer or pipe size).
std::string pattern(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
  return s;
}

// Sends `data` from `fd` (non-blocking) as the peer takes it, turning the
// loop; `drain` reads the far side into `got` until `until()`.
struct Transfer {
  Transfer(TestLoop& l, int f, int t, const std::string& d) : loop(l), from(f), to(t), data(d) {}
  TestLoop& loop;
  int from;
  int to;
  const std::string& data;
  std::string got;
  size_t sent = 0;
  bool step() {
    if (sent < data.size()) {
      ssize_t n = ::send(from, data.data() + sent, std::min<size_t>(data.size() - sent, 1 << 20),
                         MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
    }
    // Drain what is there (a read per turn would make the test slow).
    for (int i = 0; i < 64; ++i) {
      size_t before = got.size();
      if (!readSome(to, got)) return false;
      if (got.size() == before) break;
    }
    return true;
  }
  bool run(size_t until, std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
    return loop.runUntil(
        [&] {
          step();
          return got.size() >= until;
        },
        limit);
  }
};

TEST(RelaySplice, ABulkDirectionSwitchesToSpliceAndLosesNoByte) {
  Fixture f(/*tcp=*/true);
  std::string data = pattern(3 * Relay::kSpliceAfter + 12345);
  Transfer t{f.loop, f.clientPeer, f.backendPeer, data};
  ASSERT_TRUE(t.run(data.size())) << "got " << t.got.size();
  EXPECT_TRUE(t.got == data) << "every byte, in order";
  EXPECT_TRUE(f.client.splicing()) << "the client's direction moved past kSpliceAfter";
  EXPECT_FALSE(f.backend.splicing()) << "the other direction stays on recv";
  EXPECT_EQ(f.client.bytesReceived(), data.size());
  EXPECT_EQ(f.backend.bytesSent(), data.size());
  // The other direction still works, and the relay goes on.
  ::send(f.backendPeer, "reply", 5, 0);
  std::string atClient;
  ASSERT_TRUE(f.loop.runUntil([&] {
    readSome(f.clientPeer, atClient);
    return atClient == "reply";
  }));
  EXPECT_FALSE(f.owner.end);
}

TEST(RelaySplice, BothDirectionsSpliceAtOnce) {
  Fixture f(/*tcp=*/true);
  std::string up = pattern(2 * Relay::kSpliceAfter + 1);
  std::string down = pattern(2 * Relay::kSpliceAfter + 77);
  Transfer a{f.loop, f.clientPeer, f.backendPeer, up};
  Transfer b{f.loop, f.backendPeer, f.clientPeer, down};
  ASSERT_TRUE(f.loop.runUntil(
      [&] {
        a.step();
        b.step();
        return a.got.size() >= up.size() && b.got.size() >= down.size();
      },
      std::chrono::milliseconds(10000)));
  EXPECT_TRUE(a.got == up);
  EXPECT_TRUE(b.got == down);
  EXPECT_TRUE(f.client.splicing());
  EXPECT_TRUE(f.backend.splicing());
}

TEST(RelaySplice, AHalfCloseWhileSplicingComesAfterTheLastByte) {
  Fixture f(/*tcp=*/true);
  std::string data = pattern(Relay::kSpliceAfter + 3 * 1024 * 1024);
  Transfer t{f.loop, f.clientPeer, f.backendPeer, data};
  // The FIN follows bytes sent while splicing (sent at once, a recv could
  // read it before the switch).
  ASSERT_TRUE(f.loop.runUntil(
      [&] {
        if (!f.client.splicing()) t.step();
        return f.client.splicing();
      },
      std::chrono::milliseconds(10000)));
  ASSERT_TRUE(f.loop.runUntil(
      [&] {
        t.step();
        return t.sent == data.size();
      },
      std::chrono::milliseconds(10000)));
  ::shutdown(f.clientPeer, SHUT_WR);
  ASSERT_TRUE(f.loop.runUntil([&] { return !t.step(); }, std::chrono::milliseconds(10000)))
      << "the backend sees the FIN";
  EXPECT_TRUE(t.got == data) << "the FIN came after every byte (" << t.got.size() << " of "
                             << data.size() << ")";
  EXPECT_TRUE(f.client.splicing());
  ::send(f.backendPeer, "bye", 3, 0);
  ::shutdown(f.backendPeer, SHUT_WR);
  ASSERT_TRUE(f.loop.runUntil([&] { return f.owner.end.has_value(); }));
  EXPECT_EQ(*f.owner.end, AccessEnd::Closed);
}

TEST(RelaySplice, AResetWhileSplicingIsPassedOn) {
  Fixture f(/*tcp=*/true);
  std::string data = pattern(Relay::kSpliceAfter + 1024 * 1024);
  Transfer t{f.loop, f.clientPeer, f.backendPeer, data};
  ASSERT_TRUE(t.run(data.size()));
  ASSERT_TRUE(f.client.splicing());
  resetOnClose(f.clientPeer);
  ::close(f.clientPeer);
  ASSERT_TRUE(f.loop.runUntil([&] { return f.owner.end.has_value(); }));
  EXPECT_EQ(*f.owner.end, AccessEnd::ClientReset);
  f.backend.close();
  f.loop.runUntil([&] { return f.backend.closed(); });
  f.loop.turn();  // submits the close
  pollfd p{f.backendPeer, POLLIN, 0};
  poll(&p, 1, 2000);
  char c;
  EXPECT_EQ(::recv(f.backendPeer, &c, 1, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, ECONNRESET);
  f.clientPeer = ::socket(AF_INET, SOCK_STREAM, 0);  // closed above; the fixture closes this one
}

TEST(RelaySplice, ABackendThatStopsReadingHoldsBackASplicingClient) {
  Fixture f(/*tcp=*/true);
  std::string data = pattern(Relay::kSpliceAfter + 64 * 1024);
  Transfer t{f.loop, f.clientPeer, f.backendPeer, data};
  ASSERT_TRUE(t.run(data.size()));
  ASSERT_TRUE(f.client.splicing());
  // The backend stops reading; the client keeps sending.
  std::string more = pattern(64 * 1024 * 1024);
  size_t sent = 0;
  for (int i = 0; i < 150; ++i) {
    ssize_t n = ::send(f.clientPeer, more.data() + sent,
                       std::min<size_t>(more.size() - sent, 1 << 20), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) sent += static_cast<size_t>(n);
    f.loop.turn();
  }
  EXPECT_LT(sent, more.size()) << "the client was slowed down by TCP flow control";
  EXPECT_LE(f.client.bytesReceived() - f.backend.bytesSent(), 1024u * 1024u)
      << "the proxy holds at most its pipe";
  Transfer rest{f.loop, f.clientPeer, f.backendPeer, more};
  rest.sent = sent;
  ASSERT_TRUE(rest.run(more.size(), std::chrono::milliseconds(20000)));
  EXPECT_TRUE(rest.got == more);
}

}  // namespace
}  // namespace ringlb
