#include "l7/forward/forward_request.h"

#include <gtest/gtest.h>

#include <string>

namespace ringlb::l7 {
namespace {

// Parses `text` as a request head; the parser must outlive the head's views.
const http::MessageHead& parseRequest(http::Http1Parser& p, const std::string& text) {
  http::ParseResult r = p.feed(text);
  EXPECT_EQ(r.status, http::ParseStatus::HeadComplete);
  return p.head();
}

TEST(ForwardAuthority, HostAndPort) {
  auto d = parseAuthority("example.com:443", 0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "example.com");
  EXPECT_EQ(d->port, 443);
}

TEST(ForwardAuthority, BracketedIpv6) {
  auto d = parseAuthority("[::1]:8443", 0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "::1");
  EXPECT_EQ(d->port, 8443);
}

TEST(ForwardAuthority, PortRequiredWithoutDefault) {
  EXPECT_FALSE(parseAuthority("example.com", 0));
  EXPECT_EQ(parseAuthority("example.com", 80)->port, 80);
}

TEST(ForwardAuthority, RejectsUserinfoBadPortAndEmptyHost) {
  EXPECT_FALSE(parseAuthority("user@example.com:443", 0));
  EXPECT_FALSE(parseAuthority("example.com:0", 0));
  EXPECT_FALSE(parseAuthority("example.com:65536", 0));
  EXPECT_FALSE(parseAuthority(":443", 0));
  EXPECT_FALSE(parseAuthority("exa mple.com:443", 0));
}

TEST(ForwardAbsoluteTarget, HttpWithDefaultPort) {
  http::Http1Parser p(http::MessageKind::Request);
  const auto& head = parseRequest(p, "GET http://Example.com/a?b HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string why;
  auto d = absoluteTarget(head, &why);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "Example.com");
  EXPECT_EQ(d->port, 80);
}

TEST(ForwardAbsoluteTarget, OtherSchemesAreRefusedWithAReason) {
  http::Http1Parser p(http::MessageKind::Request);
  const auto& head = parseRequest(p, "GET https://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string why;
  EXPECT_FALSE(absoluteTarget(head, &why));
  EXPECT_NE(why.find("http://"), std::string::npos);
}

TEST(ForwardOriginRequestHead, RewritesToOriginFormAndStripsProxyFields) {
  http::Http1Parser p(http::MessageKind::Request);
  const auto& head = parseRequest(p,
                                  "POST http://h.test:8080/p?q=1 HTTP/1.1\r\n"
                                  "Host: wrong\r\n"
                                  "Proxy-Connection: keep-alive\r\n"
                                  "Proxy-Authorization: Basic eA==\r\n"
                                  "Connection: keep-alive, X-Hop\r\n"
                                  "X-Hop: 1\r\n"
                                  "Content-Length: 3\r\n"
                                  "Accept: */*\r\n\r\n");
  std::string out = originRequestHead(head, {"h.test", 8080});
  EXPECT_EQ(out,
            "POST /p?q=1 HTTP/1.1\r\n"
            "Host: h.test:8080\r\n"
            "Content-Length: 3\r\n"
            "Accept: */*\r\n"
            "Via: 1.1 ringlb\r\n\r\n")
      << "keep-alive towards the origin: no Connection: close";
}

TEST(ForwardOriginRequestHead, EmptyPathBecomesSlashAndDefaultPortIsOmitted) {
  http::Http1Parser p(http::MessageKind::Request);
  const auto& head = parseRequest(p, "GET http://h.test HTTP/1.1\r\nHost: h.test\r\n\r\n");
  std::string out = originRequestHead(head, {"h.test", 80});
  EXPECT_EQ(out.substr(0, out.find("\r\n\r\n")),
            "GET / HTTP/1.1\r\nHost: h.test\r\nVia: 1.1 ringlb");
}

TEST(ForwardOriginRequestHead, ChunkedFramingIsKeptForTheRawBody) {
  http::Http1Parser p(http::MessageKind::Request);
  const auto& head = parseRequest(
      p, "POST http://h.test/ HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_NE(originRequestHead(head, {"h.test", 80}).find("Transfer-Encoding: chunked\r\n"),
            std::string::npos);
}

TEST(ForwardOriginRequestHead, AnHttp10ClientStillSpeaksHttp11ToTheOrigin) {
  http::Http1Parser p(http::MessageKind::Request);
  const auto& head = parseRequest(p, "GET http://h.test/ HTTP/1.0\r\n\r\n");
  EXPECT_EQ(originRequestHead(head, {"h.test", 80}).substr(0, 16), "GET / HTTP/1.1\r\n");
}

TEST(ForwardProxyResponse, BodyCarriesTheDetail) {
  std::string r = proxyResponse(403, "denied by deny rule \"x\"");
  EXPECT_EQ(r.substr(0, 24), "HTTP/1.1 403 Forbidden\r\n");
  EXPECT_NE(r.find("\r\n\r\ndenied by deny rule \"x\"\n"), std::string::npos);
  EXPECT_NE(r.find("Content-Length: 24\r\n"), std::string::npos);
}

}  // namespace
}  // namespace ringlb::l7
