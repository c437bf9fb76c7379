// When a worker batches its waits: only while one wait of kBatch.minWait
// (50 us) would collect several completions, with a gap between starting and
// stopping.
#include "common/wait_policy.h"

#include <gtest/gtest.h>

namespace ringlb {
namespace {

using namespace std::chrono_literals;
using Clock = WaitPolicy::Clock;

// `perTick` completions every 100 us for `ms` milliseconds after `from`.
Clock::time_point feed(WaitPolicy& policy, Clock::time_point from, size_t perTick, int ms) {
  for (int i = 1; i <= ms * 10; ++i) policy.record(perTick, from + i * 100us);
  return from + ms * 1ms;
}

TEST(WaitPolicy, StartsWaitingForTheFirstCompletion) {
  WaitPolicy policy;
  EXPECT_EQ(policy.next().completions, 1u);
}

TEST(WaitPolicy, BatchesOnceAWaitWouldCollectSeveralCompletions) {
  WaitPolicy policy;
  Clock::time_point t{};
  policy.record(0, t);
  // 14 every 100 us: 140k/s, 7 per 50 us wait.
  feed(policy, t, 14, 2);
  EXPECT_TRUE(policy.busy());
  EXPECT_EQ(policy.next().completions, WaitPolicy::kBatch.completions);
  EXPECT_EQ(policy.next().minWait, WaitPolicy::kBatch.minWait);
}

TEST(WaitPolicy, ALightLoadNeverBatches) {
  WaitPolicy policy;
  Clock::time_point t{};
  policy.record(0, t);
  // One completion every 200 us: 5k/s.
  for (int i = 1; i <= 50; ++i) policy.record(1, t + i * 200us);
  EXPECT_FALSE(policy.busy());
}

// One client's request and response (4 completions about every 100 us)
// would each wait out the timer: batching would double its latency.
TEST(WaitPolicy, ASingleClientsPaceDoesNotBatch) {
  WaitPolicy policy;
  Clock::time_point t{};
  policy.record(0, t);
  t = feed(policy, t, 4, 3);
  EXPECT_FALSE(policy.busy());
  feed(policy, t, 11, 3);  // 5.5 per wait: still under the start
  EXPECT_FALSE(policy.busy());
}

TEST(WaitPolicy, KeepsBatchingUntilAWaitWouldCollectFewerThanTheStop) {
  WaitPolicy policy;
  Clock::time_point t{};
  policy.record(0, t);
  t = feed(policy, t, 14, 2);
  ASSERT_TRUE(policy.busy());
  t = feed(policy, t, 9, 3);  // 4.5 per wait: between stop and start
  EXPECT_TRUE(policy.busy());
  feed(policy, t, 7, 2);  // 3.5 per wait
  EXPECT_FALSE(policy.busy());
}

TEST(WaitPolicy, AnIdleSpellEndsBatching) {
  WaitPolicy policy;
  Clock::time_point t{};
  policy.record(0, t);
  t = feed(policy, t, 16, 2);
  ASSERT_TRUE(policy.busy());
  policy.record(1, t + 400ms);  // woke once after a long sleep
  EXPECT_FALSE(policy.busy());
}

TEST(WaitPolicy, DecidesOnlyAtTheEndOfAWindow) {
  WaitPolicy policy;
  Clock::time_point t{};
  policy.record(0, t);
  policy.record(1000, t + 100us);  // a burst inside the first window
  EXPECT_FALSE(policy.busy());
  policy.record(0, t + 1ms);
  EXPECT_TRUE(policy.busy());
}

}  // namespace
}  // namespace ringlb
