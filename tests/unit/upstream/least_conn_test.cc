// least_conn: weight-aware fewest-active choice, random ties, and load moving
// away from a slow backend.
#include "common/upstream/least_conn.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/unit/upstream/pool_fixtures.h"

namespace ringlb::upstream {
namespace {

using config::BalanceAlgorithm;
using testing::makeSet;
using testing::Spec;

TEST(LeastConn, EqualSpeedTrafficMatchesWeightsWithinOnePercent) {
  const std::vector<Spec> specs = {{.weight = 1}, {.weight = 2}, {.weight = 3}, {.weight = 4}};
  BackendSelector state(makeSet(BalanceAlgorithm::LeastConn, specs), 5);
  const auto counts = testing::simulateEqualSpeed(state, 100000, 100);
  for (size_t i = 0; i < specs.size(); ++i) {
    EXPECT_NEAR(testing::share(counts, i), testing::weightShare(specs, i), 0.01) << i;
  }
}

TEST(LeastConn, PicksTheBackendWithFewestActivePerWeight) {
  auto set = makeSet(BalanceAlgorithm::LeastConn, {{.weight = 1}, {.weight = 4}, {.weight = 1}});
  std::vector<uint32_t> active = {1, 6, 2};  // scores after one more: 2/1, 7/4, 3/1
  LeastConnBalancer balancer(*set, active, 0);
  EXPECT_EQ(balancer.pick({}), 1u);
  active[1] = 8;  // 9/4 now loses to 2/1
  balancer.onLoadChanged(1);
  EXPECT_EQ(balancer.pick({}), 0u);
}

TEST(LeastConn, BreaksTiesAtRandomRatherThanAlwaysTheFirst) {
  auto set = makeSet(BalanceAlgorithm::LeastConn, testing::equalWeights(8));
  std::vector<uint32_t> active(8, 3);
  LeastConnBalancer balancer(*set, active, 9);
  std::vector<int> counts(8, 0);
  for (int i = 0; i < 8000; ++i) ++counts[balancer.pick({})];
  for (int c : counts) EXPECT_NEAR(c, 1000, 150);
}

TEST(LeastConn, RandomTiesExcludeMoreLoadedBackends) {
  auto set = makeSet(BalanceAlgorithm::LeastConn, testing::equalWeights(5));
  std::vector<uint32_t> active = {2, 1, 2, 1, 1};
  LeastConnBalancer balancer(*set, active, 9);
  std::set<uint32_t> picked;
  for (int i = 0; i < 1000; ++i) picked.insert(balancer.pick({}));
  EXPECT_EQ(picked, (std::set<uint32_t>{1, 3, 4}));
}

TEST(LeastConn, MovesLoadAwayFromASlowBackend) {
  BackendSelector state(makeSet(BalanceAlgorithm::LeastConn, testing::equalWeights(4)), 5);
  // Backend 0 takes 10 ticks per request, the others 1.
  const auto counts = testing::simulateServiceTimes(state, {10, 1, 1, 1}, 20000, 5);
  EXPECT_LT(testing::share(counts, 0), 0.25 / 2);
}

}  // namespace
}  // namespace ringlb::upstream
