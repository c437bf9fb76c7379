// Specification of the server's registry of route caches
// (common/cache_registry.h): one live store per (listener, route, settings),
// held weakly, summed into gauges and purged together.
#include "common/cache_registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ringlb {
namespace {

// A RouteCache with fixed gauges that records its purges.
class FakeCache final : public RouteCache {
 public:
  FakeCache(uint64_t bytes, uint64_t objects, uint64_t evictions, size_t purgeAnswer = 0)
      : bytes_(bytes), objects_(objects), evictions_(evictions), purgeAnswer_(purgeAnswer) {}

  size_t purge(std::string_view host, std::string_view pathPrefix) override {
    purges.emplace_back(std::string(host), std::string(pathPrefix));
    return purgeAnswer_;
  }
  uint64_t bytes() const override { return bytes_; }
  uint64_t objects() const override { return objects_; }
  uint64_t evictions() const override { return evictions_; }

  std::vector<std::pair<std::string, std::string>> purges;

 private:
  uint64_t bytes_, objects_, evictions_;
  size_t purgeAnswer_;
};

// A `make` that counts its calls and returns `cache`.
struct Maker {
  std::shared_ptr<FakeCache> cache;
  int calls = 0;
  std::function<std::shared_ptr<RouteCache>()> fn() {
    return [this] {
      ++calls;
      return cache;
    };
  }
};

std::function<std::shared_ptr<RouteCache>()> makes(uint64_t bytes = 0, uint64_t objects = 0,
                                                   uint64_t evictions = 0, size_t purged = 0) {
  return [=] { return std::make_shared<FakeCache>(bytes, objects, evictions, purged); };
}

std::function<std::shared_ptr<RouteCache>()> mustNotMake() {
  return [] {
    ADD_FAILURE() << "make called although a live store exists";
    return std::shared_ptr<RouteCache>(std::make_shared<FakeCache>(0, 0, 0));
  };
}

const CacheRegistry::Gauges* gaugesOf(const std::vector<CacheRegistry::Gauges>& all,
                                      std::string_view listener, std::string_view route) {
  auto it = std::find_if(all.begin(), all.end(), [&](const CacheRegistry::Gauges& g) {
    return g.listener == listener && g.route == route;
  });
  return it == all.end() ? nullptr : &*it;
}

TEST(CacheRegistry, EqualKeysGetTheSameLiveStore) {
  CacheRegistry registry;
  Maker maker{std::make_shared<FakeCache>(0, 0, 0)};
  auto a = registry.get("web", "0", "max=1", maker.fn());
  auto b = registry.get("web", "0", "max=1", mustNotMake());
  EXPECT_EQ(a.get(), maker.cache.get());
  EXPECT_EQ(a, b);
  EXPECT_EQ(maker.calls, 1);
}

TEST(CacheRegistry, OtherSettingsGetANewStore) {
  CacheRegistry registry;
  auto a = registry.get("web", "0", "max=1", makes());
  auto b = registry.get("web", "0", "max=2", makes());
  EXPECT_NE(a, b);
  // Both stay live and each key keeps its own.
  EXPECT_EQ(registry.get("web", "0", "max=1", mustNotMake()), a);
  EXPECT_EQ(registry.get("web", "0", "max=2", mustNotMake()), b);
}

TEST(CacheRegistry, OtherListenerOrRouteGetsANewStore) {
  CacheRegistry registry;
  auto a = registry.get("web", "0", "s", makes());
  auto b = registry.get("web", "1", "s", makes());
  auto c = registry.get("api", "0", "s", makes());
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(b, c);
}

TEST(CacheRegistry, TheFieldsDoNotRunTogether) {
  CacheRegistry registry;
  auto a = registry.get("ab", "c", "s", makes());
  auto b = registry.get("a", "bc", "s", makes());
  EXPECT_NE(a, b);
}

TEST(CacheRegistry, HoldsStoresWeakly) {
  CacheRegistry registry;
  std::weak_ptr<RouteCache> weak;
  {
    auto a = registry.get("web", "0", "s", makes());
    weak = a;
  }
  EXPECT_TRUE(weak.expired());  // the registry kept no strong reference
  Maker maker{std::make_shared<FakeCache>(0, 0, 0)};
  auto b = registry.get("web", "0", "s", maker.fn());
  EXPECT_EQ(maker.calls, 1);
  EXPECT_EQ(b.get(), maker.cache.get());
}

TEST(CacheRegistry, AStoreLivesWhileAnyOwnerHoldsIt) {
  CacheRegistry registry;
  auto first = registry.get("web", "0", "s", makes());
  auto second = registry.get("web", "0", "s", mustNotMake());
  first.reset();
  EXPECT_EQ(registry.get("web", "0", "s", mustNotMake()), second);
}

TEST(CacheRegistry, DeadStoresAreNotInTheGauges) {
  CacheRegistry registry;
  { auto gone = registry.get("web", "0", "s", makes(100, 1, 0)); }
  auto live = registry.get("web", "1", "s", makes(5, 1, 0));
  auto gauges = registry.gauges();
  ASSERT_EQ(gauges.size(), 1u);
  EXPECT_EQ(gauges[0].route, "1");
  EXPECT_EQ(gauges[0].bytes, 5u);
}

TEST(CacheRegistry, GaugesSumTheStoresOfOneRoute) {
  CacheRegistry registry;
  auto a = registry.get("web", "0", "old", makes(100, 2, 7));
  auto b = registry.get("web", "0", "new", makes(50, 1, 3));
  auto c = registry.get("web", "1", "s", makes(9, 9, 9));
  auto d = registry.get("api", "0", "s", makes(1, 2, 3));
  auto gauges = registry.gauges();
  ASSERT_EQ(gauges.size(), 3u);
  const auto* web0 = gaugesOf(gauges, "web", "0");
  ASSERT_NE(web0, nullptr);
  EXPECT_EQ(web0->bytes, 150u);
  EXPECT_EQ(web0->objects, 3u);
  EXPECT_EQ(web0->evictions, 10u);
  const auto* web1 = gaugesOf(gauges, "web", "1");
  ASSERT_NE(web1, nullptr);
  EXPECT_EQ(web1->bytes, 9u);
  const auto* api0 = gaugesOf(gauges, "api", "0");
  ASSERT_NE(api0, nullptr);
  EXPECT_EQ(api0->bytes, 1u);
  EXPECT_EQ(api0->objects, 2u);
  EXPECT_EQ(api0->evictions, 3u);
}

TEST(CacheRegistry, NoStoresNoGauges) {
  CacheRegistry registry;
  EXPECT_TRUE(registry.gauges().empty());
  EXPECT_EQ(registry.purge("", ""), 0u);
}

TEST(CacheRegistry, PurgeReachesEveryLiveStore) {
  CacheRegistry registry;
  auto a = std::make_shared<FakeCache>(0, 0, 0, 2);
  auto b = std::make_shared<FakeCache>(0, 0, 0, 3);
  auto c = std::make_shared<FakeCache>(0, 0, 0, 5);
  auto ra = registry.get("web", "0", "s1", [&] { return a; });
  auto rb = registry.get("web", "0", "s2", [&] { return b; });
  auto rc = registry.get("api", "3", "s", [&] { return c; });
  EXPECT_EQ(registry.purge("example.com", "/static/"), 10u);
  using Purge = std::pair<std::string, std::string>;
  for (const auto& cache : {a, b, c}) {
    EXPECT_EQ(cache->purges, std::vector<Purge>{Purge("example.com", "/static/")});
  }
}

TEST(CacheRegistry, PurgeSkipsStoresNoLongerOwned) {
  CacheRegistry registry;
  auto kept = std::make_shared<FakeCache>(0, 0, 0, 1);
  auto dropped = std::make_shared<FakeCache>(0, 0, 0, 100);
  auto rk = registry.get("web", "0", "s", [&] { return kept; });
  registry.get("web", "1", "s", [&] { return dropped; });  // nobody keeps it
  // The test's own `dropped` is a strong reference: drop it too.
  std::weak_ptr<FakeCache> weak = dropped;
  dropped.reset();
  ASSERT_TRUE(weak.expired());
  EXPECT_EQ(registry.purge("", ""), 1u);
  EXPECT_EQ(kept->purges.size(), 1u);
}

}  // namespace
}  // namespace ringlb
