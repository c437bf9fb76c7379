// ConnectionPool and BackendConnection: connecting, parking, reuse, and the
// ways a parked connection ends.
#include "l7/http/connection_pool.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/address.h"
#include "tests/fakes/test_loop.h"
#include "tests/fakes/worker_fixture.h"

namespace ringlb::l7::connection_pool_test {
namespace {

using testing::BackendPeer;
using testing::Peer;
using testing::WorkerFixture;

constexpr const char* kConfig =
    "[pools.p]\nbackends = [\"127.0.0.1:9\"]\n"
    "[listeners.front]\nbind = \"127.0.0.1:1\"\nmode = \"http\"\npool = \"p\"\n";

struct User : BackendUser {
  void onBackendEvent(Upstream&, StreamEvent e) override { events.push_back(e); }
  bool saw(StreamEvent e) const {
    for (auto x : events) {
      if (x == e) return true;
    }
    return false;
  }
  std::vector<StreamEvent> events;
};

config::SocketAddress addressOf(const std::string& text) {
  std::string error;
  return *config::parseNumericAddress(text, &error);
}

struct Fixture {
  Fixture() : fx(kConfig), pool(fx.worker(), {4, std::chrono::milliseconds(300)}) {}
  ~Fixture() {
    pool.stop();
    fx.runUntil([&] { return pool.live() == 0; });
  }
  // A connected connection to `backend`, attached to `user`, and the backend's end.
  BackendConnection* connect(BackendPeer& backend, User& user, Peer& peer) {
    BackendConnection* c = pool.open(backend.address());
    c->connect(addressOf(backend.address()), std::chrono::seconds(1), user);
    fx.runUntil([&] { return user.saw(StreamEvent::Connected); });
    fx.runUntil([&] { return (peer = backend.accept()).valid(); });
    return c;
  }
  WorkerFixture fx;
  ConnectionPool pool;
};

TEST(ConnectionPool, AReleasedConnectionIsTakenAgainForTheSameBackend) {
  Fixture f;
  BackendPeer backend;
  User user;
  Peer peer;
  BackendConnection* c = f.connect(backend, user, peer);
  ASSERT_TRUE(user.saw(StreamEvent::Connected));
  c->release();
  EXPECT_EQ(f.pool.idleCount(backend.address()), 1u);
  User next;
  EXPECT_EQ(f.pool.take(backend.address(), next), c);
  EXPECT_EQ(c->reuses(), 1u);
  EXPECT_EQ(f.pool.take(backend.address(), next), nullptr) << "taken once";
  c->close();
}

TEST(ConnectionPool, AParkedConnectionTheBackendClosesIsDropped) {
  Fixture f;
  BackendPeer backend;
  User user;
  Peer peer;
  BackendConnection* c = f.connect(backend, user, peer);
  c->release();
  peer.close();
  ASSERT_TRUE(f.fx.runUntil([&] { return f.pool.live() == 0; }));
  EXPECT_EQ(f.pool.idleCount(backend.address()), 0u);
}

TEST(ConnectionPool, AParkedConnectionEndsAfterTheIdleTimeout) {
  Fixture f;
  BackendPeer backend;
  User user;
  Peer peer;
  f.connect(backend, user, peer)->release();
  auto start = f.fx.worker().now();  // the clock the idle deadline counts from
  ASSERT_TRUE(f.fx.runUntil([&] { return f.pool.live() == 0; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
}

TEST(ConnectionPool, AtMostMaxIdlePerKeyAreParked) {
  Fixture f;
  BackendPeer backend;
  std::vector<User> users(6);
  std::vector<Peer> peers(6);
  std::vector<BackendConnection*> conns;
  for (int i = 0; i < 6; ++i) conns.push_back(f.connect(backend, users[i], peers[i]));
  for (auto* c : conns) c->release();
  EXPECT_EQ(f.pool.idleCount(backend.address()), 4u);
  ASSERT_TRUE(f.fx.runUntil([&] { return f.pool.live() == 4; }));
}

TEST(ConnectionPool, AStoppedPoolParksNothing) {
  Fixture f;
  BackendPeer backend;
  User a, b;
  Peer pa, pb;
  BackendConnection* first = f.connect(backend, a, pa);
  BackendConnection* second = f.connect(backend, b, pb);
  first->release();
  f.pool.stop();
  EXPECT_EQ(f.pool.idleCount(backend.address()), 0u) << "idle ones close at once";
  second->release();
  EXPECT_EQ(f.pool.idleCount(backend.address()), 0u) << "released ones close on release";
  ASSERT_TRUE(f.fx.runUntil([&] { return f.pool.live() == 0; }));
}

TEST(ConnectionPool, ARefusedConnectIsAnErrorWithItsErrno) {
  Fixture f;
  sockaddr_in closed = testing::closedPort();
  std::string address = "127.0.0.1:" + std::to_string(ntohs(closed.sin_port));
  User user;
  BackendConnection* c = f.pool.open(address);
  c->connect(addressOf(address), std::chrono::seconds(1), user);
  ASSERT_TRUE(f.fx.runUntil([&] { return user.saw(StreamEvent::Error); }));
  EXPECT_EQ(c->stream().error(), ECONNREFUSED);
  c->close();
}

TEST(ConnectionPool, AConnectThatNeverFinishesFailsWithEtimedoutAtItsTimeout) {
  Fixture f;
  // A listener whose accept queue is full: further SYNs get no answer.
  uint16_t port = 0;
  int listener = testing::listenLoopback(&port);
  ::listen(listener, 0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(s);
  }
  std::string address = "127.0.0.1:" + std::to_string(port);
  User user;
  BackendConnection* c = f.pool.open(address);
  // The deadline counts from the loop's clock (read once per turn), not
  // from this instant: measure from the same clock.
  auto start = f.fx.worker().now();
  c->connect(addressOf(address), std::chrono::milliseconds(150), user);
  ASSERT_TRUE(f.fx.runUntil([&] { return user.saw(StreamEvent::Error); }));
  EXPECT_EQ(c->stream().error(), ETIMEDOUT);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(140));
  c->close();
  for (int s : fillers) ::close(s);
  ::close(listener);
}

}  // namespace
}  // namespace ringlb::l7::connection_pool_test
