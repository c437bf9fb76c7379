// Specification of routing: host exact and wildcard, path exact and prefix,
// methods and header matches; first match wins; then the listener's pool.
#include "l7/http/router.h"

#include <gtest/gtest.h>

#include <vector>

namespace ringlb::l7 {
namespace {

config::RouteConfig route(std::string pool) {
  config::RouteConfig r;
  r.pool = std::move(pool);
  return r;
}

std::string routed(const config::ListenerConfig& l, std::string_view host, std::string_view path,
                   std::string_view method = "GET", std::vector<http::HeaderView> headers = {}) {
  RouteMatch m = Router(l).match({host, path, method, headers});
  return m.found() ? *m.pool : "(404)";
}

TEST(Router, ExactHostMatchesCaseInsensitivelyAndIgnoresThePort) {
  config::ListenerConfig l;
  auto r = route("api");
  r.host = "api.example.com";
  l.routes.push_back(r);
  EXPECT_EQ(routed(l, "API.Example.com:8080", "/"), "api");
  EXPECT_EQ(routed(l, "www.example.com", "/"), "(404)");
}

TEST(Router, WildcardHostNeedsALabelBeforeTheSuffix) {
  EXPECT_TRUE(hostMatches("*.example.com", "a.example.com"));
  EXPECT_TRUE(hostMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(hostMatches("*.example.com", "example.com"));
  EXPECT_FALSE(hostMatches("*.example.com", "badexample.com"));
}

TEST(Router, PathPrefixAndExactPathIgnoreTheQuery) {
  config::ListenerConfig l;
  auto exact = route("exact");
  exact.path = "/login";
  auto prefix = route("static");
  prefix.pathPrefix = "/static/";
  l.routes = {exact, prefix};
  EXPECT_EQ(routed(l, "h", "/login?next=/"), "exact");
  EXPECT_EQ(routed(l, "h", "/login/more"), "(404)");
  EXPECT_EQ(routed(l, "h", "/static/app.js"), "static");
}

TEST(Router, MethodsAndHeadersMustAllMatch) {
  config::ListenerConfig l;
  auto r = route("writes");
  r.methods = {"POST", "PUT"};
  r.matchHeaders = {{"X-Tenant", "blue"}};
  l.routes.push_back(r);
  EXPECT_EQ(routed(l, "h", "/", "POST", {{"x-tenant", "blue"}}), "writes");
  EXPECT_EQ(routed(l, "h", "/", "GET", {{"x-tenant", "blue"}}), "(404)");
  EXPECT_EQ(routed(l, "h", "/", "PUT", {{"x-tenant", "red"}}), "(404)");
}

TEST(Router, FirstMatchWinsThenTheListenerPool) {
  config::ListenerConfig l;
  l.pool = "default";
  auto first = route("first");
  first.pathPrefix = "/a";
  auto second = route("second");
  second.pathPrefix = "/a/b";
  l.routes = {first, second};
  EXPECT_EQ(routed(l, "h", "/a/b/c"), "first");
  EXPECT_EQ(routed(l, "h", "/z"), "default");
  EXPECT_EQ(Router(l).match({"h", "/z", "GET", {}}).route, nullptr);
}

TEST(Router, HostWithoutPortKeepsIpv6Brackets) {
  EXPECT_EQ(hostWithoutPort("[::1]:8080"), "[::1]");
  EXPECT_EQ(hostWithoutPort("example.com"), "example.com");
  EXPECT_EQ(hostWithoutPort("example.com:80"), "example.com");
}

}  // namespace
}  // namespace ringlb::l7
