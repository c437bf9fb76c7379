// The rate limit shared by worker threads (l7/gateway/rate_limit.h): several
// threads hammering one SharedRateLimit with a shared fake clock get the
// configured budget (burst + elapsed / interval) within the documented bound,
// also while other threads churn the key table. No sleeps: each thread makes
// a fixed number of requests, and every request moves the clock on.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "l7/gateway/rate_limit.h"

namespace ringlb::l7::rate_limit_threads_test {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kStart = 1000 * kSecond;

// The documented bound for a bucket under constant demand: the budget is
// burst + elapsed / interval; the last request of the run may see a clock a
// few steps old (one or two requests fewer), and tick rounding is far below
// one request over these spans.
constexpr int64_t kBound = 2;

config::RateLimitConfig limit(uint32_t requests, uint32_t burst) {
  config::RateLimitConfig c;
  c.requests = requests;
  c.per = std::chrono::seconds(1);
  c.burst = burst;
  return c;
}

// A clock every thread reads and moves `step` ns per request, so that the
// offered load is known whatever the scheduling.
struct FakeClock {
  explicit FakeClock(int64_t stepNs) : step(stepNs) {}
  int64_t tick() { return now.fetch_add(step, std::memory_order_relaxed) + step; }
  std::atomic<int64_t> now{kStart};
  int64_t step;
};

// Runs `body(thread index)` on `threads` threads started together.
template <typename Body>
void runThreads(int threads, Body body) {
  std::latch start(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      body(t);
    });
  }
  for (auto& thread : pool) thread.join();
}

int64_t budget(uint32_t requests, uint32_t burst, int64_t elapsedNs) {
  return burst + elapsedNs * requests / kSecond;
}

void expectOneKeyBudget(config::RateLimitKey key, int threads) {
  auto c = limit(200, 20);
  c.key = key;
  SharedRateLimit rl(c);
  FakeClock clock(50'000);  // a request every 50 µs: 100 times the limit
  constexpr int kPerThread = 200'000 / 4;
  std::atomic<int64_t> allowed{0};
  runThreads(threads, [&](int) {
    int64_t mine = 0;
    for (int i = 0; i < kPerThread; ++i) mine += rl.take("hot", clock.tick()).allowed;
    allowed += mine;
  });
  // From the first request (at kStart + step) to the last.
  int64_t elapsed = clock.now.load() - kStart - clock.step;
  int64_t expected = budget(200, 20, elapsed);
  EXPECT_LE(allowed.load(), expected + 1);
  EXPECT_GE(allowed.load(), expected - kBound);
  ::testing::Test::RecordProperty("accepted", std::to_string(allowed.load()));
  ::testing::Test::RecordProperty("budget", std::to_string(expected));
}

TEST(SharedRateLimitThreads, TwoThreadsOnOneKeyGetTheConfiguredBudget) {
  expectOneKeyBudget(config::RateLimitKey::SourceIp, 2);
}

TEST(SharedRateLimitThreads, FourThreadsOnOneKeyGetTheConfiguredBudget) {
  expectOneKeyBudget(config::RateLimitKey::SourceIp, 4);
}

TEST(SharedRateLimitThreads, FourThreadsOnTheRouteBucketGetTheConfiguredBudget) {
  expectOneKeyBudget(config::RateLimitKey::Route, 4);
}

TEST(SharedRateLimitThreads, EachOfManyKeysGetsItsBudget) {
  SharedRateLimit rl(limit(100, 5));
  FakeClock clock(10'000);
  constexpr int kKeys = 64;
  std::vector<std::atomic<int64_t>> allowed(kKeys);
  runThreads(4, [&](int t) {
    for (int i = 0; i < 50'000; ++i) {
      int k = (i * 7 + t * 13) % kKeys;
      if (rl.take(std::string("key-").append(std::to_string(k)), clock.tick()).allowed)
        ++allowed[k];
    }
  });
  // Each key sees a request every 64 × 10 µs = 640 µs, 15 times its limit.
  int64_t expected = budget(100, 5, clock.now.load() - kStart);
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_LE(allowed[k].load(), expected + 1) << k;
    EXPECT_GE(allowed[k].load(), expected - kBound - 1) << k;
  }
  EXPECT_EQ(rl.table().overflowCount(), 0u);
}

// Threads 1..3 add and drop keys in a tiny table (slots are reclaimed and
// reused over and over) while thread 0 hammers one key and drives the clock:
// the hot key keeps its budget, and the churning keys never get more than
// their buckets (plus the shared overflow bucket) allow.
TEST(SharedRateLimitThreads, AHotKeyKeepsItsBudgetWhileOtherKeysChurn) {
  RateLimitTableOptions options;
  options.maxKeys = 8;
  options.shards = 1;
  SharedRateLimit rl(limit(1000, 1), options);  // interval 1 ms, idle after 2 ms
  FakeClock clock(20'000);                      // the hot key asks 50 times its limit
  std::atomic<int64_t> hot{0};
  std::atomic<int64_t> churn{0};
  constexpr int kChurnKeys = 40;
  // The hot key holds its slot before the churn starts; otherwise churners
  // that fill the 8 slots first put it in the shared overflow bucket for a
  // while (by design), and the count below depended on the threads' start.
  hot += rl.take("hot", clock.now.load()).allowed;
  runThreads(4, [&](int t) {
    int64_t mine = 0;
    for (int i = 0; i < 40'000; ++i) {
      if (t == 0) {
        mine += rl.take("hot", clock.tick()).allowed;
      } else {
        std::string key = std::string("churn-").append(std::to_string((i + t * 7) % kChurnKeys));
        mine += rl.take(key, clock.now.load(std::memory_order_relaxed)).allowed;
      }
    }
    (t == 0 ? hot : churn) += mine;
  });
  int64_t expected = budget(1000, 1, clock.now.load() - kStart - clock.step);
  EXPECT_LE(hot.load(), expected + 1);
  EXPECT_GE(hot.load(), expected - kBound);
  EXPECT_LE(churn.load(), (kChurnKeys + 1) * (expected + 1));
  EXPECT_LE(rl.table().keyCount(), 8u);
  EXPECT_GT(rl.table().overflowCount(), 0u);
}

}  // namespace
}  // namespace ringlb::l7::rate_limit_threads_test
