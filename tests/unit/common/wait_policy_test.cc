// When a worker batches its waits: only while one wait of kBatch.minWait
// (50 us) would collect several completions, with a gap between starting and
// stopping.
#include "common/wait_policy.h"

#include <gtest/gtest.h>

namespace ringlb {
namespace {

using namespace std::chrono_literals;
using Clock = WaitPolicy::Clock;

// A policy whose first window opens at t.
class WaitPolicyTest : public ::testing::Test {
 protected:
  WaitPolicyTest() { policy.record(0, t); }

  // `perTick` completions every 100 us for `ms` milliseconds after `from`.
  Clock::time_point feed(Clock::time_point from, size_t perTick, int ms) {
    for (int i = 1; i <= ms * 10; ++i) policy.record(perTick, from + i * 100us);
    return from + ms * 1ms;
  }

  WaitPolicy policy;
  Clock::time_point t{};
};

TEST(WaitPolicy, StartsWaitingForTheFirstCompletion) {
  WaitPolicy policy;
  EXPECT_EQ(policy.next().completions, 1u);
}

TEST_F(WaitPolicyTest, BatchesOnceAWaitWouldCollectSeveralCompletions) {
  // 14 every 100 us: 140k/s, 7 per 50 us wait.
  feed(t, 14, 2);
  EXPECT_TRUE(policy.busy());
  EXPECT_EQ(policy.next().completions, WaitPolicy::kBatch.completions);
  EXPECT_EQ(policy.next().minWait, WaitPolicy::kBatch.minWait);
}

TEST_F(WaitPolicyTest, ALightLoadNeverBatches) {
  // One completion every 200 us: 5k/s.
  for (int i = 1; i <= 50; ++i) policy.record(1, t + i * 200us);
  EXPECT_FALSE(policy.busy());
}

// One client's request and response (4 completions about every 100 us)
// would each wait out the timer: batching would double its latency.
TEST_F(WaitPolicyTest, ASingleClientsPaceDoesNotBatch) {
  t = feed(t, 4, 3);
  EXPECT_FALSE(policy.busy());
  feed(t, 11, 3);  // 5.5 per wait: still under the start
  EXPECT_FALSE(policy.busy());
}

TEST_F(WaitPolicyTest, KeepsBatchingUntilAWaitWouldCollectFewerThanTheStop) {
  t = feed(t, 14, 2);
  ASSERT_TRUE(policy.busy());
  t = feed(t, 9, 3);  // 4.5 per wait: between stop and start
  EXPECT_TRUE(policy.busy());
  feed(t, 7, 2);  // 3.5 per wait
  EXPECT_FALSE(policy.busy());
}

TEST_F(WaitPolicyTest, AnIdleSpellEndsBatching) {
  t = feed(t, 16, 2);
  ASSERT_TRUE(policy.busy());
  policy.record(1, t + 400ms);  // woke once after a long sleep
  EXPECT_FALSE(policy.busy());
}

TEST_F(WaitPolicyTest, DecidesOnlyAtTheEndOfAWindow) {
  policy.record(1000, t + 100us);  // a burst inside the first window
  EXPECT_FALSE(policy.busy());
  policy.record(0, t + 1ms);
  EXPECT_TRUE(policy.busy());
}

}  // namespace
}  // namespace ringlb
