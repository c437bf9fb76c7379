// Maglev: balanced tables, minimal disruption, weights, key stability.
#include "common/upstream/maglev.h"

#include <gtest/gtest.h>

#include "common/upstream/hash_key.h"
#include "tests/unit/upstream/pool_fixtures.h"

namespace ringlb::upstream {
namespace {

using config::BalanceAlgorithm;
using testing::makeSet;
using testing::Spec;

std::vector<uint32_t> slotCounts(const BackendSet& set) {
  std::vector<uint32_t> counts(set.size(), 0);
  for (uint32_t index : set.maglev().slots()) ++counts[index];
  return counts;
}

bool isPrime(uint32_t n) {
  for (uint32_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return n > 1;
}

TEST(Maglev, TableSizeIsAPrimeOfAtLeastHundredTimesTheBackends) {
  for (size_t n : {1, 3, 100, 1000}) {
    const uint32_t size = MaglevTable::sizeFor(n);
    EXPECT_TRUE(isPrime(size)) << size;
    EXPECT_GE(size, 100 * n);
    EXPECT_GE(size, MaglevTable::kMinSize);
  }
  auto set = makeSet(BalanceAlgorithm::Hash, testing::equalWeights(1000));
  EXPECT_EQ(set->maglev().slots().size(), MaglevTable::sizeFor(1000));
}

TEST(Maglev, EqualWeightsGiveSlotCountsWithinOneOfEachOther) {
  for (size_t n : {3, 7, 100, 1000}) {
    const auto counts = slotCounts(*makeSet(BalanceAlgorithm::Hash, testing::equalWeights(n)));
    const auto [low, high] = std::minmax_element(counts.begin(), counts.end());
    EXPECT_LE(*high - *low, 1u) << n << " backends";
  }
}

TEST(Maglev, RemovingOneOfNBackendsMovesAtMostOneNthPlusOnePercentOfKeys) {
  for (size_t n : {5, 20, 100, 1000}) {
    auto all = makeSet(BalanceAlgorithm::Hash, testing::equalWeights(n));
    std::vector<bool> up(n, true);
    up[n / 2] = false;
    auto fewer = all->withHealth(up, MonoTime{}, 2);
    size_t moved = 0;
    const size_t keys = 100000;
    for (size_t k = 0; k < keys; ++k) {
      const uint64_t hash = hashBytes("key-" + std::to_string(k));
      moved += all->maglev().lookup(hash) != fewer->maglev().lookup(hash);
    }
    EXPECT_LE(double(moved) / keys, 1.0 / double(n) + 0.01) << n << " backends";
  }
}

TEST(Maglev, TrafficSharesMatchWeightsWithinOnePercent) {
  const std::vector<Spec> specs = {{.weight = 1}, {.weight = 2}, {.weight = 3}, {.weight = 4}};
  auto set = makeSet(BalanceAlgorithm::Hash, specs);
  MaglevBalancer balancer(*set, 0);
  std::vector<uint64_t> counts(specs.size(), 0);
  for (size_t k = 0; k < 100000; ++k) {
    ++counts[balancer.pick({.keyHash = hashBytes("client-" + std::to_string(k)), .hasKey = true})];
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    EXPECT_NEAR(testing::share(counts, i), testing::weightShare(specs, i), 0.01) << i;
  }
}

TEST(Maglev, SameKeyGoesToTheSameBackendOnEveryWorker) {
  auto set = makeSet(BalanceAlgorithm::Hash, testing::equalWeights(10));
  MaglevBalancer worker1(*set, 1), worker2(*set, 2);
  for (size_t k = 0; k < 1000; ++k) {
    const PickInput in{.keyHash = hashBytes(std::to_string(k)), .hasKey = true};
    ASSERT_EQ(worker1.pick(in), worker2.pick(in));
  }
}

TEST(Maglev, RequestsWithoutAKeySpreadOverAllBackends) {
  auto set = makeSet(BalanceAlgorithm::Hash, testing::equalWeights(4));
  MaglevBalancer balancer(*set, 1);
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 4000; ++i) ++counts[balancer.pick({})];
  for (int c : counts) EXPECT_NEAR(c, 1000, 150);
}

}  // namespace
}  // namespace ringlb::upstream
