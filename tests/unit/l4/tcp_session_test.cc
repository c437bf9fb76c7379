// TcpSession: what a tcp listener does with one connection, driven on the
// test's thread: the client is a socketpair, backends are loopback peers.
#include "l4/tcp_session.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

#include "common/socket.h"
#include "l4/tcp_service.h"
#include "tests/fakes/test_loop.h"
#include "tests/fakes/worker_fixture.h"

namespace ringlb::l4 {
namespace {

using testing::BackendPeer;
using testing::Peer;
using testing::WorkerFixture;

std::string config(const std::string& backends, const std::string& extra = "") {
  return "[pools.p]\nbackends = [" + backends +
         "]\nconnect_timeout = \"500ms\"\n"
         "[listeners.front]\nbind = \"127.0.0.1:1\"\nmode = \"tcp\"\npool = \"p\"\n" +
         extra;
}

std::string q(const std::string& s) { return "\"" + s + "\""; }

// A session on the client side of a new socketpair; returns the client's end.
Peer openSession(TcpService& service) {
  auto [ours, theirs] = testing::unixPair();
  (new TcpSession(service, ours))->start();
  return Peer(theirs);
}

struct TcpListener {
  explicit TcpListener(const std::string& toml)
      : fx(toml), service(fx.worker(), fx.listener("front"), fx.serviceFd()) {}
  ~TcpListener() { fx.endSessions(); }
  WorkerFixture fx;
  TcpService service;
};

TEST(TcpSession, RelaysBothWaysAndEndsWhenBothSidesClosed) {
  BackendPeer backend;
  TcpListener s(config(q(backend.address())));
  Peer client = openSession(s.service);
  Peer b;
  ASSERT_TRUE(s.fx.runUntil([&] { return (b = backend.accept()).valid() || b.valid(); }));
  client.send("ping");
  std::string atBackend;
  ASSERT_TRUE(s.fx.runUntil([&] {
    b.read(atBackend);
    return atBackend == "ping";
  }));
  b.send("pong");
  std::string atClient;
  ASSERT_TRUE(s.fx.runUntil([&] {
    client.read(atClient);
    return atClient == "pong";
  }));
  EXPECT_EQ(s.fx.worker().sessionCount(), 1u);
  client.shutdownWrite();
  b.shutdownWrite();
  ASSERT_TRUE(s.fx.runUntil([&] { return s.fx.worker().sessionCount() == 0; }))
      << "the session frees itself once both directions ended";
}

TEST(TcpSession, AClientHalfCloseReachesTheBackendWhileTheAnswerStillFlows) {
  BackendPeer backend;
  TcpListener s(config(q(backend.address())));
  Peer client = openSession(s.service);
  client.send("request");
  client.shutdownWrite();
  Peer b;
  ASSERT_TRUE(s.fx.runUntil([&] { return b.valid() || (b = backend.accept()).valid(); }));
  std::string atBackend;
  ASSERT_TRUE(s.fx.runUntil([&] { return !b.read(atBackend); })) << "the backend sees the FIN";
  EXPECT_EQ(atBackend, "request");
  b.send("answer");
  b.close();
  std::string atClient;
  ASSERT_TRUE(s.fx.runUntil([&] { return !client.read(atClient); }));
  EXPECT_EQ(atClient, "answer");
}

TEST(TcpSession, ARefusingBackendIsSkippedForTheNextOne) {
  BackendPeer good;
  sockaddr_in closed = testing::closedPort();
  std::string refusing = "127.0.0.1:" + std::to_string(ntohs(closed.sin_port));
  TcpListener s(config(q(refusing) + ", " + q(good.address()), "") +
                "");  // round robin starts anywhere; both orders must work
  for (int i = 0; i < 4; ++i) {
    Peer client = openSession(s.service);
    client.send("x");
    Peer b;
    ASSERT_TRUE(s.fx.runUntil([&] { return b.valid() || (b = good.accept()).valid(); }))
        << "connection " << i << " never reached the good backend";
  }
}

TEST(TcpSession, NoBackendLeftClosesTheClient) {
  sockaddr_in closed = testing::closedPort();
  TcpListener s(config(q("127.0.0.1:" + std::to_string(ntohs(closed.sin_port)))));
  Peer client = openSession(s.service);
  std::string got;
  ASSERT_TRUE(s.fx.runUntil([&] { return !client.read(got); }));
  EXPECT_TRUE(got.empty());
  ASSERT_TRUE(s.fx.runUntil([&] { return s.fx.worker().sessionCount() == 0; }));
}

TEST(TcpSession, ABackendResetIsPassedOnToTheClient) {
  BackendPeer backend;
  TcpListener s(config(q(backend.address())));
  auto [ours, theirs] = testing::tcpPair();
  (new TcpSession(s.service, ours))->start();
  Peer client(theirs);
  Peer b;
  ASSERT_TRUE(s.fx.runUntil([&] { return b.valid() || (b = backend.accept()).valid(); }));
  ringlb::resetOnClose(b.fd());
  b.close();
  std::string got;
  ASSERT_TRUE(s.fx.runUntil([&] { return !client.read(got); }));
  EXPECT_TRUE(client.reset()) << "a reset, not a clean end";
}

TEST(TcpSession, AProxyProtocolHeaderGoesAheadOfTheClientsBytes) {
  BackendPeer backend;
  TcpListener s(config(q(backend.address()), "proxy_protocol = \"v1\"\n"));
  auto [ours, theirs] = testing::tcpPair();
  (new TcpSession(s.service, ours))->start();
  Peer client(theirs);
  client.send("data");
  Peer b;
  ASSERT_TRUE(s.fx.runUntil([&] { return b.valid() || (b = backend.accept()).valid(); }));
  std::string atBackend;
  ASSERT_TRUE(s.fx.runUntil([&] {
    b.read(atBackend);
    return atBackend.find("data") != std::string::npos;
  }));
  EXPECT_EQ(atBackend.rfind("PROXY TCP4 127.0.0.1 127.0.0.1 ", 0), 0u) << atBackend;
  EXPECT_EQ(atBackend.substr(atBackend.size() - 6), "\r\ndata");
}

TEST(TcpSession, ABackendThatStopsReadingHoldsTheClientBack) {
  BackendPeer backend;
  TcpListener s(config(q(backend.address())));
  Peer client = openSession(s.service);
  Peer b;
  ASSERT_TRUE(s.fx.runUntil([&] { return b.valid() || (b = backend.accept()).valid(); }));
  std::string chunk(64 * 1024, 'u');
  size_t sent = 0;
  for (int i = 0; i < 200; ++i) {
    ssize_t n = ::send(client.fd(), chunk.data(), chunk.size(), MSG_DONTWAIT);
    if (n > 0) sent += static_cast<size_t>(n);
    s.fx.worker().turn(std::chrono::milliseconds(1));
  }
  EXPECT_LT(sent, 200u * chunk.size()) << "TCP flow control reached the client";
  std::string atBackend;
  ASSERT_TRUE(s.fx.runUntil([&] {
    b.read(atBackend);
    return atBackend.size() == sent;
  }));
}

TEST(TcpSession, AnIdleConnectionEndsAfterIdleTimeout) {
  BackendPeer backend;
  TcpListener s(config(q(backend.address()), "idle_timeout = \"200ms\"\n"));
  Peer client = openSession(s.service);
  Peer b;
  ASSERT_TRUE(s.fx.runUntil([&] { return b.valid() || (b = backend.accept()).valid(); }));
  std::string got;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.fx.runUntil([&] { return !client.read(got); }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
}

}  // namespace
}  // namespace ringlb::l4
