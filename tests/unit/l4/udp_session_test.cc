// UdpSession through a UdpService on the test's thread: a client socket, a
// listener socket the service reads, and a backend socket the test answers.
#include "l4/udp_session.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "l4/udp_service.h"
#include "tests/fakes/worker_fixture.h"

namespace ringlb::l4 {
namespace {

using testing::WorkerFixture;

// A non-blocking UDP socket bound on loopback; its port in `port`.
int udpSocket(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

void sendTo(int fd, uint16_t port, std::string_view bytes) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
}

struct Udp {
  Udp()
      : backendFd(udpSocket(&backendPort)),
        listenFd(udpSocket(&listenPort)),
        clientFd(udpSocket(&clientPort)),
        fx("[pools.p]\nbackends = [\"127.0.0.1:" + std::to_string(backendPort) +
           "\"]\n[listeners.dns]\nbind = \"127.0.0.1:1\"\nmode = \"udp\"\npool = \"p\"\n"
           "idle_timeout = \"200ms\"\n"),
        service(fx.worker(), fx.listener("dns"), listenFd) {
    service.start();
  }
  ~Udp() {
    fx.endSessions();
    service.stopAccepting();
    fx.runUntil([&] { return service.finished(); });
    ::close(backendFd);
    ::close(clientFd);
  }
  // What `fd` received (one datagram) and from which port.
  std::string receive(int fd, uint16_t* from = nullptr) {
    char buf[2048];
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    std::string got;
    fx.runUntil([&] {
      ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&addr), &len);
      if (n > 0) got.assign(buf, static_cast<size_t>(n));
      return n > 0;
    });
    if (from != nullptr) *from = ntohs(addr.sin_port);
    return got;
  }
  uint16_t backendPort = 0, listenPort = 0, clientPort = 0;
  int backendFd, listenFd, clientFd;
  WorkerFixture fx;
  UdpService service;
};

TEST(UdpSession, ARequestReachesTheBackendAndItsReplyTheClient) {
  Udp u;
  sendTo(u.clientFd, u.listenPort, "query");
  uint16_t sessionPort = 0;
  EXPECT_EQ(u.receive(u.backendFd, &sessionPort), "query");
  EXPECT_EQ(u.fx.worker().sessionCount(), 1u);
  sendTo(u.backendFd, sessionPort, "answer");
  uint16_t from = 0;
  EXPECT_EQ(u.receive(u.clientFd, &from), "answer");
  EXPECT_EQ(from, u.listenPort) << "the reply comes from the address the client asked";
}

TEST(UdpSession, OneFlowIsOneSessionAndOneBackendSocket) {
  Udp u;
  uint16_t first = 0, second = 0;
  sendTo(u.clientFd, u.listenPort, "a");
  u.receive(u.backendFd, &first);
  sendTo(u.clientFd, u.listenPort, "b");
  EXPECT_EQ(u.receive(u.backendFd, &second), "b");
  EXPECT_EQ(first, second);
  EXPECT_EQ(u.fx.worker().sessionCount(), 1u);
}

TEST(UdpSession, ASilentFlowEndsAfterIdleTimeout) {
  Udp u;
  sendTo(u.clientFd, u.listenPort, "once");
  u.receive(u.backendFd);
  ASSERT_TRUE(u.fx.runUntil([&] { return u.fx.worker().sessionCount() == 0; }));
  EXPECT_EQ(u.service.counters().idleExpiries.get(), 1u);
}

}  // namespace
}  // namespace ringlb::l4
