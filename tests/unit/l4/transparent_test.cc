// Transparent mode (l4/transparent_socket.h and TcpSession with
// `transparent = true`): which address a backend connection binds to, the
// fallback when that address and port are taken, and what happens without
// the capability. Tests that make a transparent socket need CAP_NET_ADMIN (or
// CAP_NET_RAW) and are skipped without; the "without the capability" ones
// drop it from this thread's effective set for their duration.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "l4/tcp_service.h"
#include "l4/tcp_session.h"
#include "l4/transparent_socket.h"
#include "tests/fakes/test_loop.h"
#include "tests/fakes/worker_fixture.h"

namespace ringlb::l4::transparent_test {
namespace {

using testing::BackendPeer;
using testing::Peer;
using testing::WorkerFixture;

sockaddr_storage v4(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto& in = reinterpret_cast<sockaddr_in&>(ss);
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  inet_pton(AF_INET, ip, &in.sin_addr);
  return ss;
}

sockaddr_storage v6(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &in6.sin6_addr);
  return ss;
}

std::string text(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &in.sin_addr, buf, sizeof buf);
    port = ntohs(in.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
    port = ntohs(in6.sin6_port);
  } else {
    return "-";
  }
  return std::string(buf) + " " + std::to_string(port);
}

sockaddr_storage localOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss;
}

sockaddr_storage peerOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss;
}

// Lowers CAP_NET_ADMIN and CAP_NET_RAW from this thread's effective set (the
// permitted set keeps them, so the destructor can raise them again).
class WithoutNetCapabilities {
 public:
  WithoutNetCapabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    if (syscall(SYS_capget, &header, saved_) != 0) return;
    __user_cap_data_struct lowered[2];
    std::memcpy(lowered, saved_, sizeof lowered);
    lowered[0].effective &= ~((1u << CAP_NET_ADMIN) | (1u << CAP_NET_RAW));
    ok_ = syscall(SYS_capset, &header, lowered) == 0;
  }
  ~WithoutNetCapabilities() {
    if (!ok_) return;
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    syscall(SYS_capset, &header, saved_);
  }
  bool ok() const { return ok_; }

 private:
  __user_cap_data_struct saved_[2]{};
  bool ok_ = false;
};

#define SKIP_WITHOUT_TRANSPARENT()                                                \
  if (probeTransparent(AF_INET) != 0) {                                           \
    GTEST_SKIP() << "IP_TRANSPARENT needs CAP_NET_ADMIN (run the tests as root)"; \
  }

// ------------------------------------------------------- transparentSource

TEST(TransparentSource, IsTheClientsAddressAndPort) {
  sockaddr_storage out;
  socklen_t len = 0;
  ASSERT_EQ(transparentSource(v4("10.1.2.3", 40000), AF_INET, out, len), 0);
  EXPECT_EQ(len, sizeof(sockaddr_in));
  EXPECT_EQ(text(out), "10.1.2.3 40000");
  ASSERT_EQ(transparentSource(v6("2001:db8::7", 40001), AF_INET6, out, len), 0);
  EXPECT_EQ(len, sizeof(sockaddr_in6));
  EXPECT_EQ(text(out), "2001:db8::7 40001");
}

TEST(TransparentSource, AnIpv4MappedClientCountsAsIpv4) {
  sockaddr_storage out;
  socklen_t len = 0;
  ASSERT_EQ(transparentSource(v6("::ffff:10.1.2.3", 40000), AF_INET, out, len), 0);
  EXPECT_EQ(len, sizeof(sockaddr_in));
  EXPECT_EQ(text(out), "10.1.2.3 40000");
  EXPECT_EQ(transparentSource(v6("::ffff:10.1.2.3", 40000), AF_INET6, out, len), EAFNOSUPPORT)
      << "an IPv4 client cannot reach an IPv6 backend from its own address";
}

TEST(TransparentSource, AnotherFamilyThanTheBackendsIsAnError) {
  sockaddr_storage out;
  socklen_t len = 0;
  EXPECT_EQ(transparentSource(v4("10.1.2.3", 1), AF_INET6, out, len), EAFNOSUPPORT);
  EXPECT_EQ(transparentSource(v6("2001:db8::7", 1), AF_INET, out, len), EAFNOSUPPORT);
}

TEST(TransparentSource, AnUnknownClientAddressIsAnError) {
  sockaddr_storage out;
  socklen_t len = 0;
  EXPECT_EQ(transparentSource(sockaddr_storage{}, AF_INET, out, len), ENOTCONN);
  sockaddr_storage unixClient{};
  unixClient.ss_family = AF_UNIX;
  EXPECT_EQ(transparentSource(unixClient, AF_INET, out, len), ENOTCONN);
}

TEST(TransparentReport, IsFirstOncePerListenerAndProblem) {
  // Process-wide: names of their own for each run (--gtest_repeat).
  static int runs = 0;
  std::string one = std::string("report-test-") + std::to_string(++runs);
  std::string two = one + "-other";
  EXPECT_TRUE(firstTransparentReport(one, TransparentProblem::FamilyMismatch));
  EXPECT_FALSE(firstTransparentReport(one, TransparentProblem::FamilyMismatch));
  EXPECT_TRUE(firstTransparentReport(one, TransparentProblem::NoPermission));
  EXPECT_TRUE(firstTransparentReport(two, TransparentProblem::FamilyMismatch));
}

// --------------------------------------------------------- bindTransparent

TEST(BindTransparent, BindsAForeignAddressAndPort) {
  SKIP_WITHOUT_TRANSPARENT();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  bool portChanged = true;
  // 192.0.2.0/24 (TEST-NET-1) is nobody's address here.
  ASSERT_EQ(bindTransparent(fd, v4("192.0.2.10", 40123), sizeof(sockaddr_in), &portChanged), 0);
  EXPECT_FALSE(portChanged);
  EXPECT_EQ(text(localOf(fd)), "192.0.2.10 40123");
  close(fd);
}

TEST(BindTransparent, AnAddressInUseFallsBackToTheSameIpWithAnotherPort) {
  SKIP_WITHOUT_TRANSPARENT();
  int first = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int second = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  bool portChanged = true;
  auto source = v4("192.0.2.11", 40124);
  ASSERT_EQ(bindTransparent(first, source, sizeof(sockaddr_in), &portChanged), 0);
  EXPECT_FALSE(portChanged);
  ASSERT_EQ(bindTransparent(second, source, sizeof(sockaddr_in), &portChanged), 0);
  EXPECT_TRUE(portChanged);
  // The port is left to connect() (IP_BIND_ADDRESS_NO_PORT): 0 until then.
  EXPECT_EQ(text(localOf(second)), "192.0.2.11 0");
  close(first);
  close(second);
}

TEST(BindTransparent, WithoutTheCapabilityFailsWithEperm) {
  SKIP_WITHOUT_TRANSPARENT();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  {
    WithoutNetCapabilities dropped;
    ASSERT_TRUE(dropped.ok());
    EXPECT_EQ(probeTransparent(AF_INET), EPERM);
    EXPECT_EQ(bindTransparent(fd, v4("192.0.2.12", 40125), sizeof(sockaddr_in), nullptr), EPERM);
  }
  EXPECT_EQ(probeTransparent(AF_INET), 0) << "the capability is back";
  close(fd);
}

// ------------------------------------------------ TcpSession, transparent

std::string q(const std::string& s) { return "\"" + s + "\""; }

std::string config(const std::string& backends, const std::string& extra = "") {
  return "[pools.p]\nbackends = [" + backends +
         "]\nconnect_timeout = \"500ms\"\nretries = 1\n"
         "[listeners.front]\nbind = \"127.0.0.1:1\"\nmode = \"tcp\"\npool = \"p\"\n"
         "transparent = true\n" +
         extra;
}

struct TcpListener {
  explicit TcpListener(const std::string& toml)
      : fx(toml), service(fx.worker(), fx.listener("front"), fx.serviceFd()) {}
  ~TcpListener() { fx.endSessions(); }
  WorkerFixture fx;
  TcpService service;
};

// A session of a loopback TCP client; returns the client's end.
Peer openSession(TcpService& service) {
  auto [ours, theirs] = testing::tcpPair();
  (new TcpSession(service, ours))->start();
  return Peer(theirs);
}

TEST(TransparentSession, TheBackendSeesThePROXYHeadersSourceAsItsPeer) {
  SKIP_WITHOUT_TRANSPARENT();
  // 127.0.0.0/8 is local as a whole: the backend's answers to 127.0.0.77
  // come back without the policy routing a real deployment needs.
  BackendPeer backend;
  TcpListener s(config(q(backend.address()), "accept_proxy_protocol = true\n"));
  Peer client = openSession(s.service);
  client.send("PROXY TCP4 127.0.0.77 127.0.0.1 40321 1\r\nhello");
  Peer b;
  ASSERT_TRUE(s.fx.runUntil([&] { return b.valid() || (b = backend.accept()).valid(); }));
  EXPECT_EQ(text(peerOf(b.fd())), "127.0.0.77 40321");
  std::string atBackend;
  ASSERT_TRUE(s.fx.runUntil([&] {
    b.read(atBackend);
    return atBackend == "hello";
  }));
  b.send("answer");
  std::string atClient;
  ASSERT_TRUE(s.fx.runUntil([&] {
    client.read(atClient);
    return atClient == "answer";
  }));
}

TEST(TransparentSession, TheClientsAddressInUseHereFallsBackToAnotherPort) {
  SKIP_WITHOUT_TRANSPARENT();
  // The client is on this host: its own socket holds its address and port,
  // so the backend connection gets the client's IP with another port.
  BackendPeer backend;
  TcpListener s(config(q(backend.address())));
  Peer client = openSession(s.service);
  Peer b;
  ASSERT_TRUE(s.fx.runUntil([&] { return b.valid() || (b = backend.accept()).valid(); }));
  sockaddr_storage seen = peerOf(b.fd());
  sockaddr_storage clientAddress = localOf(client.fd());
  EXPECT_EQ(seen.ss_family, AF_INET);
  EXPECT_EQ(reinterpret_cast<sockaddr_in&>(seen).sin_addr.s_addr,
            reinterpret_cast<sockaddr_in&>(clientAddress).sin_addr.s_addr);
  EXPECT_NE(reinterpret_cast<sockaddr_in&>(seen).sin_port,
            reinterpret_cast<sockaddr_in&>(clientAddress).sin_port);
  client.send("x");
  std::string atBackend;
  ASSERT_TRUE(s.fx.runUntil([&] {
    b.read(atBackend);
    return atBackend == "x";
  }));
}

TEST(TransparentSession, AnIpv6BackendForAnIpv4ClientFailsLikeAConnect) {
  // No capability needed: the families are compared before any socket option.
  TcpListener s(config(q("[::1]:1")));
  Peer client = openSession(s.service);
  std::string got;
  ASSERT_TRUE(s.fx.runUntil([&] { return !client.read(got); })) << "the client is closed";
  EXPECT_TRUE(got.empty());
  ASSERT_TRUE(s.fx.runUntil([&] { return s.fx.worker().sessionCount() == 0; }));
  EXPECT_EQ(s.service.backendStats("p", "[::1]:1").connectFailures.get(), 1u)
      << "counted as a failed connect";
}

TEST(TransparentSession, AnotherFamilysBackendIsSkippedForTheNextOne) {
  SKIP_WITHOUT_TRANSPARENT();
  BackendPeer good;
  TcpListener s(config(q("[::1]:1") + ", " + q(good.address())));
  for (int i = 0; i < 2; ++i) {  // round robin starts anywhere; both orders must work
    Peer client = openSession(s.service);
    Peer b;
    ASSERT_TRUE(s.fx.runUntil([&] { return b.valid() || (b = good.accept()).valid(); }))
        << "connection " << i << " never reached the IPv4 backend";
  }
  EXPECT_GE(s.service.backendStats("p", "[::1]:1").connectFailures.get(), 1u);
}

TEST(TransparentSession, WithoutTheCapabilityTheConnectionFailsWithoutRetries) {
  SKIP_WITHOUT_TRANSPARENT();
  BackendPeer one;
  BackendPeer two;
  TcpListener s(config(q(one.address()) + ", " + q(two.address())));
  WithoutNetCapabilities dropped;
  ASSERT_TRUE(dropped.ok());
  Peer client = openSession(s.service);
  std::string got;
  ASSERT_TRUE(s.fx.runUntil([&] { return !client.read(got); })) << "the client is closed";
  EXPECT_TRUE(got.empty());
  uint64_t failures = s.service.backendStats("p", one.address()).connectFailures.get() +
                      s.service.backendStats("p", two.address()).connectFailures.get();
  EXPECT_EQ(failures, 1u) << "no retry: every backend would fail alike";
  EXPECT_FALSE(one.accept().valid());
  EXPECT_FALSE(two.accept().valid());
}

}  // namespace
}  // namespace ringlb::l4::transparent_test
