// Specification of the HTTP/2 request head translation (RFC 9113 section 8)
// and of the token buckets behind the HTTP/2 flood limits.
#include "l7/h2/h2_request.h"

#include <gtest/gtest.h>

#include <string>

#include "l7/h2/h2_limits.h"
#include "l7/http/headers.h"

namespace ringlb::l7 {
namespace {

void addGet(H2RequestHead& r, std::string_view path = "/a?b=1") {
  r.add(":method", "GET");
  r.add(":scheme", "https");
  r.add(":authority", "example.com");
  r.add(":path", path);
}

TEST(H2RequestHead, PseudoFieldsBecomeTheRequestLineAndHost) {
  H2RequestHead r(32768, 100);
  addGet(r);
  r.add("accept", "*/*");
  ASSERT_TRUE(r.finish(true));
  const http::MessageHead& h = r.head();
  EXPECT_EQ(h.method, http::Method::Get);
  EXPECT_EQ(h.methodName, "GET");
  EXPECT_EQ(h.target, "/a?b=1");
  EXPECT_EQ(h.authority, "example.com");
  EXPECT_EQ(h.framing, http::BodyFraming::None);
  ASSERT_EQ(h.headers.size(), 1u) << "no pseudo-field is a header";
  EXPECT_EQ(h.headers[0].name, "accept");
  std::string out;
  writeUpstreamRequestHead(h, nullptr, {"192.0.2.1", "https", "id", "lb"}, out);
  EXPECT_EQ(out.rfind("GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\n", 0), 0u) << out;
}

TEST(H2RequestHead, AuthorityWinsOverHost) {
  H2RequestHead r(32768, 100);
  addGet(r);
  r.add("host", "other.example");
  ASSERT_TRUE(r.finish(true));
  EXPECT_EQ(r.head().authority, "example.com");
  EXPECT_EQ(r.head().find("host"), nullptr) << "Host is written from :authority";
}

TEST(H2RequestHead, HostStandsInForAMissingAuthority) {
  H2RequestHead r(32768, 100);
  r.add(":method", "GET");
  r.add(":scheme", "http");
  r.add(":path", "/");
  r.add("host", "h.example");
  ASSERT_TRUE(r.finish(true));
  EXPECT_EQ(r.head().authority, "h.example");
}

TEST(H2RequestHead, NoAuthorityAtAllIsRefused) {
  H2RequestHead r(32768, 100);
  r.add(":method", "GET");
  r.add(":scheme", "http");
  r.add(":path", "/");
  EXPECT_FALSE(r.finish(true));
}

TEST(H2RequestHead, CookieCrumbsAreJoinedIntoOneField) {
  H2RequestHead r(32768, 100);
  addGet(r);
  r.add("cookie", "a=1");
  r.add("x-other", "v");
  r.add("cookie", "b=2");
  ASSERT_TRUE(r.finish(true));
  ASSERT_EQ(r.head().count("cookie"), 1u);
  EXPECT_EQ(r.head().find("cookie")->value, "a=1; b=2");
  EXPECT_EQ(r.head().find("x-other")->value, "v");
}

TEST(H2RequestHead, ABodyWithoutContentLengthGoesUpstreamChunked) {
  H2RequestHead r(32768, 100);
  r.add(":method", "POST");
  r.add(":scheme", "http");
  r.add(":authority", "x");
  r.add(":path", "/up");
  ASSERT_TRUE(r.finish(false));
  EXPECT_TRUE(r.chunked());
  std::string out;
  writeUpstreamRequestHead(r.head(), nullptr, {"192.0.2.1", "http", "id", "lb"}, out);
  EXPECT_NE(out.find("transfer-encoding: chunked\r\n"), std::string::npos) << out;
}

TEST(H2RequestHead, ContentLengthFramesTheBody) {
  H2RequestHead r(32768, 100);
  r.add(":method", "POST");
  r.add(":scheme", "http");
  r.add(":authority", "x");
  r.add(":path", "/up");
  r.add("content-length", "42");
  ASSERT_TRUE(r.finish(false));
  EXPECT_EQ(r.head().framing, http::BodyFraming::ContentLength);
  EXPECT_EQ(r.head().contentLength, 42u);
  EXPECT_FALSE(r.chunked());
}

TEST(H2RequestHead, AnnouncedBodyWithEndStreamIsRefused) {
  H2RequestHead r(32768, 100);
  addGet(r);
  r.add("content-length", "10");
  EXPECT_FALSE(r.finish(true));
}

TEST(H2RequestHead, ADecodedListPastMaxHeaderSizeIsTooLarge) {
  H2RequestHead r(1024, 100);
  addGet(r);
  r.add("x-big", std::string(2000, 'a'));
  EXPECT_TRUE(r.tooLarge());
}

TEST(H2RequestHead, MoreFieldsThanMaxHeaderFieldsIsTooLarge) {
  H2RequestHead r(1 << 20, 3);
  addGet(r);
  for (int i = 0; i < 4; ++i) r.add("x-f" + std::to_string(i), "v");
  EXPECT_FALSE(r.finish(true));
  EXPECT_TRUE(r.tooLarge());
}

TEST(H2RequestHead, ExpectContinueIsNoted) {
  H2RequestHead r(32768, 100);
  r.add(":method", "PUT");
  r.add(":scheme", "http");
  r.add(":authority", "x");
  r.add(":path", "/");
  r.add("expect", "100-continue");
  ASSERT_TRUE(r.finish(false));
  EXPECT_TRUE(r.head().expectContinue);
}

TEST(H2RequestHead, ConnectIsLeftToTheExchangeToRefuse) {
  H2RequestHead r(32768, 100);
  r.add(":method", "CONNECT");
  r.add(":authority", "example.com:443");
  ASSERT_TRUE(r.finish(false));
  EXPECT_EQ(r.head().method, http::Method::Connect);
}

TEST(ForwardsUpgrade, H2cIsNotPassedOnButWebSocketIs) {
  http::Http1Parser p(http::MessageKind::Request);
  ASSERT_EQ(p.feed("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                   "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
                .status,
            http::ParseStatus::HeadComplete);
  EXPECT_FALSE(forwardsUpgrade(p.head()));
  std::string out;
  writeUpstreamRequestHead(p.head(), nullptr, {"192.0.2.1", "http", "id", "lb"}, out);
  EXPECT_EQ(out.find("Upgrade"), std::string::npos) << out;
  http::Http1Parser w(http::MessageKind::Request);
  ASSERT_EQ(w.feed("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
                .status,
            http::ParseStatus::HeadComplete);
  EXPECT_TRUE(forwardsUpgrade(w.head()));
}

TEST(TokenBucket, ABurstPassesThenTheRateLimits) {
  TokenBucket bucket(10, 100);
  auto t = std::chrono::steady_clock::time_point{} + std::chrono::seconds(1);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(bucket.take(t)) << i;
  EXPECT_FALSE(bucket.take(t)) << "the burst is spent";
  EXPECT_TRUE(bucket.take(t + std::chrono::milliseconds(10))) << "one token per 10 ms";
  EXPECT_FALSE(bucket.take(t + std::chrono::milliseconds(10)));
}

TEST(TokenBucket, AnIdleBucketRefillsOnlyToItsBurst) {
  TokenBucket bucket(5, 100);
  auto t = std::chrono::steady_clock::time_point{} + std::chrono::seconds(1);
  EXPECT_TRUE(bucket.take(t));
  t += std::chrono::hours(1);
  int passed = 0;
  while (bucket.take(t)) ++passed;
  EXPECT_EQ(passed, 5);
}

}  // namespace
}  // namespace ringlb::l7

namespace ringlb::l7 {
namespace {

TEST(H2TrailerLines, LowerCasesTrimsAndDropsForbiddenFields) {
  EXPECT_EQ(
      h2TrailerLines("Grpc-Status:  0 \r\nContent-Length: 5\r\nX-A:b\n:bad: x\r\nnocolon\r\n"),
      "grpc-status: 0\r\nx-a: b\r\n");
  EXPECT_EQ(h2TrailerLines(""), "");
}

}  // namespace
}  // namespace ringlb::l7
