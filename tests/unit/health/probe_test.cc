// Probes against real loopback sockets on a real ring.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "common/socket.h"
#include "config/address.h"
#include "health/probe_http.h"
#include "health/probe_tcp.h"

namespace ringlb::health {
namespace {

using namespace std::chrono_literals;

struct Result {
  bool ok;
  std::string detail;
};

class Results : public ProbeObserver {
 public:
  void onProbeResult(Probe& /*probe*/, bool ok, std::string_view detail) override {
    seen.push_back({ok, std::string(detail)});
  }
  void onProbeSkipped(Probe& /*probe*/, std::string_view detail) override {
    skipped.emplace_back(detail);
  }
  std::vector<Result> seen;
  std::vector<std::string> skipped;
};

config::SocketAddress loopback(int port) {
  std::string error;
  return *config::resolveAddress("127.0.0.1:" + std::to_string(port), &error);
}

// A listening socket on an ephemeral port, closed at the end.
struct Listener {
  Listener() {
    std::string error;
    fd = openTcpListener(loopback(0), &error, 16);
    port = boundPort(fd);
  }
  ~Listener() { ::close(fd); }
  int fd;
  int port;
};

// A port nothing listens on: bound once, then released.
int closedPort() {
  Listener l;
  return l.port;
}

// Accepts one connection, reads the request head, answers `response`, closes.
std::thread answerOnce(int listenFd, std::string response, std::string* request) {
  return std::thread([listenFd, response = std::move(response), request] {
    int fd = ::accept(listenFd, nullptr, nullptr);
    if (fd < 0) return;
    char buf[4096];
    while (request->find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      request->append(buf, static_cast<size_t>(n));
    }
    [[maybe_unused]] ssize_t sent = ::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
    ::close(fd);
  });
}

class ProbeTest : public ::testing::Test {
 protected:
  // Runs the ring and the wheel until the probe reported and went idle (bounded).
  void runUntilIdle(Probe& probe) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while ((probe.running() || !probe.idle()) && std::chrono::steady_clock::now() < deadline) {
      ring.run(true, 5ms);
      timers.advance(std::chrono::steady_clock::now());
    }
  }

  std::unique_ptr<HttpProbe> httpProbe(std::vector<config::StatusRange> expect = {{200, 399}}) {
    return std::make_unique<HttpProbe>(ring, timers, results, "api", "backend",
                                       buildHealthRequest("/healthz", "svc.local"), expect);
  }

  Ring ring{64};
  TimerWheel timers{std::chrono::steady_clock::now()};
  Results results;
};

TEST_F(ProbeTest, ATcpCheckPassesWhenTheBackendAccepts) {
  Listener backend;
  TcpProbe probe(ring, timers, results, "api", "backend");
  probe.start(loopback(backend.port), 1s, std::chrono::steady_clock::now());
  runUntilIdle(probe);
  ASSERT_EQ(results.seen.size(), 1u);
  EXPECT_TRUE(results.seen[0].ok);
  EXPECT_TRUE(probe.idle());
}

// Out of descriptors here: the check is skipped, not failed, so that the
// health checker does not mark a healthy backend down for it.
TEST_F(ProbeTest, NoSocketToSpareSkipsTheCheckInsteadOfFailingIt) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "sanitizer runtimes need free descriptors of their own";
#endif
  Listener backend;
  TcpProbe probe(ring, timers, results, "api", "backend");
  int next = dup(STDIN_FILENO);  // the lowest free descriptor
  ::close(next);
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low{static_cast<rlim_t>(next), saved.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  probe.start(loopback(backend.port), 1s, std::chrono::steady_clock::now());
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_TRUE(probe.idle());
  EXPECT_TRUE(results.seen.empty());
  ASSERT_EQ(results.skipped.size(), 1u);
  EXPECT_EQ(results.skipped[0], "socket: Too many open files");
  // The next check runs as usual.
  probe.start(loopback(backend.port), 1s, std::chrono::steady_clock::now());
  runUntilIdle(probe);
  ASSERT_EQ(results.seen.size(), 1u);
  EXPECT_TRUE(results.seen[0].ok);
}

TEST_F(ProbeTest, ATcpCheckFailsWithTheReasonWhenRefused) {
  TcpProbe probe(ring, timers, results, "api", "backend");
  probe.start(loopback(closedPort()), 1s, std::chrono::steady_clock::now());
  runUntilIdle(probe);
  ASSERT_EQ(results.seen.size(), 1u);
  EXPECT_FALSE(results.seen[0].ok);
  EXPECT_EQ(results.seen[0].detail, "connect: Connection refused");
}

TEST_F(ProbeTest, AnHttpCheckSendsTheRequestAndPassesOnAnExpectedStatus) {
  Listener backend;
  std::string request;
  std::thread server = answerOnce(backend.fd, "HTTP/1.1 204 No Content\r\n\r\n", &request);
  auto probe = httpProbe();
  probe->start(loopback(backend.port), 2s, std::chrono::steady_clock::now());
  runUntilIdle(*probe);
  ::shutdown(backend.fd, SHUT_RDWR);  // never hang in accept() if the probe failed
  server.join();
  ASSERT_EQ(results.seen.size(), 1u);
  EXPECT_TRUE(results.seen[0].ok);
  EXPECT_EQ(request.rfind("GET /healthz HTTP/1.1\r\nHost: svc.local\r\n", 0), 0u);
}

TEST_F(ProbeTest, AnHttpCheckFailsOnAStatusOutsideTheExpectedRanges) {
  Listener backend;
  std::string request;
  std::thread server = answerOnce(backend.fd, "HTTP/1.1 503 Unavailable\r\n\r\n", &request);
  auto probe = httpProbe({{200, 299}});
  probe->start(loopback(backend.port), 2s, std::chrono::steady_clock::now());
  runUntilIdle(*probe);
  ::shutdown(backend.fd, SHUT_RDWR);  // never hang in accept() if the probe failed
  server.join();
  ASSERT_EQ(results.seen.size(), 1u);
  EXPECT_FALSE(results.seen[0].ok);
  EXPECT_EQ(results.seen[0].detail, "status 503");
}

TEST_F(ProbeTest, AnHttpCheckFailsWhenThePeerClosesWithoutAStatusLine) {
  Listener backend;
  std::string request;
  std::thread server = answerOnce(backend.fd, "", &request);
  auto probe = httpProbe();
  probe->start(loopback(backend.port), 2s, std::chrono::steady_clock::now());
  runUntilIdle(*probe);
  ::shutdown(backend.fd, SHUT_RDWR);  // never hang in accept() if the probe failed
  server.join();
  ASSERT_EQ(results.seen.size(), 1u);
  EXPECT_FALSE(results.seen[0].ok);
  EXPECT_EQ(results.seen[0].detail, "connection closed before the status line");
}

TEST_F(ProbeTest, AnHttpCheckTimesOutOnAPeerThatAcceptsAndNeverAnswers) {
  Listener backend;  // the kernel completes the handshake; nobody ever reads
  auto probe = httpProbe();
  auto started = std::chrono::steady_clock::now();
  probe->start(loopback(backend.port), 100ms, started);
  runUntilIdle(*probe);
  ASSERT_EQ(results.seen.size(), 1u);
  EXPECT_FALSE(results.seen[0].ok);
  EXPECT_EQ(results.seen[0].detail, "timed out after 100ms waiting for the status line");
  EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms);
  EXPECT_TRUE(probe->idle());  // the recv was cancelled and the socket closed
}

TEST_F(ProbeTest, ACancelledCheckReportsNothingAndWindsDown) {
  Listener backend;
  auto probe = httpProbe();
  probe->start(loopback(backend.port), 1s, std::chrono::steady_clock::now());
  ring.run(false, std::nullopt);
  probe->cancel();
  runUntilIdle(*probe);
  EXPECT_TRUE(results.seen.empty());
  EXPECT_TRUE(probe->idle());
}

}  // namespace
}  // namespace ringlb::health
