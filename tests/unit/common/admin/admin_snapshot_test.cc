#include "common/admin/admin_snapshot.h"

#include <gtest/gtest.h>

#include "common/admin/admin_rates.h"
#include "common/backend_status.h"
#include "common/shared_services.h"
#include "common/stats.h"
#include "config/address.h"

namespace ringlb::admin {
namespace {

// A config with one tcp listener `listener` on pool `pool` with two backends.
// Names are unique per test: the registry and the board are process-wide.
config::Config makeConfig(const std::string& listener, const std::string& pool) {
  config::Config cfg;
  config::ListenerConfig l;
  l.name = listener;
  l.mode = config::ListenerMode::Tcp;
  l.pool = pool;
  std::string error;
  l.bind = *config::parseNumericAddress("127.0.0.1:7000", &error);
  cfg.listeners.push_back(l);
  config::PoolConfig p;
  p.name = pool;
  for (const char* address : {"127.0.0.1:7001", "127.0.0.1:7002"}) {
    config::BackendConfig b;
    b.address = address;
    p.backends.push_back(b);
  }
  cfg.pools[pool] = p;
  return cfg;
}

std::vector<BackendStatus> boardFor(const config::Config& cfg) {
  std::vector<BackendStatus> list;
  for (const auto& [name, pool] : cfg.pools) {
    for (const auto& b : pool.backends) {
      BackendStatus s;
      s.pool = name;
      s.address = b.address;
      list.push_back(s);
    }
  }
  return list;
}

TEST(AdminSnapshotTest, SumsListenerCountersAcrossWorkers) {
  SharedServices shared;  // this test's own registries
  auto& registry = shared.stats;
  registry.listener("snap-sum", 0).bytesIn.add(100);
  registry.listener("snap-sum", 1).bytesIn.add(23);
  registry.listener("snap-sum", 1).connectionsActive.add(2);
  AdminSnapshot s = collectAdminSnapshot(shared, makeConfig("snap-sum", "snap-sum-pool"), {}, {});
  ASSERT_EQ(s.listeners.size(), 1u);
  EXPECT_EQ(s.listeners[0].bytesIn, 123u);
  EXPECT_EQ(s.listeners[0].connectionsActive, 2u);
}

TEST(AdminSnapshotTest, ListsOnlyListenersOfTheCurrentConfig) {
  SharedServices shared;  // this test's own registries
  shared.stats.listener("snap-gone", 0).bytesIn.add(1);
  AdminSnapshot s = collectAdminSnapshot(shared, makeConfig("snap-kept", "snap-kept-pool"), {}, {});
  ASSERT_EQ(s.listeners.size(), 1u);
  EXPECT_EQ(s.listeners[0].name, "snap-kept");
}

TEST(AdminSnapshotTest, CountsRequestsByStatusCode) {
  SharedServices shared;  // this test's own registries
  auto& stats = shared.stats.listener("snap-codes", 0);
  stats.countRequest(200);
  stats.countRequest(200);
  stats.countRequest(503);
  AdminSnapshot s =
      collectAdminSnapshot(shared, makeConfig("snap-codes", "snap-codes-pool"), {}, {});
  EXPECT_EQ(s.listeners[0].requestsByCode.at(200), 2u);
  EXPECT_EQ(s.listeners[0].requestsByCode.at(503), 1u);
  EXPECT_EQ(s.listeners[0].requestsByCode.count(404), 0u);
}

TEST(AdminSnapshotTest, SumsBackendCountersAndTakesStateFromTheBoard) {
  SharedServices shared;  // this test's own registries
  config::Config cfg = makeConfig("snap-be", "snap-be-pool");
  shared.backendStatus.setBackends(boardFor(cfg));
  shared.backendStatus.update("snap-be-pool", "127.0.0.1:7002", [](BackendStatus& b) {
    b.up = false;
    b.checked = true;
    b.changes = 1;
    b.lastChange = std::chrono::system_clock::time_point(std::chrono::seconds(10));
  });
  auto& registry = shared.stats;
  registry.backend("snap-be-pool", "127.0.0.1:7001", 0).active.add(2);
  registry.backend("snap-be-pool", "127.0.0.1:7001", 1).active.add(1);

  AdminSnapshot s = collectAdminSnapshot(shared, cfg, {}, {});
  ASSERT_EQ(s.pools.size(), 1u);
  ASSERT_EQ(s.pools[0].backends.size(), 2u);
  const BackendView& first = s.pools[0].backends[0];
  const BackendView& second = s.pools[0].backends[1];
  EXPECT_EQ(first.active, 3u);
  EXPECT_TRUE(first.up);
  EXPECT_FALSE(first.lastChange.has_value());
  EXPECT_FALSE(second.up);
  EXPECT_TRUE(second.lastChange.has_value());
}

TEST(AdminSnapshotTest, AnEjectedBackendShowsAsDown) {
  SharedServices shared;  // this test's own registries
  config::Config cfg = makeConfig("snap-ej", "snap-ej-pool");
  shared.backendStatus.setBackends(boardFor(cfg));
  shared.backendStatus.update("snap-ej-pool", "127.0.0.1:7001",
                              [](BackendStatus& b) { b.ejected = true; });
  AdminSnapshot s = collectAdminSnapshot(shared, cfg, {}, {});
  EXPECT_FALSE(s.pools[0].backends[0].up);
}

TEST(AdminRatesTest, RateIsTheCounterDeltaOverTheSampledTime) {
  AdminSnapshot s;
  ListenerView l;
  l.name = "r";
  l.mode = "tcp";
  s.listeners.push_back(l);
  AdminRates rates;
  auto t0 = AdminRates::Clock::time_point(std::chrono::seconds(100));
  rates.sample(s, t0);
  s.listeners[0].connectionsAccepted = 50;
  rates.sample(s, t0 + std::chrono::seconds(5));
  rates.fill(s);
  EXPECT_DOUBLE_EQ(s.listeners[0].rate, 10.0);
}

TEST(AdminRatesTest, RateIsZeroWithASingleSample) {
  AdminSnapshot s;
  s.listeners.push_back(ListenerView{});
  s.listeners[0].connectionsAccepted = 7;
  AdminRates rates;
  rates.sample(s, AdminRates::Clock::now());
  rates.fill(s);
  EXPECT_EQ(s.listeners[0].rate, 0.0);
}

TEST(AdminRatesTest, OldSamplesLeaveTheWindow) {
  AdminSnapshot s;
  ListenerView l;
  l.name = "w";
  l.mode = "tcp";
  s.listeners.push_back(l);
  AdminRates rates(std::chrono::seconds(10));
  auto t0 = AdminRates::Clock::time_point(std::chrono::seconds(100));
  for (int i = 0; i <= 30; ++i) {
    // 100 per second for the first 20 s, then nothing.
    s.listeners[0].connectionsAccepted = static_cast<uint64_t>(std::min(i, 20) * 100);
    rates.sample(s, t0 + std::chrono::seconds(i));
  }
  rates.fill(s);
  EXPECT_DOUBLE_EQ(s.listeners[0].rate, 0.0);
}

}  // namespace
}  // namespace ringlb::admin
