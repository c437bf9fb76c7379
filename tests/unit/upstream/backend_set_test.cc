// BackendSet: building from config, serving tiers, health updates.
#include "common/upstream/backend_set.h"

#include <gtest/gtest.h>

#include "tests/unit/upstream/pool_fixtures.h"

namespace ringlb::upstream {
namespace {

using config::BalanceAlgorithm;
using testing::makeSet;

config::BackendConfig backendConfig(std::string address, uint32_t weight, bool backup) {
  config::BackendConfig b;
  b.address = std::move(address);
  b.weight = weight;
  b.backup = backup;
  return b;
}

config::PoolConfig poolConfig() {
  config::PoolConfig pool;
  pool.name = "api";
  pool.balance = BalanceAlgorithm::Hash;
  pool.backends.push_back(backendConfig("127.0.0.1:9001", 1, false));
  pool.backends.push_back(backendConfig("127.0.0.1:9002", 3, false));
  pool.backends.push_back(backendConfig("127.0.0.1:9003", 1, true));
  return pool;
}

TEST(BackendSet, FromConfigStartsWithEveryBackendUpAndPrimariesServing) {
  auto set = BackendSet::fromConfig(poolConfig(), 7);
  EXPECT_EQ(set->version(), 7u);
  EXPECT_EQ(set->pool(), "api");
  ASSERT_EQ(set->size(), 3u);
  for (const Backend& b : set->backends()) {
    EXPECT_TRUE(b.up);
    EXPECT_EQ(b.pool, "api");
  }
  EXPECT_EQ((*set)[1].weight, 3u);
  EXPECT_EQ(std::vector<uint32_t>(set->serving().begin(), set->serving().end()),
            (std::vector<uint32_t>{0, 1}));
  EXPECT_FALSE(set->servingBackups());
  EXPECT_FALSE(set->maglev().empty());
}

TEST(BackendSet, ServesBackupsOnlyWhenEveryPrimaryIsDown) {
  auto set = BackendSet::fromConfig(poolConfig(), 1)->withHealth({false, false, true}, {}, 2);
  EXPECT_TRUE(set->servingBackups());
  EXPECT_EQ(std::vector<uint32_t>(set->serving().begin(), set->serving().end()),
            (std::vector<uint32_t>{2}));
}

TEST(BackendSet, ServesNothingWhenEveryBackendIsDown) {
  auto set = BackendSet::fromConfig(poolConfig(), 1)->withHealth({false, false, false}, {}, 2);
  EXPECT_TRUE(set->serving().empty());
  EXPECT_TRUE(set->maglev().empty());
}

TEST(BackendSet, StampsTheTimeABackendCameBackUp) {
  const MonoTime t1 = MonoTime{} + std::chrono::seconds(5);
  const MonoTime t2 = t1 + std::chrono::seconds(5);
  auto down = BackendSet::fromConfig(poolConfig(), 1)->withHealth({true, false, true}, t1, 2);
  auto back = down->withHealth({true, true, true}, t2, 3);
  EXPECT_EQ((*back)[1].upSince, t2);
  EXPECT_EQ((*back)[0].upSince, MonoTime{});  // stayed up: not re-stamped
}

TEST(BackendSet, RoundRobinPoolsCarryOnePeriodOfTheSchedule) {
  auto set = makeSet(BalanceAlgorithm::RoundRobin, {{.weight = 2}, {.weight = 4}});
  EXPECT_EQ(set->roundRobinPeriod().size(), 3u);  // weights divided by their gcd
}

TEST(BackendSet, FindsABackendByAddress) {
  auto set = BackendSet::fromConfig(poolConfig(), 1);
  EXPECT_EQ(set->find("127.0.0.1:9002"), 1u);
  EXPECT_FALSE(set->find("127.0.0.1:9999"));
}

}  // namespace
}  // namespace ringlb::upstream
