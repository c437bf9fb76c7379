#include <gtest/gtest.h>

#include <string>

#include "common/stats.h"

namespace ringlb {
namespace {

TEST(StatsRegistry, TheSameKeyFindsTheSameEntryAndAnyOtherPartMakesANewOne) {
  StatsRegistry registry;
  ListenerStats& web0 = registry.listener("web", 0);
  web0.connectionsAccepted.add(3);
  EXPECT_EQ(&registry.listener("web", 0), &web0);
  EXPECT_NE(&registry.listener("web", 1), &web0);
  EXPECT_NE(&registry.listener("api", 0), &web0);
  EXPECT_EQ(web0.listener, "web");
  EXPECT_EQ(web0.worker, 0u);

  BackendStats& a = registry.backend("pool", "10.0.0.1:80", 0);
  EXPECT_EQ(&registry.backend("pool", "10.0.0.1:80", 0), &a);
  EXPECT_NE(&registry.backend("pool", "10.0.0.2:80", 0), &a);
  EXPECT_NE(&registry.backend("other", "10.0.0.1:80", 0), &a);
  EXPECT_NE(&registry.backend("pool", "10.0.0.1:80", 1), &a);
  EXPECT_EQ(a.pool, "pool");
  EXPECT_EQ(a.backend, "10.0.0.1:80");

  RouteStats& r = registry.route("web", "routes[0]", 2);
  EXPECT_EQ(&registry.route("web", "routes[0]", 2), &r);
  EXPECT_NE(&registry.route("web", "routes[1]", 2), &r);
  EXPECT_EQ(r.route, "routes[0]");
  EXPECT_EQ(r.worker, 2u);

  ForwardRuleStats& f = registry.forwardRule("egress", "deny[0]", 0);
  EXPECT_EQ(&registry.forwardRule("egress", "deny[0]", 0), &f);
  EXPECT_NE(&registry.forwardRule("egress", "deny[1]", 0), &f);
  EXPECT_EQ(f.rule, "deny[0]");

  size_t listeners = 0;
  registry.forEachListener([&](const ListenerStats&) { ++listeners; });
  EXPECT_EQ(listeners, 3u);
  size_t backends = 0;
  registry.forEachBackend([&](const BackendStats&) { ++backends; });
  EXPECT_EQ(backends, 4u);
}

// Workers keep references to their entries while others are added.
TEST(StatsRegistry, EntriesStayWhereTheyAreAsMoreAreAdded) {
  StatsRegistry registry;
  ListenerStats& first = registry.listener("first", 0);
  first.bytesIn.add(42);
  for (unsigned i = 0; i < 1000; ++i) registry.listener("l" + std::to_string(i), i % 4);
  EXPECT_EQ(&registry.listener("first", 0), &first);
  EXPECT_EQ(first.bytesIn.get(), 42u);
}

}  // namespace
}  // namespace ringlb
