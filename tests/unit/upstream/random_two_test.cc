// random_two: the power of two choices on active load.
#include "common/upstream/random_two.h"

#include <gtest/gtest.h>

#include "tests/unit/upstream/pool_fixtures.h"

namespace ringlb::upstream {
namespace {

using config::BalanceAlgorithm;
using testing::makeSet;
using testing::Spec;

TEST(RandomTwo, EqualSpeedTrafficMatchesEqualWeightsWithinOnePercent) {
  const std::vector<Spec> specs = testing::equalWeights(5);
  BackendSelector state(makeSet(BalanceAlgorithm::RandomTwo, specs), 5);
  const auto counts = testing::simulateEqualSpeed(state, 100000, 50);
  for (size_t i = 0; i < specs.size(); ++i) {
    EXPECT_NEAR(testing::share(counts, i), testing::weightShare(specs, i), 0.01) << i;
  }
}

TEST(RandomTwo, EqualSpeedTrafficMatchesWeightsWithinOnePercent) {
  const std::vector<Spec> specs = {{.weight = 1}, {.weight = 2}, {.weight = 3}, {.weight = 4}};
  BackendSelector state(makeSet(BalanceAlgorithm::RandomTwo, specs), 5);
  const auto counts = testing::simulateEqualSpeed(state, 100000, 100);
  for (size_t i = 0; i < specs.size(); ++i) {
    EXPECT_NEAR(testing::share(counts, i), testing::weightShare(specs, i), 0.01) << i;
  }
}

TEST(RandomTwo, TakesTheLessLoadedOfItsTwoCandidates) {
  auto set = makeSet(BalanceAlgorithm::RandomTwo, testing::equalWeights(2));
  std::vector<uint32_t> active = {5, 0};
  RandomTwoBalancer balancer(*set, active, 1);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(balancer.pick({}), 1u);
}

TEST(RandomTwo, MovesLoadAwayFromASlowBackend) {
  BackendSelector state(makeSet(BalanceAlgorithm::RandomTwo, testing::equalWeights(4)), 5);
  const auto counts = testing::simulateServiceTimes(state, {10, 1, 1, 1}, 20000, 5);
  EXPECT_LT(testing::share(counts, 0), 0.25 / 2);
}

}  // namespace
}  // namespace ringlb::upstream
