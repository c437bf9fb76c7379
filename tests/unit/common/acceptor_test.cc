#include "common/acceptor.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "common/socket.h"
#include "config/address.h"

namespace ringlb {
namespace {

class LimitedHandler : public AcceptHandler {
 public:
  void onAccepted(int fd) override { accepted.push_back(fd); }
  bool canAccept() const override { return accepted.size() < limit; }
  void onAcceptError(int err, bool firstOfEpisode) override {
    ++failures;
    if (firstOfEpisode) errors.push_back(err);  // what the service logs
  }
  ~LimitedHandler() override {
    for (int fd : accepted) close(fd);
  }
  std::vector<int> accepted;
  std::vector<int> errors;
  size_t failures = 0;
  size_t limit = 2;
};

int connectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  return fd;
}

class AcceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    auto addr = config::parseNumericAddress("127.0.0.1:0", &error);
    listenFd = openTcpListener(*addr, &error);
    ASSERT_GE(listenFd, 0) << error;
    port = boundPort(listenFd);
  }
  void TearDown() override {
    for (int fd : clients) close(fd);
  }
  template <typename Pred>
  void runUntil(Pred done) {
    for (int i = 0; i < 100 && !done(); ++i) ring.run(true, std::chrono::milliseconds(10));
  }
  void stopAndDrain(Acceptor& acceptor) {
    acceptor.stop();
    runUntil([&] { return acceptor.opsInFlight() == 0; });
  }

  Ring ring{64};
  int listenFd = -1;
  int port = 0;
  std::vector<int> clients;
};

TEST_F(AcceptorTest, MultishotAcceptHandsOverEveryConnection) {
  LimitedHandler handler;
  handler.limit = 100;
  Acceptor acceptor(ring, listenFd, handler);
  acceptor.start();
  for (int i = 0; i < 5; ++i) clients.push_back(connectTo(port));
  runUntil([&] { return handler.accepted.size() == 5; });
  EXPECT_EQ(handler.accepted.size(), 5u);
  stopAndDrain(acceptor);
}

TEST_F(AcceptorTest, AcceptedConnectionsHaveNagleOff) {
  // Set once on the listener and inherited: small responses must not wait
  // for Nagle's timer on any accepted connection.
  LimitedHandler handler;
  Acceptor acceptor(ring, listenFd, handler);
  acceptor.start();
  clients.push_back(connectTo(port));
  runUntil([&] { return handler.accepted.size() == 1; });
  ASSERT_EQ(handler.accepted.size(), 1u);
  int nodelay = 0;
  socklen_t len = sizeof nodelay;
  ASSERT_EQ(getsockopt(handler.accepted[0], IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_EQ(nodelay, 1);
  stopAndDrain(acceptor);
}

TEST_F(AcceptorTest, PausesAtTheLimitAndLeavesNewConnectionsInTheBacklog) {
  LimitedHandler handler;
  Acceptor acceptor(ring, listenFd, handler);
  acceptor.start();
  for (int i = 0; i < 3; ++i) clients.push_back(connectTo(port));
  runUntil([&] { return acceptor.paused() && acceptor.opsInFlight() == 0; });
  // Whatever the kernel accepted before the pause took effect is kept.
  EXPECT_GE(handler.accepted.size(), 2u);
  EXPECT_TRUE(acceptor.paused());

  handler.limit = 10;
  acceptor.resume();
  runUntil([&] { return handler.accepted.size() == 3; });
  EXPECT_EQ(handler.accepted.size(), 3u);
  stopAndDrain(acceptor);
}

// Room comes back (a session ended) while the pause's cancel is still in
// flight: resume() finds the accept armed and does nothing, so the cancel's
// completion must arm it again, or the listener waits for the next session
// to end with connections queued in its backlog.
TEST_F(AcceptorTest, AResumeWhileThePauseIsStillCancellingTheAcceptIsNotLost) {
  LimitedHandler handler;
  handler.limit = 1;
  Acceptor acceptor(ring, listenFd, handler);
  acceptor.start();
  clients.push_back(connectTo(port));
  // The accept reaches the limit: the acceptor pauses and queues a cancel,
  // which the ring submits on its next enter.
  runUntil([&] { return handler.accepted.size() == 1; });
  ASSERT_TRUE(acceptor.paused());
  handler.limit = 10;  // a session ended
  acceptor.resume();
  clients.push_back(connectTo(port));
  runUntil([&] { return handler.accepted.size() == 2; });
  EXPECT_EQ(handler.accepted.size(), 2u) << "the connection waits in the backlog";
  EXPECT_FALSE(acceptor.paused());
  stopAndDrain(acceptor);
}

TEST_F(AcceptorTest, StopClosesTheSocketSoNewConnectionsAreRefused) {
  LimitedHandler handler;
  Acceptor acceptor(ring, listenFd, handler);
  acceptor.start();
  ring.run(false, std::nullopt);
  stopAndDrain(acceptor);
  EXPECT_EQ(acceptor.opsInFlight(), 0u);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  EXPECT_EQ(errno, ECONNREFUSED);
  close(fd);
}

TEST_F(AcceptorTest, OutOfDescriptorsBacksOffWithoutSpinningAndLosesNoConnection) {
#if defined(__SANITIZE_ADDRESS__)
  // With no descriptor left, UBSan's vptr check cannot read /proc and
  // reports a false "invalid vptr": this test runs in the plain build only.
  GTEST_SKIP() << "sanitizer runtimes need free descriptors of their own";
#endif
  LimitedHandler handler;
  handler.limit = 100;
  // Client sockets exist before the limit drops; connect() needs no new fd.
  std::vector<int> pending;
  for (int i = 0; i < 3; ++i) pending.push_back(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  clients.insert(clients.end(), pending.begin(), pending.end());
  int next = dup(STDIN_FILENO);  // the lowest free descriptor
  close(next);
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low{static_cast<rlim_t>(next), saved.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);

  Acceptor acceptor(ring, listenFd, handler);
  acceptor.start();
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int fd : pending) {
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  }
  runUntil([&] { return acceptor.fdExhaustion() > 0; });
  EXPECT_GT(acceptor.fdExhaustion(), 0u);
  // 50 ms inside the 100 ms back-off: no retry storm.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  while (std::chrono::steady_clock::now() < until) ring.run(true, std::chrono::milliseconds(5));
  EXPECT_LE(acceptor.fdExhaustion(), 2u);
  EXPECT_TRUE(handler.accepted.empty());
  ASSERT_EQ(handler.errors.size(), 1u) << "reported once, not at every retry";
  EXPECT_EQ(handler.errors[0], EMFILE);

  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  runUntil([&] { return handler.accepted.size() == 3; });
  EXPECT_EQ(handler.accepted.size(), 3u);  // every connection waited in the backlog
  stopAndDrain(acceptor);
}

// A socket that is not listening fails every accept with EINVAL: the
// acceptor must back off like for fd exhaustion, not re-arm at once and spin.
TEST_F(AcceptorTest, AnUnexpectedAcceptErrorBacksOffInsteadOfSpinning) {
  int notListening = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(notListening, 0);
  LimitedHandler handler;
  Acceptor acceptor(ring, notListening, handler);  // owns the fd from here
  acceptor.start();
  runUntil([&] { return handler.failures > 0; });
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
  while (std::chrono::steady_clock::now() < until) ring.run(true, std::chrono::milliseconds(5));
  // One at the start and one per 100 ms back-off; a spin makes thousands.
  EXPECT_GE(handler.failures, 2u);
  EXPECT_LE(handler.failures, 5u);
  ASSERT_EQ(handler.errors.size(), 1u) << "logged once per episode";
  EXPECT_EQ(handler.errors[0], EINVAL);
  stopAndDrain(acceptor);
}

}  // namespace
}  // namespace ringlb
