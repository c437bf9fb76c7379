// Specification of request and response head rewriting.
#include "l7/http/headers.h"

#include <gtest/gtest.h>

#include <string>

namespace ringlb::l7 {
namespace {

// Parses `raw` and returns the upstream head written for it.
std::string upstreamHead(std::string_view raw, const config::RouteConfig* route = nullptr,
                         std::string_view ip = "192.0.2.7") {
  http::Http1Parser p(http::MessageKind::Request);
  EXPECT_EQ(p.feed(raw).status, http::ParseStatus::HeadComplete);
  std::string out;
  writeUpstreamRequestHead(p.head(), route,
                           {ip, "http", "0123456789abcdef0123456789abcdef", "lb:80"}, out);
  return out;
}

bool has(const std::string& head, std::string_view line) {
  return head.find(std::string(line) + "\r\n") != std::string::npos;
}

TEST(RequestHead, HopByHopAndConnectionNamedFieldsAreRemoved) {
  auto h = upstreamHead(
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
      "Keep-Alive: timeout=5\r\nTE: trailers\r\nX-Keep: 2\r\n\r\n");
  EXPECT_EQ(h.find("X-Hop"), std::string::npos);
  EXPECT_EQ(h.find("Keep-Alive"), std::string::npos);
  EXPECT_EQ(h.find("TE:"), std::string::npos);
  EXPECT_EQ(h.find("Connection"), std::string::npos);
  EXPECT_TRUE(has(h, "X-Keep: 2"));
}

TEST(RequestHead, ConnectionNamingContentLengthDoesNotStripIt) {
  // Otherwise the body would reach the backend without its length: smuggling.
  auto h = upstreamHead(
      "POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length, host\r\n"
      "Content-Length: 4\r\n\r\n");
  EXPECT_TRUE(has(h, "Content-Length: 4"));
  EXPECT_TRUE(has(h, "Host: a"));
}

TEST(ResponseHead, ConnectionNamingContentLengthDoesNotStripIt) {
  http::Http1Parser p(http::MessageKind::Response);
  ASSERT_EQ(
      p.feed("HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 3\r\n\r\n").status,
      http::ParseStatus::HeadComplete);
  std::string out;
  writeClientResponseHead(p.head(), nullptr, {}, out);
  EXPECT_TRUE(has(out, "Content-Length: 3"));
}

TEST(RequestHead, ForwardingFieldsAreAppendedAndSet) {
  auto h = upstreamHead(
      "GET /x HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 10.0.0.1\r\n"
      "X-Forwarded-Proto: https\r\nForwarded: for=10.0.0.1\r\n\r\n");
  EXPECT_TRUE(has(h, "X-Forwarded-For: 10.0.0.1, 192.0.2.7"));
  EXPECT_TRUE(has(h, "X-Forwarded-Proto: http"));
  EXPECT_EQ(h.find("X-Forwarded-Proto: https"), std::string::npos);
  EXPECT_TRUE(has(h, "X-Forwarded-Host: app.test"));
  EXPECT_TRUE(has(h, "Forwarded: for=10.0.0.1, for=192.0.2.7;host=app.test;proto=http"));
}

TEST(RequestHead, ForwardedQuotesIpv6AndHostWithPort) {
  auto h = upstreamHead("GET / HTTP/1.1\r\nHost: app.test:8080\r\n\r\n", nullptr, "2001:db8::1");
  EXPECT_TRUE(has(h, "Forwarded: for=\"[2001:db8::1]\";host=\"app.test:8080\";proto=http"));
}

TEST(RequestHead, RequestIdIsAddedOnlyWhenAbsent) {
  EXPECT_TRUE(has(upstreamHead("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
                  "X-Request-Id: 0123456789abcdef0123456789abcdef"));
  auto h = upstreamHead("GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: mine\r\n\r\n");
  EXPECT_TRUE(has(h, "X-Request-Id: mine"));
  EXPECT_EQ(h.find("0123456789abcdef"), std::string::npos);
}

std::string identityHead(std::string_view raw, const tls::PeerIdentity* id) {
  http::Http1Parser p(http::MessageKind::Request);
  EXPECT_EQ(p.feed(raw).status, http::ParseStatus::HeadComplete);
  std::string out;
  writeUpstreamRequestHead(p.head(), nullptr, {"192.0.2.7", "https", "id", "lb:443", id}, out);
  return out;
}

constexpr std::string_view kForged =
    "GET / HTTP/1.1\r\nHost: a\r\nX-Client-Verify: SUCCESS\r\n"
    "x-client-cert-subject: CN=admin\r\nX-Client-Cert-SAN: DNS:admin\r\n\r\n";

TEST(RequestHead, AVerifiedClientsIdentityReplacesWhatTheClientSent) {
  tls::PeerIdentity id{true, "CN=alice,O=Example", "DNS:alice.example, email:a@example"};
  auto h = identityHead(kForged, &id);
  EXPECT_TRUE(has(h, "X-Client-Verify: SUCCESS"));
  EXPECT_TRUE(has(h, "X-Client-Cert-Subject: CN=alice,O=Example"));
  EXPECT_TRUE(has(h, "X-Client-Cert-SAN: DNS:alice.example, email:a@example"));
  EXPECT_EQ(h.find("admin"), std::string::npos);
}

TEST(RequestHead, AClientWithoutACertificateIsNoneOnAMutualTlsListener) {
  tls::PeerIdentity none;
  auto h = identityHead(kForged, &none);
  EXPECT_TRUE(has(h, "X-Client-Verify: NONE"));
  EXPECT_EQ(h.find("X-Client-Cert"), std::string::npos);
  EXPECT_EQ(h.find("admin"), std::string::npos);
}

TEST(RequestHead, IdentityFieldsFromClientsAreDroppedOnEveryListener) {
  auto h = identityHead(kForged, nullptr);
  EXPECT_EQ(h.find("X-Client"), std::string::npos);
  EXPECT_EQ(h.find("x-client"), std::string::npos);
}

TEST(RequestHead, AbsoluteFormBecomesOriginFormWithTheTargetsHost) {
  auto h = upstreamHead("GET http://other.test:81?q=1 HTTP/1.1\r\nHost: ignored\r\n\r\n");
  EXPECT_EQ(h.rfind("GET /?q=1 HTTP/1.1\r\nHost: other.test:81\r\n", 0), 0u) << h;
}

TEST(RequestHead, ChunkedFramingAndUpgradeAreKept) {
  auto h = upstreamHead("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_TRUE(has(h, "Transfer-Encoding: chunked"));
  auto u = upstreamHead(
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_TRUE(has(u, "Connection: upgrade"));
  EXPECT_TRUE(has(u, "Upgrade: websocket"));
}

TEST(RequestHead, RouteRemovesAndSetsFields) {
  config::RouteConfig r;
  r.removeRequestHeaders = {"x-drop"};
  r.setRequestHeaders = {{"X-Set", "new"}};
  auto h = upstreamHead("GET / HTTP/1.1\r\nHost: a\r\nX-Drop: 1\r\nX-Set: old\r\n\r\n", &r);
  EXPECT_EQ(h.find("X-Drop"), std::string::npos);
  EXPECT_EQ(h.find("X-Set: old"), std::string::npos);
  EXPECT_TRUE(has(h, "X-Set: new"));
}

size_t count(const std::string& head, std::string_view name) {
  size_t n = 0;
  for (size_t at = head.find(std::string("\r\n") + std::string(name) + ":");
       at != std::string::npos;
       at = head.find(std::string("\r\n") + std::string(name) + ":", at + 1)) {
    ++n;
  }
  return n;
}

// Regression: a route setting X-Forwarded-Proto sent it twice (the proxy's
// "http" and the route's "https"). "set" replaces whoever wrote the first value.
TEST(RequestHead, RouteSetReplacesTheFieldsTheProxyAddsItself) {
  config::RouteConfig r;
  r.setRequestHeaders = {{"X-Forwarded-Proto", "https"}, {"host", "override.example"}};
  auto h = upstreamHead("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &r);
  EXPECT_EQ(count(h, "X-Forwarded-Proto"), 1u) << h;
  EXPECT_TRUE(has(h, "X-Forwarded-Proto: https"));
  EXPECT_EQ(count(h, "Host") + count(h, "host"), 1u) << h;
  EXPECT_TRUE(has(h, "host: override.example"));
  EXPECT_TRUE(has(h, "X-Forwarded-Host: a")) << "the client's host is still reported";
}

TEST(RequestHead, RouteRemoveDropsAFieldTheProxyWouldAdd) {
  config::RouteConfig r;
  r.removeRequestHeaders = {"forwarded", "x-request-id"};
  auto h = upstreamHead("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &r);
  EXPECT_EQ(h.find("Forwarded:"), std::string::npos) << h;
  EXPECT_EQ(h.find("X-Request-Id"), std::string::npos) << h;
  EXPECT_TRUE(has(h, "X-Forwarded-For: 192.0.2.7"));
}

std::string clientHead(std::string_view raw, const ResponseHeadOptions& o,
                       const config::RouteConfig* route = nullptr) {
  http::Http1Parser p(http::MessageKind::Response);
  EXPECT_EQ(p.feed(raw).status, http::ParseStatus::HeadComplete);
  std::string out;
  writeClientResponseHead(p.head(), route, o, out);
  return out;
}

TEST(ResponseHead, ConnectionSaysWhatTheProxyWillDo) {
  const char* raw = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  auto keep = clientHead(raw, {});
  EXPECT_EQ(keep.find("Connection"), std::string::npos);
  EXPECT_TRUE(has(keep, "Content-Length: 0"));
  ResponseHeadOptions close;
  close.close = true;
  EXPECT_TRUE(has(clientHead(raw, close), "Connection: close"));
}

TEST(ResponseHead, DechunkDropsTransferEncoding) {
  const char* raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_TRUE(has(clientHead(raw, {}), "Transfer-Encoding: chunked"));
  ResponseHeadOptions o;
  o.dechunk = true;
  o.close = true;
  EXPECT_EQ(clientHead(raw, o).find("Transfer-Encoding"), std::string::npos);
}

TEST(ResponseHead, RouteEditsApply) {
  config::RouteConfig r;
  r.removeResponseHeaders = {"server"};
  r.setResponseHeaders = {{"X-Frame-Options", "DENY"}};
  auto h = clientHead("HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n", {}, &r);
  EXPECT_EQ(h.find("Server"), std::string::npos);
  EXPECT_TRUE(has(h, "X-Frame-Options: DENY"));
}

TEST(Idempotence, FollowsRfc9110) {
  EXPECT_TRUE(isIdempotent(http::Method::Get));
  EXPECT_TRUE(isIdempotent(http::Method::Put));
  EXPECT_TRUE(isIdempotent(http::Method::Delete));
  EXPECT_FALSE(isIdempotent(http::Method::Post));
  EXPECT_FALSE(isIdempotent(http::Method::Patch));
}

TEST(RequestId, IsThirtyTwoHexDigits) {
  EXPECT_EQ(formatRequestId(0x0123456789abcdefULL, 0xfedcba9876543210ULL),
            "0123456789abcdeffedcba9876543210");
}

}  // namespace
}  // namespace ringlb::l7
