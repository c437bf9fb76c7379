// When a worker batches its waits: only while completions come faster than
// one per kBatch.minWait.
#include "common/wait_policy.h"

#include <gtest/gtest.h>

namespace ringlb {
namespace {

using namespace std::chrono_literals;
using Clock = WaitPolicy::Clock;

TEST(WaitPolicy, StartsWaitingForTheFirstCompletion) {
  WaitPolicy policy;
  EXPECT_EQ(policy.next().completions, 1u);
}

TEST(WaitPolicy, BatchesOnceCompletionsComeFasterThanOnePerMinWait) {
  WaitPolicy policy;
  Clock::time_point t{};
  policy.record(0, t);
  // 2 ms at 4 completions every 100 us: 40k/s, above one per 50 us.
  for (int i = 1; i <= 20; ++i) policy.record(4, t + i * 100us);
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

TEST(WaitPolicy, AnIdleSpellEndsBatching) {
  WaitPolicy policy;
  Clock::time_point t{};
  policy.record(0, t);
  for (int i = 1; i <= 20; ++i) policy.record(8, t + i * 100us);
  ASSERT_TRUE(policy.busy());
  policy.record(1, t + 2ms + 400ms);  // woke once after a long sleep
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
