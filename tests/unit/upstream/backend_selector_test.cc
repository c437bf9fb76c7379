// Behaviour every algorithm shares, through the per-worker BackendSelector: down
// backends, backups, retries, the all-down result and counters across swaps.
#include "common/upstream/backend_selector.h"

#include <gtest/gtest.h>

#include "common/upstream/hash_key.h"
#include "tests/unit/upstream/pool_fixtures.h"

namespace ringlb::upstream {
namespace {

using config::BalanceAlgorithm;
using testing::addressOf;
using testing::countPicks;
using testing::makeSet;
using testing::Spec;

class EveryAlgorithm : public ::testing::TestWithParam<BalanceAlgorithm> {};

INSTANTIATE_TEST_SUITE_P(Upstream, EveryAlgorithm,
                         ::testing::Values(BalanceAlgorithm::RoundRobin,
                                           BalanceAlgorithm::LeastConn, BalanceAlgorithm::RandomTwo,
                                           BalanceAlgorithm::Hash));

TEST_P(EveryAlgorithm, NeverPicksADownBackend) {
  BackendSelector state(makeSet(GetParam(), {{}, {.up = false}, {}, {.up = false}}), 1);
  auto counts = countPicks(state, 10000);
  EXPECT_EQ(counts[1], 0u);
  EXPECT_EQ(counts[3], 0u);
  EXPECT_GT(counts[0], 0u);
  EXPECT_GT(counts[2], 0u);
}

TEST_P(EveryAlgorithm, BackupsServeNothingWhileAPrimaryIsUp) {
  BackendSelector state(makeSet(GetParam(), {{.up = false}, {}, {.backup = true}}), 1);
  auto counts = countPicks(state, 10000);
  EXPECT_EQ(counts[1], 10000u);
  EXPECT_EQ(counts[2], 0u);
}

TEST_P(EveryAlgorithm, BackupsServeWhenNoPrimaryIsUp) {
  BackendSelector state(makeSet(GetParam(), {{.up = false}, {.up = false}, {.backup = true}}), 1);
  auto counts = countPicks(state, 1000);
  EXPECT_EQ(counts[2], 1000u);
}

TEST_P(EveryAlgorithm, RetryAvoidsEveryTriedBackend) {
  BackendSelector state(makeSet(GetParam(), testing::equalWeights(5)), 7);
  for (uint64_t key = 0; key < 200; ++key) {
    TriedSet tried;
    for (int attempt = 0; attempt < 5; ++attempt) {
      PickResult r = state.acquire(MonoTime{}, hashBytes(std::to_string(key)), &tried);
      ASSERT_TRUE(r.ok());
      ASSERT_FALSE(tried.contains(r.lease.id())) << "attempt " << attempt;
      tried.add(r.lease.id());
      state.release(r.lease);
    }
  }
}

TEST_P(EveryAlgorithm, RetryAfterEveryBackendWasTriedFailsWithAllTried) {
  BackendSelector state(makeSet(GetParam(), testing::equalWeights(3)), 1);
  TriedSet tried;
  for (int i = 0; i < 3; ++i) {
    PickResult r = state.acquire(MonoTime{}, std::nullopt, &tried);
    tried.add(r.lease.id());
    state.release(r.lease);
  }
  PickResult last = state.acquire(MonoTime{}, std::nullopt, &tried);
  EXPECT_EQ(last.failure, PickFailure::AllTried);
  EXPECT_FALSE(last.lease);
  EXPECT_EQ(state.counters().allTried, 1u);
}

TEST_P(EveryAlgorithm, RetryFallsBackToABackupOnceEveryPrimaryWasTried) {
  BackendSelector state(makeSet(GetParam(), {{}, {}, {.backup = true}}), 1);
  TriedSet tried;
  for (int i = 0; i < 2; ++i) {
    PickResult r = state.acquire(MonoTime{}, std::nullopt, &tried);
    ASSERT_TRUE(r.ok());
    ASSERT_NE(r.lease.backend().address, addressOf(2)) << "a backup before the primaries";
    tried.add(r.lease.id());
    state.release(r.lease);
  }
  PickResult backup = state.acquire(MonoTime{}, std::nullopt, &tried);
  ASSERT_TRUE(backup.ok());
  EXPECT_EQ(backup.lease.backend().address, addressOf(2));
  EXPECT_EQ(state.counters().backupFallbacks, 1u);
  tried.add(backup.lease.id());
  state.release(backup.lease);
  EXPECT_EQ(state.acquire(MonoTime{}, std::nullopt, &tried).failure, PickFailure::AllTried);
}

TEST_P(EveryAlgorithm, RetryNeverFallsBackToADownBackup) {
  BackendSelector state(makeSet(GetParam(), {{}, {.backup = true, .up = false}}), 1);
  TriedSet tried;
  PickResult r = state.acquire(MonoTime{}, std::nullopt, &tried);
  tried.add(r.lease.id());
  state.release(r.lease);
  EXPECT_EQ(state.acquire(MonoTime{}, std::nullopt, &tried).failure, PickFailure::AllTried);
}

TEST(BackendSelector, BackupFallbackTakesTheLeastLoadedBackup) {
  BackendSelector state(
      makeSet(BalanceAlgorithm::RoundRobin, {{}, {.backup = true}, {.backup = true}}), 1);
  TriedSet tried;
  PickResult primary = state.acquire(MonoTime{}, std::nullopt, &tried);
  tried.add(primary.lease.id());
  PickResult first = state.acquire(MonoTime{}, std::nullopt, &tried);
  PickResult second = state.acquire(MonoTime{}, std::nullopt, &tried);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(first.lease.backend().address, second.lease.backend().address);
  state.release(primary.lease);
  state.release(first.lease);
  state.release(second.lease);
}

TEST_P(EveryAlgorithm, AllDownGivesNoBackendUpAndCountsIt) {
  BackendSelector state(makeSet(GetParam(), {{.up = false}, {.backup = true, .up = false}}), 1);
  PickResult r = state.acquire(MonoTime{});
  EXPECT_EQ(r.failure, PickFailure::NoBackendUp);
  EXPECT_FALSE(r.lease);
  state.acquire(MonoTime{});
  EXPECT_EQ(state.counters().noBackendUp, 2u);
}

TEST_P(EveryAlgorithm, ActiveCountsSurviveASnapshotSwap) {
  auto first = makeSet(GetParam(), testing::equalWeights(3), 1);
  BackendSelector state(first, 1);
  std::vector<Lease> open;
  for (int i = 0; i < 30; ++i) open.push_back(std::move(state.acquire(MonoTime{}).lease));
  const uint32_t before = state.activeCount(addressOf(0));
  std::vector<bool> up = {true, true, false};
  state.update(first->withHealth(up, MonoTime{}, 2));
  EXPECT_EQ(state.activeCount(addressOf(0)), before);
  for (Lease& l : open) state.release(l);
  EXPECT_EQ(state.activeCount(addressOf(0)), 0u);
  EXPECT_EQ(state.activeCount(addressOf(2)), 0u);
}

TEST(BackendSelector, ARemovedBackendKeepsItsCounterUntilItsLastLeaseEnds) {
  BackendSelector state(makeSet(BalanceAlgorithm::LeastConn, {{}}, 1), 1);
  Lease lease = std::move(state.acquire(MonoTime{}).lease);
  state.update(makeSet(BalanceAlgorithm::LeastConn, {{.up = false}, {}}, 2));
  std::vector<Backend> others = {state.backends()[1]};
  BackendSet::Options options;
  options.pool = "pool";
  options.algorithm = BalanceAlgorithm::LeastConn;
  state.update(BackendSet::create(options, std::move(others)));
  EXPECT_EQ(state.activeCount(addressOf(0)), 1u);
  state.release(lease);
  EXPECT_EQ(state.activeCount(addressOf(0)), 0u);
}

TEST(BackendSelector, LeastConnSeesLoadThatStartedBeforeTheSwap) {
  BackendSelector state(makeSet(BalanceAlgorithm::LeastConn, testing::equalWeights(2), 1), 1);
  std::vector<Lease> open;
  for (int i = 0; i < 10; ++i) open.push_back(std::move(state.acquire(MonoTime{}).lease));
  // Make backend 0 the busy one, then swap in an identical snapshot.
  for (Lease& l : open) {
    if (l.backend().address == addressOf(1)) state.release(l);
  }
  state.update(makeSet(BalanceAlgorithm::LeastConn, testing::equalWeights(2), 2));
  PickResult r = state.acquire(MonoTime{});
  EXPECT_EQ(r.lease.backend().address, addressOf(1));
}

TEST(BackendSelector, ReleasingAnEmptyLeaseIsHarmless) {
  BackendSelector state(makeSet(BalanceAlgorithm::RoundRobin, {{}}), 1);
  Lease lease = std::move(state.acquire(MonoTime{}).lease);
  state.release(lease);
  state.release(lease);
  EXPECT_EQ(state.activeCount(addressOf(0)), 0u);
}

TEST(TriedSet, HoldsMoreThanItsInlineCapacity) {
  TriedSet tried;
  for (uint32_t id = 0; id < 20; ++id) tried.add(id);
  EXPECT_EQ(tried.size(), 20u);
  EXPECT_TRUE(tried.contains(0));
  EXPECT_TRUE(tried.contains(19));
  EXPECT_FALSE(tried.contains(20));
}

}  // namespace
}  // namespace ringlb::upstream
