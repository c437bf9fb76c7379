// Smooth weighted round robin: exact weights in every window, even
// interleaving, and the slow-start ramp.
#include "common/upstream/round_robin.h"

#include <gtest/gtest.h>

#include "tests/unit/upstream/pool_fixtures.h"

namespace ringlb::upstream {
namespace {

using config::BalanceAlgorithm;
using namespace std::chrono_literals;
using testing::makeSet;
using testing::Spec;

std::vector<uint32_t> pickSequence(Balancer& balancer, size_t n, MonoTime now = {}) {
  std::vector<uint32_t> picks;
  for (size_t i = 0; i < n; ++i) picks.push_back(balancer.pick({.now = now}));
  return picks;
}

void expectEveryWindowHoldsExactWeights(const std::vector<uint32_t>& picks,
                                        const std::vector<Spec>& specs) {
  uint32_t window = 0;
  for (const Spec& s : specs) window += s.weight;
  std::vector<uint32_t> counts(specs.size(), 0);
  for (size_t i = 0; i < picks.size(); ++i) {
    ++counts[picks[i]];
    if (i >= window) --counts[picks[i - window]];
    if (i + 1 < window) continue;
    for (size_t b = 0; b < specs.size(); ++b) {
      ASSERT_EQ(counts[b], specs[b].weight) << "backend " << b << ", window ending at " << i;
    }
  }
}

TEST(RoundRobin, EveryWindowOfTotalWeightPicksEachBackendExactlyItsWeight) {
  const std::vector<Spec> specs = {{.weight = 5}, {.weight = 1}, {.weight = 3}, {.weight = 2}};
  auto set = makeSet(BalanceAlgorithm::RoundRobin, specs);
  RoundRobinBalancer balancer(*set, 42);
  expectEveryWindowHoldsExactWeights(pickSequence(balancer, 1000), specs);
}

TEST(RoundRobin, LiveSteppingKeepsTheWindowPropertyWhenThePeriodIsTooLong) {
  const std::vector<Spec> specs = {{.weight = 50000}, {.weight = 20001}, {.weight = 7}};
  auto set = makeSet(BalanceAlgorithm::RoundRobin, specs);
  ASSERT_TRUE(set->roundRobinPeriod().empty());  // period 70008 > 65536
  RoundRobinBalancer balancer(*set, 42);
  expectEveryWindowHoldsExactWeights(pickSequence(balancer, 2 * 70008 + 17), specs);
}

TEST(RoundRobin, InterleavesAHeavyBackendLikeNginx) {
  SmoothWrr wrr(3);
  const std::vector<uint64_t> weights = {5, 1, 1};
  std::vector<uint32_t> sequence;
  for (int i = 0; i < 7; ++i) sequence.push_back(wrr.next(weights));
  EXPECT_EQ(sequence, (std::vector<uint32_t>{0, 0, 1, 0, 2, 0, 0}));  // a a b a c a a
}

TEST(RoundRobin, TrafficSharesMatchWeightsWithinOnePercent) {
  const std::vector<Spec> specs = {{.weight = 1}, {.weight = 2}, {.weight = 3}, {.weight = 4}};
  BackendSelector state(makeSet(BalanceAlgorithm::RoundRobin, specs), 3);
  const auto counts = testing::countPicks(state, 100000);
  for (size_t i = 0; i < specs.size(); ++i) {
    EXPECT_NEAR(testing::share(counts, i), testing::weightShare(specs, i), 0.01) << i;
  }
}

TEST(RoundRobin, WorkersStartAtDifferentPointsOfThePeriod) {
  auto set = makeSet(BalanceAlgorithm::RoundRobin, testing::equalWeights(100));
  std::set<uint32_t> firstPicks;
  for (uint64_t seed = 0; seed < 20; ++seed)
    firstPicks.insert(RoundRobinBalancer(*set, seed).pick({}));
  EXPECT_GT(firstPicks.size(), 10u);
}

TEST(RoundRobin, ARecoveringBackendRampsUpOverSlowStart) {
  const MonoTime cameUp = MonoTime{} + 1h;
  auto healthy = makeSet(BalanceAlgorithm::RoundRobin, testing::equalWeights(2), 1, 10s);
  auto set =
      healthy->withHealth({true, false}, cameUp - 1s, 2)->withHealth({true, true}, cameUp, 3);
  ASSERT_EQ((*set)[1].upSince, cameUp);
  RoundRobinBalancer balancer(*set, 0);
  auto shareOfRecovered = [&](MonoTime now) {
    const auto picks = pickSequence(balancer, 10000, now);
    return double(std::count(picks.begin(), picks.end(), 1u)) / double(picks.size());
  };
  EXPECT_NEAR(shareOfRecovered(cameUp + 1s), 0.1 / 1.1, 0.01);  // weight 10% of the other's
  EXPECT_NEAR(shareOfRecovered(cameUp + 5s), 0.5 / 1.5, 0.01);
  EXPECT_NEAR(shareOfRecovered(cameUp + 10s), 0.5, 0.01);
}

}  // namespace
}  // namespace ringlb::upstream
