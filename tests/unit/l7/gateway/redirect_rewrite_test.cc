// Specification of the redirect and rewrite phases (pure functions).
#include <gtest/gtest.h>

#include <string>

#include "l7/gateway/redirect.h"
#include "l7/gateway/rewrite.h"

namespace ringlb::l7 {
namespace {

http::MessageHead parsed(http::Http1Parser& p, std::string_view raw) {
  EXPECT_EQ(p.feed(raw).status, http::ParseStatus::HeadComplete) << raw;
  return p.head();
}

TEST(RedirectLocation, HttpsKeepsHostWithoutPortAndTheTarget) {
  http::Http1Parser p(http::MessageKind::Request);
  auto head = parsed(p, "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
  config::RouteConfig route;
  route.redirect = "https";
  EXPECT_EQ(redirectLocation(route, head, "lb"), "https://example.com/a/b?x=1");
}

TEST(RedirectLocation, HttpsKeepsAnIpv6HostInBrackets) {
  http::Http1Parser p(http::MessageKind::Request);
  auto head = parsed(p, "GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n");
  config::RouteConfig route;
  route.redirect = "https";
  EXPECT_EQ(redirectLocation(route, head, "lb"), "https://[2001:db8::1]/");
}

TEST(RedirectLocation, AnHttp10RequestWithoutHostUsesTheFallback) {
  http::Http1Parser p(http::MessageKind::Request);
  auto head = parsed(p, "GET /x HTTP/1.0\r\n\r\n");
  config::RouteConfig route;
  route.redirect = "https";
  EXPECT_EQ(redirectLocation(route, head, "127.0.0.1"), "https://127.0.0.1/x");
}

TEST(RedirectLocation, AUrlPrefixGetsTheTargetAppended) {
  http::Http1Parser p(http::MessageKind::Request);
  auto head = parsed(p, "GET /old/page?q=2 HTTP/1.1\r\nHost: a\r\n\r\n");
  config::RouteConfig route;
  route.redirect = "https://new.example.com/base";
  EXPECT_EQ(redirectLocation(route, head, "lb"), "https://new.example.com/base/old/page?q=2");
}

TEST(RedirectLocation, AnAbsoluteFormTargetContributesItsPathOnly) {
  http::Http1Parser p(http::MessageKind::Request);
  auto head = parsed(p, "GET http://a.example/p?z HTTP/1.1\r\nHost: a.example\r\n\r\n");
  config::RouteConfig route;
  route.redirect = "https";
  EXPECT_EQ(redirectLocation(route, head, "lb"), "https://a.example/p?z");
}

TEST(RewriteTarget, ThePrefixIsReplaced) {
  EXPECT_EQ(rewriteTarget("/api/users?x=1", "/api", "/v2"), "/v2/users?x=1");
  EXPECT_EQ(rewriteTarget("/api/users", "/api/", "/v2/"), "/v2/users");
}

TEST(RewriteTarget, OneSlashWhereTheyJoin) {
  EXPECT_EQ(rewriteTarget("/api/users", "/api", "/"), "/users");
  EXPECT_EQ(rewriteTarget("/api", "/api", "/"), "/");
}

TEST(RewriteTarget, NeverEmptyNorStartingWithAQuery) {
  EXPECT_EQ(rewriteTarget("/api?x=1", "/api", "/"), "/?x=1");
  EXPECT_EQ(rewriteTarget("/apix", "/api", "/"), "/x");
}

}  // namespace
}  // namespace ringlb::l7
