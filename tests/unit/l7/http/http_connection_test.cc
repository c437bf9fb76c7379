// HttpConnection and its exchanges, driven on the test's thread: the client
// is a socketpair, backends and origins are loopback peers the test answers
// by hand. Each test is one behaviour of the http or forward listener.
#include "l7/http/http_connection.h"

#include <gtest/gtest.h>

#include <string>

#include "l7/http/http_service.h"
#include "tests/fakes/http_listener.h"

namespace ringlb::l7::http_connection_test {
namespace {

using testing::BackendPeer;
using testing::Peer;

using Listener = testing::HttpListener;

std::string httpConfig(const std::string& backend, const std::string& extra = "") {
  return testing::httpListenerConfig(backend, extra);
}

// Reads from `peer` until `until` is in what arrived (or it closed).
std::string readUntil(Listener& l, Peer& peer, std::string_view until, bool* closed = nullptr) {
  std::string got;
  bool open = true;
  l.fx.runUntil([&] {
    open = peer.read(got);
    return !open || got.find(until) != std::string::npos;
  });
  if (closed != nullptr) *closed = !open;
  return got;
}

Peer acceptBackend(Listener& l, BackendPeer& backend) {
  Peer b;
  l.fx.runUntil([&] { return (b = backend.accept()).valid(); });
  return b;
}

TEST(HttpConnection, KeepAliveCarriesTwoRequestsOverOneBackendConnection) {
  BackendPeer backend;
  Listener l(httpConfig(backend.address()));
  Peer client = l.connect();
  client.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  Peer b = acceptBackend(l, backend);
  ASSERT_TRUE(b.valid());
  std::string req = readUntil(l, b, "\r\n\r\n");
  EXPECT_EQ(req.rfind("GET /a HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("X-Forwarded-For: "), std::string::npos) << req;
  b.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_NE(readUntil(l, client, "\r\n\r\nok").find("HTTP/1.1 200 OK"), std::string::npos);
  client.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string second = readUntil(l, b, "\r\n\r\n");
  EXPECT_EQ(second.rfind("GET /b HTTP/1.1\r\n", 0), 0u) << "the same backend connection";
  EXPECT_FALSE(backend.accept().valid()) << "no second connection";
}

TEST(HttpConnection, ARedirectRouteAnswersItselfAndTheConnectionCarriesOn) {
  BackendPeer backend;
  Listener l(httpConfig(backend.address(),
                        "[[listeners.front.routes]]\npath_prefix = \"/old\"\n"
                        "redirect = \"https://new.example\"\nredirect_code = 308\n"));
  Peer client = l.connect();
  client.send("GET /old/page?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string got = readUntil(l, client, "\n", nullptr);
  got += readUntil(l, client, "new.example/old/page?x=1\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 308 Permanent Redirect\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("\r\nLocation: https://new.example/old/page?x=1\r\n"), std::string::npos)
      << got;
  EXPECT_EQ(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_FALSE(backend.accept().valid()) << "a redirect sends nothing upstream";
  client.send("GET /other HTTP/1.1\r\nHost: a\r\n\r\n");
  Peer b = acceptBackend(l, backend);
  ASSERT_TRUE(b.valid()) << "the next request on the same connection is proxied";
  EXPECT_EQ(readUntil(l, b, "\r\n\r\n").rfind("GET /other HTTP/1.1\r\n", 0), 0u);
}

TEST(HttpConnection, RewritePrefixReplacesTheMatchedPrefixUpstream) {
  BackendPeer backend;
  Listener l(httpConfig(backend.address(),
                        "[[listeners.front.routes]]\npath_prefix = \"/api\"\npool = \"p\"\n"
                        "rewrite_prefix = \"/\"\n"));
  Peer client = l.connect();
  client.send("GET /api/users?id=7 HTTP/1.1\r\nHost: a\r\n\r\n");
  Peer b = acceptBackend(l, backend);
  ASSERT_TRUE(b.valid());
  std::string req = readUntil(l, b, "\r\n\r\n");
  EXPECT_EQ(req.rfind("GET /users?id=7 HTTP/1.1\r\n", 0), 0u) << req;
}

TEST(HttpConnection, PipelinedRequestsAreAnsweredInOrder) {
  BackendPeer backend;
  Listener l(httpConfig(backend.address()));
  Peer client = l.connect();
  client.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
  Peer b = acceptBackend(l, backend);
  std::string one = readUntil(l, b, "\r\n\r\n");
  EXPECT_EQ(one.find("GET /2"), std::string::npos) << "the second waits for the first answer";
  b.send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
  std::string two = readUntil(l, b, "GET /2");
  EXPECT_NE(two.find("GET /2 HTTP/1.1"), std::string::npos);
  b.send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
  std::string answers = readUntil(l, client, "two");
  EXPECT_LT(answers.find("one"), answers.find("two"));
}

TEST(HttpConnection, AMalformedHeadGets400AndTheConnectionCloses) {
  BackendPeer backend;
  Listener l(httpConfig(backend.address()));
  Peer client = l.connect();
  client.send("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  bool closed = false;
  std::string got = readUntil(l, client, "\r\n\r\n");
  readUntil(l, client, "never", &closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 400 ", 0), 0u) << got;
  EXPECT_TRUE(closed);
  EXPECT_FALSE(backend.accept().valid()) << "nothing reached a backend";
}

TEST(HttpConnection, ARefusedConnectIs502) {
  sockaddr_in closedPort = testing::closedPort();
  Listener l(httpConfig("127.0.0.1:" + std::to_string(ntohs(closedPort.sin_port))));
  Peer client = l.connect();
  client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(readUntil(l, client, "\r\n\r\n").rfind("HTTP/1.1 502 ", 0), 0u);
}

TEST(HttpConnection, ABackendSilentPastResponseTimeoutIs504) {
  BackendPeer backend;
  Listener l(httpConfig(backend.address(), "response_timeout = \"200ms\"\n"));
  Peer client = l.connect();
  client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  Peer b = acceptBackend(l, backend);
  EXPECT_EQ(readUntil(l, client, "\r\n\r\n").rfind("HTTP/1.1 504 ", 0), 0u);
}

TEST(HttpConnection, ABodyOverMaxBodySizeIs413BeforeAnyBackendIsAsked) {
  BackendPeer backend;
  Listener l(httpConfig(backend.address(), "max_body_size = \"1KiB\"\n"));
  Peer client = l.connect();
  client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  EXPECT_EQ(readUntil(l, client, "\r\n\r\n").rfind("HTTP/1.1 413 ", 0), 0u);
  EXPECT_FALSE(backend.accept().valid());
}

TEST(HttpConnection, AResponseCutShortReachesTheClientCutShort) {
  BackendPeer backend;
  Listener l(httpConfig(backend.address()));
  Peer client = l.connect();
  client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  Peer b = acceptBackend(l, backend);
  readUntil(l, b, "\r\n\r\n");
  b.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten!!");
  b.close();
  bool closed = false;
  std::string got = readUntil(l, client, "never", &closed);
  EXPECT_TRUE(closed);
  EXPECT_NE(got.find("only ten!!"), std::string::npos) << "what came is passed on";
}

TEST(HttpConnection, AnUpgradeBecomesATunnelBothWays) {
  BackendPeer backend;
  Listener l(httpConfig(backend.address()));
  Peer client = l.connect();
  client.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  Peer b = acceptBackend(l, backend);
  std::string req = readUntil(l, b, "\r\n\r\n");
  EXPECT_NE(req.find("Upgrade: websocket"), std::string::npos) << req;
  b.send("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_EQ(readUntil(l, client, "\r\n\r\n").rfind("HTTP/1.1 101 ", 0), 0u);
  client.send("frame from client");
  EXPECT_NE(readUntil(l, b, "frame from client").find("frame from client"), std::string::npos);
  b.send("frame from backend");
  EXPECT_NE(readUntil(l, client, "frame from backend").find("frame from backend"),
            std::string::npos);
}

std::string forwardConfig(const std::string& rules = "") {
  return "[listeners.front]\nbind = \"127.0.0.1:1\"\nmode = \"forward\"\n" + rules;
}

uint16_t portOf(const std::string& address) {
  return static_cast<uint16_t>(std::stoi(address.substr(address.find(':') + 1)));
}

TEST(HttpConnection, AForwardProxyConnectOpensATunnel) {
  BackendPeer origin;
  std::string target = origin.address();
  Listener l(forwardConfig("connect_ports = [" + std::to_string(portOf(target)) + "]\n"));
  Peer client = l.connect();
  client.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\nearly");
  EXPECT_EQ(readUntil(l, client, "\r\n\r\n").rfind("HTTP/1.1 200 Connection established", 0), 0u);
  Peer o = acceptBackend(l, origin);
  EXPECT_NE(readUntil(l, o, "early").find("early"), std::string::npos)
      << "bytes after the head go first";
  o.send("hello");
  EXPECT_NE(readUntil(l, client, "hello").find("hello"), std::string::npos);
}

TEST(HttpConnection, AForwardProxyRefusesADeniedDestinationWith403AndTheRule) {
  BackendPeer origin;
  Listener l(forwardConfig("deny = [\"127.0.0.0/8\"]\n"));
  Peer client = l.connect();
  client.send("GET http://" + origin.address() + "/ HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = readUntil(l, client, "127.0.0.0/8");
  EXPECT_EQ(got.rfind("HTTP/1.1 403 ", 0), 0u) << got;
  EXPECT_NE(got.find("Via: 1.1 ringlb"), std::string::npos) << got;
  EXPECT_FALSE(origin.accept().valid());
}

TEST(HttpConnection, AForwardProxyRequestGoesInOriginFormAndKeepsBothConnections) {
  BackendPeer origin;
  Listener l(forwardConfig());
  Peer client = l.connect();
  std::string uri = "http://" + origin.address();
  client.send("GET " + uri + "/a?b=1 HTTP/1.1\r\nHost: x\r\nProxy-Connection: keep-alive\r\n\r\n");
  Peer o = acceptBackend(l, origin);
  std::string req = readUntil(l, o, "\r\n\r\n");
  EXPECT_EQ(req.rfind("GET /a?b=1 HTTP/1.1\r\nHost: " + origin.address() + "\r\n", 0), 0u) << req;
  EXPECT_EQ(req.find("Proxy-Connection"), std::string::npos) << req;
  EXPECT_NE(req.find("Via: 1.1 ringlb"), std::string::npos) << req;
  o.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  std::string answer = readUntil(l, client, "\r\n\r\nok");
  EXPECT_NE(answer.find("Via: 1.1 ringlb"), std::string::npos) << answer;
  client.send("GET " + uri + "/second HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(readUntil(l, o, "/second").find("GET /second"), std::string::npos)
      << "the same origin connection";
}

}  // namespace
}  // namespace ringlb::l7::http_connection_test
